//! The SQLite [`Mirror`] backend: one table of Fabric's store file. Every
//! statement, the transaction and the index deferral of a bulk load live in
//! fabric-store ([`fabric_store::mirror`]); this adapter only converts rows and
//! checks the column limits every backend shares.

use std::path::Path;

use fabric_store::mirror::{
    KeyRow, MirrorReader, MirrorRow, MirrorRowRef, MirrorTx, MirrorWriteRef, TableName,
};
use fabric_store::{OpenCheck, Store, StoreOptions};

use super::{
    Mirror, MirrorKeyRow, MirrorRead, MirrorRecord, MirrorTransaction, MirrorWrite, Scope,
};
use crate::error::{Error, Result};
use crate::hash::{ContentHash, ContentHashSet};

/// A mirror table in Fabric's SQLite store (`sqlite://PATH`).
#[derive(Debug)]
pub struct SqliteMirror {
    store: Store,
    table: TableName,
}

/// The transaction of a [`SqliteMirror`]: fabric-store's [`MirrorTx`].
struct SqliteTx<'m> {
    tx: MirrorTx<'m>,
    target: String,
}

impl SqliteMirror {
    /// Open (creating if needed) the store at `path` with `options` and bind the
    /// mirror table for `sql_target` `schema.table` (`<schema>_<table>` in SQLite).
    ///
    /// The whole-file check of the options' policy (`$FABRIC_CHECK`), if any (none
    /// under `touched`, the default: SQLite checks each page the sync reads or
    /// writes), runs on a second connection while the sync reads the mirror and the
    /// pack: nothing is written and no result is given before it has answered `ok`
    /// (fabric-store's [`MirrorTx`] and [`MirrorReader`] wait for it).
    pub fn open(path: &Path, schema: &str, table: &str, options: &StoreOptions) -> Result<Self> {
        let table = TableName::new(schema, table)?;
        let mut store = options.open_checked(path, OpenCheck::Background)?;
        // Read the schema once: a damaged file fails here (with the check's answer
        // when the check fails too).
        store.mirror(&table).reader()?;
        Ok(SqliteMirror { store, table })
    }

    /// Open the store at `path` for reading only (a dry run): a missing file is
    /// not created (it reads as the empty store a real run would start from), an
    /// existing one is opened read only. Nothing is ever written.
    pub fn open_read(
        path: &Path,
        schema: &str,
        table: &str,
        options: &StoreOptions,
    ) -> Result<Self> {
        let table = TableName::new(schema, table)?;
        let mut store = options.open_read_or_empty(path)?;
        store.mirror(&table).missing_objects()?;
        Ok(SqliteMirror { store, table })
    }

    /// How long the whole-file check beside the command took (once it has
    /// answered).
    pub fn check_duration(&self) -> Option<std::time::Duration> {
        self.store.background_check_duration()
    }

    /// The SQLite table name.
    pub fn table(&self) -> &str {
        self.table.as_str()
    }

    fn reader(&mut self) -> Result<MirrorReader<'_>> {
        Ok(self.store.mirror(&self.table).reader()?)
    }
}

impl MirrorRead for SqliteMirror {
    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        let target = self.describe();
        hashes(&target, self.reader()?, scope).map(|(set, _)| set)
    }

    fn hashes_and_count_in_scope(&mut self, scope: &Scope) -> Result<(ContentHashSet, u64)> {
        let target = self.describe();
        hashes(&target, self.reader()?, scope)
    }

    fn for_each_hash_in_scope(
        &mut self,
        scope: &Scope,
        each: &mut dyn FnMut(ContentHash),
    ) -> Result<()> {
        let target = self.describe();
        each_hash(&target, self.reader()?, scope, each)
    }

    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        let target = self.describe();
        let rows = self
            .reader()?
            .find_keys(&scope.source_system, &scope.entity_type, keys)?;
        key_rows(&target, rows)
    }

    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64> {
        let target = self.describe();
        export(&target, self.reader()?, scope, sink)
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        count(self.reader()?, scope)
    }
}

