-- The relay is woken when a transaction that wrote events commits (a NOTIFY is delivered at
-- commit, once however many statements asked), by the insert itself: the writer no longer
-- spends a statement and a round trip of its own on it. The channel is `<schema>_outbox`,
-- where `shared.outbox.OutboxRelay` listens.
CREATE OR REPLACE FUNCTION outbox_wakes_relay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER outbox_wakes_relay AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_wakes_relay();
