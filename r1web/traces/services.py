"""Writes to samples and flags."""

from __future__ import annotations

from django.db import transaction

from r1domain.errors import R1WebError
from r1web.audit.models import Action
from r1web.audit.services import audit_record
from r1web.runs import rollups
from r1web.traces.bulk import sample_values, samples_store
from r1web.traces.models import Flag, FlagLabel, Sample


@transaction.atomic(savepoint=False)
def samples_record(*, stage, records: list, example_ids: dict[str, int] | None = None,
                   summaries: rollups.Summaries | None = None) -> int | None:
    """Store sampled completions in one transaction.

    A record already stored (same stage, step, group, index) is skipped, so a retried
    batch never duplicates a sample. The chart summaries are refreshed now, or with the
    caller's ``summaries``. Returns how many rows were new where the database can say
    (PostgreSQL), else None.
    """
    rows = [sample_values(stage, record, example_ids or {}) for record in records]
    new = samples_store(rows)
    # Per-step statistics for the run's charts and summary (no page scans samples).
    rollups.sample_steps_refresh(stage_pk=stage.pk, steps={row["step"] for row in rows},
                                 summaries=summaries)
    return new


class FlagError(R1WebError):
    """A flag that cannot be set or removed: the message is shown as is."""


# Flags that contradict each other: setting one removes the same person's opposite.
_OPPOSITES = {
    FlagLabel.REFLECTION: [FlagLabel.NOT_REFLECTION],
    FlagLabel.AHA: [FlagLabel.NOT_REFLECTION],
    FlagLabel.NOT_REFLECTION: [FlagLabel.REFLECTION, FlagLabel.AHA],
}


@transaction.atomic
def sample_flag(*, sample: Sample, user, label: str, custom_label: str = "", note: str = "") -> Flag:
    """Flag a sample (or update the note of the same flag). The caller checks the role."""
    if label not in FlagLabel.values:
        raise FlagError(f"unknown flag {label!r}")
    custom_label = custom_label.strip()[:100] if label == FlagLabel.CUSTOM else ""
    if label == FlagLabel.CUSTOM and not custom_label:
        raise FlagError("a custom flag needs a label")
    Flag.objects.filter(
        sample=sample, created_by=user, label__in=_OPPOSITES.get(label, [])
    ).delete()
    flag, _ = Flag.objects.update_or_create(
        sample=sample,
        created_by=user,
        label=label,
        custom_label=custom_label,
        defaults={"note": note.strip(), "run_id": sample.run_id, "step": sample.step},
    )
    audit_record(actor=user, action=Action.SAMPLE_FLAG, target=sample,
                 detail={"label": custom_label or label})
    return flag


@transaction.atomic
def sample_unflag(*, flag: Flag, user) -> None:
    """Remove a flag; only the person who set it (or an operator) may."""
    from r1web.accounts.roles import role_of

    if not flag.removable_by(user.pk, role_of(user)):
        raise FlagError("only the person who set a flag can remove it")
    flag.delete()
    audit_record(actor=user, action=Action.SAMPLE_UNFLAG, target=flag.sample,
                 detail={"label": flag.custom_label or flag.label})
