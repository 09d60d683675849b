"""Load test of production mode: simulated buyers over the gateway WebSocket at rising concurrency,
with the CPU and memory of every part, a check that no message or case was lost or duplicated, and
what a platform of 100,000 and 1,000,000 cases a day needs.

    .venv/bin/python bench/load_test.py [--stages 10,25,50] [--stage-seconds 60]
                                        [--backend-workers 2 --rasa-instances 2 --action-workers 2]

It creates fresh PostgreSQL databases (127.0.0.1:5432, trust auth; TEST_POSTGRES_URL overrides the
admin URL as in the tests), generates every secret, starts scripts/prod.py's ProdStack on free ports
(Redis at 127.0.0.1:6379 under a key prefix of its own), and runs Locust (bench/load/locustfile.py)
headless once per stage: `users` = concurrent conversations, each a buyer who reads and types for 3–9 s
between turns (--think; a button click is faster, a typed Chinese sentence slower; --think 1,3 makes it
a stress test). Locust's statistics are reset when all users have arrived, so a stage's figures are
its steady state; CPU and memory are sampled with psutil every second and cut to the same window.

Everything measured goes to var/artifacts/load-test.json; the records of the simulated buyers, the
Locust logs and the stack's logs stay in var/load-test/<run>/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from prod import ProdStack  # noqa: E402
from stack import MODEL  # noqa: E402

from backend.gateway.relay import MSG_BOT_DOWN  # noqa: E402
from tests.support.databases import PG_ADMIN_URL, drop_postgres, fresh_postgres_url  # noqa: E402

LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
ARTIFACT = ROOT / "var" / "artifacts" / "load-test.json"
REDIS_URL = "redis://127.0.0.1:6379/0"
DAILY_CASES = (100_000, 1_000_000)
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- CPU and memory per process group -----------------------------------------------------------------

def tree(pid: int) -> list[psutil.Process]:
    """A process and its descendants (uvicorn's and Sanic's workers are children of the first process)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class PostgresProcesses:
    """The server's processes that work for this run: the postmaster, its background processes and the
    client backends connected to our two databases — not the backends of other test runs that share
    the server (pg_stat_activity names each backend's database)."""

    def __init__(self, databases: set[str]) -> None:
        self.databases = databases
        self.postmaster: psutil.Process | None = None
        for process in psutil.process_iter(["name"]):
            try:
                if process.info["name"] in ("postgres", "postmaster") and (
                        process.parent() is None or process.parent().name() not in ("postgres", "postmaster")):
                    self.postmaster = process
                    break
            except psutil.Error:
                continue
        self.conn = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True)

    def __call__(self) -> list[psutil.Process]:
        if self.postmaster is None:
            return []
        activity = {pid: (db, kind) for pid, db, kind in self.conn.execute(
            "SELECT pid, datname, backend_type FROM pg_stat_activity").fetchall()}
        ours = [self.postmaster]
        for child in self.postmaster.children():
            db, kind = activity.get(child.pid, (None, "auxiliary"))
            if kind != "client backend" or db in self.databases:
                ours.append(child)
        return ours


def by_name(name: str) -> Callable[[], list[psutil.Process]]:
    def find() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]
    return find


@dataclass
class Sample:
    at: float
    cpu: dict[str, float]   # cumulative CPU seconds of the group since the sampler started
    rss: dict[str, float]   # bytes, summed over the group's processes at this moment
    machine_busy: float     # cumulative busy CPU seconds of the whole machine (all cores)


