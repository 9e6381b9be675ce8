"""Writes for external runs: API tokens, runs opened and filled through the API, and
imports of existing logs.

A token is ``r1w_`` and 43 random URL-safe characters; only its SHA-256 is stored (a
secret this long needs no slow hash), so a leaked database leaks no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from r1domain.errors import Conflict, R1WebError
from r1domain.stage_params import ExternalParams, dump, validate
from r1web.audit.models import Action
from r1web.audit.services import audit_record
from r1web.ingest import bulk, schema
from r1web.ingest.models import ApiToken, ExternalRun
from r1web.ingest.rows import to_records
from r1web.runs import rollups
from r1web.runs.models import Recipe, Run, Stage, StageKind, Status, stage_parameters
from r1web.runs.services import run_refresh, stage_fail, stage_succeed
from r1web.safe_text import db_json, db_text
from r1web.traces.services import samples_record

TOKEN_PREFIX = "r1w_"
# A token's last use is written at most this often: not one extra write per request.
LAST_USED_EVERY_SECONDS = 60
STAGE_NAMES = {"grpo": "GRPO (external)", "sft": "SFT (external)"}
INSERT_CHUNK = 5000  # samples per insert while importing a file
INSERT_CHUNK_CHARS = 16 * 2**20  # or this many characters of text, whichever comes first


class IngestError(R1WebError):
    """A request that cannot be done; the message is shown as is."""


class RunConflict(IngestError, Conflict):
    """What the run's state refuses: a key someone else opened, records for a run that
    has finished (409 from the API)."""


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def token_create(*, user, name: str, acting_user=None) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the secret, which is never stored
    and cannot be shown again. ``acting_user`` is None from the command line."""
    name = db_text(name.strip())[:100] or "token"
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[:8], digest=token_digest(secret)
    )
    audit_record(
        actor=acting_user,
        action=Action.TOKEN_CREATE,
        target=token,
        detail={"name": name, "user": user.get_username()},
    )
    return token, secret


@transaction.atomic
def token_revoke(*, token: ApiToken, acting_user) -> None:
    """Revoke a token at once: the next request made with it gets 401. The caller checks
    that ``acting_user`` may (its owner)."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise IngestError(f"{token} is already revoked")
    audit_record(
        actor=acting_user, action=Action.TOKEN_REVOKE, target=token, detail={"name": token.name}
    )


def token_use(secret: str) -> ApiToken | None:
    """The active token with this secret, its user loaded, or None. Notes when it was
    last used (at most once a minute)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    stale = token.last_used_at is None or (
        (now - token.last_used_at).total_seconds() > LAST_USED_EVERY_SECONDS
    )
    if stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


# --- runs ------------------------------------------------------------------------


@transaction.atomic
def external_run_open(
    *,
    user,
    spec: schema.RunOpen,
    token: ApiToken | None = None,
    source: str = ExternalRun.Source.API,
) -> tuple[ExternalRun, bool]:
    """The external run with ``spec.key``, made on first use (True) or found again.

    Opening a key again continues its run (a script restarted from a checkpoint): a
    finished stage runs again. A key belongs to the user who first opened it.
    """
    external = (
        ExternalRun.objects.select_for_update().select_related("run").filter(key=spec.key).first()
    )
    if external is not None:
        if external.created_by_id != user.pk:
            raise RunConflict(f"run key {spec.key!r} belongs to someone else", field="key")
        _reopen(external.run, user)
        return external, False
    now = timezone.now()
    config = db_json(spec.config)
    run = Run.objects.create(
        name=db_text(spec.name)[:200] or f"external {spec.key}"[:200],
        recipe=Recipe.EXTERNAL,
        status=Status.RUNNING,
        config=config,
        created_by=user,
        started_at=now,
    )
    Stage.objects.create(
        run=run,
        position=0,
        key="train",
        name=STAGE_NAMES[spec.kind],
        kind=StageKind(spec.kind),
        status=Status.RUNNING,
        trl_config=config,
        params=dump(validate(ExternalParams, {"completion_format": spec.completion_format,
                                              "external": source})),
        started_at=now,
    )
    external = ExternalRun.objects.create(
        run=run, key=spec.key, source=source, created_by=user, token=token
    )
    audit_record(actor=user, action=Action.RUN_LAUNCH, target=run, detail={"external": source})
    return external, True


def _reopen(run: Run, user) -> None:
    stopped = run.stages.exclude(status=Status.RUNNING)
    if stopped.exists():
        was = run.status
        stopped.update(status=Status.RUNNING, finished_at=None, error="", cancel_requested=False)
        run_refresh(run=run)
        # A script's restart can undo someone's cancel: the log says who and what it undid.
        audit_record(actor=user, action=Action.RUN_RESUME, target=run,
                     detail={"external": True, "was": was})


