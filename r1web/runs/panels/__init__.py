"""Extra sections of the stage page, by stage kind: what a rejection-sampling stage kept
and dropped, how a reward model learned. Each kind's panel is a module here with a
``context(stage) -> dict`` function and a template ``runs/panels/<kind>.html``.
"""

from __future__ import annotations

import importlib

from r1web.runs.models import Stage

PANELS = {
    "rejection_sampling": "r1web.runs.panels.rejection",
    "reward_model": "r1web.runs.panels.reward_model",
    "mix": "r1web.runs.panels.mix",
}


def stage_panel(stage: Stage) -> dict:
    """``{"panel_template": ..., **context}`` for the stage's kind, or {} when it has none."""
    module_name = PANELS.get(stage.kind)
    if module_name is None:
        return {}
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return {}
    return {"panel_template": f"runs/panels/{stage.kind}.html", **module.context(stage)}
