//! Every SQL text the PostgreSQL mirror sends, built by pure functions.
//!
//! Nothing here talks to a server, so each statement is pinned by an exact-text
//! test that runs on every machine. Identifiers come only from a validated
//! [`TableName`] and are always double-quoted (case kept); every value is a bound
//! parameter (`$1`, `$2`, ...).
//!
//! The table keeps the record byte for byte: `payload_json` is `text`, not `jsonb`
//! (jsonb reorders keys and respells numbers), and `observed_at_utc_text` keeps the
//! record's own spelling of the time (7 fractional digits are beyond
//! `timestamptz`) beside the typed `observed_at_utc` used for ordering and for
//! `prefer_newest`. Every object is guarded by `IF NOT EXISTS`: nothing is ever
//! dropped or altered.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::manifest::SqlTarget;

/// PostgreSQL's identifier limit in bytes (`NAMEDATALEN - 1`); longer names are
/// cut silently by the server, so they are refused here.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// The columns written by `COPY`, in table order: the record's, with
/// `observed_at_utc_text` after `observed_at_utc` (the audit columns take their
/// defaults).
pub const COPY_COLUMNS: [&str; 10] =
    crate::mirror::server::record_columns_with(6, &["observed_at_utc_text"]);

/// Index suffixes, in creation order: `<table>_<suffix>`.
const INDEXES: [(&str, &str); 3] = [
    (
        "content_sha256",
        "CREATE UNIQUE INDEX IF NOT EXISTS {idx} ON {table} (content_sha256)",
    ),
    (
        "natural_key",
        "CREATE UNIQUE INDEX IF NOT EXISTS {idx} ON {table} (source_system, entity_type, natural_key) WHERE natural_key IS NOT NULL",
    ),
    (
        "scope_observed",
        "CREATE INDEX IF NOT EXISTS {idx} ON {table} (source_system, entity_type, observed_at_utc DESC, exchange_id)",
    ),
];

/// A validated `schema.table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: String,
    table: String,
}

impl TableName {
    /// Check the manifest's names and that every identifier derived from them fits
    /// PostgreSQL's 63-byte limit.
    pub fn from_sql_target(t: &SqlTarget) -> Result<Self> {
        t.validate()?;
        let name = Self {
            schema: t.schema.clone(),
            table: t.table.clone(),
        };
        let longest = INDEXES
            .iter()
            .map(|(s, _)| name.table.len() + 1 + s.len())
            .chain([name.schema.len(), name.table.len() + "_pkey".len()])
            .max()
            .unwrap_or(0);
        if longest > MAX_IDENTIFIER_BYTES {
            return Err(Error::Invalid {
                what: "sql_target".into(),
                reason: format!(
                    "{}.{}: PostgreSQL cuts identifiers at {MAX_IDENTIFIER_BYTES} bytes, and the \
                     names built from this one (e.g. {}_scope_observed) would be {longest}; \
                     choose a shorter table name",
                    name.schema, name.table, name.table
                ),
            });
        }
        Ok(name)
    }

    /// `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.table)
    }

    /// `schema.table`, for messages.
    pub fn plain(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    fn index(&self, suffix: &str) -> String {
        format!("\"{}\".\"{}_{suffix}\"", self.schema, self.table)
    }
}

/// One schema object: its name for people and the statement that creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaObject {
    /// `schema`, `schema.table` or `schema.index`.
    pub name: String,
    /// The guarded `CREATE` statement.
    pub create: String,
    /// A query answering `true` when the object is missing.
    pub missing: String,
}

/// The schema, the table and its indexes, in creation order.
pub fn schema_objects(t: &TableName) -> Vec<SchemaObject> {
    let table = t.quoted();
    let mut out = vec![
        SchemaObject {
            name: t.schema.clone(),
            create: format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", t.schema),
            missing: format!("to_regnamespace('\"{}\"') IS NULL", t.schema),
        },
        SchemaObject {
            name: t.plain(),
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (\n\
                 \x20   exchange_id          uuid        NOT NULL,\n\
                 \x20   exchange_type        text        NOT NULL,\n\
                 \x20   source_system        text        NOT NULL,\n\
                 \x20   entity_type          text        NOT NULL,\n\
                 \x20   natural_key          text        NULL,\n\
                 \x20   observed_at_utc      timestamptz NOT NULL,\n\
                 \x20   observed_at_utc_text text        NOT NULL,\n\
                 \x20   content_sha256       char(64)    NOT NULL,\n\
                 \x20   payload_json         text        NOT NULL,\n\
                 \x20   schema_version       integer     NOT NULL,\n\
                 \x20   created_at_utc       timestamptz NOT NULL DEFAULT now(),\n\
                 \x20   updated_at_utc       timestamptz NOT NULL DEFAULT now(),\n\
                 \x20   CONSTRAINT \"{}_pkey\" PRIMARY KEY (exchange_id)\n\
                 )",
                t.table
            ),
            missing: format!("to_regclass('{table}') IS NULL"),
        },
    ];
    for (suffix, create) in INDEXES {
        let idx = format!("\"{}_{suffix}\"", t.table);
        out.push(SchemaObject {
            name: format!("{}.{}_{suffix}", t.schema, t.table),
            create: create.replace("{idx}", &idx).replace("{table}", &table),
            missing: format!("to_regclass('{}') IS NULL", t.index(suffix)),
        });
    }
    out
}

/// The whole DDL as one script for people (`fabric exchange schema --print`).
pub fn schema_script(t: &TableName) -> String {
    let mut s = format!(
        "-- Fabric exchange mirror {} (PostgreSQL). Safe to run again: creates what is\n\
         -- missing, never drops or alters anything.\n",
        t.plain()
    );
    for o in schema_objects(t) {
        let _ = writeln!(s, "{};", o.create);
    }
    s
}

