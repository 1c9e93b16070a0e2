//! The exchange-record mirror table (SQLite target): every statement, transaction
//! and index deferral of it.
//!
//! One table per manifest `sql_target`, named `<schema>_<table>` ([`TableName`];
//! the default `lake_RawExchangeRecord` is created with the schema). Unique
//! `exchange_id`, unique `content_sha256`, unique `(source_system, entity_type,
//! natural_key)` for non-NULL keys. exchange-sync's SQLite `Mirror` backend is the
//! only caller; it decides every write, this module only stores and fetches rows.
//!
//! * [`Store::mirror`] gives the typed handle [`MirrorTable`] of one table: its
//!   schema ([`MirrorTable::missing_objects`], [`MirrorTable::apply_schema`]),
//!   reads ([`MirrorTable::reader`]) and the write transaction
//!   ([`MirrorTable::begin`]).
//! * [`MirrorTx`] is that transaction (`BEGIN IMMEDIATE`): writes go through it
//!   ([`MirrorTx::write_batch`]), reads inside it see them ([`MirrorTx::reader`]),
//!   [`MirrorTx::commit`] consumes it, and dropping it uncommitted rolls everything
//!   back (like [`crate::jobs::JobBatch`]).
//! * A first load into an empty table drops the exchange_id and hash indexes and
//!   builds each once before anything reads through them and before the commit
//!   (see [`MirrorTx::write_batch`]); a rollback restores them.
//!
//! ```
//! use fabric_store::mirror::{MirrorRowRef, MirrorWriteRef, TableName};
//!
//! # fn main() -> Result<(), fabric_store::Error> {
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = fabric_store::Store::open(dir.path().join("fabric.db"))?;
//! let table = TableName::new("lake", "RawExchangeRecord")?;
//! let hash = "a".repeat(64);
//! let row = MirrorRowRef {
//!     exchange_id: "00000000-0000-4000-8000-000000000001",
//!     exchange_type: "http",
//!     source_system: "crm",
//!     entity_type: "order",
//!     natural_key: Some("order-1"),
//!     observed_at_utc: "2026-01-01T00:00:00.000000Z",
//!     content_sha256: &hash,
//!     payload_json: "{}",
//!     schema_version: 1,
//! };
//!
//! // Dropped uncommitted: nothing stays.
//! let mut tx = store.mirror(&table).begin()?;
//! tx.write_batch(&[MirrorWriteRef::Insert(row)])?;
//! assert_eq!(tx.reader()?.count(None)?, 1); // reads see the transaction's writes
//! drop(tx);
//! assert_eq!(store.mirror(&table).reader()?.count(None)?, 0);
//!
//! // Committed: the row is there, found by its natural key.
//! let mut tx = store.mirror(&table).begin()?;
//! tx.write_batch(&[MirrorWriteRef::Insert(row)])?;
//! tx.commit()?;
//! let reader = store.mirror(&table).reader()?;
//! let found = reader.find_key("crm", "order", "order-1")?.unwrap();
//! assert_eq!(found.content_sha256, hash);
//! # Ok(())
//! # }
//! ```

mod read;
mod tx;
mod writeback;

pub use read::MirrorReader;
pub use tx::MirrorTx;

use crate::Store;
use crate::check::{after_check, failure_after_check};
use crate::error::{Error, Result};
use read::Waits;

/// The default table's DDL (also run when the schema is created).
const DEFAULT_DDL: &str = include_str!("../schema/mirror.sql");
const DEFAULT_TABLE: &str = "lake_RawExchangeRecord";

/// The SQLite name of a mirror table: `<schema>_<table>` for the `sql_target`
/// `schema.table`, each part letters, digits or `_` and not starting with a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl TableName {
    /// The table for `sql_target` `schema.table`, or [`Error::MirrorTableName`].
    pub fn new(schema: &str, table: &str) -> Result<Self> {
        for part in [schema, table] {
            let ok = !part.is_empty()
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !part.chars().next().is_some_and(|c| c.is_ascii_digit());
            if !ok {
                return Err(Error::MirrorTableName {
                    name: format!("{schema}.{table}"),
                });
            }
        }
        Ok(TableName(format!("{schema}_{table}")))
    }

    /// The name, e.g. `lake_RawExchangeRecord`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The DDL of the table and its indexes (idempotent: `IF NOT EXISTS`, no
    /// `DROP`).
    pub fn ddl(&self) -> String {
        DEFAULT_DDL.replace(DEFAULT_TABLE, &self.0)
    }

    /// The name quoted for SQL.
    fn quoted(&self) -> String {
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }

    /// The table and its four indexes. A table made before exchange_id's unique
    /// index existed (its PRIMARY KEY did the job) gets the index when the schema
    /// is next applied: redundant there, harmless.
    fn object_names(&self) -> [String; 5] {
        let t = &self.0;
        [
            t.clone(),
            format!("{t}_exchange_id"),
            format!("{t}_content_sha256"),
            format!("{t}_natural_key"),
            format!("{t}_scope_time"),
        ]
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One mirror row, its text columns exactly as stored: owned as read back
/// ([`MirrorReader::scan`]), or borrowed from the caller to be written
/// ([`MirrorRowRef`], no copies of the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MirrorRow<Text = String> {
    /// Primary key (lowercase UUID).
    pub exchange_id: Text,
    /// `exchange_type`.
    pub exchange_type: Text,
    /// `source_system`.
    pub source_system: Text,
    /// `entity_type`.
    pub entity_type: Text,
    /// `natural_key` (NULL for none).
    pub natural_key: Option<Text>,
    /// Fixed-width UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub observed_at_utc: Text,
    /// 64 lowercase hex.
    pub content_sha256: Text,
    /// The whole record line, stored byte for byte.
    pub payload_json: Text,
    /// Envelope schema version.
    pub schema_version: i64,
}

