-- Every notification, once per (decision event, recipient, channel): a redelivered decision
-- finds its rows and sends nothing again. No message text or address is kept here.
CREATE TABLE notifications (
    notification_id    uuid PRIMARY KEY,        -- also the provider reference
    decision_event_id  uuid NOT NULL,
    referral_id        uuid NOT NULL,
    recipient          text NOT NULL CHECK (recipient IN ('patient', 'clinic', 'referrer')),
    channel            text NOT NULL CHECK (channel IN ('sms', 'email', 'letter', 'webhook')),
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'failed')),
    attempts           integer NOT NULL DEFAULT 0,
    provider_id        text,
    error              text,
    delivery_status    text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    claimed_at         timestamptz,
    finished_at        timestamptz,
    UNIQUE (decision_event_id, recipient, channel)
);
