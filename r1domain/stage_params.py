"""Each stage kind's parameters: one type per kind, holding its fields, defaults and ranges.

These are r1web's own settings of a stage (a stage's TRL config is separate: TRL's own
field names, checked by ``r1domain.trl_fields``). A recipe builds one of these types, the
registry (``r1web.runs.registry``) validates it once when the run is launched, and
``Stage.params`` stores ``dump(params)``: only the fields the recipe set, so a default
changed later applies to a stored stage that never set it. The worker decodes the stored
form once (``decode``) and hands the typed value to the stage's runner; nobody spells a
key or a default on the other side of the queue.

Checks that need the database (a judge checkpoint exists, a reward model is one) stay
with the registry; everything that can be said of the values alone is said here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from r1domain.base import ConfigError
from r1domain.coldstart import DEFAULT_TOKEN
from r1domain.formats import COLD_START, R1_ZERO, CompletionFormat, get_format
from r1domain.probes import MAX_PROMPTS, ProbeSettings
from r1domain.processes import MAX_PROCESSES, accelerate_configs
from r1domain.rewards import REWARD_FUNCS

# The stage kinds, by the names ``Stage.kind`` stores (r1web.runs.models.StageKind).
GRPO = "grpo"
SFT = "sft"
EVAL = "eval"
GENERATE = "generate"
REJECTION_SAMPLING = "rejection_sampling"
MIX = "mix"
REWARD_MODEL = "reward_model"
BUILD_BASE = "build_base"
ADD_COT = "add_cot"

FormatName = Literal["r1-zero", "cold-start"]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
NewTokens = Annotated[int, Field(ge=1, le=32_768)]
Temperature = Annotated[float, Field(ge=0.0, le=10.0)]
PerPrompt = Annotated[int, Field(ge=1, le=64)]
Limit = Annotated[int, Field(ge=1, le=100_000_000)]
Split = Annotated[str, Field(min_length=1, max_length=40)]
SpecialToken = Annotated[str, Field(min_length=1, max_length=50)]
# A dataset's name: it appears in URLs, file names and `name@version` references.
DatasetName = Annotated[str, Field(pattern=r"^[-a-zA-Z0-9_]{1,100}$")]
# A reward model's name becomes a metric key (rewards/<name>/mean) and a reward's label.
RewardName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,60}$")]


class StageParams(BaseModel):
    """What every kind's parameters share: strict values, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    kind: ClassVar[str]


class Formatted(StageParams):
    """A stage that prompts a model and parses its answers in one completion format."""

    completion_format: FormatName = R1_ZERO
    special_token: SpecialToken = DEFAULT_TOKEN

    def format(self) -> CompletionFormat:
        return get_format(self.completion_format, self.special_token)


class Sampling(StageParams):
    """A stage that samples completions outside a trainer's own rollouts."""

    max_new_tokens: NewTokens = 64
    temperature: Temperature = 1.0
    seed: Seed = 0


class Processes(StageParams):
    """A training stage that may run data-parallel under ``accelerate launch``."""

    num_processes: int = Field(1, ge=1, le=MAX_PROCESSES)
    accelerate_config: str = ""

    @field_validator("accelerate_config")
    @classmethod
    def _known_config(cls, name: str) -> str:
        known = accelerate_configs()
        if name and name not in known:
            raise ValueError(f"unknown accelerate config {name!r} (known: {', '.join(known)})")
        return name


class RewardModelRef(StageParams):
    """One reward model a GRPO stage scores with (R1's second RL stage): an earlier stage
    of the same run (its key) or a reward-model checkpoint (its id)."""

    model: str | int
    scope: Literal["summary", "response"] = "response"
    weight: float = 1.0
    name: RewardName | None = None

    @field_validator("model")
    @classmethod
    def _model_given(cls, model: str | int) -> str | int:
        if isinstance(model, str) and not model.strip():
            raise ValueError("a reward model is a stage key or a checkpoint id")
        return model


