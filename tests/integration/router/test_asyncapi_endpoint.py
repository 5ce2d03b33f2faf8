"""A running service serves its AsyncAPI document read-only: nothing reaches a topic through
its HTTP port (FastStream's FastAPI integration served `POST /asyncapi/try`, which published
what it was sent to the real broker, to anyone who could reach the port)."""

from __future__ import annotations

from router.main import create_service
from shared.kafka import build_broker
from tests.integration.router.test_router_service import router_settings
from tests.support.kafka_reader import read_all
from tests.support.running import running
from tests.support.servers import Servers

ROUTED = "referrals.routed"


async def test_the_document_is_served_and_nothing_can_be_published_through_it(
    servers: Servers, db_schema: str, topic_prefix: str
) -> None:
    settings = router_settings(servers, db_schema, topic_prefix)
    async with running(create_service(settings), servers) as (_service, client):
        document = await client.get("/asyncapi.json")
        assert document.status_code == 200
        assert topic_prefix + "referrals.received" in str(document.json()["channels"])
        page = await client.get("/asyncapi")
        assert (page.status_code, page.headers["content-type"][:9]) == (200, "text/html")
        assert "asyncapi: 3" in (await client.get("/asyncapi.yaml")).text

        forged = {
            "channelName": topic_prefix + ROUTED,
            "message": {"message": {"forged": True}},
            "options": {"sendToRealBroker": True},
        }
        answer = await client.post("/asyncapi/try", json=forged)
        assert answer.status_code in (404, 405)

    async with build_broker(servers.kafka_bootstrap, "test-marker") as broker:
        await broker.publish(b"marker", topic=topic_prefix + ROUTED)  # so the read has an end
    values = [r.value for r in await read_all(servers.kafka_bootstrap, topic_prefix + ROUTED)]
    assert values == [b"marker"]