class Sampler(threading.Thread):
    """Every second: CPU time and RSS of each group. CPU is accumulated per process from its own
    counters, so a process that starts during the run (a new PostgreSQL backend) counts from its birth
    and one that exits keeps what it used until the last sample."""

    def __init__(self, groups: dict[str, Callable[[], list[psutil.Process]]], interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.groups, self.interval = dict(groups), interval
        self.samples: list[Sample] = []
        self.started = time.time()
        self._last: dict[tuple[int, float], float] = {}
        self._cumulative: dict[str, float] = defaultdict(float)
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def add(self, name: str, find: Callable[[], list[psutil.Process]]) -> None:
        with self._lock:
            self.groups[name] = find

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def sample(self) -> None:
        with self._lock:
            groups = dict(self.groups)
        rss: dict[str, float] = {}
        for name, find in groups.items():
            total = 0.0
            try:
                processes = find()
            except (psutil.Error, psycopg.Error):
                processes = []
            for process in processes:
                try:
                    with process.oneshot():
                        times, born, memory = process.cpu_times(), process.create_time(), process.memory_info()
                except psutil.NoSuchProcess:
                    continue
                used = times.user + times.system
                key = (process.pid, born)
                previous = self._last.get(key)
                if previous is None:
                    previous = 0.0 if born >= self.started else used  # born during the run: all of it counts
                self._cumulative[name] += max(0.0, used - previous)
                self._last[key] = used
                total += memory.rss
            rss[name] = total
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq + machine.steal
        self.samples.append(Sample(time.time(), dict(self._cumulative), rss, busy))

    def window(self, start: float, end: float) -> dict[str, Any]:
        """CPU (% of one core, averaged) and peak RSS of each group between two moments."""
        inside = [s for s in self.samples if start - 1.0 <= s.at <= end + 1.0]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        seconds = last.at - first.at
        out: dict[str, Any] = {"seconds": seconds, "groups": {}}
        for name in last.cpu:
            used = last.cpu.get(name, 0.0) - first.cpu.get(name, 0.0)
            out["groups"][name] = {"cpu_seconds": used, "cpu_percent": 100 * used / seconds,
                                   "peak_rss_mb": max(s.rss.get(name, 0.0) for s in inside) / MB}
        machine = last.machine_busy - first.machine_busy
        ours = sum(g["cpu_seconds"] for g in out["groups"].values())
        out["machine_cpu_percent"] = 100 * machine / seconds
        out["other_cpu_percent"] = 100 * max(0.0, machine - ours) / seconds  # processes not of this run
        return out


# -- one stage -------------------------------------------------------------------------------------------

@dataclass
class Run:
    stack: ProdStack
    directory: Path
    records: Path
    think: str
    sampler: Sampler
    stages: list[dict[str, Any]] = field(default_factory=list)
    idle: dict[str, Any] = field(default_factory=dict)


def run_stage(run: Run, users: int, seconds: int) -> dict[str, Any]:
    spawn_rate = max(1.0, users / 10)  # everyone is in within ~10 s
    ramp = math.ceil(users / spawn_rate) + 2
    summary = run.directory / f"locust-{users}.json"
    log = open(run.directory / f"locust-{users}.log", "wb")  # noqa: SIM115 - closed below
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WIDGET_TOKEN_SECRET": run.stack.env["WIDGET_TOKEN_SECRET"],
           "CASE_API_TOKEN": run.stack.env["CASE_API_TOKEN"], "LOAD_RECORDS": str(run.records),
           "LOAD_SUMMARY": str(summary), "LOAD_STAGE": str(users), "LOAD_THINK": run.think}
    command = [str(ROOT / ".venv/bin/locust"), "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
               "-r", f"{spawn_rate:g}", "-t", f"{ramp + seconds}s", "--host", run.stack.backend_url,
               "--reset-stats", "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
               "--csv", str(run.directory / f"locust-{users}")]
    print(f"\n== stage: {users} concurrent conversations, {ramp} s ramp-up + {seconds} s measured", flush=True)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    run.sampler.add("load generator (Locust)", lambda: tree(process.pid))
    try:
        process.wait(timeout=ramp + seconds + 180)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()
    if not summary.exists():
        tail = (run.directory / f"locust-{users}.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"Locust wrote no summary for stage {users}; its log ends with:\n{tail}")
    figures = json.loads(summary.read_text())
    start = figures.get("window_start") or figures["stats_start"]
    end = figures["window_end"]
    resources = run.sampler.window(start, end)
    turns_in_window = [r for r in read_records(run.records, "turn")
                       if r["stage"] == str(users) and start <= r["at"] <= end]
    failures = figures["failures_whole_stage"]
    stage = {"users": users, "window_seconds": end - start, "turns": figures["turns"], "by_kind": figures["by_kind"],
             "mix": figures["mix"],
             "errors": sum(f["occurrences"] for f in failures), "failures": failures, "resources": resources,
             "rasa_turns": Counter(rasa_instance(r["conv"], len(run.stack.rasa_ports)) for r in turns_in_window),
             "turns_in_window": len(turns_in_window)}
    print_stage(stage)
    return stage


def rasa_instance(conversation_id: str, instances: int) -> str:
    """The instance the gateway sends a conversation to while all are up (backend.gateway.rasa.RasaPool)."""
    return f"rasa-{zlib.crc32(conversation_id.encode()) % instances + 1}"


def read_records(path: Path, kind: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item["t"] == kind:
                out.append(item)
    return out


def print_stage(stage: dict[str, Any]) -> None:
    t = stage["turns"]
    if not t.get("requests"):
        print("   no turn completed in the measured window")
    else:
        print(f"   turns/s {t['rps']:.2f}   p50 {t['p50']} ms   p95 {t['p95']} ms   p99 {t['p99']} ms   "
              f"turns {t['requests']}   errors {stage['errors']}")
    for failure in stage["failures"]:
        print(f"   failure: {failure['method']} {failure['name']}: {failure['error']} × {failure['occurrences']}")
    resources = stage["resources"]
    if resources:
        cells = [f"{name} {g['cpu_percent']:.0f}% {g['peak_rss_mb']:.0f} MB" for name, g in resources["groups"].items()]
        print("   CPU (% of one core) / peak RSS: " + " | ".join(cells))
        print(f"   whole machine {resources['machine_cpu_percent']:.0f}% of one core "
              f"(2 cores = 200%), processes not of this run {resources['other_cpu_percent']:.0f}%")


# -- after the run: nothing lost, nothing twice --------------------------------------------------------------

def settle(engine: Any, limit: float = 60.0) -> None:
    """Turns still in flight when a stage's users were stopped are finished by the server (the relay does not
    stop when a socket closes): wait until the conversation log stops growing."""
    deadline, last, quiet_since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM conversation_messages")).scalar_one()
        if count != last:
            last, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since >= 5:
            return
        time.sleep(1)


def verify(database_url: str, records: Path) -> dict[str, Any]:
    engine = create_engine(database_url)
    settle(engine)
    acks = {(r["conv"], r["client_id"]): r["seq"] for r in read_records(records, "ack")}
    filings = read_records(records, "filing")
    conversations = sorted({conv for conv, _ in acks} | {f["conv"] for f in filings})
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT conversation_id, seq, author, client_id, text, custom, created_at FROM conversation_messages "
            "WHERE conversation_id = ANY(:convs) ORDER BY conversation_id, seq"), {"convs": conversations}).all()
        cases = conn.execute(text("SELECT order_id, case_id FROM cases")).all()
    engine.dispose()

    logged: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows:
        if row.client_id is not None:
            logged[(row.conversation_id, row.client_id)].append(row.seq)
    lost = [{"conv": c, "client_id": k, "acked_seq": s, "logged": logged.get((c, k), [])}
            for (c, k), s in acks.items() if logged.get((c, k)) != [s]]
    duplicated = [{"conv": c, "client_id": k, "seqs": seqs} for (c, k), seqs in logged.items() if len(seqs) > 1]
    seq_twice = [k for k, n in Counter((r.conversation_id, r.seq) for r in rows).items() if n > 1]

    # Every buyer message of the run has an answer right after it (the bot's, or the gateway's system message).
    by_conv: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_conv[row.conversation_id].append(row)
    unanswered = []
    for conv, messages in by_conv.items():
        for here, after in zip(messages, messages[1:] + [None]):
            if here.author == "buyer" and (after is None or after.author not in ("bot", "system")):
                # Acked: the buyer was told it is stored. Not acked: the socket closed (a stage's users
                # are stopped abruptly) between the log write and the ack.
                unanswered.append({"conv": conv, "seq": here.seq,
                                   "acked": (conv, here.client_id) in acks, "at": str(here.created_at)})
    bot_down = sum(1 for r in rows if r.author == "system" and r.text == MSG_BOT_DOWN)

    # The client took a turn as complete after a short silence: every answer it counted must be all
    # the bot's messages logged for that buyer message (else the latency would be cut short).
    answers: dict[tuple[str, int], int] = Counter()
    for conv, messages in by_conv.items():
        current: int | None = None
        for row in messages:
            if row.author == "buyer":
                current = row.seq
            elif current is not None and (row.author == "bot" or (
                    row.author == "system" and (row.custom or {}).get("type") == "request_human")):
                answers[(conv, current)] += 1
    cut_short = [{"conv": t["conv"], "client_id": t["client_id"], "client_saw": t["replies"],
                  "logged": answers.get((t["conv"], acks[(t["conv"], t["client_id"])]), 0)}
                 for t in read_records(records, "turn")
                 if t["ok"] and (t["conv"], t["client_id"]) in acks
                 and answers.get((t["conv"], acks[(t["conv"], t["client_id"])]), 0) != t["replies"]]

    cases_by_order: dict[str, list[str]] = defaultdict(list)
    for order_id, case_id in cases:
        cases_by_order[order_id].append(case_id)
    announced = [f for f in filings if f["case_id"]]
    missing_cases = [f for f in announced if f["case_id"] not in cases_by_order.get(f["order_id"], [])]
    duplicated_cases = {o: ids for o, ids in cases_by_order.items() if len(ids) > 1}  # every order has one item
    verdict = {
        "acked_messages": len(acks), "conversations": len(conversations), "logged_messages": len(rows),
        "lost_messages": lost[:20], "lost_count": len(lost),
        "duplicated_messages": duplicated[:20], "duplicated_count": len(duplicated), "seq_twice": len(seq_twice),
        "unanswered_buyer_messages": unanswered[:20], "unanswered_count": len(unanswered),
        "unanswered_acked_count": sum(1 for u in unanswered if u["acked"]),
        "bot_down_messages": bot_down, "answers_cut_short": cut_short[:20], "cut_short_count": len(cut_short),
        "filings": len(filings), "filings_with_case_announced": len(announced), "cases_in_database": len(cases),
        "announced_case_missing": missing_cases[:20], "missing_case_count": len(missing_cases),
        "duplicated_cases": duplicated_cases, "duplicated_case_count": len(duplicated_cases),
    }
    verdict["ok"] = not (lost or duplicated or seq_twice or missing_cases or duplicated_cases)
    return verdict