def external_stage(external: ExternalRun) -> Stage:
    return external.run.stages.order_by("position").first()


def _locked_stage(external: ExternalRun) -> Stage:
    """The run's stage, locked until the transaction ends."""
    stages = Stage.objects.select_for_update().filter(run_id=external.run_id)
    return stages.order_by("position").first()


@transaction.atomic
def external_records_store(*, external: ExternalRun, records: schema.Records) -> dict:
    """Store a batch of samples, metric points and progress; a sample whose position is
    already stored is skipped, a metric point overwrites. Returns counts and ``stop``:
    True once someone cancelled the run in r1web (the client stops training). A run that
    has finished takes nothing (``RunConflict``) until its script opens it again."""
    # Locked, as a finish locks it: a batch is stored before a finish or refused after.
    stage = _locked_stage(external)
    if stage.status != Status.RUNNING:
        raise RunConflict(
            f"run {external.key!r} has {stage.status}: it takes no more records until its "
            "script opens it again"
        )
    fmt = stage_parameters(stage, ExternalParams).completion_format
    summaries = rollups.Summaries(stage.pk)
    new = samples_record(stage=stage, records=to_records(records.samples, fmt),
                         summaries=summaries)
    points = bulk.metrics_upsert(stage_pk=stage.pk, points=records.metrics, summaries=summaries)
    summaries.refresh()
    if records.progress is not None:
        bulk.progress_update(stage_pk=stage.pk, step=records.progress[0], total=records.progress[1])
    stage.refresh_from_db(fields=["cancel_requested", "status"])
    stop = stage.cancel_requested or stage.status == Status.CANCELLED
    return {"samples": len(records.samples), "new": new, "metrics": points, "stop": stop}


@transaction.atomic
def external_run_finish(*, external: ExternalRun, finish: schema.Finish) -> str:
    """End the run's stage as its script says (a replayed finish changes nothing).
    Returns the run's status."""
    stage = _locked_stage(external)
    if stage.status == Status.RUNNING:
        if finish.status == "succeeded" and not stage.cancel_requested:
            stage_succeed(stage_pk=stage.pk)
        else:
            cancelled = finish.status == "cancelled" or stage.cancel_requested
            error = db_text(finish.error) or ("cancelled" if cancelled else "the script failed")
            stage_fail(stage_pk=stage.pk, error=error, cancelled=cancelled)
    external.run.refresh_from_db(fields=["status"])
    return external.run.status


# --- imports ---------------------------------------------------------------------


@transaction.atomic
def rollouts_import(
    *,
    user,
    name: str,
    source: str,
    samples: Iterable[dict],
    config: dict | None = None,
    completion_format: str = "r1-zero",
    on_written: Callable[[int], None] | None = None,
) -> ExternalRun:
    """A finished external run holding ``samples`` (dicts ``schema.sample`` checked),
    read lazily and written a chunk at a time; ``on_written(rows)`` after each chunk.
    A reader that raises mid-way rolls everything back: nothing is written.
    """
    spec = schema.RunOpen(
        key=f"import-{uuid.uuid4().hex}",
        name=name,
        kind="grpo",
        config=config or {},
        completion_format=completion_format,
    )
    external, _ = external_run_open(user=user, spec=spec, source=source)
    stage = external_stage(external)
    summaries = rollups.Summaries(stage.pk)  # the charts' blocks, refreshed once at the end
    written = last_step = 0
    for chunk in _chunks(samples):
        samples_record(stage=stage, records=to_records(chunk, completion_format),
                       summaries=summaries)
        written += len(chunk)
        last_step = max(last_step, *(sample["step"] for sample in chunk))
        if on_written is not None:
            on_written(written)
    if not written:
        raise IngestError("no completions to import")
    summaries.refresh()
    bulk.progress_update(stage_pk=stage.pk, step=last_step, total=last_step)
    stage_succeed(stage_pk=stage.pk)
    external.run.refresh_from_db()
    return external


def _chunks(samples: Iterable[dict]) -> Iterator[list[dict]]:
    """``samples`` in lists of at most INSERT_CHUNK samples or INSERT_CHUNK_CHARS
    characters of text (long completions make a short chunk)."""
    chunk: list[dict] = []
    chars = 0
    for sample in samples:
        chunk.append(sample)
        chars += len(sample["prompt"]) + len(sample["completion"])
        if len(chunk) >= INSERT_CHUNK or chars >= INSERT_CHUNK_CHARS:
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk
