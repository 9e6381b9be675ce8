"""``R1WebCallback``: one line in a TRL script, and the run is in r1web.

It logs the run's config when training begins, every metric the trainer logs (``on_log``,
so exactly what lands in ``trainer.state.log_history``), progress, every completion a
``GRPOTrainer`` samples (``r1web_client.grpo``), and for other trainers (SFT) the
greedy answers to ``sample_prompts`` every ``sample_every`` steps. Under accelerate or
DeepSpeed every process runs the callback but only the main process
(``state.is_world_process_zero``) sends. Sending happens on a background thread
(``r1web_client.sender``): the training loop only hands records over.

Cancelling the run in r1web stops training at the next step (for GRPO under several
processes, at the next generation, so that every process stops together).
"""

from __future__ import annotations

import atexit
import inspect
import json
import logging
import math
import os
import uuid
from pathlib import Path
from typing import Any

from r1web_client.grpo import GrpoCapture, is_grpo_trainer
from r1web_client.sender import Sender, Transport, default_spool

try:  # TRL and transformers are the script's business: the client runs without them
    from transformers import TrainerCallback as _CallbackBase
except ImportError:  # pragma: no cover - only without transformers
    _CallbackBase = object

log = logging.getLogger("r1web_client")


# The API refuses numbers past this either way (r1web.ingest.schema.MAX_NUMBER), and a
# refused value refuses its whole batch, samples included.
MAX_NUMBER = 1e100


