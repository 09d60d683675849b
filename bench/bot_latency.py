"""Benchmark: per-turn latency (p50/p95) and throughput over the REST channel, with the action
server and the case backend in the loop, against a stock `rasa init` bot measured in the same run;
plus the resident memory of each Rasa server and the CPU time it spends per turn.

The stock bot runs twice: as `rasa init` ships it, and with the one TensorFlow thread per op that
our server runs with (bot_runtime), so that setting is not counted as an advantage of ours.

    .venv/bin/python bench/bot_latency.py [--conversations 40] [--concurrency 1,8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from stack import Stack  # noqa: E402

from bot_runtime import SERVING_THREADS  # noqa: E402

from tests.support.stack import SHOES, TOKEN, free_port  # noqa: E402

STOCK_DIR = ROOT / "var" / "stock-bot"
STOCK_TURNS = ["hello", "I am very sad", "yes", "are you a bot?", "goodbye"]


def our_turns(order_id: str) -> list[str]:
    return ["你好", "七天无理由怎么算？", f"订单{order_id}的鞋子开胶了，想换一双", "确认", "我的售后进度怎么样了"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Rasa serves from one process)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run_conversations(url: str, scripts: list[tuple[str, dict, list[str]]], concurrency: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    queue = list(scripts)
    async with httpx.AsyncClient(timeout=60) as client:
        async def worker() -> None:
            nonlocal errors
            while queue:
                sender, metadata, turns = queue.pop()
                for text in turns:
                    t0 = time.perf_counter()
                    response = await client.post(url, json={"sender": sender, "message": text, "metadata": metadata})
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if response.status_code != 200 or not response.json():
                        errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started, errors


def ensure_stock_bot() -> Path:
    models = STOCK_DIR / "models"
    if not any(models.glob("*.tar.gz")):
        STOCK_DIR.mkdir(parents=True, exist_ok=True)  # rasa init wants the folder to exist
        subprocess.run([str(ROOT / ".venv-bot/bin/rasa"), "init", "--no-prompt", "--init-dir", str(STOCK_DIR)],
                       check=True, cwd=STOCK_DIR, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return max(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


def start_stock(model: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([str(ROOT / ".venv-bot/bin/rasa"), "run", "--model", str(model), "--port", str(port),
                                "--quiet"], cwd=STOCK_DIR, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:  # /status needs --enable-api
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("stock bot did not start")


def measure(name: str, url: str, pid: int, scripts: list[tuple[str, dict, list[str]]], concurrency: int) -> None:
    cpu = cpu_seconds(pid)
    latencies, took, errors = asyncio.run(run_conversations(url, scripts, concurrency))
    cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / len(latencies)
    print(f"  {name:22s} c={concurrency:<3d} turns {len(latencies):4d}  {len(latencies) / took:5.1f} turns/s  "
          f"p50 {statistics.median(latencies):6.1f} ms  p95 {percentile(latencies, 0.95):6.1f} ms  "
          f"Rasa CPU {cpu_ms:5.1f} ms/turn  errors {errors}  Rasa RSS {rss_mb(pid):5.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--concurrency", default="1,8")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    tmp = ROOT / "var" / f"bench-{uuid.uuid4().hex[:6]}"
    env = {"DATABASE_URL": f"sqlite:///{tmp / 'cases.db'}", "UPLOAD_DIR": str(tmp / "uploads"), "CASE_API_TOKEN": TOKEN,
           "SCHEDULER_ENABLED": "false", "APP_ENV": "test"}
    for command in ("migrate", "seed-demo"):
        subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "backend.cli", command], cwd=ROOT,
                       env={**os.environ, **env}, check=True, capture_output=True)
    stock_model = ensure_stock_bot()
    stack = Stack(backend_port=free_port(), actions_port=free_port(), rasa_port=free_port(), env=env,
                  log_dir=tmp / "logs")
    stack.start()
    stocks = {"stock bot": (free_port(), {}), "stock bot, 1 TF thread": (free_port(), SERVING_THREADS)}
    stock = {name: start_stock(stock_model, port, env) for name, (port, env) in stocks.items()}
    try:
        print(f"Per-turn latency over the REST channel, {args.conversations} conversations of 5 turns per run, "
              f"{os.cpu_count()} cores shared by every process and the load generator")
        for concurrency in levels:
            scripts = []
            for n in range(args.conversations):
                buyer = f"b_bench_{uuid.uuid4().hex[:8]}"
                order_id = f"2027{int(time.time() * 1000) % 10**9:09d}{n:03d}"
                body = {"order_id": order_id, "buyer_id": buyer, "status": "delivered",
                        "paid_at": "2026-11-10T10:00:00+08:00", "shipped_at": "2026-11-11T10:00:00+08:00",
                        "delivered_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3 * 86400)),
                        "items": [SHOES]}
                httpx.put(f"{stack.backend_url}/api/v1/orders/{order_id}", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status()
                scripts.append((f"web:{buyer}", {"buyer_id": buyer, "channel": "web"}, our_turns(order_id)))
            measure("assistant", f"{stack.rasa_url}/webhooks/rest/webhook", stack.processes[2].pid, scripts,
                    concurrency)
            for name, (port, _) in stocks.items():
                stock_scripts = [(f"stock-{uuid.uuid4().hex[:8]}", {}, STOCK_TURNS) for _ in range(args.conversations)]
                measure(name, f"http://127.0.0.1:{port}/webhooks/rest/webhook", stock[name].pid, stock_scripts,
                        concurrency)
    finally:
        stack.stop()
        for process in stock.values():
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