def print_verdict(v: dict[str, Any]) -> None:
    print("\n== database check")
    print(f"   {v['acked_messages']} acked buyer messages in {v['conversations']} conversations: "
          f"{v['lost_count']} lost, {v['duplicated_count']} duplicated (client_id twice), "
          f"{v['seq_twice']} sequence numbers twice")
    print(f"   {v['unanswered_count']} buyer messages without an answer logged after them "
          f"({v['unanswered_acked_count']} of them acked); "
          f"{v['bot_down_messages']} 'assistant unavailable' messages; {v['cut_short_count']} answered turns "
          "where the client saw fewer bot messages than were logged")
    print(f"   {v['filings']} filing scenarios, {v['filings_with_case_announced']} with a case number announced: "
          f"{v['missing_case_count']} announced but missing, {v['duplicated_case_count']} orders with more than "
          f"one case ({v['cases_in_database']} cases in the database)")
    print("   verdict: " + ("no lost or duplicated messages or cases" if v["ok"] else "FAILED — see above"))
    for key in ("lost_messages", "duplicated_messages", "announced_case_missing", "unanswered_buyer_messages",
                "answers_cut_short"):
        for item in v[key][:5]:
            print(f"     {key}: {item}")


# -- what a platform needs -------------------------------------------------------------------------------

