"""Run last: every message on every topic of the cluster, from all the tests before it,
is scanned for patient identifiers."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.kafka_reader import read_all
from tests.support.pii import identifiers_in
from tests.support.servers import Servers


@pytest.mark.last
async def test_no_message_on_any_topic_carries_a_patient_identifier(servers: Servers) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if not t.startswith("__")]
    finally:
        await admin.close()

    records = await read_all(servers.kafka_bootstrap, *names, within=240)
    leaks = []
    for record in records:
        parts = [record.value or b"", record.key or b""]
        parts += [value for _name, value in record.headers]
        found = identifiers_in(b" ".join(parts).decode(errors="replace"))
        if found:
            leaks.append(f"{record.topic}@{record.partition}/{record.offset}: {found}")
    scanned = len(records)
    assert scanned > 0, "no messages: the scan ran before the other tests"
    assert leaks == []