/// One mirror row to write, borrowed from the caller.
pub type MirrorRowRef<'a> = MirrorRow<&'a str>;

/// One write of a batch ([`MirrorTx::write_batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorWriteRef<'a> {
    /// Insert a new row.
    Insert(MirrorRowRef<'a>),
    /// Replace every column of the row whose primary key is `exchange_id`.
    Update {
        /// The primary key of the row to replace.
        exchange_id: &'a str,
        /// Its new contents.
        row: MirrorRowRef<'a>,
    },
}

/// The row holding a natural key, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Primary key.
    pub exchange_id: String,
    /// Content hash (hex).
    pub content_sha256: String,
    /// Fixed-width UTC text.
    pub observed_at_utc: String,
}

/// One mirror table of a store: its schema, its reads and its write transaction.
/// Get it with [`Store::mirror`]; it borrows the store.
#[derive(Debug)]
pub struct MirrorTable<'s> {
    store: &'s mut Store,
    table: &'s TableName,
}

impl Store {
    /// The mirror table `table` of this store (which may not exist yet: reads then
    /// see no rows, [`MirrorTable::begin`] creates it).
    pub fn mirror<'s>(&'s mut self, table: &'s TableName) -> MirrorTable<'s> {
        MirrorTable { store: self, table }
    }
}

impl<'s> MirrorTable<'s> {
    /// The table's name.
    pub fn name(&self) -> &TableName {
        self.table
    }

    /// The schema objects (table, indexes) of the table that do not exist: an
    /// answer, given once the whole-file check running beside the command (if any)
    /// has answered `ok`.
    pub fn missing_objects(&self) -> Result<Vec<String>> {
        let check = self.store.background_check();
        after_check(check, self.missing_now())
    }

    /// Create what is missing of the table (never dropping anything), in one
    /// transaction, once the whole-file check running beside the command (if any)
    /// has answered `ok`. Returns the objects created.
    pub fn apply_schema(&mut self) -> Result<Vec<String>> {
        let missing = self.missing_objects()?;
        if missing.is_empty() {
            return Ok(missing);
        }
        let table = self.table;
        let (conn, at) = self.store.split();
        let tx = conn
            .transaction()
            .map_err(|e| at.err("starting the mirror schema", e))?;
        tx.execute_batch(&table.ddl())
            .map_err(|e| at.err(format!("creating mirror table {table}"), e))?;
        tx.commit()
            .map_err(|e| at.err("committing the mirror schema", e))?;
        Ok(missing)
    }

    /// The reads of the table outside a transaction (a missing table reads as
    /// empty). Each answer is given once the whole-file check running beside the
    /// command (if any) has answered `ok`: it may be the command's result.
    pub fn reader(self) -> Result<MirrorReader<'s>> {
        let store: &'s Store = self.store;
        let waits = store.background_check().map_or(Waits::Never, Waits::Every);
        MirrorReader::new(store.conn(), store.at(), self.table, waits)
    }

    /// Start the command's write transaction (`BEGIN IMMEDIATE`: the write lock is
    /// taken now), creating the table first when it is missing. The rollback
    /// journal (not WAL) is kept: one big transaction is faster with it. Nothing
    /// waits here for the whole-file check running beside the command: the
    /// transaction's reads run beside it, and its first write and its commit wait.
    pub fn begin(mut self) -> Result<MirrorTx<'s>> {
        let check = self.store.background_check();
        if !failure_after_check(check, self.missing_now())?.is_empty() {
            self.apply_schema()?;
        }
        MirrorTx::begin(self.store, self.table)
    }

    /// [`MirrorTable::missing_objects`] without waiting for the check.
    fn missing_now(&self) -> Result<Vec<String>> {
        read::missing_objects(self.store.conn(), self.store.at(), self.table)
    }
}

#[cfg(test)]
pub(crate) mod tests;
