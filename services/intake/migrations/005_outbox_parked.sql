-- An event the broker refuses for good (too large, an invalid topic) is parked with the
-- reason, so that it does not hold back the events behind it.
ALTER TABLE outbox ADD COLUMN parked_at timestamptz, ADD COLUMN parked_reason text;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL AND parked_at IS NULL;
