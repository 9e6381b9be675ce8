"""The torch side of the workers: trainers, generation, model building.

TRL 1.16 switches gradient checkpointing off and on around every generation through
transformers' old method names, which transformers 5 marks as deprecated: one
FutureWarning per call site in every worker log, none of it the user's to act on.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings(
    "ignore",
    message=r"`(is_)?gradient_checkpointing\w*` is deprecated and will be removed in v6",
    category=FutureWarning,
)