def finite_numbers(logs: dict[str, Any] | None) -> dict[str, float]:
    """The numeric entries of a log dict that r1web takes (TRL logs None for a metric
    with no value; a diverged loss may be infinite or past MAX_NUMBER)."""
    values = {}
    for key, value in (logs or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        try:
            number = float(value)
        except OverflowError:  # an integer past a float
            continue
        if -MAX_NUMBER <= number <= MAX_NUMBER:
            values[str(key)] = number
    return values


def json_safe(value: Any) -> Any:
    """A config as JSON r1web accepts: non-finite numbers and odd objects as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class R1WebCallback(_CallbackBase):
    """Log a transformers/TRL training run into r1web.

    ``url`` and ``token`` default to ``R1WEB_URL`` and ``R1WEB_TOKEN``. ``run_key``
    (default ``R1WEB_RUN_KEY``, else a new one) names the run: a script restarted from
    a checkpoint with the same key continues the same run. The spool (records kept while
    r1web is unreachable) goes to ``spool_dir``, by default the trainer's
    ``output_dir``. ``close_timeout`` is how long the end of training waits for an
    unreachable server before leaving the spool to be replayed.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        name: str | None = None,
        run_key: str | None = None,
        spool_dir: str | os.PathLike | None = None,
        completion_format: str = "r1-zero",
        reference_column: str | None = None,
        sample_prompts: list[str] | None = None,
        sample_every: int = 50,
        max_new_tokens: int = 64,
        close_timeout: float = 120.0,
        sender_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url or os.environ.get("R1WEB_URL", "")
        self.token = token or os.environ.get("R1WEB_TOKEN", "")
        if not self.url or not self.token:
            raise ValueError("R1WebCallback needs url= and token= (or R1WEB_URL and R1WEB_TOKEN)")
        self.name = name
        self.run_key = run_key or os.environ.get("R1WEB_RUN_KEY") or uuid.uuid4().hex
        self.spool_dir = spool_dir
        self.completion_format = completion_format
        self.reference_column = reference_column
        self.sample_prompts = list(sample_prompts or [])
        self.sample_every = max(1, sample_every)
        self.max_new_tokens = max_new_tokens
        self.close_timeout = close_timeout
        self.sender_options = sender_options or {}
        self.trainer: Any = None
        self.sender: Sender | None = None
        self.capture: GrpoCapture | None = None
        self.delivered: bool | None = None  # after training: did everything arrive?
        self._ended = False

    def attach(self, trainer: Any) -> R1WebCallback:
        """Name the trainer explicitly (otherwise it is found when training begins)."""
        self.trainer = trainer
        return self

    # --- transformers' events ----------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer = self.trainer or _find_trainer()
        main = state.is_world_process_zero
        if main:
            spool = default_spool(self.spool_dir or args.output_dir, self.run_key)
            transport = Transport(self.url, self.token)
            self.sender = Sender(transport, spool, **self.sender_options)
            self.sender.open_run(self.run_key, self._run_payload(args))
            atexit.register(self._at_exit)
        if self.trainer is not None and is_grpo_trainer(self.trainer):
            self.capture = GrpoCapture(
                self.trainer,
                self._emit_samples if main else None,
                stop_flag=lambda: bool(self.sender and self.sender.stop_requested),
                reference_column=self.reference_column,
            )
        elif self.trainer is None:
            log.warning(
                "r1web: no trainer found; only metrics will be logged "
                "(pass it with R1WebCallback(...).attach(trainer))"
            )

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.sender is None:
            return
        values = finite_numbers(logs)
        if values:
            self.sender.records(metrics=[{"step": state.global_step, "values": values}])

    def on_step_end(self, args, state, control, **kwargs):
        if self.sender is not None:
            self.sender.records(progress={"step": state.global_step, "total": state.max_steps})
            if (
                self.capture is None
                and self.sample_prompts
                and (state.global_step % self.sample_every == 0)
            ):
                self._sample_generations(state.global_step, kwargs)
        if self._should_stop(args):
            control.should_training_stop = True

    def on_train_end(self, args, state, control, **kwargs):
        if self.capture is not None:
            self.capture.remove()
        self._end("cancelled" if self._should_stop(args) else "succeeded")

    # --- helpers -------------------------------------------------------------------

    def _should_stop(self, args) -> bool:
        if self.capture is not None:
            return self.capture.stop
        # Without a capture there is no moment every process shares: stop only alone.
        single = getattr(args, "world_size", 1) == 1
        return single and bool(self.sender and self.sender.stop_requested)

    def _run_payload(self, args) -> dict[str, Any]:
        config = json_safe(args.to_dict()) if hasattr(args, "to_dict") else {}
        config["world_size"] = getattr(args, "world_size", 1)
        trainer = self.trainer
        if trainer is not None:
            config["trainer_class"] = type(trainer).__name__
            model = getattr(trainer, "model", None)
            name_or_path = getattr(getattr(model, "config", None), "_name_or_path", "")
            config["model_name_or_path"] = str(name_or_path)
            if hasattr(trainer, "reward_func_names"):
                config["reward_funcs"] = list(trainer.reward_func_names)
        kind = "grpo" if trainer is not None and is_grpo_trainer(trainer) else "sft"
        name = self.name or getattr(args, "run_name", None) or Path(args.output_dir).name
        return {
            "name": str(name)[:200],
            "kind": kind,
            "config": _fit(config),
            "completion_format": self.completion_format,
        }

    def _emit_samples(self, samples: list[dict[str, Any]]) -> None:
        if self.sender is not None and samples:
            self.sender.records(samples=samples)

    def _sample_generations(self, step: int, kwargs: dict) -> None:
        """Greedy answers to the sample prompts, on this (the main) process only."""
        model, tokenizer = kwargs.get("model"), kwargs.get("processing_class")
        if model is None or tokenizer is None or not hasattr(model, "generate"):
            return
        import torch

        was_training = model.training
        model.eval()
        samples = []
        try:
            with torch.no_grad():
                for group, prompt in enumerate(self.sample_prompts):
                    encoded = tokenizer(prompt, return_tensors="pt").to(model.device)
                    output = model.generate(
                        **encoded, max_new_tokens=self.max_new_tokens, do_sample=False
                    )
                    new = output[0][encoded["input_ids"].shape[1] :]
                    samples.append(
                        {
                            "step": step,
                            "group": group,
                            "index": 0,
                            "prompt": prompt,
                            "completion": tokenizer.decode(new, skip_special_tokens=True),
                            "length_tokens": int(new.shape[0]),
                        }
                    )
        except Exception:
            log.exception("r1web: sampling generations at step %s failed", step)
        finally:
            model.train(was_training)
        self._emit_samples(samples)

    def _end(self, status: str, error: str = "") -> None:
        if self._ended or self.sender is None:
            return
        self._ended = True
        self.sender.finish(status, error)
        self.delivered = self.sender.close(self.close_timeout)
        if self.sender.run_url:
            log.warning("r1web: %s", self.sender.run_url)

    def _at_exit(self) -> None:
        # The process is ending without on_train_end: training raised (or was stopped).
        self._end("failed", "the training process exited before training ended")


def _find_trainer() -> Any:
    """The ``transformers.Trainer`` whose event is being handled, found up the stack
    (transformers hands callbacks no reference to it)."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            candidate = frame.f_locals.get("self")
            if candidate is not None and _is_trainer(candidate):
                return candidate
            frame = frame.f_back
    finally:
        del frame
    return None


def _is_trainer(obj: Any) -> bool:
    return any(
        cls.__name__ == "Trainer" and cls.__module__.startswith("transformers")
        for cls in type(obj).__mro__
    )


def _fit(config: dict[str, Any], limit: int = 200_000) -> dict[str, Any]:
    """The config, without its largest values if it would not fit r1web's limit."""
    while config and len(json.dumps(config)) > limit:
        largest = max(config, key=lambda k: len(json.dumps(config[k])))
        config = {k: v for k, v in config.items() if k != largest}
    return config
