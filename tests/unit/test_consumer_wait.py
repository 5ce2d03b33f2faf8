"""How long the pipeline's subscribers wait for a first event when none is buffered: FastStream
sleeps as long again after a fetch that found nothing, so its default (200 ms) added up to
0.4 s at each hop after a quiet moment. Ours is `BATCH_WAIT_MS`, and it stays small."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from shared.consumer import BATCH_WAIT_MS, Batch, Rejected, subscribe
from shared.dead_letters import DeadLetters


async def nothing(_batch: Batch[dict[str, str]]) -> list[Rejected[dict[str, str]]]:
    return []


def test_a_subscriber_waits_briefly_for_its_first_event() -> None:
    router = KafkaRouter()
    dead_letters = DeadLetters(router.publisher("t.dlq"), seal_to=None, source="t")
    subscribe(
        router, "t", payload=dict[str, str], what="a thing", group_id="g", description="d",
        dead_letters=dead_letters, work=nothing, name="t",
    )  # fmt: skip
    (subscriber,) = router.subscribers
    assert subscriber.batch_timeout_ms == BATCH_WAIT_MS  # type: ignore[attr-defined]
    assert BATCH_WAIT_MS <= 50  # two of them, at each of four hops, stay under half a second
