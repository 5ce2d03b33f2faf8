-- Staff sign in as themselves (intake.web.staff_sign_in): a session is a row, so that
-- signing out, or the provider's logout, ends it at once; the browser holds only its signed
-- id. `person_id` is the provider's pseudonymous subject; the name is shown in histories and
-- never leaves intake.
CREATE TABLE staff_sessions (
    session_id    uuid PRIMARY KEY,
    person_id     text NOT NULL,
    name          text NOT NULL,
    roles         jsonb NOT NULL,
    sites         jsonb NOT NULL,
    provider_sid  text,
    id_token      text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz
);
CREATE INDEX staff_sessions_by_provider_sid ON staff_sessions (provider_sid) WHERE ended_at IS NULL;

CREATE TABLE staff (
    person_id   text PRIMARY KEY,
    name        text NOT NULL,
    last_seen   timestamptz NOT NULL
);

-- The person who took a step (a clinician, someone at triage), besides the role it acted in.
ALTER TABLE transitions ADD COLUMN person_id text;

-- Operators' actions are audited beside erasures: a dead letter replayed (its referral, when
-- the event names one).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
    CHECK (action IN ('erased', 'erased-by-retention', 'replayed'));
