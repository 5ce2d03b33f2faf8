"""A Kafka broker on this machine locked down as production's is (the chart's Strimzi Kafka):
its one client listener speaks TLS and SCRAM-SHA-512, the StandardAuthorizer refuses whatever
no ACL allows, and each service, `operations` and `keda` is a user of its own with the grants
`devstack.kafka_access` derives from the code. `python -m devstack secured-kafka up` starts
it beside the default plaintext one (which stays as it is); the tests start it themselves.

Its state starts afresh at every start: users, passwords, certificates and topics are made
anew (the passwords are the local stack's own, in `.devstack/kafka-secured/users.json`)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from devstack.chart import declared
from devstack.config import StackSettings
from devstack.kafka import KafkaServer, new_cluster_id
from devstack.kafka_access import KEDA, OPERATIONS, grants
from devstack.processes import port_open, read_pid, terminate, wait_until
from devstack.topics import ensure_topics

ADMIN = "admin"  # the broker's own user, and the only super user


class SecuredKafka:
    def __init__(self, settings: StackSettings | None = None) -> None:
        self.settings = settings or StackSettings()
        self.home = self.settings.home / "kafka-secured"
        self.port = self.settings.secured_kafka_port
        self.controller_port = self.settings.secured_kafka_controller_port
        self.pid_file, self.log = self.home / "kafka.pid", self.home / "kafka.log"
        self.ca_file, self.users_file = self.home / "ca.pem", self.home / "users.json"

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    def users(self) -> dict[str, str]:
        return dict(json.loads(self.users_file.read_text()))

    def env(self, user: str) -> dict[str, str]:
        """The settings with which a process reaches this broker as `user`."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.address,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.users()[user],
            "KAFKA_SSL_CAFILE": str(self.ca_file),
        }

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None and port_open(self.settings.host, self.port)

    def start(self) -> None:
        """Start it afresh (stopping one left running), with its users, topics and ACLs."""
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        if port_open(self.settings.host, self.port):
            raise RuntimeError(
                f"port {self.address} is taken; set DEVSTACK_SECURED_KAFKA_PORT to another"
            )
        libs = KafkaServer(self.settings)
        libs.fetch()
        java = libs.java()
        names = [ADMIN, *declared()["services"], OPERATIONS, KEDA]
        users = {name: secrets.token_urlsafe(24) for name in names}
        self.users_file.write_text(json.dumps(users))
        self.users_file.chmod(0o600)
        store_password = secrets.token_urlsafe(24)
        self._write_tls(store_password)
        config = self.home / "server.properties"
        config.write_text(self._config(users[ADMIN], store_password))
        scram = [f"--add-scram=SCRAM-SHA-512=[name={n},password={p}]" for n, p in users.items()]
        subprocess.run(
            [*java, "kafka.tools.StorageTool", "format",
             f"--cluster-id={new_cluster_id()}", "-c", str(config), *scram],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [*java, "-Xmx512m", "kafka.Kafka", str(config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(str(process.pid))

        def serving() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the secured Kafka stopped; see {self.log}")
            return port_open(self.settings.host, self.port)

        wait_until(
            serving, self.settings.start_timeout_s, f"the secured Kafka at {self.address}",
            self.log,
        )  # fmt: skip
        asyncio.run(ensure_topics(self.address, options=self.client_options(ADMIN)))
        self._grant()

    def stop(self) -> bool:
        pid = read_pid(self.pid_file)
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid)
        return True

    def client_options(self, user: str) -> dict[str, Any]:
        """aiokafka's options for `user`, as the services build them from their settings."""
        from shared.kafka import client_options, kafka_security
        from shared.settings import ServiceSettings

        settings = ServiceSettings.model_validate(self.env(user))
        return client_options(kafka_security(settings))

    def _config(self, admin_password: str, store_password: str) -> str:
        host = self.settings.host
        scram = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin_password}";'
        )
        # The controller listener (this node to itself) uses PLAIN with the same admin
        # password: KRaft keeps SCRAM credentials in its metadata, which the controller
        # serves, so its own listener cannot use them.
        plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN}" password="{admin_password}" user_{ADMIN}="{admin_password}";'
        )
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{self.controller_port}",
            f"listeners=SASL_SSL://{host}:{self.port},CONTROLLER://{host}:{self.controller_port}",
            f"advertised.listeners=SASL_SSL://{host}:{self.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=SASL_SSL",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "sasl.mechanism.controller.protocol=PLAIN",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram}",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={plain}",
            "ssl.keystore.type=PKCS12",
            f"ssl.keystore.location={self.home / 'broker.p12'}",
            f"ssl.keystore.password={store_password}",
            f"ssl.key.password={store_password}",
            "ssl.truststore.type=PEM",  # the broker reaches itself over TLS too
            f"ssl.truststore.location={self.ca_file}",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            f"super.users=User:{ADMIN}",
            "allow.everyone.if.no.acl.found=false",
            f"log.dirs={self.home / 'data'}",
            "num.partitions=1",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=6",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "",
        ])  # fmt: skip

    def _write_tls(self, store_password: str) -> None:
        """A CA of its own (the clients trust it by KAFKA_SSL_CAFILE) and the broker's
        certificate for 127.0.0.1 and localhost, signed by it, in a PKCS#12 keystore."""
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devstack local Kafka CA")])
        ca = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        broker = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        keystore = pkcs12.serialize_key_and_certificates(
            b"broker", key, broker, [ca],
            serialization.BestAvailableEncryption(store_password.encode()),
        )  # fmt: skip
        path: Path = self.home / "broker.p12"
        path.write_bytes(keystore)
        path.chmod(0o600)

    def _grant(self) -> None:
        """Every user's ACLs, through the admin user (confluent-kafka: aiokafka has no ACLs)."""
        # The ACL types are exported by confluent_kafka.admin without an __all__ entry.
        from confluent_kafka.admin import (  # type: ignore[attr-defined]
            AclBinding,
            AclOperation,
            AclPermissionType,
            AdminClient,
            ResourcePatternType,
            ResourceType,
        )

        admin = AdminClient({
            "bootstrap.servers": self.address, "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": ADMIN,
            "sasl.password": self.users()[ADMIN], "ssl.ca.location": str(self.ca_file),
        })  # fmt: skip
        bindings = [
            AclBinding(
                ResourceType[grant.resource.upper()],
                grant.name,
                ResourcePatternType.LITERAL,
                f"User:{user}",
                "*",
                AclOperation[grant.operation.upper()],
                AclPermissionType.ALLOW,
            )
            for user, granted in grants(declared()).items()
            for grant in sorted(granted)
        ]
        for future in admin.create_acls(bindings, request_timeout=30).values():
            future.result(timeout=30)
