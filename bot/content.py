"""All content in one object: flows, messages, policy data and the features' own text files.

`Content.load(root)` reads every file under the content folder (`flows/` by default) through
the one YAML reader (`bot.datafile`: duplicate keys refused, syntax errors named by file and
line in plain words), checks each and the references between them, and collects every
problem into one `ContentError`, so a coach fixes a whole round of edits at once. Nothing is
cached anywhere else: the engine gets this object, and tests can load a temporary folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from bot import features
from bot.actions import COMMANDS, CONTENT_FILES, ContentFile
from bot.flows import FLOWS_DIR, FlowSet, Messages, load_flows, load_messages
from bot.listen import Listener, TextModel, load_draft_kinds
from bot.listen.replies import FreeTextReplies, load_free_text_replies
from bot.policy import Policy
from bot.policy.contacts import load_texts
from bot.policy.drafts import example_failures as draft_example_failures
from bot.policy.drafts import load_rules
from bot.policy.plan import load_dose_table
from bot.policy.safety import crisis_example_failures, load_crisis, load_resources

CONTENT_ROOT = FLOWS_DIR  # the shipped content: flows/, with policy/ inside
T = TypeVar("T")


class ContentError(ValueError):
    """The content has problems; `problems` lists every one as `file: where: what`."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"the content has {count}:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Content:
    """Everything the bot says and decides from data, read and checked together."""

    root: Path
    flows: FlowSet
    messages: Messages
    policy: Policy
    files: Mapping[ContentFile[Any], Any]  # the features' own files, by their declaration

    def file(self, file: ContentFile[T]) -> T:
        """The contents of one feature's data file."""
        return cast(T, self.files[file])

    @classmethod
    def load(cls, root: Path = CONTENT_ROOT) -> Content:
        """Read and check all content under `root`; raise ContentError listing every problem."""
        features.load()  # so every feature's actions, placeholders and files are declared
        problems: list[str] = []

        def read(load: Callable[[], T]) -> T | None:
            try:
                return load()
            except ValueError as error:  # every loader's error names its file and key
                problems.extend(getattr(error, "problems", None) or [str(error)])
            return None

        policy_dir = root / "policy"
        flows = read(lambda: load_flows(root))
        messages = read(lambda: load_messages(root))
        dose_table = read(lambda: load_dose_table(policy_dir / "dose.yaml"))
        contact_texts = read(lambda: load_texts(root / "texts"))
        crisis = read(lambda: load_crisis(policy_dir / "crisis.yaml"))
        resources = read(lambda: load_resources(policy_dir / "resources.yaml"))
        draft_rules = read(lambda: load_rules(policy_dir / "draft_rules.yaml"))
        draft_kinds = read(lambda: load_draft_kinds(policy_dir / "draft_kinds.yaml"))
        free_text = read(lambda: load_free_text_replies(root / "listen.yaml"))
        model = read(TextModel.load)  # trained from data/text/, shipped beside the code
        files = {file: read(partial(file.read, root / file.path)) for file in CONTENT_FILES}
        if flows is not None and messages is not None and free_text is not None:
            problems += command_problems(flows, messages, free_text)
        if problems:
            raise ContentError(problems)
        # No problems, so every part was read.
        assert flows and messages and dose_table and contact_texts and resources and free_text
        assert crisis and draft_rules and draft_kinds is not None and model
        listener = Listener(model, crisis, draft_rules, draft_kinds)
        policy = Policy(
            dose_table, contact_texts, crisis, resources, draft_rules, listener, free_text
        )
        return cls(root=root, flows=flows, messages=messages, policy=policy, files=files)

    def example_failures(self) -> list[str]:
        """Every must-flag / must-not-flag example of the crisis and draft rules it gets wrong."""
        crisis = [
            f"crisis.yaml: {failure}" for failure in crisis_example_failures(self.policy.crisis)
        ]
        drafts = [
            f"draft_rules.yaml: {failure}"
            for failure in draft_example_failures(self.policy.draft_rules)
        ]
        return crisis + drafts


def command_problems(flows: FlowSet, messages: Messages, free_text: FreeTextReplies) -> list[str]:
    """Every command a button runs or a command opens must exist, and every step it opens."""
    problems = []
    known = {command.command: command for command in messages.commands}
    for step in flows.steps.values():
        for button in step.buttons:
            if button.command and button.command.partition(" ")[0] not in known:
                problems.append(
                    f"{step.flow}.yaml: step '{step.id}': button '{button.label}' runs "
                    f"unknown command '{button.command}'"
                )
    for name, intent in [*free_text.intents.items(), ("safety_mode", free_text.safety_mode)]:
        for offered in intent.buttons:
            if offered.command and offered.command not in known:
                problems.append(
                    f"listen.yaml: intent '{name}': unknown command '{offered.command}'"
                )
            if offered.review and f"review:{offered.review}" not in flows.steps:
                problems.append(f"listen.yaml: intent '{name}': unknown step '{offered.review}'")
    for command in known.values():
        if command.to and command.to not in flows.steps:
            problems.append(
                f"messages.yaml: command '{command.command}' opens unknown step '{command.to}'"
            )
        if not command.to and not command.alias_of and command.command not in COMMANDS:
            problems.append(
                f"messages.yaml: command '{command.command}' needs a 'to' step "
                "(no feature handles it)"
            )
    return problems