def scaling(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    """Instances needed at 100,000 and 1,000,000 cases a day, from the CPU each component spends per turn.

    The reference is the largest stage without errors (the most turns, so the steadiest averages):
    CPU-seconds per turn of a group = its CPU in the window ÷ the turns completed in the window. One Rasa
    instance, one action server worker and one backend worker each run one Python event loop, so each is
    worth at most one core; at the target utilisation U it serves U ÷ (CPU-s per turn) turns a second.
    """
    measured = [s for s in run.stages if s["turns"].get("requests") and s["resources"]]
    if not measured:
        raise SystemExit("no stage completed a turn in its measured window: nothing to scale from")
    reference = ([s for s in measured if s["errors"] == 0] or measured)[-1]
    turns = reference["turns"]["requests"]
    groups = reference["resources"]["groups"]
    cost = {name: g["cpu_seconds"] / turns for name, g in groups.items()}
    idle = run.idle.get("groups", {})
    window = reference["resources"]["seconds"]
    marginal = {name: max(0.0, g["cpu_seconds"] - idle.get(name, {}).get("cpu_percent", 0.0) / 100 * window) / turns
                for name, g in groups.items()}
    rasa_names = [f"rasa-{i + 1}" for i in range(len(run.stack.rasa_ports))]
    rasa_cost = sum(cost[n] for n in rasa_names)  # each turn is served by exactly one instance
    per_instance = {}
    for name in rasa_names:
        served = reference["rasa_turns"].get(name, 0) * turns / max(1, reference["turns_in_window"])
        per_instance[name] = {"turns_per_second": served / reference["window_seconds"],
                              "cpu_percent": groups[name]["cpu_percent"],
                              "cpu_seconds_per_turn": groups[name]["cpu_seconds"] / served if served else None}

    # Turns per case from the scenario mix (task weights × turns per task). The run's own ratio is shown
    # beside it: it is lower in cases because a stage's end cuts the long filing scenarios more often.
    mix = reference["mix"]
    turns_per_case = mix["turns_per_case"]
    all_turns = read_records(run.records, "turn")
    started = sum(1 for r in all_turns if r["kind"] == "file: describe")
    measured_per_case = len(all_turns) / started if started else float("nan")
    u, peak = args.utilisation, args.peak_factor
    components = {"Rasa instances": rasa_cost, "action server workers": cost["action server"],
                  "backend workers": cost["backend"]}
    shared = {"PostgreSQL (cores)": cost["PostgreSQL"], "Redis (cores)": cost["Redis"]}
    # Memory of one instance: a Rasa instance's own peak RSS; a worker's share of its group's (the group
    # also holds uvicorn's / Sanic's parent process, so this errs high).
    rss = {"Rasa instances": max(groups[n]["peak_rss_mb"] for n in rasa_names),
           "action server workers": groups["action server"]["peak_rss_mb"] / args.action_workers,
           "backend workers": groups["backend"]["peak_rss_mb"] / args.backend_workers}
    platforms = {}
    for daily in DAILY_CASES:
        peak_tps = daily * turns_per_case / 86400 * peak
        need = {name: math.ceil(peak_tps * c / u) for name, c in components.items()}
        memory_gb = sum(need[name] * rss[name] for name in components) / 1024
        need.update({name: round(peak_tps * c / u, 1) for name, c in shared.items()})
        platforms[str(daily)] = {"peak_turns_per_second": peak_tps, "needed": need,
                                 "memory_gb_of_instances": round(memory_gb, 1)}
    ranking = sorted(components.items(), key=lambda kv: kv[1], reverse=True)
    deployed = {"Rasa instances": len(rasa_names), "action server workers": args.action_workers,
                "backend workers": args.backend_workers}
    capacity = {name: deployed[name] / c for name, c in components.items()}  # turns/s at 100 % of their cores
    total_cost = sum(cost.values()) - cost.get("load generator (Locust)", 0.0)
    return {"reference_stage_users": reference["users"], "turns_in_reference": turns,
            "cpu_seconds_per_turn": cost, "marginal_cpu_seconds_per_turn": marginal,
            "idle_cpu_percent": {name: g["cpu_percent"] for name, g in idle.items()},
            "rasa_per_instance": per_instance,
            "turns_per_case": turns_per_case, "assumptions": {
                "peak_factor": peak, "target_utilisation": u,
                "turns_per_case": f"{turns_per_case:.2f} from the scenario mix (task weights {mix['weights']}, "
                                  f"turns per task {mix['turns_per_task']}); in this run {len(all_turns)} turns / "
                                  f"{started} filings started = {measured_per_case:.2f}",
                "one_core_per_instance": "a Rasa instance, an action server worker and a backend worker are one "
                                         "Python process each (one event loop): at most one core",
                "cpu_per_turn_constant": "CPU per turn as measured on this machine at the reference stage, "
                                         "idle cost included (conservative), not growing with load"},
            "platforms": platforms, "rss_mb_per_instance": rss, "saturates_first": ranking[0][0],
            "ranking_cpu_seconds_per_turn": ranking,
            "this_deployment_capacity_turns_per_second": capacity,
            "this_machine_capacity_turns_per_second": (2.0 / total_cost) if total_cost else None}


def print_scaling(s: dict[str, Any]) -> None:
    print(f"\n== scaling (reference: the {s['reference_stage_users']}-user stage, {s['turns_in_reference']} turns)")
    cost, marginal = dict(s["cpu_seconds_per_turn"]), dict(s["marginal_cpu_seconds_per_turn"])
    rasa = [name for name in cost if name.startswith("rasa-")]
    cost["Rasa (all instances)"] = sum(cost.pop(name) for name in rasa)  # each turn is served by one of them
    marginal["Rasa (all instances)"] = sum(marginal.pop(name) for name in rasa)
    print("   CPU per turn (all of it / beyond the idle cost): " + " | ".join(
        f"{name} {1000 * c:.1f} / {1000 * marginal[name]:.1f} ms" for name, c in cost.items()))
    for name, figures in s["rasa_per_instance"].items():
        per_turn = figures["cpu_seconds_per_turn"]
        print(f"   {name}: {figures['turns_per_second']:.2f} turns/s at {figures['cpu_percent']:.0f}% of one core"
              + (f" = {1000 * per_turn:.0f} ms CPU per turn it served → {1 / per_turn:.1f} turns/s per fully used core"
                 if per_turn else ""))
    a = s["assumptions"]
    print(f"   assumptions: {s['turns_per_case']:.2f} turns per case ({a['turns_per_case']}); peak hour = "
          f"{a['peak_factor']:g}× the day's average rate; target utilisation {100 * a['target_utilisation']:.0f}%; "
          "one core per Rasa instance / worker; CPU per turn as measured here")
    names = list(next(iter(s["platforms"].values()))["needed"])
    print(f"   {'cases a day':>12} {'peak turns/s':>13}  " + "  ".join(f"{n:>22}" for n in names)
          + f"  {'RAM of the instances':>21}")
    for daily, p in s["platforms"].items():
        print(f"   {int(daily):>12,} {p['peak_turns_per_second']:>13.1f}  "
              + "  ".join(f"{p['needed'][n]:>22}" for n in names) + f"  {p['memory_gb_of_instances']:>18} GB")
    print(f"   saturates first: {s['saturates_first']} (highest CPU per turn: "
          + ", ".join(f"{n} {1000 * c:.1f} ms" for n, c in s["ranking_cpu_seconds_per_turn"]) + ")")
    cap = s["this_deployment_capacity_turns_per_second"]
    print("   this deployment at 100% of its processes' cores: "
          + ", ".join(f"{n} {v:.1f} turns/s" for n, v in cap.items())
          + (f"; this 2-core machine as a whole: {s['this_machine_capacity_turns_per_second']:.1f} turns/s"
             if s["this_machine_capacity_turns_per_second"] else ""))


# -- logs ---------------------------------------------------------------------------------------------------

PROBLEM = re.compile(r"Traceback|\bERROR\b|CRITICAL|assistant unavailable|\w+(Error|Exception|Disconnected)\b")


def scan_logs(log_dir: Path) -> dict[str, Any]:
    """What went wrong in the stack's own logs (counts and a few distinct lines per file)."""
    out: dict[str, Any] = {}
    for path in sorted(log_dir.glob("*.log")):
        lines = [re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), line)  # Rasa logs JSON-escaped
                 for line in path.read_text(errors="replace").splitlines() if PROBLEM.search(line)]
        distinct: list[str] = []
        for line in lines:
            shape = re.sub(r"\d+", "#", line)[:160]
            if shape not in {re.sub(r"\d+", "#", d)[:160] for d in distinct}:
                distinct.append(line[:400])
        out[path.name] = {"problem_lines": len(lines), "examples": distinct[:8]}
    return out


