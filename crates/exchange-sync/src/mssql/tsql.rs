//! Every T-SQL text the SQL Server mirror sends, built by pure functions.
//!
//! Nothing here talks to a server, so each statement is pinned by an insta snapshot
//! (`tests/it/mssql.rs`) that runs on every machine. Identifiers come only from a
//! validated [`TableName`]; every value is a bound parameter (`@P1`, `@P2`, ...).
//!
//! DDL: the original system's table (columns, primary key, the
//! length check, the unique hash index and the two time indexes), with the Fabric
//! fixes: the `(source_system, entity_type, natural_key)` index is
//! **unique** (filtered on `natural_key IS NOT NULL`), and updates address one row
//! by `exchange_id`. The key text columns use the binary collation [`EXACT`] so that
//! scope and key comparisons are exact and case-sensitive on any server collation.
//! Every object is guarded by an existence test: the script never drops anything.

use std::fmt::Write as _;

use crate::error::{Error, Result};

/// Binary, code-point-ordered collation: exact, case- and accent-sensitive compares.
pub const EXACT: &str = "Latin1_General_100_BIN2";

/// SQL Server's limit on parameters in one request (2,100), minus a safety margin.
pub const MAX_PARAMS: usize = 2_000;

/// Bound values per `UPDATE` of [`update_batch`].
pub const PARAMS_PER_UPDATE: usize = 10;

/// Updates per request: 200 x 10 = 2,000 parameters, under the 2,100 limit.
pub const UPDATES_PER_REQUEST: usize = MAX_PARAMS / PARAMS_PER_UPDATE;

/// Natural keys per lookup request: 2 scope parameters + 1,000 keys (also under
/// the 1,000-row limit of a `VALUES` list).
pub const KEYS_PER_LOOKUP: usize = 1_000;

/// The columns written by bulk insert, in table order: the record's, then the audit
/// columns `created_at_utc` and `updated_at_utc`.
pub const INSERT_COLUMNS: [&str; 11] =
    crate::mirror::server::record_columns_with(9, &["created_at_utc", "updated_at_utc"]);

/// A validated `[schema].[table]` from a manifest's `sql_target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: String,
    table: String,
}

impl TableName {
    /// Validate both names: non-empty, at most 128 characters (`sysname`), only
    /// letters, digits (Unicode) and `_`, not starting with a digit.
    pub fn new(schema: &str, table: &str) -> Result<Self> {
        check_identifier("sql_target.schema", schema)?;
        check_identifier("sql_target.table", table)?;
        // The derived constraint and index names must fit 128 characters too.
        crate::manifest::SqlTarget {
            schema: schema.to_owned(),
            table: table.to_owned(),
            ..crate::manifest::SqlTarget::default()
        }
        .validate()?;
        Ok(Self {
            schema: schema.to_owned(),
            table: table.to_owned(),
        })
    }

    /// The table of a manifest's `sql_target`.
    pub fn from_sql_target(target: &crate::manifest::SqlTarget) -> Result<Self> {
        Self::new(&target.schema, &target.table)
    }

    /// The schema name, unquoted.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The table name, unquoted.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// `[schema].[table]`.
    pub fn quoted(&self) -> String {
        format!("[{}].[{}]", self.schema, self.table)
    }

    /// `N'[schema].[table]'`, for `OBJECT_ID`.
    fn literal(&self) -> String {
        format!("N'{}'", self.quoted())
    }
}

