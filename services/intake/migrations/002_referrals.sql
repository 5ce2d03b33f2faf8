-- Every accepted referral, with the full submission: the one place patient details are kept.
CREATE TABLE referrals (
    referral_id         uuid PRIMARY KEY,
    tracking_reference  text NOT NULL UNIQUE,
    channel             text NOT NULL CHECK (channel IN ('api', 'self-referral')),
    source              text NOT NULL,          -- submitting organisation, or the form
    organisation_code   text,                   -- owner for GET /v1/referrals/{id}; null for self
    service             text NOT NULL,
    submission          jsonb NOT NULL,
    correlation_id      text NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    status              text NOT NULL DEFAULT 'received',
    decision            jsonb,
    decided_at          timestamptz
);
CREATE INDEX referrals_by_organisation ON referrals (organisation_code, received_at);

-- API keys: only a SHA-256 of each key is kept (keys are 256-bit random, so a plain hash
-- suffices; a slow password hash would only slow every request).
CREATE TABLE api_keys (
    key_id             text PRIMARY KEY,
    key_sha256         bytea NOT NULL UNIQUE,
    organisation_code  text NOT NULL,
    scope              text NOT NULL CHECK (scope IN ('referrer', 'notifier')),
    label              text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz
);

-- Idempotency-Key: the first answer is kept per organisation and key.
CREATE TABLE idempotency_keys (
    organisation_code  text NOT NULL,
    idempotency_key    text NOT NULL,
    request_sha256     bytea NOT NULL,
    referral_id        uuid NOT NULL REFERENCES referrals (referral_id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_code, idempotency_key)
);
