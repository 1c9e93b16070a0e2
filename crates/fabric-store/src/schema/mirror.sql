-- Schema version 2: the exchange-record mirror table (SQLite target).
-- One table per manifest `sql_target`, named `<schema>_<table>`; this is the default
-- (`lake.RawExchangeRecord`). Other names get the same DDL with the name replaced
-- (fabric_store::mirror::TableName::ddl). observed_at_utc is fixed-width UTC text
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ), so text order is time order.
-- exchange_id is unique through a named index rather than a PRIMARY KEY: a first
-- load into an empty table drops the exchange_id and content_sha256 indexes and
-- builds each once at the end (fabric_store::mirror::MirrorTx::write_batch); a
-- primary key's index cannot be dropped. Files made before this change keep their
-- PRIMARY KEY and work as well.
-- The scope index ends with exchange_id DESC: read backwards it gives the export
-- order (observed_at_utc DESC, exchange_id ASC) with no sort step. Tables made
-- before have it without exchange_id; SQLite then sorts each run of equal times.
CREATE TABLE IF NOT EXISTS lake_RawExchangeRecord (
    exchange_id     TEXT    NOT NULL,
    exchange_type   TEXT    NOT NULL,
    source_system   TEXT    NOT NULL,
    entity_type     TEXT    NOT NULL,
    natural_key     TEXT    NULL,
    observed_at_utc TEXT    NOT NULL,
    content_sha256  TEXT    NOT NULL CHECK (length(content_sha256) = 64),
    payload_json    TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL DEFAULT 1,
    created_at_utc  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at_utc  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS lake_RawExchangeRecord_exchange_id
    ON lake_RawExchangeRecord (exchange_id);
CREATE UNIQUE INDEX IF NOT EXISTS lake_RawExchangeRecord_content_sha256
    ON lake_RawExchangeRecord (content_sha256);
CREATE UNIQUE INDEX IF NOT EXISTS lake_RawExchangeRecord_natural_key
    ON lake_RawExchangeRecord (source_system, entity_type, natural_key)
    WHERE natural_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS lake_RawExchangeRecord_scope_time
    ON lake_RawExchangeRecord (source_system, entity_type, observed_at_utc, exchange_id DESC);
