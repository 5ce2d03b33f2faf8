-- Two more clocks (intake.domain.clocks): the promise from the routing decision to her
-- attending an appointment, and the reminder before a booked appointment (restarted when it
-- is changed, stopped when it is cancelled).
ALTER TABLE deadlines DROP CONSTRAINT deadlines_clock_check;
ALTER TABLE deadlines ADD CONSTRAINT deadlines_clock_check
    CHECK (clock IN ('accept', 'book', 'appointment', 'triage', 'reminder'));
