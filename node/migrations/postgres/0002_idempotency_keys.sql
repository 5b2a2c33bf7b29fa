-- Idempotency-Key of POST /api/jobs: the first request's body hash and job, kept 48 h.

CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