fn check_identifier(what: &str, name: &str) -> Result<()> {
    let invalid = |reason: &str| Error::Invalid {
        what: what.to_owned(),
        reason: format!("{name:?} {reason}"),
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(invalid("is empty")),
        Some(c) if c.is_numeric() => return Err(invalid("starts with a digit")),
        Some(_) => {}
    }
    if name.chars().count() > 128 {
        return Err(invalid("is longer than 128 characters"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_')) {
        return Err(invalid(&format!(
            "holds {bad:?}: only letters, digits and _ are allowed"
        )));
    }
    Ok(())
}

/// One schema object of the mirror: how to test for it and how to create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaObject {
    /// Human name, e.g. `index [lake].[RawExchangeRecord].UX_RawExchangeRecord_NaturalKey`.
    pub name: String,
    /// A T-SQL boolean expression that is true when the object is missing.
    pub missing: String,
    /// The statement that creates it.
    pub create: String,
}

/// The mirror's objects in creation order: schema, table, then five indexes.
///
/// Every name derived from the table stays within SQL Server's 128 characters:
/// [`TableName::new`] refuses a table longer than
/// [`crate::manifest::MAX_TABLE_NAME`].
pub fn schema_objects(t: &TableName) -> Vec<SchemaObject> {
    let q = t.quoted();
    let name = t.table();
    let col = |c: &str| format!("{c} NVARCHAR(100) COLLATE {EXACT} NOT NULL");
    let table = [
        "exchange_id UNIQUEIDENTIFIER NOT NULL".to_owned(),
        format!("exchange_type NVARCHAR(50) COLLATE {EXACT} NOT NULL"),
        col("source_system"),
        col("entity_type"),
        format!("natural_key NVARCHAR(500) COLLATE {EXACT} NULL"),
        "observed_at_utc DATETIME2(7) NOT NULL".to_owned(),
        "content_sha256 CHAR(64) NOT NULL".to_owned(),
        "payload_json NVARCHAR(MAX) NOT NULL".to_owned(),
        "schema_version INT NOT NULL DEFAULT 1".to_owned(),
        "created_at_utc DATETIME2(7) NOT NULL DEFAULT SYSUTCDATETIME()".to_owned(),
        "updated_at_utc DATETIME2(7) NOT NULL DEFAULT SYSUTCDATETIME()".to_owned(),
        format!("CONSTRAINT [PK_{name}] PRIMARY KEY CLUSTERED (exchange_id)"),
        format!("CONSTRAINT [CK_{name}_ContentHashLength] CHECK (LEN(content_sha256) = 64)"),
    ];
    let index = |ix: &str, unique: bool, cols: &str, filter: &str| SchemaObject {
        name: format!("index {q}.{ix}"),
        missing: format!(
            "NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID({}) AND name = N'{ix}')",
            t.literal()
        ),
        create: format!(
            "CREATE {}INDEX [{ix}] ON {q} ({cols}){filter}",
            if unique { "UNIQUE " } else { "" }
        ),
    };
    vec![
        SchemaObject {
            name: format!("schema [{}]", t.schema()),
            missing: format!(
                "NOT EXISTS (SELECT 1 FROM sys.schemas WHERE name = N'{}')",
                t.schema()
            ),
            // CREATE SCHEMA must be alone in its batch: run it through EXEC.
            create: format!("EXEC(N'CREATE SCHEMA [{}]')", t.schema()),
        },
        SchemaObject {
            name: format!("table {q}"),
            missing: format!(
                "NOT EXISTS (SELECT 1 FROM sys.tables WHERE object_id = OBJECT_ID({}))",
                t.literal()
            ),
            create: format!(
                "CREATE TABLE {q} (\n        {}\n    )",
                table.join(",\n        ")
            ),
        },
        index(
            &format!("IX_{name}_ContentHash"),
            true,
            "content_sha256",
            "",
        ),
        index(
            &format!("UX_{name}_NaturalKey"),
            true,
            "source_system, entity_type, natural_key",
            " WHERE natural_key IS NOT NULL",
        ),
        // The export order (newest first, then exchange_id, the clustering key
        // every nonclustered index carries): keyset pages seek it, nothing sorts.
        index(
            &format!("IX_{name}_Scope_ObservedAt"),
            false,
            "source_system, entity_type, observed_at_utc DESC",
            "",
        ),
        index(
            &format!("IX_{name}_ObservedAt"),
            false,
            "observed_at_utc DESC",
            "",
        ),
        // Fabric: the hashes of a scope by one seek. A new name, so a table made
        // by the reference DDL (whose unique hash index has no scope columns) gets
        // it too.
        index(
            &format!("IX_{name}_Scope_ContentHash"),
            false,
            "source_system, entity_type, content_sha256",
            "",
        ),
    ]
}

/// The whole DDL as one script for people (`fabric exchange schema --print`),
/// ready for `sqlcmd` or SSMS: the `SET` options a filtered unique index needs
/// (classic `sqlcmd` runs with `QUOTED_IDENTIFIER OFF`, which fails it with error
/// 1934), then each object behind its `IF NOT EXISTS` guard, in batches split by
/// `GO`. Safe to run twice; never drops.
pub fn schema_script(t: &TableName) -> String {
    let mut out = format!(
        "-- Fabric SQL Server mirror for {} (the reference table + Fabric fixes).\n\
         -- Creates what is missing; never drops or alters anything.\n\
         {SCRIPT_PREAMBLE}\nGO\n",
        t.quoted()
    );
    for o in schema_objects(t) {
        let _ = write!(
            out,
            "\n-- {}\nIF {}\n    {};\nGO\n",
            o.name, o.missing, o.create
        );
    }
    out
}

/// The first batch of [`schema_script`]: the options SQL Server requires to
/// create and write a table with a filtered index.
pub const SCRIPT_PREAMBLE: &str = "SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;";

/// The batches of [`schema_script`] (split at its `GO` lines), as `sqlcmd` sends them.
pub fn script_batches(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut batch = String::new();
    for line in script.lines() {
        if line.trim().eq_ignore_ascii_case("GO") {
            if !batch.trim().is_empty() {
                out.push(std::mem::take(&mut batch));
            }
            batch.clear();
        } else {
            batch.push_str(line);
            batch.push('\n');
        }
    }
    if !batch.trim().is_empty() {
        out.push(batch);
    }
    out
}

/// One `SELECT` returning one `INT` column per object of [`schema_objects`]:
/// 1 when that object is missing, else 0.
pub fn missing_query(t: &TableName) -> String {
    let cols: Vec<String> = schema_objects(t)
        .iter()
        .map(|o| format!("CASE WHEN {} THEN 1 ELSE 0 END", o.missing))
        .collect();
    format!("SELECT\n    {}", cols.join(",\n    "))
}

/// The statement that creates `o` if it is still missing (run by `--apply`).
pub fn create_if_missing(o: &SchemaObject) -> String {
    format!("IF {}\n    {};", o.missing, o.create)
}

/// `WHERE` clause for a scope on `@P1`/`@P2`. The plain comparison lets the server
/// seek the index; the `COLLATE` repeat keeps the result exact even on a table made
/// by the reference DDL with a case-insensitive collation.
fn scope_where(alias: &str) -> String {
    format!(
        "{alias}source_system = @P1 AND {alias}entity_type = @P2 \
         AND {alias}source_system COLLATE {EXACT} = @P1 AND {alias}entity_type COLLATE {EXACT} = @P2"
    )
}

/// All hashes in a scope (`@P1` source_system, `@P2` entity_type).
pub fn hashes_in_scope(t: &TableName) -> String {
    format!(
        "SELECT content_sha256 FROM {} WHERE {}",
        t.quoted(),
        scope_where("")
    )
}

/// Newest row per natural key for `n` keys (`@P1`, `@P2` scope, `@P3..` keys).
/// Returns `(ord, exchange_id, content_sha256, observed_at_utc)`; `ord` is the
/// 0-based position of the key in the request. Ties on time go to the greatest
/// `exchange_id` in text order. `n` must be 1..=[`KEYS_PER_LOOKUP`].
pub fn find_by_natural_keys(t: &TableName, n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("({i}, @P{})", i + 3)).collect();
    format!(
        "SELECT k.ord, r.exchange_id, r.content_sha256, r.observed_at_utc\n\
         FROM (VALUES {}) AS k(ord, natural_key)\n\
         CROSS APPLY (\n    SELECT TOP (1) exchange_id, content_sha256, observed_at_utc FROM {}\n    \
         WHERE {} AND natural_key = k.natural_key AND natural_key COLLATE {EXACT} = k.natural_key\n    \
         ORDER BY observed_at_utc DESC, CONVERT(CHAR(36), exchange_id) COLLATE {EXACT} DESC\n) AS r",
        values.join(", "),
        t.quoted(),
        scope_where(""),
    )
}

