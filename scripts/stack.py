"""Starts the whole assistant locally — case backend (with the chat gateway and the web pages),
action server, Rasa server — and waits until each answers. Used by `make run`, the end-to-end tests and the benchmarks.

    .venv/bin/python scripts/stack.py            # run until Ctrl+C, printing the URLs
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "aftersales.tar.gz"
# Rasa's CLI with our fixes applied first (bot_runtime/patches.py); takes `rasa`'s arguments.
RASA = [str(ROOT / ".venv-bot/bin/python"), "-m", "bot_runtime"]


@dataclass
class Stack:
    backend_port: int = 8000
    actions_port: int = 5055
    rasa_port: int = 5005
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path = ROOT / "var" / "logs"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    rasa_token: str = ""

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.processes.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def start(self, timeout: float = 180) -> None:
        if not MODEL.exists():
            raise SystemExit("no trained model: run scripts/train.sh first")
        base = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        token = base.setdefault("CASE_API_TOKEN", "dev-service-token")
        # Rasa's HTTP API (used by the gateway to resume a paused conversation) needs this token.
        self.rasa_token = base.setdefault("RASA_TOKEN", "dev-rasa-token")
        self._spawn_backend({**base, "RASA_URL": self.rasa_url})
        actions_env = {**base, "CASE_BACKEND_URL": self.backend_url, "CASE_API_TOKEN": token}
        self._spawn("actions", [str(ROOT / ".venv/bin/python"), "-m", "rasa_sdk", "--actions", "actions",
                                "--port", str(self.actions_port)], actions_env)
        rasa_env = {**base, "TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
        endpoints = ROOT / "var" / f"endpoints-{self.actions_port}.yml"
        endpoints.parent.mkdir(parents=True, exist_ok=True)
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n')
        self._spawn("rasa", [*RASA, "run", "--enable-api", "--model", str(MODEL),
                             "--endpoints", str(endpoints), "--port", str(self.rasa_port), "--auth-token",
                             self.rasa_token, "--quiet"], rasa_env)
        self._wait_for([f"{self.backend_url}/readyz", f"http://127.0.0.1:{self.actions_port}/health",
                        f"{self.rasa_url}/status?token={self.rasa_token}"], timeout)

    def _spawn_backend(self, env: dict[str, str]) -> None:
        self._backend_env = env
        self._spawn("backend", [str(ROOT / ".venv/bin/python"), "-m", "uvicorn", "backend.asgi:app", "--host",
                                "127.0.0.1", "--port", str(self.backend_port), "--no-access-log"], env)
        self.processes.insert(0, self.processes.pop())  # processes[0] is always the backend

    def _wait_for(self, urls: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for url in urls:
            while True:
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                    self.stop()
                    raise RuntimeError(f"{url.split('?')[0]} did not come up; see {self.log_dir}")  # no token
                time.sleep(0.5)

    def stop_backend(self) -> None:
        """For tests of the assistant while the case backend is down."""
        backend = self.processes.pop(0)
        os.killpg(backend.pid, signal.SIGTERM)
        backend.wait(timeout=15)

    def start_backend(self, timeout: float = 60) -> None:
        self._spawn_backend(self._backend_env)
        self._wait_for([f"{self.backend_url}/readyz"], timeout)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()


def main() -> None:
    stack = Stack()
    stack.start()
    print(f"Demo shop with the chat widget: {stack.backend_url}/shop/?open=1   (buyer b_1001)")
    print(f"Agent console: {stack.backend_url}/console/   (agent / kefu, password agent-demo-2026)")
    print(f"Case backend:  {stack.backend_url}/api/v1   (docs: {stack.backend_url}/docs)")
    print(f"Rasa server:   {stack.rasa_url}/webhooks/rest/webhook")
    print(f"Action server: http://127.0.0.1:{stack.actions_port}/webhook")
    print(f"Logs:          {stack.log_dir}")
    print("Press Ctrl+C to stop.")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
