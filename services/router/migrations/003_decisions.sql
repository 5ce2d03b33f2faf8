-- Each received referral (no patient identifiers: the event as routing saw it).
CREATE TABLE referrals (
    referral_id         uuid PRIMARY KEY,
    tracking_reference  text NOT NULL,
    service             text NOT NULL,
    received            jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);

-- Every decision, by the rules or by a person, with its reasons and rules version.
CREATE TABLE decisions (
    decision_id         uuid PRIMARY KEY,          -- the published event's id
    referral_id         uuid NOT NULL REFERENCES referrals (referral_id),
    outcome             text NOT NULL CHECK (outcome IN ('routed', 'rejected', 'needs-triage')),
    destination         jsonb,
    reasons             jsonb NOT NULL,
    signposting         jsonb NOT NULL,
    urgent              boolean NOT NULL,
    rules_version       text NOT NULL,
    decided_by          text NOT NULL,
    decided_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_by_referral ON decisions (referral_id, decided_at DESC);