/// Rows per page of [`export_page`].
pub const EXPORT_PAGE: usize = 2_000;

/// One keyset page of a scope's rows (`@P1`, `@P2` scope; `@P3` page size), newest
/// first, ties by `exchange_id` in SQL Server's `UNIQUEIDENTIFIER` order: the order
/// of the index `IX_<table>_Scope_ObservedAt` (whose rows carry `exchange_id` as
/// the clustering key), so the server seeks and never sorts a scope. `after`
/// (`@P4` time, `@P5` id) resumes after the last row of the previous page. Each
/// page is a short statement; no single one runs long.
pub fn export_page(t: &TableName, after: bool) -> String {
    let resume = if after {
        "\n  AND observed_at_utc <= @P4 \
         AND NOT (observed_at_utc = @P4 AND exchange_id <= @P5)"
    } else {
        ""
    };
    format!(
        "SELECT TOP (@P3) exchange_id, exchange_type, source_system, entity_type, natural_key, \
         observed_at_utc, content_sha256, payload_json, schema_version\n\
         FROM {} WHERE {}{resume}\n\
         ORDER BY observed_at_utc DESC, exchange_id ASC",
        t.quoted(),
        scope_where("")
    )
}

/// `COUNT_BIG(*)` of a scope (`@P1`, `@P2`) or, with `scoped = false`, the table.
pub fn count(t: &TableName, scoped: bool) -> String {
    if scoped {
        format!(
            "SELECT COUNT_BIG(*) FROM {} WHERE {}",
            t.quoted(),
            scope_where("")
        )
    } else {
        format!("SELECT COUNT_BIG(*) FROM {}", t.quoted())
    }
}

