-- Rate-limit counts shared by every intake process (form posts, failed API keys), per
-- client and fixed window; the client is a keyed hash, never its address.
CREATE TABLE rate_limits (
    key           text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
