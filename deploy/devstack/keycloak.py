"""The local OpenID Connect provider: Keycloak's own distribution, resolved once from Maven
Central (`org.keycloak:keycloak-quarkus-dist`), started in development mode with the realm in
`deploy/keycloak/womens-health-realm.json` (a client for intake's staff pages, and one sample
user for each role). Keycloak, not a provider package from PyPI: it is what NHS trusts run
beside CIS2, it implements the whole of OpenID Connect (PKCE, nonce, logout, key rotation),
and its login pages are a real browser flow. It needs Java 21 or newer (`KEYCLOAK_JAVA_HOME`,
else the newest under /usr/lib/jvm)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from devstack.config import PROJECT_ROOT, StackSettings
from devstack.processes import port_open, read_pid, terminate, wait_until

VERSION = "26.7.3"
REALM_FILE = PROJECT_ROOT / "deploy" / "keycloak" / "womens-health-realm.json"
REALM = "womens-health"
CLIENT_ID = "intake-staff"
CLIENT_SECRET = "local-oidc-client-secret"  # noqa: S105 - the local realm's, nowhere else


def java_home() -> Path:
    """A Java runtime Keycloak accepts (21+): KEYCLOAK_JAVA_HOME, or the newest installed."""
    if chosen := os.environ.get("KEYCLOAK_JAVA_HOME"):
        return Path(chosen)
    candidates = []
    for home in Path("/usr/lib/jvm").glob("*"):
        digits = "".join(c if c.isdigit() else " " for c in home.name).split()
        major = next((int(d) for d in digits if int(d) >= 8), 0)
        if major >= 21 and (home / "bin" / "java").exists():
            candidates.append((major, home))
    if not candidates:
        raise RuntimeError(
            "Keycloak needs Java 21 or newer: install one, or set KEYCLOAK_JAVA_HOME"
        )
    return max(candidates)[1]


class KeycloakServer:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.root = settings.home / "keycloak"
        self.dist = self.root / f"keycloak-{VERSION}"
        self.pid_file = self.root / "keycloak.pid"
        self.log = self.root / "keycloak.log"

    @property
    def port(self) -> int:
        return self.settings.keycloak_port

    @property
    def issuer(self) -> str:
        return f"http://{self.settings.host}:{self.port}/realms/{REALM}"

    def running_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def fetch(self) -> None:
        """Keycloak's distribution from Maven Central, unless this version is unpacked."""
        if (self.dist / "bin" / "kc.sh").exists():
            return
        if shutil.which("mvn") is None:
            raise RuntimeError(
                "Maven (mvn) is needed once to fetch Keycloak: apt-get install maven"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        print(f"devstack: fetching Keycloak {VERSION} from Maven Central ...", flush=True)
        subprocess.run(
            [
                "mvn", "-q", "-B", "dependency:copy",
                f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{VERSION}:zip",
                f"-DoutputDirectory={self.root}",
            ],
            check=True,
        )  # fmt: skip
        archive = self.root / f"keycloak-quarkus-dist-{VERSION}.zip"
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(self.root)
        archive.unlink()
        for script in (self.dist / "bin").glob("*.sh"):
            script.chmod(0o755)

    def start(self) -> bool:
        """Start it unless it runs; the realm is imported afresh each start (its database of
        the last run is removed first, so a changed realm file takes effect). Returns whether
        this call started it."""
        if self.running_pid() is not None and port_open(self.settings.host, self.port):
            return False
        if port_open(self.settings.host, self.port):
            raise RuntimeError(f"port {self.port} is taken: set DEVSTACK_KEYCLOAK_PORT")
        self.fetch()
        shutil.rmtree(self.dist / "data" / "h2", ignore_errors=True)
        imports = self.dist / "data" / "import"
        imports.mkdir(parents=True, exist_ok=True)
        shutil.copy(REALM_FILE, imports / REALM_FILE.name)
        env = {
            **os.environ,
            "JAVA_HOME": str(java_home()),
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": "local-admin",
        }
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [
                    str(self.dist / "bin" / "kc.sh"), "start-dev", "--import-realm",
                    f"--http-port={self.port}", f"--http-host={self.settings.host}",
                    f"--hostname=http://{self.settings.host}:{self.port}",
                    "--http-management-port", str(self.port + 1),
                ],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(str(process.pid))
        wait_until(self.ready, 2 * self.settings.start_timeout_s, "Keycloak", self.log)
        return True

    def ready(self) -> bool:
        import httpx

        try:
            answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def stop(self) -> bool:
        pid = self.running_pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid)
        return True
