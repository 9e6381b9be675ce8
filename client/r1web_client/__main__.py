"""``python -m r1web_client replay SPOOL [--url URL] [--token TOKEN]``: deliver the
records a training run left in its spool while r1web was unreachable."""

from __future__ import annotations

import argparse
import os
import sys

from r1web_client.sender import replay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m r1web_client")
    commands = parser.add_subparsers(dest="command", required=True)
    replaying = commands.add_parser("replay", help="send a spool file's records to r1web")
    replaying.add_argument("spool")
    replaying.add_argument("--url", default=os.environ.get("R1WEB_URL"))
    replaying.add_argument("--token", default=os.environ.get("R1WEB_TOKEN"))
    args = parser.parse_args(argv)
    if not args.url or not args.token:
        parser.error("--url and --token (or R1WEB_URL and R1WEB_TOKEN) are needed")
    try:
        count = replay(args.spool, args.url, args.token)
    except (OSError, RuntimeError) as exc:
        print(f"replay stopped: {exc}; what was delivered is gone from the spool", file=sys.stderr)
        return 1
    print(f"delivered {count} batch(es)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