/// `n` single-row updates by primary key in one request, [`PARAMS_PER_UPDATE`]
/// parameters each: new `exchange_id`, `exchange_type`, `source_system`,
/// `entity_type`, `natural_key`, `observed_at_utc`, `content_sha256`,
/// `payload_json`, `schema_version`, then the old `exchange_id`. The server reports
/// one row count per statement; the caller checks each is exactly 1.
/// `n` must be 1..=[`UPDATES_PER_REQUEST`].
pub fn update_batch(t: &TableName, n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let p = |k: usize| format!("@P{}", i * PARAMS_PER_UPDATE + k);
        let _ = writeln!(
            out,
            "UPDATE {} SET exchange_id = {}, exchange_type = {}, source_system = {}, \
             entity_type = {}, natural_key = {}, observed_at_utc = {}, content_sha256 = {}, \
             payload_json = {}, schema_version = {}, updated_at_utc = SYSUTCDATETIME() \
             WHERE exchange_id = {};",
            t.quoted(),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10)
        );
    }
    out
}

/// The server's clock, read once per command for the audit columns of inserted rows.
pub const SERVER_TIME: &str = "SELECT SYSUTCDATETIME()";

/// Bound values per row of [`insert_rows`]: the nine data columns and the time.
pub const PARAMS_PER_INSERT: usize = 10;

/// Rows per request of [`insert_rows`]: 200 x 10 = 2,000 parameters.
pub const INSERTS_PER_REQUEST: usize = MAX_PARAMS / PARAMS_PER_INSERT;

/// Payloads longer than this many UTF-16 code units are inserted by [`insert_rows`],
/// not bulk load: tiberius issue #322 ("Invalid column type from bcp client" for
/// large `NVARCHAR` values in bulk insert) is still open, and 4,000 is the largest
/// `NVARCHAR(n)` below `MAX`.
pub const BULK_PAYLOAD_MAX: usize = 4_000;

