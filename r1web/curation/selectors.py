"""Reads for the curation queue."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from r1web.curation.models import CurationItem, ItemStatus
from r1web.datasets.models import Dataset


@dataclass(frozen=True)
class QueueProgress:
    total: int
    pending: int
    accepted: int
    rejected: int

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    @property
    def position(self) -> int:
        """The x of "x of n": the item being worked on."""
        return min(self.decided + 1, self.total)

    def percent(self) -> int:
        return round(100 * self.decided / self.total) if self.total else 0


def queue_progress(dataset: Dataset) -> QueueProgress:
    counts = CurationItem.objects.filter(dataset=dataset).aggregate(
        total=Count("id"),
        pending=Count("id", filter=Q(status=ItemStatus.PENDING)),
        accepted=Count("id", filter=Q(status=ItemStatus.ACCEPTED)),
        rejected=Count("id", filter=Q(status=ItemStatus.REJECTED)),
    )
    return QueueProgress(**counts)


def queues() -> QuerySet[Dataset]:
    """Datasets that have candidates, with their counts."""
    return (
        Dataset.objects.filter(curation_items__isnull=False)
        .annotate(
            total=Count("curation_items"),
            pending=Count("curation_items", filter=Q(curation_items__status=ItemStatus.PENDING)),
            accepted=Count("curation_items", filter=Q(curation_items__status=ItemStatus.ACCEPTED)),
        )
        .order_by("name")
    )


def item_with_history(pk: int) -> CurationItem:
    return (
        CurationItem.objects.select_related("dataset", "claimed_by", "decided_by", "sample")
        .prefetch_related("edits__user")
        .get(pk=pk)
    )


def recent_decisions(dataset: Dataset, limit: int = 20) -> QuerySet[CurationItem]:
    return (
        CurationItem.objects.filter(dataset=dataset)
        .exclude(status=ItemStatus.PENDING)
        .select_related("decided_by")
        .order_by("-decided_at")[:limit]
    )


def promotion_targets() -> list[tuple[str, bool]]:
    """(name, is the default) of the datasets a curator may promote samples into: the SFT
    datasets, and the default one even before it exists."""
    from r1web.curation.forms import DEFAULT_DATASET

    names = set(Dataset.objects.filter(kind=Dataset.Kind.SFT).values_list("name", flat=True)[:500])
    return [(name, name == DEFAULT_DATASET) for name in sorted(names | {DEFAULT_DATASET})]


@dataclass(frozen=True)
class Promotable:
    """What promoting a filter would queue: ``count`` samples up to sample id ``upto``."""

    count: int
    upto: int | None
    too_many: bool


def promotable(params, *, limit: int) -> Promotable:
    """The samples a trace filter matches, counted up to ``limit`` and no further."""
    from r1web.traces.selectors import filter_samples

    ids = list(filter_samples(params).order_by("-id").values_list("id", flat=True)[:limit])
    return Promotable(count=len(ids), upto=ids[0] if ids else None, too_many=len(ids) >= limit)
