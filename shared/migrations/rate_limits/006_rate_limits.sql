-- Rate-limit counts shared by every process of a service (form posts and failed API keys at
-- intake, the providers' budgets at the notifier), per key and fixed window; a client is a
-- keyed hash, never its address. Code: shared/rate_limits.py. Each service owns its schema.
-- This file was once a copy in each service's migrations; those copies' checksums:
-- replaces: 0da6d7d3642abe12f42d0f7ff0e8f617dd1147fa5578688f2c35eea4b2cb0a93
-- replaces: d18a90033f531513a0e35c4d12670a0a955d77e0362ff81c164f9e0884b05505
CREATE TABLE rate_limits (
    key           text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
