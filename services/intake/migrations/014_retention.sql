-- Patient details kept no longer than needed (intake.service_layer.retention): a referral's
-- submission is erased a set time after it finished (`finished_at`: when it reached a final
-- state), or at once on request; what happened (states, times, decisions, outcome) stays.
ALTER TABLE referrals ALTER COLUMN submission DROP NOT NULL;
ALTER TABLE referrals ADD COLUMN finished_at timestamptz;
ALTER TABLE referrals ADD COLUMN erased_at timestamptz;
UPDATE referrals r SET finished_at = COALESCE(
    (SELECT max(t.at) FROM transitions t WHERE t.referral_id = r.referral_id), r.received_at)
WHERE r.status IN ('rejected', 'returned', 'cancelled', 'not-contactable', 'discharged');
CREATE INDEX referrals_to_erase ON referrals (finished_at)
    WHERE erased_at IS NULL AND finished_at IS NOT NULL;

-- Who did what to which referral outside its clinical steps (an erasure, on request or by
-- retention): who, when, why. Never a patient detail.
CREATE TABLE audit_log (
    audit_id     uuid PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL CHECK (action IN ('erased', 'erased-by-retention')),
    referral_id  uuid REFERENCES referrals (referral_id),
    reason       text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_referral ON audit_log (referral_id, at);
