"""Benchmark: eligibility decisions per second and p50/p99 latency of POST /api/v1/eligibility.

Starts the real backend (uvicorn, separate process) on a throw-away database, loads the demo
orders, then keeps C concurrent callers busy for N requests over HTTP. Also measures the pure
engine in-process, to show where the time goes. Prints the figures; the README records them.

    .venv/bin/python bench/eligibility_http.py [--concurrency 50] [--seconds 15] [--workers 2] [--rates 100,200]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import json
import re
import shutil

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "bench-service-token-0123456789abcdef"
# (order, item, reason, remedy, materials): a spread of rules, decisions and material sets.
REQUESTS = [
    ("2026111812345678", "1", "quality", "exchange", []),
    ("2026111812345678", "1", "no_reason", "return_refund", [{"code": "intact_confirmation"}]),
    ("2026111700000002", "1", "no_reason", "return_refund", []),
    ("2026111900000003", "1", "quality", "refund_only", [{"code": "description", "text": "车厘子坏了好几个"}]),
    ("2026101200000004", "1", "quality", "repair", []),
    ("2026112100000006", "1", "no_reason", "refund_only", []),
    ("2026111500000007", "1", "not_received", "resend", []),
    ("2026111600000009", "2", "wrong_item", None, []),
    ("2026110900000012", "1", "no_reason", "return_refund", []),
    ("2026111900000011", "1", "quality", "return_refund", []),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def engine_rate(seconds: float = 3.0) -> float:
    """Decisions per second of the pure engine on one core, no HTTP, no database."""
    from backend.demo import demo_orders
    from backend.db.models import Order, OrderItem
    from backend.orders.facts import order_facts
    from backend.policy.config import load_policy
    from backend.policy.engine import evaluate
    from backend.policy.facts import History, Request
    from backend.settings import DEFAULT_POLICY_FILE

    policy = load_policy(DEFAULT_POLICY_FILE)
    now = datetime.now(timezone.utc)
    facts = {}
    for o in demo_orders(now):
        order = Order(**o.model_dump(exclude={"items"}))
        order.items = [OrderItem(position=n, **{**i.model_dump(), "flags": [f.value for f in i.flags]})
                       for n, i in enumerate(o.items)]
        facts[o.order_id] = order_facts(order)
    requests = [Request(facts[o], i, r, m) for o, i, r, m, _ in REQUESTS]
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for req in requests:
            evaluate(policy, req, History(), decided_at=now, now=now)
        count += len(requests)
    return count / (time.perf_counter() - start)


async def hammer(base: str, concurrency: int, total: int, rate: float | None = None) -> tuple[list[float], int, float]:
    """Closed loop (rate None): each caller sends its next request as soon as the last returns.
    Open loop (rate given): the callers together offer `rate` requests/s at evenly spaced times,
    so latency measures the service, not the queue the benchmark itself builds."""
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits,
                                 timeout=30) as client:
        async def caller(index: int) -> None:
            nonlocal errors
            rng = random.Random(index)
            while not queue.empty():
                n = queue.get_nowait()
                if rate:
                    delay = start + n / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                order, item, reason, remedy, materials = rng.choice(REQUESTS)
                body = {"order_id": order, "item_id": item, "buyer_id": "b_1001", "reason": reason,
                        "materials": materials, **({"remedy": remedy} if remedy else {})}
                t0 = time.perf_counter()
                response = await client.post("/api/v1/eligibility", json=body)
                latencies.append((time.perf_counter() - t0) * 1000)
                if response.status_code != 200:
                    errors += 1

        # warm-up: connections, caches
        for _ in range(2):
            await client.post("/api/v1/eligibility", json={"order_id": REQUESTS[0][0], "item_id": "1",
                                                            "buyer_id": "b_1001", "reason": "quality"})
        start = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, errors, elapsed


WRK_SCRIPT = """
local bodies = BODIES
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer TOKEN"
request = function()
  n = n + 1
  return wrk.format(nil, "/api/v1/eligibility", nil, bodies[(n % #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %d %d %d %.3f %.3f %.3f\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))
end
"""


def wrk_closed_loop(base: str, concurrency: int, seconds: int) -> tuple[int, int, float, float, float] | None:
    """Closed loop with wrk (C, one thread): the Python client alone tops out near 400 req/s."""
    if shutil.which("wrk") is None:
        return None
    bodies = [json.dumps({"order_id": o, "item_id": i, "buyer_id": "b_1001", "reason": r, "materials": m,
                          **({"remedy": rem} if rem else {})}) for o, i, r, rem, m in REQUESTS]
    lua = WRK_SCRIPT.replace("BODIES", "{" + ",".join(json.dumps(b) for b in bodies) + "}").replace("TOKEN", TOKEN)
    script = Path(tempfile.mkdtemp(prefix="wrk-")) / "eligibility.lua"
    script.write_text(lua)
    out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "-s", str(script), base],
                         capture_output=True, text=True, check=True).stdout
    found = re.search(r"WRK (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if not found:
        raise RuntimeError(f"unexpected wrk output: {out}")
    total, bad_status, socket_errors, p50, p99, took = found.groups()
    return int(total), int(bad_status) + int(socket_errors), float(p50), float(p99), float(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15, help="duration of the closed-loop wrk run")
    parser.add_argument("--database-url")
    parser.add_argument("--rates", default="50,100,200",
                        help="offered loads (requests/s) for the open-loop runs, comma-separated")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    env = {**os.environ, "DATABASE_URL": url, "UPLOAD_DIR": str(tmp / "uploads"), "CASE_API_TOKEN": TOKEN,
           "SCHEDULER_ENABLED": "false", "APP_ENV": "test", "PYTHONPATH": str(ROOT)}
    python = sys.executable
    subprocess.run([python, "-m", "backend.cli", "migrate"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run([python, "-m", "backend.cli", "seed-demo"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [python, "-m", "uvicorn", "backend.asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            sys.exit("backend did not become ready")
        wrk = wrk_closed_loop(base, args.concurrency, args.seconds)
        paced = []
        for rate in [float(r) for r in args.rates.split(",") if r]:
            n = int(rate * 10)
            paced.append((rate, *asyncio.run(hammer(base, args.concurrency, n, rate))))
    finally:
        server.terminate()
        server.wait(timeout=10)

    db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"POST /api/v1/eligibility over HTTP: {args.workers} uvicorn workers, {db}, {os.cpu_count()} cores "
          "shared with the load generator")
    if wrk is None:
        print("closed loop: skipped (install Debian's wrk for it)")
    else:
        total, errors, p50, p99, took = wrk
        print(f"closed loop (wrk, {args.concurrency} connections, each sending as soon as answered, {took:.0f} s):")
        print(f"  throughput {total / took:8.1f} decisions/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   errors {errors}")
    print(f"open loop (httpx, {args.concurrency} concurrent callers sharing an offered load, 10 s each):")
    print("  offered/s   served/s   p50 ms   p99 ms   errors")
    for rate, lat, errs, took in paced:
        print(f"  {rate:8.0f}   {len(lat) / took:8.1f}   {statistics.median(lat):6.1f}   "
              f"{percentile(lat, 0.99):6.1f}   {errs:6d}")
    print(f"pure engine in-process: {engine_rate():,.0f} decisions/s (one core, no HTTP/database)")


if __name__ == "__main__":
    main()
