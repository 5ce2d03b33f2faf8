-- Durable deadlines (intake.domain.clocks): a clock is set in the transaction of the step
-- that starts it and stopped in the one that ends it; `fire_due` claims due ones with
-- FOR UPDATE SKIP LOCKED and marks them fired in the transaction that queues their event,
-- so each fires once however many intake processes run, and again after a crash mid-fire.
CREATE TABLE deadlines (
    deadline_id  uuid PRIMARY KEY,
    referral_id  uuid NOT NULL REFERENCES referrals (referral_id),
    clock        text NOT NULL CHECK (clock IN ('accept', 'book', 'triage')),
    started_at   timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'fired', 'stopped')),
    ended_at     timestamptz
);
-- One running clock of each kind per referral; the firer reads the running ones by due time.
CREATE UNIQUE INDEX deadlines_running ON deadlines (referral_id, clock) WHERE state = 'running';
CREATE INDEX deadlines_due ON deadlines (due_at) WHERE state = 'running';
