"""Run last: every message on every topic of the cluster, from all the tests before it,
is scanned for patient identifiers."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.kafka_reader import read_all
from tests.pii import identifiers_in
from tests.servers import Servers


@pytest.mark.last
async def test_no_message_on_any_topic_carries_a_patient_identifier(servers: Servers) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if not t.startswith("__")]
    finally:
        await admin.close()

    scanned, leaks = 0, []
    for topic in sorted(names):
        for record in await read_all(servers.kafka_bootstrap, topic):
            scanned += 1
            parts = [record.value or b"", record.key or b""]
            parts += [value for _name, value in record.headers]
            text = b" ".join(parts).decode(errors="replace")
            found = identifiers_in(text)
            if found:
                leaks.append(f"{topic}@{record.partition}/{record.offset}: {found}")
    assert scanned > 0, "no messages: the scan ran before the other tests"
    assert leaks == []