class GRPOParams(Formatted, Processes):
    kind: ClassVar[str] = GRPO

    reward_funcs: list[str] = Field(default_factory=lambda: ["accuracy", "format"])
    # Weights of the rule rewards when reward models are added (else TRL's reward_weights).
    reward_weights: list[float] | None = None
    reward_models: list[RewardModelRef] = Field(default_factory=list)
    # Probes are off unless a recipe turns them on (a stage stored before them has none).
    probe_every: int = Field(0, ge=0, le=1_000_000)
    probe_prompts: int = Field(0, ge=0, le=MAX_PROMPTS)

    @field_validator("reward_funcs")
    @classmethod
    def _known_rewards(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if name not in REWARD_FUNCS]
        if unknown:
            known = ", ".join(sorted(REWARD_FUNCS))
            raise ValueError(f"unknown reward function(s): {', '.join(unknown)} (known: {known})")
        return names

    @model_validator(mode="after")
    def _rewarded(self) -> GRPOParams:
        if not self.reward_funcs and not self.reward_models:
            raise ValueError("GRPO needs at least one reward function or reward model")
        names = set(self.reward_funcs)
        for name in self.reward_model_names():
            if name in names:
                raise ValueError(f"reward model name {name!r} is already used")
            names.add(name)
        return self

    def reward_model_names(self) -> list[str]:
        return [ref.name or f"reward_model_{i}" for i, ref in enumerate(self.reward_models, 1)]

    def probes(self) -> ProbeSettings:
        return ProbeSettings(self.probe_every, self.probe_prompts)


class SFTParams(Formatted, Processes):
    kind: ClassVar[str] = SFT

    completion_format: FormatName = COLD_START
    samples_per_eval: int = Field(4, ge=0, le=64)  # generations sampled at each evaluation
    max_new_tokens: NewTokens = 64
    eval_split: Split = "test"


class EvalParams(Formatted, Sampling):
    kind: ClassVar[str] = EVAL

    k: PerPrompt = 4  # samples per problem: pass@1 is their mean, maj@k their vote
    limit: Limit | None = None  # the first N problems of the split
    split: Split = "test"
    label: str = Field("", max_length=100)  # what the model is: before, after, distilled...

    def identity(self) -> dict[str, Any]:
        """Every setting that changes the scores (not the label): two evaluations of one
        model on one dataset version with the same identity are the same evaluation."""
        return self.model_dump(mode="json", exclude={"label"})


class GenerateParams(Sampling):
    """Cold-start candidates sampled for the curation queue of dataset ``target``."""

    kind: ClassVar[str] = GENERATE

    method: Literal["few_shot", "direct"] = "direct"
    target: DatasetName
    limit: Limit | None = None
    split: Split | None = None  # None: every split
    per_prompt: PerPrompt = 2
    shots: int = Field(2, ge=0, le=16)
    max_new_tokens: NewTokens = 96
    temperature: Temperature = 0.8
    special_token: SpecialToken = DEFAULT_TOKEN
    only_correct: bool = False  # queue only candidates whose answer checks out


class RejectionParams(Formatted, Sampling):
    kind: ClassVar[str] = REJECTION_SAMPLING

    samples_per_prompt: PerPrompt = 4
    keep_per_prompt: PerPrompt = 1
    prompt_limit: Limit | None = None
    # Keep only prompts whose pass rate lies inside [low, high] (open-r1: 0.2 to 0.8).
    pass_rate_window: list[float] | None = Field(None, min_length=2, max_length=2)
    judge: int | None = Field(None, ge=1)  # a generative judge checkpoint's id
    target: DatasetName | None = None

    @model_validator(mode="after")
    def _sampleable(self) -> RejectionParams:
        if self.samples_per_prompt > 1 and self.temperature <= 0:
            raise ValueError("temperature must be above 0 to draw several samples per prompt")
        if self.pass_rate_window is not None:
            low, high = self.pass_rate_window
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError("pass_rate_window must be [low, high] with 0 <= low <= high <= 1")
        return self

    def window(self) -> tuple[float, float] | None:
        return tuple(self.pass_rate_window) if self.pass_rate_window else None  # type: ignore[return-value]


