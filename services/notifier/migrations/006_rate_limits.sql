-- Rate-limit counts shared by every notifier process: the providers' budgets per window
-- (the same table as intake's; each service owns its schema).
CREATE TABLE rate_limits (
    key           text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