/// One row of booleans, one per [`schema_objects`] entry: `true` = missing.
pub fn missing_query(t: &TableName) -> String {
    let parts: Vec<String> = schema_objects(t).into_iter().map(|o| o.missing).collect();
    format!("SELECT {}", parts.join(", "))
}

/// `COPY ... FROM STDIN (FORMAT binary)` over [`COPY_COLUMNS`].
pub fn copy_in(t: &TableName) -> String {
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        t.quoted(),
        COPY_COLUMNS.join(", ")
    )
}

/// Replace rows addressed by their old `exchange_id`, many per statement: `$1` is
/// the old ids and `$2..$11` the new [`COPY_COLUMNS`] values, each an array.
/// Returns the old id of every row touched.
pub fn update_batch(t: &TableName) -> String {
    format!(
        "UPDATE {} AS t SET exchange_id = v.exchange_id::uuid, exchange_type = v.exchange_type, \
         source_system = v.source_system, entity_type = v.entity_type, \
         natural_key = v.natural_key, observed_at_utc = v.observed_at_utc, \
         observed_at_utc_text = v.observed_at_utc_text, content_sha256 = v.content_sha256, \
         payload_json = v.payload_json, schema_version = v.schema_version, \
         updated_at_utc = now() \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::int4[]) \
         AS v(old_id, exchange_id, exchange_type, source_system, entity_type, natural_key, \
         observed_at_utc, observed_at_utc_text, content_sha256, payload_json, schema_version) \
         WHERE t.exchange_id = v.old_id::uuid \
         RETURNING v.old_id",
        t.quoted()
    )
}

/// Every hash in scope (`$1` source_system, `$2` entity_type).
pub fn hashes_in_scope(t: &TableName) -> String {
    format!(
        "SELECT content_sha256 FROM {} WHERE source_system = $1 AND entity_type = $2",
        t.quoted()
    )
}

/// The newest row for each key of `$3` (a text array) in scope, with its
/// 1-based position in the array.
pub fn find_by_natural_keys(t: &TableName) -> String {
    format!(
        "SELECT DISTINCT ON (k.ord) k.ord, t.exchange_id::text, t.content_sha256, t.observed_at_utc \
         FROM unnest($3::text[]) WITH ORDINALITY AS k(key, ord) \
         JOIN {} AS t ON t.natural_key = k.key \
         WHERE t.source_system = $1 AND t.entity_type = $2 \
         ORDER BY k.ord, t.observed_at_utc DESC, t.exchange_id DESC",
        t.quoted()
    )
}

/// Every row in scope, newest first, ties by `exchange_id` ascending.
pub fn export_scope(t: &TableName) -> String {
    format!(
        "SELECT exchange_id::text, exchange_type, source_system, entity_type, natural_key, \
         observed_at_utc, content_sha256, payload_json, schema_version \
         FROM {} WHERE source_system = $1 AND entity_type = $2 \
         ORDER BY observed_at_utc DESC, exchange_id ASC",
        t.quoted()
    )
}

/// The row count, in scope (`$1`, `$2`) or of the whole table.
pub fn count(t: &TableName, scoped: bool) -> String {
    if scoped {
        format!(
            "SELECT count(*) FROM {} WHERE source_system = $1 AND entity_type = $2",
            t.quoted()
        )
    } else {
        format!("SELECT count(*) FROM {}", t.quoted())
    }
}

/// Bound the lock wait of the rest of the transaction: the session's own
/// `lock_timeout` when it has one, else `$1` (e.g. `600000ms`).
pub const LOCK_WAIT: &str = "SELECT set_config('lock_timeout', CASE current_setting('lock_timeout') \
     WHEN '0' THEN $1::text ELSE current_setting('lock_timeout') END, true)";

/// Take the transaction-scoped advisory lock `$1` (a bigint), waiting for it.
pub const ADVISORY_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";

/// The advisory-lock key of a scope on a table: the first 8 bytes of
/// SHA-256(`fabric-mirror`, schema, table, source_system, entity_type), each part
/// followed by a NUL byte, read as a big-endian signed integer. The same scope on
/// the same table gives the same key in every process and release.
pub fn scope_lock_key(t: &TableName, source_system: &str, entity_type: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        "fabric-mirror",
        &t.schema,
        &t.table,
        source_system,
        entity_type,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Result<TableName> {
        TableName::from_sql_target(&SqlTarget {
            schema: "lake".into(),
            table: "RawExchangeRecord".into(),
            ..SqlTarget::default()
        })
    }

    #[test]
    fn the_script_creates_everything_and_drops_nothing() -> Result<()> {
        let s = schema_script(&table()?);
        assert_eq!(s.matches("IF NOT EXISTS").count(), 5);
        assert!(!s.contains("DROP") && !s.contains("ALTER"));
        assert!(s.contains("payload_json         text "));
        assert!(!s.contains("jsonb"));
        Ok(())
    }

    #[test]
    fn names_past_the_identifier_limit_are_refused() {
        let long = "t".repeat(50);
        let e = TableName::from_sql_target(&SqlTarget {
            schema: "lake".into(),
            table: long,
            ..SqlTarget::default()
        });
        assert!(matches!(e, Err(Error::Invalid { .. })));
    }

    #[test]
    fn lock_keys_are_stable_and_scoped() -> Result<()> {
        let t = table()?;
        assert_eq!(
            scope_lock_key(&t, "wiki", "page"),
            scope_lock_key(&t, "wiki", "page")
        );
        assert_ne!(
            scope_lock_key(&t, "wiki", "page"),
            scope_lock_key(&t, "wik", "ipage")
        );
        Ok(())
    }
}
