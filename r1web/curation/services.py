"""Writes to the curation queue: promote candidates, claim, edit, decide, freeze.

Two curators never hold the same item: a claim locks the candidate rows it looks at
with ``select_for_update(skip_locked=True)`` (Postgres) and takes the item with a
conditional update (every backend), and a claim lasts ``LEASE``. Every save by the
holder is kept as a ``CurationEdit``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from r1domain.coldstart import ColdStartFormatError, from_think_answer, to_cold_start
from r1domain.errors import R1WebError
from r1domain.stage_params import GenerateParams
from r1web.audit.models import Action
from r1web.audit.services import audit_record
from r1web.curation.models import CurationEdit, CurationItem, ItemStatus, Source
from r1web.datasets.models import Dataset, DatasetVersion
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Stage, StageKind

LEASE = timedelta(minutes=15)
CLAIM_ATTEMPTS = 5


class CurationError(R1WebError):
    """A curation request that cannot be done; the message is shown to the user as is."""


def stage_model(stage: Stage) -> dict:
    """The model a stage sampled from: its input checkpoint or its source stage's output."""
    checkpoint = stage.input_checkpoint
    if checkpoint is None and stage.input_from_id:
        checkpoint = stage.input_from.output_checkpoint
    if checkpoint is None:
        return {}
    return {"checkpoint_id": checkpoint.pk, "model": checkpoint.name, "model_path": checkpoint.path}


def sample_provenance(sample) -> dict:
    stage = sample.stage
    provenance = {
        "run_id": sample.run_id,
        "run": stage.run.name,
        "stage_id": stage.pk,
        "stage": stage.name,
        "stage_kind": stage.kind,
        "step": sample.step,
        "sample_id": sample.pk,
        "example_key": sample.example_key,
    }
    if stage.kind != StageKind.GRPO:
        return provenance | stage_model(stage)
    # The policy being trained sampled it, not the model the stage started from (a step
    # 21 sample is not the base model's): name both, and the newest checkpoint saved at
    # or before the step, when there is one.
    started = stage_model(stage)
    provenance["model"] = f"{stage.run.name} / {stage.name} policy at step {sample.step}"
    if started:
        provenance.update(started_from_checkpoint_id=started["checkpoint_id"],
                          started_from=started["model"])
    trained = stage.checkpoints.filter(step__lte=sample.step).order_by("-step").first()
    if trained is not None:
        provenance.update(trained_checkpoint_id=trained.pk, trained_checkpoint=trained.name)
    return provenance


def _item_from_sample(sample, dataset: Dataset, source: str, user) -> CurationItem:
    reasoning, summary = from_think_answer(sample.completion)
    return CurationItem(
        dataset=dataset,
        source=source,
        example_key=sample.example_key,
        prompt=sample.prompt,
        reference=sample.reference,
        original=sample.completion,
        reasoning=reasoning.replace(dataset.special_token, ""),
        summary=summary.replace(dataset.special_token, ""),
        correct=sample.correct,
        provenance=sample_provenance(sample),
        sample=sample,
        stage=sample.stage if source != Source.PROMOTED else None,
        created_by=user,
    )


@transaction.atomic
def candidates_promote(
    *, samples: Iterable, dataset: Dataset, user, source: str = Source.PROMOTED
) -> int:
    """Queue samples as cold-start candidates for ``dataset``; returns how many are new.

    A sample already queued for this dataset is skipped. ``samples`` may be a queryset
    of any size; it is read in chunks.
    """
    if hasattr(samples, "select_related"):
        samples = samples.select_related(
            "stage__run", "stage__input_checkpoint", "stage__input_from__output_checkpoint"
        ).iterator(chunk_size=500)
    before = CurationItem.objects.filter(dataset=dataset).count()
    batch: list[CurationItem] = []
    for sample in samples:
        batch.append(_item_from_sample(sample, dataset, source, user))
        if len(batch) >= 500:
            CurationItem.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    CurationItem.objects.bulk_create(batch, ignore_conflicts=True)
    added = CurationItem.objects.filter(dataset=dataset).count() - before
    audit_record(actor=user, action=Action.SAMPLES_PROMOTE, target=dataset,
                 detail={"added": added, "source": source})
    return added


