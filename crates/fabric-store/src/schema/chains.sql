-- Schema version 2: versioned snapshot chains and their activity log.
--
-- A chain is identified by `chain_key`; its versions are numbered 1, 2, 3... without
-- gaps (enforced below), so the number of versions of a chain is its highest version
-- and a history page never has to count rows. The large, immutable parts (payload,
-- changes summary) live in `chain_payloads`, so summaries never read them and moving
-- the active flag rewrites a small row only.
CREATE TABLE IF NOT EXISTS chain_versions (
    id INTEGER PRIMARY KEY,
    chain_key TEXT NOT NULL CHECK (length(chain_key) BETWEEN 1 AND 200),
    version INTEGER NOT NULL CHECK (version >= 1),
    -- how the payload (table chain_payloads) is stored: gzip of the canonical JSON
    encoding TEXT NOT NULL CHECK (encoding = 'gzip'),
    -- SHA-256 (lower-case hex) over the full canonical payload
    checksum TEXT NOT NULL CHECK (length(checksum) = 64),
    -- bytes of the canonical payload, and bytes stored
    data_size INTEGER NOT NULL CHECK (data_size >= 0),
    stored_size INTEGER NOT NULL CHECK (stored_size >= 0),
    -- source, retrieved_at, confidence, data_provider, api_version, processing_ms, warnings
    metadata TEXT NOT NULL CHECK (json_valid(metadata)),
    -- the version that was active when this one was created (same chain), if any
    parent_id INTEGER REFERENCES chain_versions(id),
    created_by TEXT NOT NULL CHECK (length(created_by) >= 1),
    created_at TEXT NOT NULL,
    is_active INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    deprecated_at TEXT,
    deprecated_reason TEXT,
    CHECK ((deprecated_at IS NULL) = (deprecated_reason IS NULL)),
    UNIQUE (chain_key, version)
);

-- Exactly one active version per chain (at most one by this index; at least one
-- because every operation that clears the flag sets it on another row of the chain
-- in the same transaction).
CREATE UNIQUE INDEX IF NOT EXISTS idx_chain_versions_active
    ON chain_versions(chain_key) WHERE is_active = 1;
CREATE INDEX IF NOT EXISTS idx_chain_versions_created ON chain_versions(created_at);

-- Versions are consecutive, and a parent belongs to the same chain.
CREATE TRIGGER IF NOT EXISTS chain_versions_insert
BEFORE INSERT ON chain_versions
BEGIN
    SELECT RAISE(ABORT, 'chain_versions: a new version must be the chain''s highest version + 1')
    WHERE NEW.version <> 1 + coalesce(
        (SELECT max(version) FROM chain_versions WHERE chain_key = NEW.chain_key), 0);
    SELECT RAISE(ABORT, 'chain_versions: the parent must be a version of the same chain')
    WHERE NEW.parent_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM chain_versions WHERE id = NEW.parent_id AND chain_key = NEW.chain_key);
END;

-- Immutability: only `is_active` may change, and a version may be deprecated once.
CREATE TRIGGER IF NOT EXISTS chain_versions_immutable
BEFORE UPDATE OF id, chain_key, version, encoding, checksum, data_size,
    stored_size, metadata, parent_id, created_by, created_at
ON chain_versions
BEGIN
    SELECT RAISE(ABORT, 'chain_versions: stored versions are immutable');
END;

CREATE TRIGGER IF NOT EXISTS chain_versions_deprecate_once
BEFORE UPDATE OF deprecated_at, deprecated_reason ON chain_versions
WHEN OLD.deprecated_at IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'chain_versions: a deprecation is permanent');
END;

CREATE TRIGGER IF NOT EXISTS chain_versions_no_delete
BEFORE DELETE ON chain_versions
BEGIN
    SELECT RAISE(ABORT, 'chain_versions: versions are never deleted');
END;

-- One row per version: the payload and the diff from its parent. Never changed.
CREATE TABLE IF NOT EXISTS chain_payloads (
    version_id INTEGER PRIMARY KEY REFERENCES chain_versions(id),
    -- gzip of the canonical JSON of the payload (fabric_core::json::to_canonical_string)
    payload BLOB NOT NULL,
    -- counts and paths of the diff from the parent (JSON); NULL for a chain's first
    -- version. No json_valid() CHECK here: `PRAGMA integrity_check` re-evaluates CHECK
    -- constraints at every open, and these texts can be large.
    changes_summary TEXT
);

CREATE TRIGGER IF NOT EXISTS chain_payloads_immutable
BEFORE UPDATE ON chain_payloads
BEGIN
    SELECT RAISE(ABORT, 'chain_payloads: stored payloads are immutable');
END;

CREATE TRIGGER IF NOT EXISTS chain_payloads_no_delete
BEFORE DELETE ON chain_payloads
BEGIN
    SELECT RAISE(ABORT, 'chain_payloads: payloads are never deleted');
END;

-- The activity log: who created, rolled back or deprecated what, and when.
CREATE TABLE IF NOT EXISTS chain_activity (
    id INTEGER PRIMARY KEY,
    chain_key TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'rollback', 'deprecate')),
    actor TEXT NOT NULL CHECK (length(actor) >= 1),
    at TEXT NOT NULL,
    from_version INTEGER,
    to_version INTEGER NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS idx_chain_activity_key ON chain_activity(chain_key, id);

CREATE TRIGGER IF NOT EXISTS chain_activity_immutable
BEFORE UPDATE ON chain_activity
BEGIN
    SELECT RAISE(ABORT, 'chain_activity: the activity log is append-only');
END;

CREATE TRIGGER IF NOT EXISTS chain_activity_no_delete
BEFORE DELETE ON chain_activity
BEGIN
    SELECT RAISE(ABORT, 'chain_activity: the activity log is append-only');
END;
