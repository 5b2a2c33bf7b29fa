-- Farm mode: fenced leases (a number that grows on every claim), the chunk's renderer kept after it
-- is done, one assembler per job, and the nodes that share this store.

ALTER TABLE chunks ADD COLUMN lease_no BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN assembler TEXT;
ALTER TABLE jobs ADD COLUMN assembly_until_ms BIGINT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    info TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    draining BIGINT NOT NULL DEFAULT 0
);

-- What changed lately, read by every serving node of a farm to relay the others' events.
CREATE INDEX IF NOT EXISTS jobs_updated ON jobs (updated_ms);
CREATE INDEX IF NOT EXISTS chunks_updated ON chunks (updated_ms);

-- Claims look for the first claimable chunk of a job: through this index, not past its done ones.
CREATE INDEX IF NOT EXISTS chunks_claimable ON chunks (job_id, idx) WHERE state IN ('pending', 'running');
-- Heartbeats renew a node's leases by owner.
CREATE INDEX IF NOT EXISTS chunks_running_owner ON chunks (lease_owner) WHERE state = 'running';
