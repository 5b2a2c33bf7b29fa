-- Each node's resource readings every few seconds (the dashboard's charts), kept for a day.
CREATE TABLE IF NOT EXISTS resource_samples (
    node TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resource_samples_at ON resource_samples (at_ms);
