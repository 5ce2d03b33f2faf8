-- A referral's life after routing (intake.domain.lifecycle): every step, who made it, when and
-- why; the history `GET /v1/referrals/{id}` shows. A step's id is the event that announced it
-- (the decision's, or our own lifecycle event's), so a redelivered step is kept once.
CREATE TABLE transitions (
    transition_id  uuid PRIMARY KEY,
    referral_id    uuid NOT NULL REFERENCES referrals (referral_id),
    action         text NOT NULL
                   CHECK (action IN ('decided', 'accepted', 'returned', 'cancelled', 'amended')),
    actor          text NOT NULL CHECK (actor IN ('router', 'clinic', 'referrer', 'patient')),
    actor_id       text,          -- the site, the organisation, or who decided at triage
    before         text NOT NULL,
    after          text NOT NULL,
    reason_code    text,
    reason         text,          -- the directory's plain words for the code
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transitions_by_referral ON transitions (referral_id, at);

-- The site a referral is routed to (a clinic's worklist), and the ReferralReceived event its
-- latest decision must answer (a decision on facts since amended is not applied).
ALTER TABLE referrals ADD COLUMN destination text, ADD COLUMN received_event_id uuid;
UPDATE referrals SET destination = decision->'destination'->>'id' WHERE decision IS NOT NULL;
CREATE INDEX referrals_worklist ON referrals (destination, status, received_at, referral_id);

-- Idempotency-Key for the actions on a referral (cancel, amend, accept, return): the first
-- answer is kept, per organisation and key.
CREATE TABLE action_keys (
    organisation_code  text NOT NULL,
    idempotency_key    text NOT NULL,
    request_sha256     bytea NOT NULL,
    referral_id        uuid NOT NULL REFERENCES referrals (referral_id),
    answer             jsonb NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_code, idempotency_key)
);