def candidates_from_stage(*, stage: Stage) -> int:
    """Queue every sample a generation stage wrote, in the dataset its params name."""
    from r1web.traces.models import Sample

    params = stage.parameters()
    assert isinstance(params, GenerateParams)
    dataset = curation_dataset_get_or_create(name=params.target, user=stage.run.created_by)
    samples = Sample.objects.filter(stage=stage).order_by("group", "index")
    if params.only_correct:
        samples = samples.filter(correct=True)
    return candidates_promote(
        samples=samples, dataset=dataset, user=stage.run.created_by, source=params.method
    )


def curation_dataset_get_or_create(
    *, name: str, user, special_token: str = "", language: str = ""
) -> Dataset:
    """The dataset a queue feeds; a new one is an SFT dataset."""
    dataset, created = Dataset.objects.get_or_create(
        name=name, defaults={"kind": Dataset.Kind.SFT, "created_by": user}
    )
    if created and (special_token or language):
        dataset.special_token = special_token or dataset.special_token
        dataset.language = language or dataset.language
        dataset.save(update_fields=["special_token", "language"])
    return dataset


def _unclaimed(now) -> Q:
    return Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now)


def held_item(*, dataset: Dataset, user) -> CurationItem | None:
    now = timezone.now()
    return (
        CurationItem.objects.filter(
            dataset=dataset, status=ItemStatus.PENDING, claimed_by=user, claim_expires_at__gt=now
        )
        .order_by("id")
        .first()
    )


def curation_claim_next(*, dataset: Dataset, user) -> CurationItem | None:
    """The item this curator holds, or the next free one, now held for ``LEASE``.

    None when nothing is left. Safe under concurrency: the row is locked (skipping rows
    another transaction holds) and taken with a conditional update.
    """
    for _ in range(CLAIM_ATTEMPTS):
        with transaction.atomic():
            item = held_item(dataset=dataset, user=user)
            if item is not None:
                return item
            now = timezone.now()
            free = CurationItem.objects.filter(dataset=dataset, status=ItemStatus.PENDING)
            candidate = (
                free.filter(_unclaimed(now))
                .select_for_update(skip_locked=True)
                .order_by("id")
                .first()
            )
            if candidate is None:
                return None
            won = free.filter(_unclaimed(now), pk=candidate.pk).update(
                claimed_by=user, claim_expires_at=now + LEASE
            )
            if won:
                candidate.refresh_from_db()
                return candidate
    return None


def _lock_held(item: CurationItem, user) -> CurationItem:
    locked = CurationItem.objects.select_for_update().select_related("dataset").get(pk=item.pk)
    if locked.status != ItemStatus.PENDING:
        raise CurationError(f"candidate {item.pk} was already {locked.status}")
    if not locked.is_held_by(user):
        raise CurationError(
            f"you do not hold candidate {item.pk} (its claim expired or another curator has it); "
            "take the next item again"
        )
    return locked


def _check_text(item: CurationItem, reasoning: str, summary: str) -> None:
    try:
        to_cold_start(reasoning, summary, item.dataset.special_token)
    except ColdStartFormatError as exc:
        raise CurationError(str(exc)) from exc


@transaction.atomic
def curation_save(*, item: CurationItem, user, reasoning: str, summary: str) -> CurationItem:
    """Store an edit by the curator holding ``item``; extends the lease."""
    locked = _lock_held(item, user)
    _check_text(locked, reasoning, summary)
    locked.reasoning, locked.summary = reasoning.strip(), summary.strip()
    locked.claim_expires_at = timezone.now() + LEASE
    locked.save(update_fields=["reasoning", "summary", "claim_expires_at"])
    _history(locked, user, CurationEdit.Action.EDIT)
    audit_record(actor=user, action=Action.CURATION_EDIT, target=locked)
    return locked


