"""Where the local stack lives and which ports it uses; every value can be overridden by env."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def replication_for(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas): 3 and 2 where there are brokers enough, so
    one broker may die without losing an acknowledged write or refusing new ones."""
    factor = min(3, brokers)
    return factor, max(1, factor - 1)


class StackSettings(BaseSettings):
    """Ports default away from the well-known ones so a system Kafka or PostgreSQL can coexist."""

    model_config = SettingsConfigDict(env_prefix="DEVSTACK_")

    home: Path = Field(default=PROJECT_ROOT / ".devstack", description="Git-ignored state folder.")
    host: str = "127.0.0.1"
    kafka_brokers: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Brokers in the local cluster: 1, or 3 as production runs (replication "
        "factor 3, min.insync.replicas 2). Node n listens on kafka_port + 2n, its controller on "
        "kafka_controller_port + 2n.",
    )
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    secured_kafka_port: int = 19192  # the secured broker (`devstack secured-kafka`): TLS+SCRAM
    secured_kafka_controller_port: int = 19193
    kafka_heap: str = "1g"  # each test namespace adds its topics; 512m ran out near 15k partitions
    postgres_port: int = 15432
    postgres_user: str = "postgres"
    postgres_database: str = "referrals"
    keycloak_port: int = 18080  # its management interface (health) on the next port
    start_timeout_s: float = 90.0

    def kafka_ports(self, node: int) -> tuple[int, int]:
        """(broker, controller) ports of node 0, 1, ..."""
        return self.kafka_port + 2 * node, self.kafka_controller_port + 2 * node

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{self.host}:{self.kafka_ports(n)[0]}" for n in range(self.kafka_brokers))

    @property
    def kafka_replication(self) -> tuple[int, int]:
        return replication_for(self.kafka_brokers)

    @property
    def database_url(self) -> str:
        return (
            f"postgresql://{self.postgres_user}@{self.host}:{self.postgres_port}"
            f"/{self.postgres_database}"
        )

    @property
    def kafka_home(self) -> Path:
        """One broker keeps its state in kafka/, a cluster of n in kafka-n/ (both can exist)."""
        return self.home / ("kafka" if self.kafka_brokers == 1 else f"kafka-{self.kafka_brokers}")

    @property
    def kafka_libs(self) -> Path:
        return self.home / "kafka" / "libs"

    @property
    def postgres_home(self) -> Path:
        return self.home / "postgres"
