"""Draw the flows as a Mermaid state diagram."""

from __future__ import annotations

from bot.flows import ENTRY, FlowSet


def _node(name: str) -> str:
    return name.replace(":", "__")


def _label(text: str) -> str:
    # Mermaid transition labels end at a newline and dislike colons and quotes.
    return text.replace(":", " ").replace('"', "'").replace("\n", " ").strip()


def mermaid(flows: FlowSet) -> str:
    """Return a `stateDiagram-v2` with one box per flow and an edge per button or route."""
    lines = ["stateDiagram-v2", f"    [*] --> {_node(ENTRY)}"]
    for flow in flows.flows.values():
        lines.append(f"    state {flow.name} {{")
        for step in flow.steps.values():
            lines.append(f"        {_node(step.name)}: {step.id}")
        lines.append("    }")
    for step in flows.steps.values():
        seen: set[tuple[str, str]] = set()
        for button in step.buttons:
            if button.to and (button.to, button.label) not in seen:
                seen.add((button.to, button.label))
                lines.append(
                    f"    {_node(step.name)} --> {_node(button.to)}: {_label(button.label)}"
                )
        for route in step.routes:
            condition = " and ".join(f"{k}={'|'.join(v)}" for k, v in route.when.items())
            edge = f"    {_node(step.name)} --> {_node(route.to)}"
            lines.append(f"{edge}: {_label(condition)}" if condition else edge)
    return "\n".join(lines)


START, END = "<!-- diagram:start -->", "<!-- diagram:end -->"


def replace_in_readme(readme: str, diagram: str) -> str:
    """Return `readme` with the fenced diagram between the diagram markers replaced."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n```mermaid\n{diagram}\n```\n{END}{tail}"
