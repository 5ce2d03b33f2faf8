"""The local stack formats Kafka's storage whatever cluster id it draws (issue 12, 6): one id in
64 starts with "-", which `kafka-storage format -t <id>` took for an option."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.config import StackSettings
from devstack.kafka import KafkaServer, new_cluster_id


@pytest.mark.parametrize("cluster_id", ["-RP9rKJwSfqw5o9fhIMRbg", "q1Sh-75tQ6qqKpWbSB7Tvw"])
def test_storage_is_formatted_for_an_id_that_starts_with_a_dash(
    tmp_path: Path, cluster_id: str
) -> None:
    server = KafkaServer(StackSettings(home=tmp_path))
    server.libs = KafkaServer(StackSettings()).libs  # the jars the stack already fetched
    server.fetch()
    (node,) = server.nodes
    node.write_config()
    node.format_storage(server.java(), cluster_id)
    meta = (node.data / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}" in meta.splitlines()


def test_new_cluster_ids_are_kafka_uuids() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and "=" not in i for i in ids)
    assert any(i.startswith("-") for i in ids)  # the case the format command must survive
