"""Where the local stack lives and which ports it uses; every value can be overridden by env."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class StackSettings(BaseSettings):
    """Ports default away from the well-known ones so a system Kafka or PostgreSQL can coexist."""

    model_config = SettingsConfigDict(env_prefix="DEVSTACK_")

    home: Path = Field(default=PROJECT_ROOT / ".devstack", description="Git-ignored state folder.")
    host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "1g"  # each test namespace adds its topics; 512m ran out near 15k partitions
    postgres_port: int = 15432
    postgres_user: str = "postgres"
    postgres_database: str = "referrals"
    start_timeout_s: float = 90.0

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return (
            f"postgresql://{self.postgres_user}@{self.host}:{self.postgres_port}"
            f"/{self.postgres_database}"
        )

    @property
    def kafka_home(self) -> Path:
        return self.home / "kafka"

    @property
    def postgres_home(self) -> Path:
        return self.home / "postgres"