impl Mirror for SqliteMirror {
    fn describe(&self) -> String {
        format!("sqlite://{} ({})", self.store.path().display(), self.table)
    }

    fn schema_script(&self) -> String {
        self.table.ddl()
    }

    fn missing_schema_objects(&mut self) -> Result<Vec<String>> {
        Ok(self.store.mirror(&self.table).missing_objects()?)
    }

    fn apply_schema(&mut self) -> Result<Vec<String>> {
        Ok(self.store.mirror(&self.table).apply_schema()?)
    }

    fn begin(&mut self, _scope: &Scope) -> Result<Box<dyn MirrorTransaction + '_>> {
        let target = self.describe();
        let tx = self.store.mirror(&self.table).begin()?;
        Ok(Box::new(SqliteTx { tx, target }))
    }
}

impl MirrorRead for SqliteTx<'_> {
    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        hashes(&self.target, self.tx.reader()?, scope).map(|(set, _)| set)
    }

    fn hashes_and_count_in_scope(&mut self, scope: &Scope) -> Result<(ContentHashSet, u64)> {
        hashes(&self.target, self.tx.reader()?, scope)
    }

    fn for_each_hash_in_scope(
        &mut self,
        scope: &Scope,
        each: &mut dyn FnMut(ContentHash),
    ) -> Result<()> {
        each_hash(&self.target, self.tx.reader()?, scope, each)
    }

    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        // Not through `reader`: a first load's dropped indexes stay dropped.
        let rows = self
            .tx
            .find_keys(&scope.source_system, &scope.entity_type, keys)?;
        key_rows(&self.target, rows)
    }

    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64> {
        export(&self.target, self.tx.reader()?, scope, sink)
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        count(self.tx.reader()?, scope)
    }
}

impl MirrorTransaction for SqliteTx<'_> {
    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        // The same column limits as SQL Server: a record one backend takes, both take.
        crate::limits::check_writes(&self.target, writes)?;
        // The two derived texts of each row, written one after the other into
        // one string (no allocation per row), then rows borrowing everything
        // else (the payload line is bound in place, never copied).
        let mut text = String::with_capacity(writes.len() * (64 + 27));
        let mut ends = Vec::with_capacity(writes.len());
        for w in writes {
            let r = match w {
                MirrorWrite::Insert(r) | MirrorWrite::Update { record: r, .. } => r,
            };
            r.content_sha256.write_hex(&mut text);
            let hash_end = text.len();
            crate::timestamp::write_fixed_utc_text(&mut text, r.observed_at_utc);
            ends.push((hash_end, text.len()));
        }
        let mut start = 0;
        let texts: Vec<(&str, &str)> = ends
            .iter()
            .map(|&(hash_end, end)| {
                let pair = (
                    text.get(start..hash_end).unwrap_or_default(),
                    text.get(hash_end..end).unwrap_or_default(),
                );
                start = end;
                pair
            })
            .collect();
        let refs: Vec<MirrorWriteRef<'_>> = writes
            .iter()
            .zip(&texts)
            .map(|(w, &(hash, time))| match w {
                MirrorWrite::Insert(r) => MirrorWriteRef::Insert(row_ref(r, hash, time)),
                MirrorWrite::Update {
                    exchange_id,
                    record,
                } => MirrorWriteRef::Update {
                    exchange_id,
                    row: row_ref(record, hash, time),
                },
            })
            .collect();
        Ok(self.tx.write_batch(&refs)?)
    }

    fn checkpoint(&mut self) -> Result<()> {
        Ok(self.tx.checkpoint()?)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    fn rollback(self: Box<Self>) -> Result<()> {
        Ok(self.tx.rollback()?)
    }
}

