-- The schema as it stood before migrations were numbered: IF NOT EXISTS keeps kino.db files made
-- by earlier versions working (their tables are already there).

CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    job_key TEXT NOT NULL,
    spec TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    frames_total BIGINT NOT NULL DEFAULT 0,
    planned BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS jobs_key ON jobs (job_key);

CREATE TABLE IF NOT EXISTS chunks (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    start_pts BIGINT NOT NULL,
    end_pts BIGINT NOT NULL,
    decode_from_pts BIGINT NOT NULL,
    frames BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    renders BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (job_id, idx)
);

CREATE TABLE IF NOT EXISTS analysis (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);

CREATE TABLE IF NOT EXISTS report_sections (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    length BIGINT NOT NULL,
    metadata TEXT NOT NULL,
    complete BIGINT NOT NULL DEFAULT 0,
    sha256 TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
