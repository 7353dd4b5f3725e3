"""The progress picture: contacts per week, mine against theirs and the dose, how they went,
and, when there is any, each week's days: how they felt and how many were within the plan."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO

# Figure + FigureCanvasAgg directly, never pyplot: no global state, so safe in a worker thread.
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.policy.contacts import (
    OUTCOMES,
    Contact,
    ContactTexts,
    counts_against_dose,
)
from bot.policy.plan import Plan
from bot.policy.timezones import zone

SIZE_INCHES = (8, 5)
DPI = 100  # 800 x 500 pixels
MINE_COLOUR = "#3b6ea5"
THEIRS_COLOUR = "#e08a3c"
DOSE_COLOUR = "#555555"
OUTCOME_COLOURS = {
    "warm": "#5a9e4b",
    "neutral": "#b9b2a6",
    "cold": "#6f8fb3",
    "no_answer": "#e6d28a",
}
MOOD_COLOURS = {"good": "#5a9e4b", "okay": "#b9b2a6", "low": "#8f7fb3"}
MOODS = ("good", "okay", "low")
WITHIN_COLOUR = "#3b6ea5"
BAR_SHARE = 0.62  # bars use the lower part of the top panel; the legend sits above them
LEGEND_WRAP = 48  # characters per line in the dose legend entry


@dataclass(frozen=True)
class Week:
    """One bar group: a seven-day span ending at `end`, and what happened in it."""

    start: datetime
    end: datetime
    mine: int
    theirs: int
    outcomes: dict[str, int]


def weekly_counts(history: Sequence[Contact], now: datetime, weeks: int) -> list[Week]:
    """Split the last `weeks` rolling weeks up to `now` into per-week counts, oldest first."""
    result = []
    for back in range(weeks - 1, -1, -1):
        end = now - timedelta(days=7 * back)
        start = end - timedelta(days=7)
        inside = [c for c in history if start < c.at <= end]
        result.append(
            Week(
                start=start,
                end=end,
                mine=sum(counts_against_dose(c) for c in inside),
                theirs=sum(c.initiator == "them" for c in inside),
                outcomes={o: sum(c.outcome == o for c in inside) for o in OUTCOMES},
            )
        )
    return result


def _week_labels(weeks: Sequence[Week], tz: str, texts: ContactTexts) -> list[str]:
    """Label each week by the local date it starts on; the last one is 'this week'."""
    local = zone(tz)
    firsts = [(w.start + timedelta(days=1)).astimezone(local) for w in weeks]
    labels = [f"{day.day} {day:%b}" for day in firsts]
    labels[-1] = texts.chart["this_week"]
    return labels


def _draw_counts(axes: Axes, weeks: Sequence[Week], plan: Plan, texts: ContactTexts) -> None:
    """Top panel: bars of mine and theirs per week, and the dose as a dashed line."""
    positions = range(len(weeks))
    axes.bar(
        [x - 0.2 for x in positions],
        [w.mine for w in weeks],
        width=0.38,
        color=MINE_COLOUR,
        label=texts.chart["mine"],
    )
    axes.bar(
        [x + 0.2 for x in positions],
        [w.theirs for w in weeks],
        width=0.38,
        color=THEIRS_COLOUR,
        label=texts.chart["theirs"],
    )
    dose_per_week = plan.max_contacts * 7 / plan.per_days
    dose_label = textwrap.fill(texts.chart["dose"].format(dose=plan.dose_text), LEGEND_WRAP)
    axes.axhline(dose_per_week, color=DOSE_COLOUR, linestyle="--", linewidth=1.5, label=dose_label)
    highest = max([dose_per_week, *(max(w.mine, w.theirs) for w in weeks)])
    axes.set_ylim(0, (highest + 0.5) / BAR_SHARE)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(texts.chart["contacts_axis"])
    axes.legend(loc="upper left", fontsize=9, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)


def _draw_outcomes(
    axes: Axes, weeks: Sequence[Week], labels: Sequence[str], texts: ContactTexts
) -> None:
    """Bottom panel: all contacts per week, stacked by how they went."""
    positions = list(range(len(weeks)))
    bottoms = [0] * len(weeks)
    for outcome in OUTCOMES:
        heights = [w.outcomes[outcome] for w in weeks]
        axes.bar(
            positions,
            heights,
            bottom=bottoms,
            width=0.6,
            color=OUTCOME_COLOURS[outcome],
            label=texts.outcome_names[outcome],
        )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    axes.set_ylim(0, max(bottoms) + 1)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
    axes.set_ylabel(texts.chart["outcomes_axis"])
    axes.set_xticks(positions, labels)
    axes.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1),
        ncols=len(OUTCOMES),
        fontsize=8,
        frameon=False,
        borderaxespad=0.2,
    )
    axes.spines[["top", "right"]].set_visible(False)


def _draw_days(
    axes: Axes,
    labels: Sequence[str],
    within: Sequence[tuple[int, int]] | None,
    moods: Sequence[dict[str, int]] | None,
    texts: ContactTexts,
) -> None:
    """Bottom panel: each week's noted moods, stacked, and the days within the plan as a line
    (weeks before the plan began have no point). Both on a week of 0 to 7 days."""
    positions = list(range(len(labels)))
    if moods:
        bottoms = [0] * len(positions)
        for mood in MOODS:
            heights = [week.get(mood, 0) for week in moods]
            axes.bar(
                positions,
                heights,
                bottom=bottoms,
                width=0.6,
                color=MOOD_COLOURS[mood],
                label=texts.chart[f"mood_{mood}"],
            )
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    if within:
        # As a share of the week's counted days, so a first week that began mid-week and
        # went well is at the top, not a dip.
        points = [
            (x, 7 * days / total)
            for x, (days, total) in zip(positions, within, strict=True)
            if total
        ]
        axes.plot(
            [x for x, _ in points],
            [days for _, days in points],
            color=WITHIN_COLOUR,
            marker="o",
            linewidth=1.5,
            label=texts.chart["within"],
        )
    axes.set_ylim(0, 7.5)
    axes.set_yticks([0, 7])
    axes.set_ylabel(texts.chart["days_axis"])
    axes.set_xticks(positions, labels)
    axes.legend(
        loc="lower left",
        bbox_to_anchor=(0, 1),
        ncols=4,
        fontsize=8,
        frameon=False,
        borderaxespad=0.2,
    )
    axes.spines[["top", "right"]].set_visible(False)


def _draw_empty(figure: Figure, plan: Plan, texts: ContactTexts) -> None:
    """A friendly placeholder when nothing has been logged yet, with the plan for reference."""
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(
        0.5, 0.55, texts.chart["empty"], ha="center", va="center", fontsize=15, color=DOSE_COLOUR
    )
    dose = textwrap.fill(texts.chart["dose"].format(dose=plan.dose_text), 2 * LEGEND_WRAP)
    axes.text(0.5, 0.35, dose, ha="center", va="center", fontsize=11, color=MINE_COLOUR)


def render_progress_png(
    history: Sequence[Contact],
    plan: Plan,
    now: datetime,
    weeks: int = 6,
    *,
    tz: str = "UTC",
    texts: ContactTexts,
    within: Sequence[tuple[int, int]] | None = None,
    moods: Sequence[dict[str, int]] | None = None,
) -> bytes:
    """Render the last `weeks` weeks of contacts against the plan as a PNG (about 800x500
    with two panels, taller with the third). `within` (days within the plan, days counted)
    and `moods` (days of each mood) are per week, oldest first, like the contacts."""
    counts = weekly_counts(history, now, weeks)
    contacts = any(w.mine or w.theirs or any(w.outcomes.values()) for w in counts)
    days = bool(moods and any(any(week.values()) for week in moods)) or (
        contacts and bool(within) and any(total for _, total in within or ())
    )
    size = (SIZE_INCHES[0], SIZE_INCHES[1] * 1.3) if days else SIZE_INCHES
    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(texts.chart["title"], fontsize=14)
    labels = _week_labels(counts, tz, texts)
    if not contacts and not days:
        _draw_empty(figure, plan, texts)
    elif not contacts:  # moods noted, no contacts yet: just the days
        _draw_days(figure.subplots(), labels, within, moods, texts)
    else:
        panels = 3 if days else 2
        ratios = [3, 1.4, 1.6][:panels]
        axes = figure.subplots(panels, 1, sharex=True, height_ratios=ratios)
        _draw_counts(axes[0], counts, plan, texts)
        _draw_outcomes(axes[1], counts, labels, texts)
        if days:
            _draw_days(axes[2], labels, within, moods, texts)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
