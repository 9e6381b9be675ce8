"""One prompt through a run, as the evolution view shows it: frames (the samples of one
stage at one step), a frame picked by the step slider, and a word diff between two.

Plain functions over samples already read (``selectors.evolution_samples``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from r1domain.probes import word_diff
from r1web.traces.models import Sample


@dataclass(frozen=True)
class Frame:
    """The samples of one stage at one step (one for a probe round, G for a GRPO group,
    k for an evaluation)."""

    position: int  # in the timeline, what the slider moves over
    samples: list[Sample]

    @property
    def first(self) -> Sample:
        return self.samples[0]

    @property
    def label(self) -> str:
        sample = self.first
        kind = "probe" if sample.probe else f"{len(self.samples)} samples"
        return f"{sample.stage.name} · step {sample.step} ({kind})"


@dataclass(frozen=True)
class Evolution:
    frames: list[Frame]
    shown: Frame | None  # the slider's frame
    old: Frame | None  # the diff's two ends
    new: Frame | None

    def steps(self) -> int:
        """How many distinct training steps the prompt was answered at (probe rounds)."""
        return len({frame.first.step for frame in self.frames if frame.first.probe})

    def diff(self) -> list[tuple[str, str]]:
        if self.old is None or self.new is None:
            return []
        return word_diff(self.old.first.completion, self.new.first.completion)


def frames_of(samples: list[Sample]) -> list[Frame]:
    """Samples in timeline order (stage position, step) grouped into frames."""
    groups = groupby(samples, key=lambda s: (s.stage.position, s.step, s.probe))
    return [Frame(position, list(group)) for position, (_, group) in enumerate(groups)]


def evolution(samples: list[Sample], params) -> Evolution:
    """The timeline, with the frames ``?at=``, ``?old=`` and ``?new=`` pick (positions in
    the timeline). Defaults: the last frame is shown, and the diff runs from the first
    probe round to the last (the first and last frame when there are no probes)."""
    frames = frames_of(samples)
    if not frames:
        return Evolution([], None, None, None)
    probes = [frame for frame in frames if frame.first.probe] or frames
    return Evolution(
        frames,
        _pick(frames, params.get("at"), frames[-1]),
        _pick(frames, params.get("old"), probes[0]),
        _pick(frames, params.get("new"), probes[-1]),
    )


def _pick(frames: list[Frame], raw: str | None, default: Frame) -> Frame:
    """The frame at position ``raw``; ``default`` for anything else (a hand-made URL)."""
    if raw and raw.isascii() and raw.isdecimal() and len(raw) < 7 and int(raw) < len(frames):
        return frames[int(raw)]
    return default
