"""The content hash that names a dataset version's examples.

Only what a trainer sees goes into the hash (split, task, prompt, answer, completion, in
order); provenance does not, so exporting a version and importing the file elsewhere
gives the same hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

HASHED_FIELDS = ("split", "task", "prompt", "answer", "completion")


def example_content(record: dict) -> dict:
    return {name: str(record.get(name, "") or "") for name in HASHED_FIELDS}


def content_hash(records: Iterable[dict]) -> str:
    digest = hashlib.sha256()
    for record in records:
        line = json.dumps(example_content(record), sort_keys=True, ensure_ascii=False)
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
