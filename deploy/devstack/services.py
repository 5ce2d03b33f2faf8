"""Services as separate processes, as in production: start, wait ready, stop or kill (the
tests, the benchmarks and the chaos suite run them so)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.config import PROJECT_ROOT

ROOT = PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    name: str = ""  # intake, router or notifier

    def output(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_ready(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    within: float = 60,
    probe: str = "/health/ready",
) -> None:
    """Until `url + probe` answers 200; fails with the log if the process exits or is slow."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text()
            raise RuntimeError(f"{url}: process exited early with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}{probe}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready within {within}s:\n{log.read_text()}")


@contextmanager
def service_process(name: str, env: dict[str, str]) -> Iterator[ServiceProcess]:
    """`python -m <name>` on a free port with `env` added; stopped on exit."""
    port = free_port()
    full_env = {**os.environ, f"{name.upper()}_HTTP_PORT": str(port), **env}
    with tempfile.NamedTemporaryFile("wb", suffix=f"-{name}.log", delete=False) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", name], cwd=ROOT, env=full_env, stdout=log, stderr=log
        )
    running = ServiceProcess(process, f"http://127.0.0.1:{port}", Path(log.name), name)
    try:
        wait_ready(running.url, process, running.log_path)
        yield running
    finally:
        running.stop()


def run_cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()
