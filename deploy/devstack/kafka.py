"""Apache Kafka in KRaft mode from its Maven Central artifacts, run on this machine's Java.

The jars are resolved once by Maven (deploy/kafka/pom.xml) into `.devstack/kafka/libs`.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import uuid

from devstack.config import PROJECT_ROOT, StackSettings
from devstack.processes import port_open, read_pid, terminate, wait_until

POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J_CONFIG = PROJECT_ROOT / "deploy" / "kafka" / "log4j2.yaml"


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if match is None:
        raise RuntimeError(f"{POM} declares no <kafka.version>")
    return match.group(1)


def new_cluster_id() -> str:
    """Kafka's form of a cluster id: a UUID in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaServer:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = settings.kafka_home
        self.libs = self.home / "libs"
        self.data = self.home / "data"
        self.config = self.home / "server.properties"
        self.pid_file = self.home / "kafka.pid"
        self.log = self.home / "kafka.log"

    @property
    def address(self) -> str:
        return self.settings.kafka_bootstrap

    def running_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def fetch(self) -> None:
        """Resolve the broker's jars from Maven Central unless this version is cached."""
        marker = self.libs / f".kafka-{kafka_version()}"
        if marker.exists():
            return
        if shutil.which("mvn") is None:
            raise RuntimeError("Maven (mvn) is needed once to fetch Kafka: apt-get install maven")
        shutil.rmtree(self.libs, ignore_errors=True)
        self.libs.mkdir(parents=True)
        print(
            f"devstack: fetching Apache Kafka {kafka_version()} from Maven Central ...", flush=True
        )
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
            ],
            check=True,
        )
        marker.touch()

    def _java(self, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError(
                "A Java 17+ runtime is needed for Kafka: apt-get install openjdk-17-jre"
            )
        return [java, f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", f"{self.libs}/*", *args]

    def _write_config(self) -> None:
        s = self.settings
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{s.host}:{s.kafka_controller_port}",
                    f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}",
                    f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data}",
                    "num.partitions=1",
                    # The system's topics are created explicitly with their partitions (`up`);
                    # auto-creation stays on for the per-test topics of the test suite.
                    "auto.create.topics.enable=true",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )

    def _format_storage(self, cluster_id: str | None = None) -> None:
        """Format the KRaft metadata log on first start only."""
        if (self.data / "meta.properties").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        cluster_id = cluster_id or new_cluster_id()
        subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                # `--cluster-id=<id>`, not `-t <id>`: an id may start with "-" (1 in 64), and
                # the tool would read it as an option.
                f"--cluster-id={cluster_id}",
                "-c",
                str(self.config),
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> bool:
        """Start the broker unless ours already runs; True when this call started it."""
        if self.running_pid() is not None:
            return False
        if port_open(self.settings.host, self.settings.kafka_port):
            raise RuntimeError(
                f"port {self.address} is taken by another process; set DEVSTACK_KAFKA_PORT"
            )
        self.fetch()
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._format_storage()
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                self._java(f"-Xmx{self.settings.kafka_heap}", "kafka.Kafka", str(self.config)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the devstack command; `down` stops it
            )
        self.pid_file.write_text(str(process.pid))
        wait_until(
            lambda: (
                process.poll() is None and port_open(self.settings.host, self.settings.kafka_port)
            ),
            self.settings.start_timeout_s,
            f"Kafka at {self.address}",
            self.log,
        )
        return True

    def stop(self) -> bool:
        pid = self.running_pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid)
        return True

    def kill(self) -> bool:
        """SIGKILL, as when the broker's machine dies (the chaos suite); `start` recovers."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        wait_until(
            lambda: not port_open(self.settings.host, self.settings.kafka_port),
            30,
            "the killed broker to let go of its port",
            None,
        )
        self.pid_file.unlink(missing_ok=True)
        return True