def _history(item: CurationItem, user, action: str) -> None:
    """Every change of text or decision is kept: the item's history."""
    CurationEdit.objects.create(
        item=item, user=user, action=action, reasoning=item.reasoning, summary=item.summary
    )


@transaction.atomic
def curation_accept(*, item: CurationItem, user, reasoning: str, summary: str) -> CurationItem:
    """Accept the held item with this text (which is recorded like an edit)."""
    locked = _lock_held(item, user)
    _check_text(locked, reasoning, summary)
    if not summary.strip():
        raise CurationError("an accepted example needs a summary")
    locked.reasoning, locked.summary = reasoning.strip(), summary.strip()
    _decide(locked, user, ItemStatus.ACCEPTED)
    _history(locked, user, CurationEdit.Action.ACCEPT)
    audit_record(actor=user, action=Action.CURATION_ACCEPT, target=locked)
    return locked


@transaction.atomic
def curation_reject(*, item: CurationItem, user, reason: str) -> CurationItem:
    locked = _lock_held(item, user)
    if not reason.strip():
        raise CurationError("say why the candidate is rejected")
    locked.reject_reason = reason.strip()
    _decide(locked, user, ItemStatus.REJECTED)
    CurationEdit.objects.create(
        item=locked,
        user=user,
        action=CurationEdit.Action.REJECT,
        reasoning=locked.reasoning,
        summary=locked.summary,
        reason=locked.reject_reason,
    )
    audit_record(actor=user, action=Action.CURATION_REJECT, target=locked)
    return locked


def _decide(item: CurationItem, user, status: str) -> None:
    item.status, item.decided_by, item.decided_at = status, user, timezone.now()
    item.claimed_by, item.claim_expires_at = None, None
    item.save(
        update_fields=[
            "reasoning",
            "summary",
            "reject_reason",
            "status",
            "decided_by",
            "decided_at",
            "claimed_by",
            "claim_expires_at",
        ]
    )


@transaction.atomic
def curation_release(*, item: CurationItem, user) -> None:
    """Give a held item back to the queue."""
    CurationItem.objects.filter(pk=item.pk, claimed_by=user, status=ItemStatus.PENDING).update(
        claimed_by=None, claim_expires_at=None
    )


def accepted_records(dataset: Dataset) -> list[dict]:
    items = CurationItem.objects.filter(dataset=dataset, status=ItemStatus.ACCEPTED).order_by("id")
    return [
        {
            "key": f"curation:{item.pk}",
            "split": "train",
            "task": item.task,
            "prompt": item.prompt,
            "answer": item.reference,
            "completion": to_cold_start(item.reasoning, item.summary, dataset.special_token),
            "provenance": {
                **item.provenance,
                "source": item.source,
                "curation_item_id": item.pk,
                "accepted_by": item.decided_by.username if item.decided_by else "",
                "edits": sum(
                    1 for edit in item.edits.all() if edit.action == CurationEdit.Action.EDIT
                ),
            },
        }
        for item in items.select_related("decided_by").prefetch_related("edits")
    ]


@transaction.atomic
def curation_freeze(*, dataset: Dataset, user) -> DatasetVersion:
    """Every accepted item so far, frozen as the dataset's next version.

    Freezing again without new accepted items returns the existing version.
    """
    records = accepted_records(dataset)
    if not records:
        raise CurationError(f"{dataset.name} has no accepted candidates to freeze")
    version = dataset_version_create(
        name=dataset.name,
        records=records,
        source=f"curation of {len(records)} accepted candidates",
        kind=Dataset.Kind.SFT,
        created_by=user,
    )
    audit_record(actor=user, action=Action.DATASET_FREEZE, target=version,
                 detail={"examples": len(records)})
    return version
