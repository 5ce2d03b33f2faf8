-- Every service's outbox and inbox, defined once and applied before the service's own
-- migrations. Written to be a no-op on a schema that already has them (schemas created
-- before these tables were shared made them in their own migrations).

-- Events written in the same transaction as the state they describe; a relay publishes them.
-- An event the broker refuses for good (too large, an invalid topic) is parked with the
-- reason, so that it does not hold back the events behind it.
CREATE TABLE IF NOT EXISTS outbox (
    event_id       uuid PRIMARY KEY,
    topic          text NOT NULL,
    key            text NOT NULL,
    payload        jsonb NOT NULL,
    headers        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    parked_at      timestamptz,
    parked_reason  text
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (created_at)
    WHERE published_at IS NULL AND parked_at IS NULL;

-- Events already handled, by id: a redelivered event is recognised and skipped.
CREATE TABLE IF NOT EXISTS inbox (
    event_id     uuid PRIMARY KEY,
    topic        text NOT NULL,
    handled_at   timestamptz NOT NULL DEFAULT now()
);