/// How a new row is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertPath {
    /// In an `INSERT BULK` with its neighbours.
    Bulk,
    /// By a parameterized `INSERT` ([`insert_rows`]).
    Parameterized,
}

/// The path for a row whose payload is `payload_json`: bulk up to
/// [`BULK_PAYLOAD_MAX`] UTF-16 code units, parameterized past it.
pub fn insert_path(payload_json: &str) -> InsertPath {
    // UTF-16 units never exceed UTF-8 bytes: count them only for long payloads.
    if payload_json.len() <= BULK_PAYLOAD_MAX
        || payload_json.encode_utf16().count() <= BULK_PAYLOAD_MAX
    {
        InsertPath::Bulk
    } else {
        InsertPath::Parameterized
    }
}

/// `n` rows by one parameterized `INSERT` ([`PARAMS_PER_INSERT`] each: the nine
/// data columns in table order, then the server time for both audit columns).
/// `n` must be 1..=[`INSERTS_PER_REQUEST`].
pub fn insert_rows(t: &TableName, n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let p: Vec<String> = (1..=PARAMS_PER_INSERT)
                .map(|k| format!("@P{}", i * PARAMS_PER_INSERT + k))
                .collect();
            format!("({}, {})", p.join(", "), p[PARAMS_PER_INSERT - 1])
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES\n{};",
        t.quoted(),
        INSERT_COLUMNS.join(", "),
        rows.join(",\n")
    )
}

/// The scope lock every writer takes right after `BEGIN TRANSACTION`
/// (`@P1` resource name, `@P2` timeout in ms): `sp_getapplock`, exclusive, owned by
/// the transaction, so it ends with the commit or rollback. Returns one row, the
/// lock mode now held: `Exclusive` when granted, `NoLock` when the wait timed out
/// (or was cancelled, or chosen as a deadlock victim). Asking `APPLOCK_MODE`
/// rather than capturing the procedure's return status keeps the batch in the
/// grammar the statement test checks.
///
/// Chosen over `UPDLOCK, HOLDLOCK` reads: those lock key ranges of the natural-key
/// index one lookup at a time, so two imports of the same scope still interleave
/// their inserts and abort with error 2601 (or, on a table from the reference DDL,
/// whose key index is not unique, store duplicates); they also escalate on a large
/// import. One named lock per scope serializes writers whatever the indexes are,
/// leaves readers alone, and its timeout ends in a clear message.
pub const LOCK_SCOPE: &str = "EXEC sp_getapplock @Resource = @P1, @LockMode = 'Exclusive', \
@LockOwner = 'Transaction', @LockTimeout = @P2;\n\
SELECT APPLOCK_MODE('public', @P1, 'Transaction');";

/// The lock mode [`LOCK_SCOPE`] answers when the lock is held.
pub const LOCK_GRANTED: &str = "Exclusive";

/// The `sp_getapplock` resource for a scope of a table: at most 255 characters
/// whatever the names (a hash of the table and scope, after a readable prefix).
pub fn lock_resource(t: &TableName, source_system: &str, entity_type: &str) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for part in [t.schema(), t.table(), source_system, entity_type] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    format!("fabric-sync:{}", hex::encode(h.finalize()))
}

/// Sent once per connection: the SET options SQL Server requires for writes to a
/// table with a filtered index (the unique natural-key index), and autocommit off
/// only through explicit transactions.
pub const SESSION_SETTINGS: &str = "SET ANSI_NULLS ON; SET ANSI_PADDING ON; SET ANSI_WARNINGS ON; \
SET ARITHABORT ON; SET CONCAT_NULL_YIELDS_NULL ON; SET QUOTED_IDENTIFIER ON; \
SET NUMERIC_ROUNDABORT OFF; SET IMPLICIT_TRANSACTIONS OFF;";

/// Rolls back whatever is open, and succeeds when the server already ended the
/// transaction itself (some errors abort it).
pub const ROLLBACK: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;";