# -- main -------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default="10,25,50", help="concurrent conversations per stage")
    parser.add_argument("--stage-seconds", type=int, default=60, help="measured seconds per stage (after ramp-up)")
    parser.add_argument("--backend-workers", type=int, default=2)
    parser.add_argument("--rasa-instances", type=int, default=2)
    parser.add_argument("--action-workers", type=int, default=2)
    parser.add_argument("--think", default="3,9", help="a buyer's pause between turns, min,max seconds")
    parser.add_argument("--peak-factor", type=float, default=3.0, help="peak hour rate ÷ the day's average rate")
    parser.add_argument("--utilisation", type=float, default=0.65, help="target CPU utilisation of each instance")
    parser.add_argument("--idle-seconds", type=int, default=15, help="idle measurement before the first stage")
    parser.add_argument("--keep-databases", action="store_true", help="leave the databases for inspection")
    parser.add_argument("--output", type=Path, default=ARTIFACT)
    parser.add_argument("--start-timeout", type=float, default=900,
                        help="seconds for the stack to come up (Rasa loads slowly on a busy machine)")
    args = parser.parse_args()
    if not MODEL.exists():
        raise SystemExit("no trained model: run scripts/train.sh (or make train) first")
    stages = [int(s) for s in args.stages.split(",")]

    stamp = time.strftime("%Y%m%d-%H%M%S")
    directory = ROOT / "var" / "load-test" / stamp
    directory.mkdir(parents=True, exist_ok=True)
    backend_db, rasa_db = fresh_postgres_url("load"), fresh_postgres_url("loadrasa")
    prefix = f"load{uuid.uuid4().hex[:10]}"
    env = {"CASE_API_TOKEN": secrets.token_hex(16), "WIDGET_TOKEN_SECRET": secrets.token_hex(24),
           "RASA_TOKEN": secrets.token_hex(16), "DATABASE_URL": backend_db,
           "RASA_TRACKER_DB_URL": rasa_db.replace("+psycopg", ""), "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix,
           "UPLOAD_DIR": str(directory / "uploads")}
    stack = ProdStack(backend_port=free_port(), actions_port=free_port(),
                      rasa_ports=[free_port() for _ in range(args.rasa_instances)], backend_workers=args.backend_workers,
                      action_workers=args.action_workers, env=env, log_dir=directory / "logs", run_dir=directory / "run")
    print(f"Load test of production mode: {args.backend_workers} backend workers, {args.rasa_instances} Rasa "
          f"instances, {args.action_workers} action server workers, PostgreSQL and Redis on 127.0.0.1; "
          f"{os.cpu_count()} cores shared with the load generator. Run directory: {directory}")
    before = busiest()
    print("Busiest processes before the start (% of one core over 2 s): "
          + ("; ".join(f"{c:.0f}% {cmd}" for c, cmd in before) or "none above 5%"))
    print("starting production mode (each Rasa instance loads its model in about 30 s on an idle machine)…",
          flush=True)
    sampler: Sampler | None = None
    run: Run | None = None
    logs: dict[str, Any] = {}
    try:
        started = time.monotonic()
        stack.start(timeout=args.start_timeout)
        startup_seconds = time.monotonic() - started
        print(f"up in {startup_seconds:.0f} s: {stack.backend_url}", flush=True)
        groups: dict[str, Callable[[], list[psutil.Process]]] = {
            "backend": lambda: tree(stack.processes[0].pid),
            "action server": lambda: tree(stack.processes[1].pid)}
        for i, process in enumerate(stack.processes[2:]):
            groups[f"rasa-{i + 1}"] = (lambda pid: lambda: tree(pid))(process.pid)
        groups["PostgreSQL"] = PostgresProcesses({database_name(backend_db), database_name(rasa_db)})
        groups["Redis"] = by_name("redis-server")
        sampler = Sampler(groups)
        sampler.start()
        run = Run(stack, directory, directory / "records.jsonl", args.think, sampler)
        # What the stack spends with nobody talking (scheduler sweeps, status push polling, health of the
        # pools): a fixed cost per process that the per-turn figures of a busy stage include.
        idle_start = time.time()
        time.sleep(args.idle_seconds)
        run.idle = sampler.window(idle_start, time.time())
        print(f"\n== idle ({args.idle_seconds} s, no users): CPU (% of one core) / RSS: " + " | ".join(
            f"{name} {g['cpu_percent']:.1f}% {g['peak_rss_mb']:.0f} MB" for name, g in run.idle["groups"].items()))
        print(f"   processes not of this run meanwhile: {run.idle['other_cpu_percent']:.0f}% of one core", flush=True)
        for users in stages:
            run.stages.append(run_stage(run, users, args.stage_seconds))
            time.sleep(3)  # the last turns of the stage finish before the next stage's window
        verdict = verify(backend_db, run.records)
        print_verdict(verdict)
        scale = scaling(run, args)
        print_scaling(scale)
    finally:
        if sampler is not None:
            sampler.stop()
        stopped = list(stack.processes)  # Stack.stop clears its list
        process_names = ["backend", "action server"] + [f"rasa-{i + 1}" for i in range(len(stopped) - 2)]
        stopping = time.monotonic()
        stack.stop()
        stop_seconds = time.monotonic() - stopping
        # Stack.stop sends SIGTERM and, 15 s later, SIGKILL: -9 is a process that ignored SIGTERM.
        exits = {name: process.returncode for name, process in zip(process_names, stopped)}
        print(f"\nstack stopped in {stop_seconds:.0f} s; exit codes: "
              + ", ".join(f"{name} {code}" for name, code in exits.items()))
        logs = scan_logs(stack.log_dir)
        print("\n== the stack's logs (lines with Traceback / ERROR / Exception / 'assistant unavailable')")
        for name, found in logs.items():
            print(f"   {name}: {found['problem_lines']}")
            for line in found["examples"][:4]:
                print(f"      {line}")
        if not args.keep_databases:
            for url in (backend_db, rasa_db):
                drop_postgres(url)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)

    assert run is not None
    result = {"when": stamp,
              "machine": {"cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30)},
              "deployment": {"backend_workers": args.backend_workers, "rasa_instances": args.rasa_instances,
                             "action_workers": args.action_workers},
              "busiest_before_start": before, "startup_seconds": startup_seconds, "stop_seconds": stop_seconds,
              "exit_codes": exits,
              "think_seconds": args.think, "stage_seconds": args.stage_seconds, "idle": run.idle,
              "stages": run.stages, "verdict": verdict, "scaling": scale, "logs": logs,
              "run_directory": str(directory), "postgres_admin": PG_ADMIN_URL.rsplit("@", 1)[-1]}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    print(f"\nfigures written to {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")


def busiest(seconds: float = 2.0, limit: int = 6) -> list[tuple[float, str]]:
    """What else is using the machine (the load test shares its 2 cores with whatever runs)."""
    processes = list(psutil.process_iter(["cmdline"]))
    for process in processes:
        try:
            process.cpu_percent()
        except psutil.Error:
            pass
    time.sleep(seconds)
    found = []
    for process in processes:
        try:
            found.append((process.cpu_percent(), " ".join(process.info["cmdline"] or [])[:140]))
        except psutil.Error:
            continue
    return [item for item in sorted(found, reverse=True)[:limit] if item[0] >= 5]


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


if __name__ == "__main__":
    main()
