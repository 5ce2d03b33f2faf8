-- Referrals that came in as BaRS messages, and where each organisation that sends them wants
-- to hear back: its own $process-message endpoint (one per organisation, like its API key).
ALTER TABLE referrals DROP CONSTRAINT referrals_channel_check;
ALTER TABLE referrals ADD CONSTRAINT referrals_channel_check
    CHECK (channel IN ('api', 'bars', 'self-referral'));

CREATE TABLE bars_endpoints (
    organisation_code  text PRIMARY KEY,
    url                text NOT NULL CHECK (url ~ '^https?://'),
    registered_at      timestamptz NOT NULL DEFAULT now()
);
