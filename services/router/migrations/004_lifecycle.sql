-- Referrals that left routing for good (cancelled): triage no longer waits on them.
CREATE TABLE closed (
    referral_id  uuid PRIMARY KEY REFERENCES referrals (referral_id),
    why          text NOT NULL,
    closed_at    timestamptz NOT NULL DEFAULT now()
);
