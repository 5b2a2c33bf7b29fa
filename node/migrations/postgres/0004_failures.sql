-- Failures by node (Flamenco's policy): a chunk that failed on three different nodes (or on every
-- node there is) fails the job; a node with three failures in one job stops taking its chunks.
-- `chunk` is -1 for a failure before any chunk (the input unreadable on that node, say).
CREATE TABLE IF NOT EXISTS failures (
    job_id TEXT NOT NULL,
    chunk BIGINT NOT NULL,
    node TEXT NOT NULL,
    error TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_job_node ON failures (job_id, node);

-- Nodes that cannot run a job at all (its encoder or models are not there): they do not count
-- among the nodes a chunk must fail on, nor among those left to take it.
CREATE TABLE IF NOT EXISTS declines (
    job_id TEXT NOT NULL,
    node TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (job_id, node)
);

-- `kino-node worker --name N --drain` asks the running node N to finish its chunks in hand and stop
-- taking work; the node reads it with its heartbeat.
ALTER TABLE nodes ADD COLUMN drain_requested BIGINT NOT NULL DEFAULT 0;

-- The analysis pass spreads like the chunks: a node claims a chunk's analysis for a lease; the
-- analysis row records who made it and how many times it was saved.
ALTER TABLE chunks ADD COLUMN analysis_owner TEXT;
ALTER TABLE chunks ADD COLUMN analysis_until_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE analysis ADD COLUMN owner TEXT;
ALTER TABLE analysis ADD COLUMN saves BIGINT NOT NULL DEFAULT 1;
-- Heartbeats renew a node's analysis claims by owner.
CREATE INDEX IF NOT EXISTS chunks_analysis_owner ON chunks (analysis_owner) WHERE analysis_until_ms > 0;
