"""Apache Kafka in KRaft mode from its Maven Central artifacts, run on this machine's Java:
one node, or a cluster of several on this machine (each a broker and a controller voter), as
Kafka's own system tests run it.

The jars are resolved once by Maven (deploy/kafka/pom.xml) into `.devstack/kafka/libs`.
"""

from __future__ import annotations

import base64
import functools
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


def _serving(node: KafkaNode, process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None and node.listening()


class KafkaNode:
    """One broker-and-controller process of the local cluster."""

    def __init__(self, settings: StackSettings, index: int) -> None:
        self.settings = settings
        self.node_id = index + 1
        self.port, self.controller_port = settings.kafka_ports(index)
        single = settings.kafka_brokers == 1
        self.home = settings.kafka_home if single else settings.kafka_home / f"node-{self.node_id}"
        self.data = self.home / "data"
        self.config = self.home / "server.properties"
        self.pid_file = self.home / "kafka.pid"
        self.log = self.home / "kafka.log"

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    def running_pid(self) -> int | None:
        return read_pid(self.pid_file)

    def listening(self) -> bool:
        return port_open(self.settings.host, self.port)

    def write_config(self) -> None:
        s = self.settings
        voters = ",".join(f"{n + 1}@{s.host}:{s.kafka_ports(n)[1]}" for n in range(s.kafka_brokers))
        factor, min_insync = s.kafka_replication
        self.home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    f"controller.quorum.voters={voters}",
                    f"listeners=PLAINTEXT://{s.host}:{self.port},"
                    f"CONTROLLER://{s.host}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{s.host}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data}",
                    "num.partitions=1",
                    # The system's topics are created explicitly with their partitions (`up`);
                    # auto-creation stays on for the per-test topics of the test suite.
                    "auto.create.topics.enable=true",
                    f"default.replication.factor={factor}",
                    f"min.insync.replicas={min_insync}",
                    "unclean.leader.election.enable=false",
                    f"offsets.topic.replication.factor={factor}",
                    "offsets.topic.num.partitions=6",
                    f"transaction.state.log.replication.factor={factor}",
                    f"transaction.state.log.min.isr={min_insync}",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )

    def format_storage(self, java: list[str], cluster_id: str) -> None:
        """Format the KRaft metadata log on first start only."""
        if (self.data / "meta.properties").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                *java,
                "kafka.tools.StorageTool",
                "format",
                # `--cluster-id=<id>`, not `-t <id>`: an id may start with "-" (1 in 64), and
                # the tool would read it as an option.
                f"--cluster-id={cluster_id}",
                "-c",
                str(self.config),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def spawn(self, java: list[str]) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [*java, f"-Xmx{self.settings.kafka_heap}", "kafka.Kafka", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the devstack command; `down` stops it
            )
        self.pid_file.write_text(str(process.pid))
        return process

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
            lambda: not self.listening(), 30, "the killed broker to let go of its port", None
        )
        self.pid_file.unlink(missing_ok=True)
        return True


class KafkaServer:
    """The local Kafka: `settings.kafka_brokers` nodes started, stopped and killed together
    (or one node at a time, for the chaos suite)."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = settings.kafka_home
        self.libs = settings.kafka_libs
        self.nodes = [KafkaNode(settings, n) for n in range(settings.kafka_brokers)]
        self.log = self.nodes[0].log

    @property
    def address(self) -> str:
        return self.settings.kafka_bootstrap

    def running_pid(self) -> int | None:
        """The first node's pid when every node runs, else None."""
        pids = [node.running_pid() for node in self.nodes]
        return pids[0] if all(pids) else None

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

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

    def java(self) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError(
                "A Java 17+ runtime is needed for Kafka: apt-get install openjdk-17-jre"
            )
        return [java, f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", f"{self.libs}/*"]

    def cluster_id(self) -> str:
        """Drawn once per cluster and kept: every node is formatted with the same id."""
        kept = self.home / "cluster.id"
        if not kept.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            kept.write_text(new_cluster_id())
        return kept.read_text().strip()

    def start(self) -> bool:
        """Start whichever nodes are not running; True when this call started one.

        All are spawned before any is awaited: a node's listener opens only once the
        controller quorum (a majority of the nodes) has formed."""
        stopped = [node for node in self.nodes if node.running_pid() is None]
        if not stopped:
            return False
        for node in stopped:
            if node.listening():
                raise RuntimeError(
                    f"port {node.address} is taken by another process; set DEVSTACK_KAFKA_PORT"
                )
        self.fetch()
        java = self.java()
        cluster_id = self.cluster_id()
        spawned = []
        for node in stopped:
            node.write_config()
            node.format_storage(java, cluster_id)
            spawned.append((node, node.spawn(java)))
        for node, process in spawned:
            wait_until(
                functools.partial(_serving, node, process),
                self.settings.start_timeout_s,
                f"Kafka node {node.node_id} at {node.address}",
                node.log,
            )
        return True

    def stop(self) -> bool:
        return any([node.stop() for node in self.nodes])

    def kill(self, node_id: int | None = None) -> bool:
        """SIGKILL one node, or every node when none is named."""
        if node_id is not None:
            return self.node(node_id).kill()
        return any([node.kill() for node in self.nodes])