fn row_ref<'a>(r: &'a MirrorRecord, hash: &'a str, time: &'a str) -> MirrorRowRef<'a> {
    MirrorRowRef {
        exchange_id: &r.exchange_id,
        exchange_type: &r.exchange_type,
        source_system: &r.source_system,
        entity_type: &r.entity_type,
        natural_key: r.natural_key.as_deref(),
        observed_at_utc: time,
        content_sha256: hash,
        payload_json: &r.payload_json,
        schema_version: r.schema_version,
    }
}

fn bad_row(target: &str, id: &str, reason: String) -> Error {
    Error::MirrorRow {
        target: target.to_owned(),
        exchange_id: id.to_owned(),
        reason,
    }
}

/// A key row, its stored hash and observation time parsed.
fn key_row(target: &str, row: KeyRow) -> Result<MirrorKeyRow> {
    let bad = |reason| bad_row(target, &row.exchange_id, reason);
    let content_sha256 = row
        .content_sha256
        .parse()
        .map_err(|e: crate::hash::BadHash| bad(e.to_string()))?;
    let observed_at_utc = crate::timestamp::parse(&row.observed_at_utc).ok_or_else(|| {
        bad(format!(
            "observed_at_utc {:?} is not a time",
            row.observed_at_utc
        ))
    })?;
    Ok(MirrorKeyRow {
        content_sha256,
        observed_at_utc,
        exchange_id: row.exchange_id,
    })
}

fn record(target: &str, row: MirrorRow) -> Result<MirrorRecord> {
    let MirrorRow {
        exchange_id,
        exchange_type,
        source_system,
        entity_type,
        natural_key,
        observed_at_utc,
        content_sha256,
        payload_json,
        schema_version,
    } = row;
    // The columns a key row has are parsed as a key row's.
    let key = key_row(
        target,
        KeyRow {
            exchange_id,
            content_sha256,
            observed_at_utc,
        },
    )?;
    Ok(MirrorRecord {
        content_sha256: key.content_sha256,
        observed_at_utc: key.observed_at_utc,
        exchange_id: key.exchange_id,
        exchange_type,
        source_system,
        entity_type,
        natural_key,
        payload_json,
        schema_version,
    })
}

/// The hashes in `scope` and the number of its rows: the rows read, one hash
/// each (the column is `NOT NULL`, and a hash that is not text is an error).
fn hashes(target: &str, reader: MirrorReader<'_>, scope: &Scope) -> Result<(ContentHashSet, u64)> {
    let mut out = ContentHashSet::default();
    let mut rows = 0u64;
    each_hash(target, reader, scope, &mut |h| {
        rows += 1;
        out.insert(h);
    })?;
    Ok((out, rows))
}

fn each_hash(
    target: &str,
    reader: MirrorReader<'_>,
    scope: &Scope,
    each: &mut dyn FnMut(ContentHash),
) -> Result<()> {
    let mut bad = None;
    reader.hashes(&scope.source_system, &scope.entity_type, |h| {
        match h.parse() {
            Ok(h) => each(h),
            Err(_) => bad = Some(h.to_owned()),
        }
    })?;
    match bad {
        Some(h) => Err(bad_row(
            target,
            "?",
            format!("content_sha256 {h:?} is not 64 hex"),
        )),
        None => Ok(()),
    }
}

fn key_rows(target: &str, rows: Vec<Option<KeyRow>>) -> Result<Vec<Option<MirrorKeyRow>>> {
    rows.into_iter()
        .map(|row| row.map(|row| key_row(target, row)).transpose())
        .collect()
}

fn export(
    target: &str,
    reader: MirrorReader<'_>,
    scope: &Scope,
    sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
) -> Result<u64> {
    reader.scan(&scope.source_system, &scope.entity_type, |row| {
        sink(record(target, row)?)
    })
}

fn count(reader: MirrorReader<'_>, scope: Option<&Scope>) -> Result<u64> {
    Ok(reader.count(scope.map(|s| (s.source_system.as_str(), s.entity_type.as_str())))?)
}
