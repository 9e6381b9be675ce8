"""The reward-model stage's panel: how often it scores the chosen response above the
rejected one on held-out pairs (TRL's ``eval_accuracy``) and by how much on average
(``eval_margin``), over training steps, with the final values."""

from __future__ import annotations

from r1web.runs import charts
from r1web.runs.models import Stage
from r1web.runs.selectors import metric_series

ACCURACY, MARGIN = "eval_accuracy", "eval_margin"  # the keys RewardTrainer logs on eval
CHART = charts.Chart(
    "reward-model", "Held-out preference pairs", "accuracy",
    ((ACCURACY, "accuracy (chosen scored higher)"), (MARGIN, "margin (chosen − rejected)")),
    y2=(MARGIN,),
)


def reward_model_figure(series: dict[str, list[charts.Point]]) -> dict:
    """Accuracy on the left axis (a rate in [0, 1]), margin on the right (a score gap)."""
    fig = charts.figure(CHART, [("", series)])
    fig["layout"]["yaxis"]["range"] = [0, 1.05]
    if "yaxis2" in fig["layout"]:
        fig["layout"]["yaxis2"]["title"] = {"text": "margin"}
    return fig


def _final(stage: Stage, key: str, points: list[charts.Point]) -> float | None:
    value = stage.result.get(key)
    if isinstance(value, (int, float)):
        return float(value)
    return points[-1][1] if points else None


def context(stage: Stage) -> dict:
    series = {key: metric_series([stage.pk], key, None, charts.DEFAULT_POINTS)
              for key in (ACCURACY, MARGIN)}
    return {
        "rm_figure": reward_model_figure(series),
        "rm_evaluated": bool(series[ACCURACY] or series[MARGIN]),
        "rm_accuracy": _final(stage, ACCURACY, series[ACCURACY]),
        "rm_margin": _final(stage, MARGIN, series[MARGIN]),
        "rm_pairs": stage.result.get("pairs"),
    }
