-- Schema version 1: byte-for-byte the reference system's `jobs` table, so
-- a database file is interchangeable with it.
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    final_status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    canonical_proxy_profile TEXT,
    fingerprint TEXT,
    validation_stage TEXT,
    validation_error TEXT,
    engine_used TEXT,
    resolve_preset_used TEXT,
    jobspec_version TEXT,
    completed_at TEXT,
    ingested_at TEXT NOT NULL,
    total_clips INTEGER NOT NULL,
    completed_clips INTEGER NOT NULL,
    failed_clips INTEGER NOT NULL,
    outputs_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_jobs_fingerprint ON jobs(fingerprint) WHERE fingerprint IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_jobs_profile ON jobs(canonical_proxy_profile) WHERE canonical_proxy_profile IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_jobs_status ON jobs(final_status);
CREATE INDEX IF NOT EXISTS idx_jobs_engine ON jobs(engine_used) WHERE engine_used IS NOT NULL;
