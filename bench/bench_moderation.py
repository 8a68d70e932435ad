"""What the moderation rules cost (issue 13), measured, never asserted by the tests.

    .venv/bin/python bench/bench_moderation.py            # ~1-2 minutes
    .venv/bin/python bench/bench_moderation.py --quick    # smaller log for `rules try`

1. POST /api/v1/threads/<id>/comments through the WSGI app in this process (no socket,
   no runner thread: the same request path as gunicorn's workers), on a temp SQLite
   store, with DISCUSS_RULES=off and =default (the shipped rule set), interleaved in
   batches so both see the same machine. The author has comments already (the rules are
   all evaluated, `repeated` opens their last 5 texts, and nothing is held), so the
   difference is the cost of the checks. Target: default >= 90% of off's throughput.
   Also, for information: every post held (a new author each time, one more event).
2. `discuss rules try` (projections/rules_replay.try_rules) over a log of sealed
   comment and edit events on SQLite: events per second. Target >= 20,000/s.
Prints ratios and the core count; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt_table, nproc
from stores import app_in_process, temp_store

TEXT = "A comment of ordinary length about the film, number {n}, posted by the benchmark."


def _poster(app, path: str, token: str):
    """One POST per call through the WSGI app, each with a new text (the `repeated`
    rule would refuse the same text)."""
    from werkzeug.test import EnvironBuilder

    counter = itertools.count()
    seen: list[str] = []

    def start_response(status, headers, exc_info=None):
        seen.append(status)

    def call() -> str:
        body = json.dumps({"text": TEXT.format(n=next(counter))}).encode()
        environ = EnvironBuilder(
            path=path,
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
            content_type="application/json",
            data=body,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).get_environ()
        for _ in app(environ, start_response):
            pass
        return seen[-1]

    return call


def _setup(database):
    """A thread, a moderator, and an author with six comments (projections caught up)."""
    from domain.model import MODERATOR, OPERATOR_ID
    from domain.settings import Settings
    from workers.bootstrap import bootstrap

    services = bootstrap(Settings.from_env(database=database, rules="off"))
    app = services.app
    try:
        thread = app.open_thread(OPERATOR_ID, "Bench", key="bench/moderation").thread_id
        author = app.register_author("Regular")
        app.register_author("Mod", MODERATOR)
        for i in range(6):
            app.post_comment(author.author_id, thread, f"An earlier comment, {i}.")
        services.engine.catch_up_all()
        return str(thread), author.token
    finally:
        services.close()


def post_ratio(n: int, batches: int) -> list[list[str]]:
    rows = []
    with temp_store("sqlite") as database:
        thread, token = _setup(database)
        path = f"/api/v1/threads/{thread}/comments"
        saved = os.environ.get("DISCUSS_RULES")
        calls = {}
        stacks = []
        try:
            for setting in ("off", "default"):
                os.environ["DISCUSS_RULES"] = setting
                cm = app_in_process(database, redis=False)
                flask_app = cm.__enter__()
                stacks.append(cm)
                call = _poster(flask_app, path, token)
                status = call()
                assert status.startswith("201"), status
                calls[setting] = call
            times: dict[str, list[float]] = {k: [] for k in calls}
            for _ in range(batches):
                for setting, call in calls.items():
                    started = time.perf_counter()
                    for _ in range(n):
                        status = call()
                    times[setting].append((time.perf_counter() - started) / n)
                    assert status.startswith("201"), status
        finally:
            for cm in reversed(stacks):
                cm.__exit__(None, None, None)
            if saved is None:
                os.environ.pop("DISCUSS_RULES", None)
            else:
                os.environ["DISCUSS_RULES"] = saved
        off = statistics.median(times["off"])
        on = statistics.median(times["default"])
        rows.append(["rules off", f"{1 / off:,.0f}", f"{off * 1000:.3f}", "1.00"])
        rows.append(["rules default", f"{1 / on:,.0f}", f"{on * 1000:.3f}", f"{off / on:.2f}"])
    return rows, off / on


def held_posts(n: int) -> list[str]:
    """Every post from a new author: held by `new-author` (the screen + a Held event)."""
    from domain.model import OPERATOR_ID
    from domain.settings import Settings
    from workers.bootstrap import bootstrap

    with temp_store("sqlite") as database:
        results = {}
        for setting in ("off", "default"):
            services = bootstrap(Settings.from_env(database=database, rules=setting), serving=False)
            if setting == "default":
                from projections.screening import install_rules

                install_rules(services.app, services.engine, "default")
            app = services.app
            thread = app.open_thread(OPERATOR_ID, f"Held {setting}").thread_id
            authors = [app.register_author(f"New {i}").author_id for i in range(n)]
            started = time.perf_counter()
            held = 0
            for i, author in enumerate(authors):
                posted = app.post_comment(author, thread, TEXT.format(n=i))
                held += bool(posted.held_by)
            results[setting] = ((time.perf_counter() - started) / n, held)
            services.close()
    off, on = results["off"], results["default"]
    return [
        "post_comment() of new authors",
        f"{off[0] * 1000:.3f}",
        f"{on[0] * 1000:.3f}",
        f"{off[0] / on[0]:.2f}",
        f"{on[1]}/{n} held",
    ]


def rules_try(events: int) -> tuple[list[list[str]], float]:
    from seeding import write_history

    from domain.moderation_rules import rules_for
    from domain.settings import Settings
    from projections import rules_replay
    from workers.bootstrap import bootstrap

    with temp_store("sqlite") as database:
        services = bootstrap(Settings.from_env(database=database, rules="off"))
        try:
            history = write_history(services.app, events=events, threads=200, authors=500)
            rows = []
            rate = 0.0
            for name, rules in (
                ("default", rules_for("default")),
                ("off (no rules)", rules_for("off")),
            ):
                best = None
                for _ in range(3):
                    report = rules_replay.try_rules(services.engine, rules)
                    best = report if best is None or report.seconds < best.seconds else best
                per_s = best.events / best.seconds
                if name == "default":
                    rate = per_s
                rows.append(
                    [
                        name,
                        f"{best.events:,}",
                        f"{best.checked:,}",
                        f"{best.held:,}",
                        f"{best.refused:,}",
                        f"{best.seconds:.2f}",
                        f"{per_s:,.0f}",
                    ]
                )
            assert history.sealed
        finally:
            services.close()
    return rows, rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, batches = (100, 5) if args.quick else (200, 7)
    events = 40_000 if args.quick else 100_000
    print(f"cores: {nproc()}  python: {sys.version.split()[0]}")
    rows, ratio = post_ratio(n, batches)
    print(f"\n1. POST a comment, WSGI in-process, SQLite, {batches} interleaved batches of {n}")
    print(fmt_table(["rules", "posts/s", "ms/post", "ratio to off"], rows))
    verdict = "met" if ratio >= 0.9 else "MISSED"
    print(f"   target: rules default >= 0.90 of off: {verdict} ({ratio:.2f})")
    held = held_posts(n)
    print("\n   for information, every post held (new authors; Discussions.post_comment alone):")
    print(fmt_table(["what", "off ms", "default ms", "ratio", "held"], [held]))
    rows, rate = rules_try(events)
    print(f"\n2. rules try over a sealed log of ~{events:,} events on SQLite (best of 3)")
    print(
        fmt_table(["rule set", "events", "checked", "held", "refused", "seconds", "events/s"], rows)
    )
    print(f"   target: >= 20,000 events/s: {'met' if rate >= 20_000 else 'MISSED'} ({rate:,.0f})")
    return 0 if ratio >= 0.9 and rate >= 20_000 else 1


if __name__ == "__main__":
    sys.exit(main())
