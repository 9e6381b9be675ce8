"""The bridge between a transformers ``Trainer`` and a stage's sink, shared by every
training stage (GRPO, SFT, reward model): logged metrics, progress, checkpoints and
cancellation at a step boundary."""

from __future__ import annotations

import math
import os

from transformers import TrainerCallback

from r1domain.base import StageSink
from workers import shutdown


class SinkCallback(TrainerCallback):
    """Metrics, progress, checkpoints and cancellation between the Trainer and the sink.

    A stop the sink asks for ends training at the next step boundary (``cancelled``); the
    stage then raises ``StageCancelled`` once the trainer has returned. A worker that is
    leaving (SIGTERM, ``workers.shutdown``) stops there too, after saving a checkpoint to
    hand the stage back from.
    """

    def __init__(self, sink: StageSink, keep: int | None = None) -> None:
        self.sink = sink
        self.keep = keep  # save_total_limit, applied by the sink once a save is recorded
        self.cancelled = False

    def on_step_end(self, args, state, control, **kwargs):
        self.sink.progress(state.global_step, state.max_steps)
        leaving = shutdown.leaving()
        if leaving or self.sink.should_stop():
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = control.should_save or leaving

    def on_log(self, args, state, control, logs=None, **kwargs):
        # TRL's own names ("loss", "reward", "eval_loss", "mean_token_accuracy"...).
        values = {
            key: float(value)
            for key, value in (logs or {}).items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value)
        }
        if values:
            self.sink.metrics(state.global_step, values)

    def on_save(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.sink.checkpoint_saved(state.global_step, path, keep=self.keep)


def sink_prunes_checkpoints(config) -> int | None:
    """Take ``save_total_limit`` from the Trainer's config and return it for the sink.

    The Trainer would delete old checkpoints before the sink has recorded the new one
    (``r1domain.checkpoints``); the sink prunes instead, once it has."""
    keep, config.save_total_limit = config.save_total_limit, None
    return keep


def checkpoint_step(path: str | None) -> int:
    """The optimizer steps a Trainer checkpoint holds; 0 without one (or unreadable:
    then ``Trainer.train`` says what is wrong with it)."""
    import json

    state = os.path.join(path or "", "trainer_state.json")
    if not path or not os.path.isfile(state):
        return 0
    with open(state) as file:
        return int(json.load(file).get("global_step", 0))
