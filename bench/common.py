"""What every benchmark shares: where the project is (and on sys.path), the services' URLs,
the core count, percentiles and tables of figures. The rest by role: seeding.py,
stores.py, servers.py."""

from __future__ import annotations

import math
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("DISCUSS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# A Redis database index of its own, flushed by the bench at the end.
REDIS_URL = os.environ.get("DISCUSS_BENCH_REDIS", "redis://127.0.0.1:6379/13")
SEED_CORPUS = ROOT / "workers" / "data" / "seed-thread.json"

# Very high limits: the bench measures the serving path, not the rate limiter's refusals.
UNLIMITED = "100000000 per minute"


def nproc() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fmt_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def latency_report(
    path: str, latencies: Sequence[float], baseline: str, floor: Sequence[float], target: float
) -> None:
    """Print write → arrival latencies beside the same run's baseline (the transport
    alone), and whether the p99 meets `target` seconds."""

    def row(label: str, values: Sequence[float], digits: int) -> list[str]:
        quantiles = (percentile(values, p) * 1000 for p in (50, 90, 99))
        return [label, *(f"{q:.{digits}f}" for q in quantiles), f"{max(values) * 1000:.{digits}f}"]

    rows = [row(path, latencies, 1), row(baseline, floor, 2)]
    print(fmt_table(["ms", "p50", "p90", "p99", "max"], rows))
    p99 = percentile(latencies, 99)
    print(
        f"p99 / baseline p99: {p99 / percentile(floor, 99):.0f}x;"
        f" target p99 < {target * 1000:.0f} ms: {'met' if p99 < target else 'NOT met'}"
    )
