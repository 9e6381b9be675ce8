"""Sending records to r1web from a background thread, in batches, never losing one.

The training loop only puts records on a bounded queue (``put_nowait``); a thread of
its own batches them and POSTs them. A send that fails because r1web cannot be reached
(connection refused, a timeout), or is busy (408, 429), is tried again a few times, then
the batch is appended to a spool file (JSONL) and the sender goes offline: everything
after it goes to the spool too, in order, and every ``probe_seconds`` the spool is
replayed from where it stopped. Once the whole spool is delivered it is emptied and
sending goes direct again. The server stores a sample once per (stage, step, group,
index) and overwrites a metric point, so replaying a batch that did arrive before the
connection dropped is harmless.

When the queue is full (the server far slower than training), the record is appended
to the spool by the training thread itself instead of waiting: the queue bounds memory,
the spool bounds nothing but the disk.

A batch the server refuses for its content (a 4xx naming the row, or 409 for a run that
has finished) is refused for good: it goes to ``<spool>.rejected``, is logged and listed
in ``Sender.refused``, and the rest is still sent. A server error (5xx) is tried again a
few times; if the server answers other requests meanwhile, the batch is what fails it
(no replay would cure that) and it is refused the same way, with the server's reason;
if the server does not answer, r1web is down and the batch is spooled. ``close()`` says
whether everything arrived. A refused token (401, 403) sends everything to the spool,
to be replayed with a valid one:
``python -m r1web_client replay SPOOL --url URL --token TOKEN``.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("r1web_client")

API = "/api/v1/"
BUSY_STATUSES = {408, 429}  # the server is there but cannot take it now: spool, retry
AUTH_STATUSES = {401, 403}
_CLOSE = object()


@dataclass(frozen=True)
class Refused:
    """A batch the server refused for good, and why (its JSON error names the row)."""

    path: str
    status: int
    reason: str
    samples: int


class Transport:
    """POSTs JSON to one r1web server over a kept-alive connection (http or https)."""

    def __init__(self, url: str, token: str, *, timeout: float = 120.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.base = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """``(status, JSON reply)``; raises OSError (and http.client's errors) when the
        server cannot be reached."""
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "User-Agent": "r1web-client",
        }
        connection = self._connect()
        try:
            connection.request("POST", self.base + API + path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        try:
            reply = json.loads(data) if data else {}
        except ValueError:
            reply = {"error": data[:200].decode("utf-8", "replace")}
        return response.status, reply if isinstance(reply, dict) else {}

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            factory = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = factory(self.host, self.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Spool:
    """An append-only JSONL file of ``{"path": ..., "body": ...}`` lines, replayed from a
    byte offset. Two threads may append (the sender, and the training thread when the
    queue is full), so every access holds the lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.lock = threading.Lock()

    def append(self, path: str, body: bytes) -> None:
        line = b'{"path": ' + json.dumps(path).encode() + b', "body": ' + body + b"}\n"
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as stream:
                stream.write(line)

    def pending(self) -> bool:
        with self.lock:
            return self.path.exists() and self.path.stat().st_size > self.offset

    def next(self) -> tuple[str, bytes, int] | None:
        """The next undelivered ``(path, body, end offset)``, or None."""
        with self.lock:
            if not self.path.exists():
                return None
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                line = stream.readline()
                end = stream.tell()
        if not line.strip():
            return None
        try:
            item = json.loads(line)
            return item["path"], json.dumps(item["body"], ensure_ascii=False).encode(), end
        except (ValueError, KeyError, TypeError):
            # A line cut short (the process died while writing it): nothing to send.
            log.error("r1web: skipping an unreadable line in %s", self.path)
            self.delivered(end)
            return self.next()

    def delivered(self, end: int) -> None:
        with self.lock:
            self.offset = end
            if self.path.exists() and self.path.stat().st_size <= end:
                self.path.unlink()  # all of it arrived: start clean
                self.offset = 0


class Sender:
    """Batches and delivers records for one run (``open``, then ``records``, then
    ``finish``); see the module docstring for what happens when r1web is away."""

    def __init__(
        self,
        transport: Transport,
        spool_path: str | Path,
        *,
        queue_size: int = 256,
        batch_samples: int = 1024,
        batch_bytes: int = 16 * 2**20,
        flush_seconds: float = 2.0,
        retries: int = 2,
        retry_pause: float = 0.5,
        probe_seconds: float = 5.0,
    ) -> None:
        self.transport = transport
        self.spool = Spool(Path(spool_path))
        self.rejected_path = Path(f"{spool_path}.rejected")
        self.batch_samples, self.batch_bytes = batch_samples, batch_bytes
        self.flush_seconds, self.retries, self.retry_pause = flush_seconds, retries, retry_pause
        self.probe_seconds = probe_seconds
        self.stop_requested = False  # r1web says the run was cancelled
        self.stats = {"sent": 0, "spooled": 0, "replayed": 0, "rejected": 0, "overflowed": 0}
        self.refused: list[Refused] = []  # what the server refused for good, in order
        self.run_url: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._key: str | None = None
        self._auth_failed = False
        self._warned_offline = False
        self._next_probe = 0.0
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="r1web-sender", daemon=True)
        self._thread.start()

    # --- the training thread's side --------------------------------------------

    def open_run(self, key: str, payload: dict[str, Any]) -> None:
        self._key = key
        self._put(("runs/", {"key": key, **payload}))

    def records(
        self,
        *,
        samples: list | None = None,
        metrics: list | None = None,
        progress: dict | None = None,
    ) -> None:
        body: dict[str, Any] = {}
        if samples:
            body["samples"] = samples
        if metrics:
            body["metrics"] = metrics
        if progress:
            body["progress"] = progress
        if body:
            self._put(("records", body))

    def finish(self, status: str = "succeeded", error: str = "") -> None:
        self._put((f"runs/{self._key}/finish/", {"status": status, "error": error[:5000]}))

    def close(self, timeout: float = 120.0) -> bool:
        """Deliver what is left, waiting at most ``timeout`` seconds for the server.
        True when everything arrived: nothing left in the spool, nothing refused (see
        ``refused``)."""
        self._deadline = time.monotonic() + timeout
        self._queue.put(_CLOSE)
        self._thread.join(timeout + 5)
        spooled = self.spool.pending()
        if spooled:
            log.warning(
                "r1web: %s still holds records the server has not received; replay "
                "it with: python -m r1web_client replay %s --url URL --token TOKEN",
                self.spool.path,
                self.spool.path,
            )
        if self.refused:
            log.warning(
                "r1web refused %d batch(es) (%d samples), kept in %s; first: %s",
                len(self.refused), sum(r.samples for r in self.refused), self.rejected_path,
                self.refused[0].reason,
            )
        self.transport.close()
        return not spooled and not self.refused

    def _put(self, item: tuple[str, dict]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:  # never make training wait: the disk takes it
            self.stats["overflowed"] += 1
            path, body = self._resolve(item)
            try:
                self.spool.append(path, _encode(body))
            except (TypeError, ValueError) as exc:
                self.stats["rejected"] += 1
                log.error("r1web: dropped records that cannot be encoded as JSON (%s)", exc)

    def _resolve(self, item: tuple[str, dict]) -> tuple[str, dict]:
        path, body = item
        return (f"runs/{self._key}/records/" if path == "records" else path), body

    # --- the sender thread -------------------------------------------------------

    def _run(self) -> None:
        batch: dict[str, Any] | None = None
        started = 0.0
        while True:
            wait = self.flush_seconds if batch is not None else self.probe_seconds
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _CLOSE:
                if batch is not None:
                    self._deliver(*self._resolve(("records", batch)))
                self._drain_spool(until=self._deadline)
                return
            if item is None:  # quiet: flush what waits, and see whether r1web is back
                if batch is not None:
                    self._deliver(*self._resolve(("records", batch)))
                    batch = None
                self._drain_spool()
                continue
            path, body = item
            if path != "records":  # open and finish keep their place in the order
                if batch is not None:
                    self._deliver(*self._resolve(("records", batch)))
                    batch = None
                self._deliver(path, body)
                continue
            if batch is None:
                batch, started = {}, time.monotonic()
            _merge(batch, body)
            if self._full(batch) or time.monotonic() - started >= self.flush_seconds:
                self._deliver(*self._resolve(("records", batch)))
                batch = None

    def _full(self, batch: dict[str, Any]) -> bool:
        samples = batch.get("samples", [])
        if len(samples) >= self.batch_samples:
            return True
        size = sum(len(s.get("prompt", "")) + len(s.get("completion", "")) for s in samples)
        return size >= self.batch_bytes

    def _deliver(self, path: str, body: dict[str, Any]) -> None:
        try:
            data = _encode(body)
        except (TypeError, ValueError) as exc:  # a value JSON cannot hold: never sendable
            self.stats["rejected"] += 1
            log.error("r1web: dropped a batch that cannot be encoded as JSON (%s)", exc)
            return
        if self.spool.pending() or self._auth_failed:
            self.spool.append(path, data)
            self.stats["spooled"] += 1
            self._drain_spool()
            return
        if not self._send(path, data, tries=self.retries + 1):
            self.spool.append(path, data)
            self.stats["spooled"] += 1
            self._next_probe = time.monotonic() + self.probe_seconds

    def _send(self, path: str, data: bytes, *, tries: int) -> bool:
        """True once the server took the batch or refused it for good; False when r1web
        cannot be reached (``tries`` attempts) and the batch is to be spooled."""
        pause = self.retry_pause
        attempt = 0
        while True:
            if attempt:
                time.sleep(pause)
                pause *= 2
            attempt += 1
            try:
                status, reply = self.transport.post(path, data)
            except (OSError, http.client.HTTPException) as exc:
                reason, server_error, limit = f"{type(exc).__name__}: {exc}", None, tries
            else:
                if status < 300:
                    self._took(path, reply)
                    return True
                if status in AUTH_STATUSES:
                    self._auth_failed = True
                    log.error(
                        "r1web refused the token (%s: %s); records go to %s",
                        status,
                        reply.get("error", ""),
                        self.spool.path,
                    )
                    return False
                if status == 413 and self._split(path, data):
                    return True
                if status < 500 and status not in BUSY_STATUSES:
                    self._reject(path, data, status, reply)
                    return True
                reason = f"HTTP {status}"
                server_error = (status, reply) if status >= 500 else None
                # A server error gets all its tries, even in a replay (which tries once).
                limit = self.retries + 1 if server_error else tries
            if attempt >= limit:
                break
        if server_error is not None and self._server_answers():
            # The server answers other requests, yet failed this batch every time: a bug
            # it has logged, which no replay would cure. Spooling it would stall the run.
            self._reject(path, data, *server_error)
            return True
        if not self._warned_offline:
            self._warned_offline = True
            log.warning(
                "r1web unreachable (%s); spooling to %s and retrying every %gs",
                reason,
                self.spool.path,
                self.probe_seconds,
            )
        return False

    def _server_answers(self) -> bool:
        """Whether r1web answers at all: an empty batch stores nothing, and any reply
        but a server error says the application is up."""
        path = f"runs/{self._key}/records/" if self._key else "runs/"
        try:
            status, _ = self.transport.post(path, b"{}")
        except (OSError, http.client.HTTPException):
            return False
        return status < 500

    def _took(self, path: str, reply: dict[str, Any]) -> None:
        self.stats["sent"] += 1
        if reply.get("stop"):
            self.stop_requested = True
        if path == "runs/" and reply.get("url"):
            self.run_url = reply["url"]

    def _split(self, path: str, data: bytes) -> bool:
        """A body too large for the server: send its samples in two halves."""
        body = json.loads(data)
        samples = body.get("samples", [])
        if len(samples) < 2:
            return False
        half = len(samples) // 2
        first = {**body, "samples": samples[:half]}
        rest = {"samples": samples[half:]}
        return all(
            self._send(path, _encode(part), tries=self.retries + 1) for part in (first, rest)
        )

    def _reject(self, path: str, data: bytes, status: int, reply: dict[str, Any]) -> None:
        reason = f"HTTP {status}: {reply.get('error', '')}"
        refused = Refused(path, status, reason, _sample_count(data))
        self.refused.append(refused)
        self.stats["rejected"] += 1
        log.error(
            "r1web refused a batch of %d samples for %s (%s); kept in %s, the rest is "
            "still sent",
            refused.samples,
            path,
            reason,
            self.rejected_path,
        )
        _set_aside(self.rejected_path, path, data)

    def _drain_spool(self, until: float | None = None) -> None:
        """Replay the spool in order; stop at the first failure. With ``until``, keep
        probing until then (closing: the last chance to deliver)."""
        if self._auth_failed:
            return
        while self.spool.pending():
            now = time.monotonic()
            if now < self._next_probe:
                if until is None or now >= until:
                    return
                time.sleep(min(self._next_probe, until) - now)
                continue
            item = self.spool.next()
            if item is None:
                return
            path, data, end = item
            if self._send(path, data, tries=1):
                self.spool.delivered(end)
                self.stats["replayed"] += 1
                if not self.spool.pending() and self._warned_offline:
                    log.warning("r1web is back: the spool was delivered")
                    self._warned_offline = False
            else:
                if self._auth_failed:
                    return
                self._next_probe = time.monotonic() + self.probe_seconds
                if until is None or time.monotonic() >= until:
                    return


def _merge(batch: dict[str, Any], body: dict[str, Any]) -> None:
    for name in ("samples", "metrics"):
        if body.get(name):
            batch.setdefault(name, []).extend(body[name])
    if body.get("progress"):
        batch["progress"] = body["progress"]


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _sample_count(data: bytes) -> int:
    try:
        samples = json.loads(data).get("samples")
    except (ValueError, AttributeError):
        return 0
    return len(samples) if isinstance(samples, list) else 0


def _set_aside(rejected_path: Path, path: str, data: bytes) -> None:
    rejected_path.parent.mkdir(parents=True, exist_ok=True)
    with rejected_path.open("ab") as stream:
        stream.write(b'{"path": ' + json.dumps(path).encode() + b', "body": ' + data + b"}\n")


def replay(spool_path: str | Path, url: str, token: str) -> int:
    """Deliver a spool left behind (``python -m r1web_client replay``); returns how many
    batches were delivered. A batch the server refuses for its content is set aside in
    ``<spool>.rejected`` (and logged); at the first one that cannot be delivered now (no
    server, a refused token, a server error) it raises RuntimeError."""
    spool = Spool(Path(spool_path))
    rejected = Path(f"{spool_path}.rejected")
    transport = Transport(url, token)
    count = 0
    while (item := spool.next()) is not None:
        path, data, end = item
        status, reply = transport.post(path, data)
        if status in AUTH_STATUSES or status in BUSY_STATUSES or status >= 500:
            raise RuntimeError(f"batch {count + 1}: HTTP {status} {reply.get('error', '')}")
        if status >= 300:
            log.error("r1web refused a batch for %s (HTTP %s: %s); kept in %s", path, status,
                      reply.get("error", ""), rejected)
            _set_aside(rejected, path, data)
        else:
            count += 1
        spool.delivered(end)
    transport.close()
    return count


def default_spool(directory: str | os.PathLike, key: str) -> Path:
    return Path(directory) / f"r1web-spool-{key}.jsonl"
