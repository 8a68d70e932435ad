"""Seed a running Isso server with the same thread as the project's bench, through
Isso's own API (`POST /new?uri=...`, JSON, one comment per request).

Needs only the standard library, so it runs from any Python:

    python bench/isso/seed_isso.py --base http://127.0.0.1:8080 --uri /bench/t200 --n 200

Isso keeps one level of nesting (a reply to a reply is stored under the top-level
comment), so the same 200 comments arrive with their top-level branches intact.
Isso's [guard] must be off (bench/isso/isso.cfg), or its rate limit refuses the posts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import ThreadPlan, plan_thread


def post_comment(base: str, uri: str, payload: dict) -> dict:
    url = f"{base}/new?uri={urllib.parse.quote(uri, safe='/')}"
    req = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"Isso refused a comment: {e.code} {e.read()[:300]!r}") from None


def seed(base: str, uri: str, plan: ThreadPlan) -> tuple[list[int], float]:
    """Post every comment of the plan; returns Isso's ids and the seconds it took."""
    started = time.perf_counter()
    ids: list[int] = []
    for c in plan.comments:
        payload = {
            "text": c.text,
            "author": plan.authors[c.author],
            "email": None,
            "website": None,
            "parent": ids[c.parent] if c.parent is not None else None,
            "title": plan.title,
        }
        ids.append(post_comment(base, uri, payload)["id"])
    return ids, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8080")
    parser.add_argument("--uri", default="/bench/t200")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    ids, seconds = seed(args.base, args.uri, plan_thread(args.n))
    print(f"posted {len(ids)} comments to {args.base} ({args.uri}) in {seconds:.1f}s")


if __name__ == "__main__":
    main()
