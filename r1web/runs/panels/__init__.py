"""Extra sections of the stage page, by stage kind: what a rejection-sampling stage kept
and dropped, how a reward model learned, what a mix took from each source. Each kind's
panel is a ``context(stage) -> dict`` function and a template ``runs/panels/<kind>.html``.
"""

from __future__ import annotations

from collections.abc import Callable

from r1web.runs.models import Stage, StageKind
from r1web.runs.panels import mix, rejection, reward_model

PANELS: dict[str, Callable[[Stage], dict]] = {
    StageKind.REJECTION_SAMPLING: rejection.context,
    StageKind.REWARD_MODEL: reward_model.context,
    StageKind.MIX: mix.context,
}


def stage_panel(stage: Stage) -> dict:
    """``{"panel_template": ..., **context}`` for the stage's kind, or {} when it has none."""
    context = PANELS.get(stage.kind)
    if context is None:
        return {}
    return {"panel_template": f"runs/panels/{stage.kind}.html", **context(stage)}