class MixParams(StageParams):
    kind: ClassVar[str] = MIX

    # One share per source, summing to 1; None: the sources' weights, scaled.
    proportions: list[float] | None = None
    seed: Seed = 0
    total: Limit | None = None  # None: as many as the sources allow
    target: DatasetName | None = None
    split: Annotated[str, Field(max_length=40)] = "train"  # "": every split

    @field_validator("proportions")
    @classmethod
    def _shares(cls, shares: list[float] | None) -> list[float] | None:
        if shares is None:
            return None
        if not shares or any(share <= 0 for share in shares):
            raise ValueError("a mix needs a positive proportion for every source")
        if abs(sum(shares) - 1.0) > 1e-6:
            raise ValueError(f"mix proportions must sum to 1, not {sum(shares):g}")
        return shares


class RewardModelParams(Formatted):
    kind: ClassVar[str] = REWARD_MODEL

    completion_format: FormatName = COLD_START


class AddCotParams(Formatted, Sampling):
    """R1's non-reasoning data with a chain of thought written before each response."""

    kind: ClassVar[str] = ADD_COT

    temperature: Temperature = 0.7
    target: DatasetName | None = None


class BuildBaseParams(StageParams):
    """A tiny base model trained from code (the distillation recipe's small student)."""

    kind: ClassVar[str] = BUILD_BASE

    size: Literal["default", "small"] = "default"
    path: Annotated[str, Field(max_length=500)] | None = None  # under the models directory
    seed: Seed = 0


class ExternalParams(StageParams):
    """A stage trained by a script elsewhere that logs into r1web (``r1web.ingest``): where
    it logs from, and how its completions are parsed. No worker runs it."""

    kind: ClassVar[str] = "external"

    completion_format: FormatName = R1_ZERO
    external: str = Field(max_length=40)

    def format(self) -> CompletionFormat:
        return get_format(self.completion_format)


PARAMS: dict[str, type[StageParams]] = {
    cls.kind: cls
    for cls in (
        GRPOParams, SFTParams, EvalParams, GenerateParams, RejectionParams, MixParams,
        RewardModelParams, AddCotParams, BuildBaseParams,
    )
}

P = TypeVar("P", bound=StageParams)


def params_type(kind: str) -> type[StageParams]:
    try:
        return PARAMS[kind]
    except KeyError:
        raise ConfigError(f"unknown stage kind {kind!r}") from None


def decode(kind: str, stored: dict[str, Any]) -> StageParams:
    """A stage's stored parameters as its kind's type; ConfigError names a bad field."""
    cls = ExternalParams if "external" in stored else params_type(kind)
    return validate(cls, stored)


def decode_as(cls: type[P], kind: str, stored: dict[str, Any]) -> P:
    """``decode``, for a caller that knows which type the stage's kind has."""
    params = decode(kind, stored)
    if not isinstance(params, cls):
        raise ConfigError(f"a {kind} stage's parameters are not {cls.__name__}")
    return params


def validate(cls: type[P], values: dict[str, Any]) -> P:
    """``cls`` made from plain values; ConfigError naming the first refused field."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None


def dump(params: StageParams) -> dict[str, Any]:
    """The stored form: the fields that were set, as JSON values."""
    return params.model_dump(mode="json", exclude_unset=True)


def replace(params: P, **changes: Any) -> P:
    """A copy of ``params`` with ``changes`` set (and checked, unlike ``model_copy``)."""
    return validate(type(params), {**dump(params), **changes})


def describe(exc: ValidationError) -> str:
    """A pydantic error as one line that names the field, as a form or the CLI shows it."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = _VALUE_ERROR.sub("", error["msg"])
    return f"{where}: {message}" if where else message


_VALUE_ERROR = re.compile(r"^(Value|Assertion) error, ")
