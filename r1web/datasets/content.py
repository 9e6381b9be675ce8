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
# Every stored field that is content: what an export writes and a diff compares. A
# preference pair's rejected response is hashed only where present (example_content).
CONTENT_FIELDS = (*HASHED_FIELDS, "rejected")


def example_content(record: dict) -> dict:
    content = {name: str(record.get(name, "") or "") for name in HASHED_FIELDS}
    # A preference pair's rejected response is content too; hashed only where present
    # so the hashes of every other kind of version stay what they were.
    if record.get("rejected"):
        content["rejected"] = str(record["rejected"])
    return content


def content_hash(records: Iterable[dict]) -> str:
    digest = hashlib.sha256()
    for record in records:
        line = json.dumps(example_content(record), sort_keys=True, ensure_ascii=False)
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
