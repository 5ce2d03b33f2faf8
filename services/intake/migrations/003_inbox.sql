-- Events already handled, by id: a redelivered event is recognised and skipped.
CREATE TABLE inbox (
    event_id     uuid PRIMARY KEY,
    topic        text NOT NULL,
    handled_at   timestamptz NOT NULL DEFAULT now()
);
