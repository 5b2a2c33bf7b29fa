-- Every job and chunk state change names its job on the `kino_changes` channel (ids only: far under
-- NOTIFY's 8000-byte limit), so the other nodes relay it to their clients at once and wake their
-- schedulers for a new job; they still poll, in case a notification is missed. Lease renewals,
-- which change no state, stay silent.
CREATE OR REPLACE FUNCTION kino_notify_job() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('kino_changes', NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION kino_notify_chunk() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('kino_changes', NEW.job_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS jobs_notify ON jobs;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW EXECUTE FUNCTION kino_notify_job();
DROP TRIGGER IF EXISTS chunks_notify ON chunks;
CREATE TRIGGER chunks_notify AFTER UPDATE OF state ON chunks
    FOR EACH ROW EXECUTE FUNCTION kino_notify_chunk();
