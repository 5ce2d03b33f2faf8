-- Escalation (intake.service_layer.clocks): a referral is overdue from the moment one of its
-- promises is broken until its next step; whether the woman was told with the breach (at
-- most one such message in the directory's `escalation.tell_her_every_days`).
ALTER TABLE deadlines ADD COLUMN told_her boolean NOT NULL DEFAULT false;
ALTER TABLE referrals ADD COLUMN overdue_since timestamptz;
-- The worklists put overdue referrals first, then urgent ones, then the oldest.
DROP INDEX referrals_worklist;
CREATE INDEX referrals_worklist ON referrals (destination, status, received_at, referral_id);
