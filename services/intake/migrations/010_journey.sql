-- The journey after acceptance (intake.domain.lifecycle): booked, attended, did not attend,
-- not contactable, discharged. Each step's particulars are kept with it (`details`: the
-- appointment, the attempts to reach her, the discharge outcome), and the referral keeps the
-- appointment she has now, for her page and the clinic's.
ALTER TABLE transitions DROP CONSTRAINT transitions_action_check;
ALTER TABLE transitions ADD CONSTRAINT transitions_action_check CHECK (action IN (
    'decided', 'accepted', 'returned', 'cancelled', 'amended', 'booked',
    'appointment-cancelled', 'attended', 'did-not-attend', 'not-contactable', 'discharged'));
ALTER TABLE transitions ADD COLUMN details jsonb;
ALTER TABLE referrals ADD COLUMN appointment jsonb;

-- A clinic's worklist shows urgent referrals first, then the oldest (intake.views.worklist).
DROP INDEX referrals_worklist;
CREATE INDEX referrals_worklist ON referrals (
    destination, status, (NOT COALESCE((decision->>'urgent')::boolean, false)),
    received_at, referral_id);

-- A referring organisation's worklist (intake.views.worklist), in the same order.
DROP INDEX referrals_by_organisation;
CREATE INDEX referrals_by_organisation ON referrals (
    organisation_code, (NOT COALESCE((decision->>'urgent')::boolean, false)),
    received_at, referral_id) WHERE organisation_code IS NOT NULL;

-- The triage team's key (intake.triage_pages): people who decide what the rules could not.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check
    CHECK (scope IN ('referrer', 'notifier', 'clinic', 'triage'));
