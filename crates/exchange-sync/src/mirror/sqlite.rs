//! The SQLite [`Mirror`] backend: one table of Fabric's store file, through
//! fabric-store's mirror API (fabric-store owns the file and its schema).

use std::path::Path;

use fabric_store::Store;
use fabric_store::mirror::{KeyRow, MirrorRow, MirrorRowRef, MirrorWriteRef};

use super::{Mirror, MirrorKeyRow, MirrorRecord, MirrorWrite, Scope};
use crate::error::{Error, Result};
use crate::hash::{ContentHash, ContentHashSet};

/// A mirror table in Fabric's SQLite store (`sqlite://PATH`).
#[derive(Debug)]
pub struct SqliteMirror {
    store: Store,
    table: String,
    /// Whether the table exists (reads of a missing table see no rows).
    exists: bool,
    /// The open transaction started on an empty table: the first write drops the
    /// exchange_id and hash indexes (a bulk load), see `Store::mirror_defer_indexes`.
    bulk_candidate: bool,
    /// Those indexes are dropped and must be rebuilt before a read or the commit.
    deferred: bool,
    /// The whole-file check of the policy, if any, running on its own connection while
    /// the command reads; every write and every result waits for it ([`Mirror::settle`]).
    check: Option<std::thread::JoinHandle<fabric_store::Result<std::time::Duration>>>,
    /// How long that check took, once it has answered.
    check_took: Option<std::time::Duration>,
}

impl SqliteMirror {
    /// Open (creating if needed) the store at `path` and bind the mirror table for
    /// `sql_target` `schema.table` (`<schema>_<table>` in SQLite).
    pub fn open(path: &Path, schema: &str, table: &str) -> Result<Self> {
        let table = fabric_store::mirror::table_name(schema, table)?;
        // The whole-file check the store's policy asks for (`$FABRIC_CHECK`): none
        // under `touched` (the default: SQLite checks each page the sync reads or
        // writes), else `quick_check` or `integrity_check`. It runs on a second
        // connection while the sync reads the mirror and the pack: nothing is
        // written and no result is given before it has answered `ok`.
        let store = Store::open_checked(path, fabric_store::OpenCheck::Caller)?;
        let check = match fabric_store::check_policy() {
            fabric_store::CheckPolicy::Touched => None,
            policy => {
                let check_path = store.path().to_path_buf();
                let whole = policy.open_check();
                let handle = std::thread::Builder::new()
                    .name("fabric-store-check".into())
                    .spawn(move || fabric_store::check_file(&check_path, whole))
                    .map_err(|e| {
                        Error::Internal(format!("cannot start the integrity check: {e}"))
                    })?;
                Some(handle)
            }
        };
        let mut mirror = Self::bind(store, table, check);
        match mirror.store.mirror_missing_objects(&mirror.table) {
            Ok(missing) => mirror.exists = !missing.contains(&mirror.table),
            Err(e) => {
                // A damaged file: the check's answer says more than the read's.
                mirror.settle()?;
                return Err(e.into());
            }
        }
        Ok(mirror)
    }

    /// Open the store at `path` for reading only (a dry run): a missing file is
    /// not created (it reads as the empty store a real run would start from), an
    /// existing one is opened read only. Nothing is ever written.
    pub fn open_read(path: &Path, schema: &str, table: &str) -> Result<Self> {
        let table = fabric_store::mirror::table_name(schema, table)?;
        let store = Store::open_read_or_empty(path)?;
        let mut mirror = Self::bind(store, table, None);
        let missing = mirror.store.mirror_missing_objects(&mirror.table)?;
        mirror.exists = !missing.contains(&mirror.table);
        Ok(mirror)
    }

    /// The mirror of `table` in `store`, its table not looked at yet.
    fn bind(
        store: Store,
        table: String,
        check: Option<std::thread::JoinHandle<fabric_store::Result<std::time::Duration>>>,
    ) -> Self {
        SqliteMirror {
            store,
            table,
            exists: false,
            bulk_candidate: false,
            deferred: false,
            check,
            check_took: None,
        }
    }

    /// How long the check of the file at open took (once it has answered).
    pub fn check_duration(&self) -> Option<std::time::Duration> {
        self.check_took
    }

    /// The SQLite table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Rebuild the indexes dropped for a bulk load, if any.
    fn restore_indexes(&mut self) -> Result<()> {
        if self.deferred {
            self.store.mirror_restore_indexes(&self.table)?;
            self.deferred = false;
        }
        Ok(())
    }

    fn bad_row(&self, id: &str, reason: String) -> Error {
        Error::MirrorRow {
            target: self.describe(),
            exchange_id: id.to_owned(),
            reason,
        }
    }

    /// The stored hash and observation time of row `id`, parsed.
    fn hash_and_time(
        &self,
        id: &str,
        hash: &str,
        observed_at: &str,
    ) -> Result<(ContentHash, time::OffsetDateTime)> {
        let content_sha256 = hash
            .parse()
            .map_err(|e: crate::hash::BadHash| self.bad_row(id, e.to_string()))?;
        let observed_at_utc = crate::timestamp::parse(observed_at).ok_or_else(|| {
            self.bad_row(id, format!("observed_at_utc {observed_at:?} is not a time"))
        })?;
        Ok((content_sha256, observed_at_utc))
    }

    fn key_row(&self, row: KeyRow) -> Result<MirrorKeyRow> {
        let (content_sha256, observed_at_utc) =
            self.hash_and_time(&row.exchange_id, &row.content_sha256, &row.observed_at_utc)?;
        Ok(MirrorKeyRow {
            content_sha256,
            observed_at_utc,
            exchange_id: row.exchange_id,
        })
    }

    fn record(&self, row: MirrorRow) -> Result<MirrorRecord> {
        let (content_sha256, observed_at_utc) =
            self.hash_and_time(&row.exchange_id, &row.content_sha256, &row.observed_at_utc)?;
        Ok(MirrorRecord {
            content_sha256,
            observed_at_utc,
            exchange_id: row.exchange_id,
            exchange_type: row.exchange_type,
            source_system: row.source_system,
            entity_type: row.entity_type,
            natural_key: row.natural_key,
            payload_json: row.payload_json,
            schema_version: row.schema_version,
        })
    }

    fn ensure_tx(&self) -> Result<()> {
        if self.store.mirror_in_transaction() {
            Ok(())
        } else {
            Err(Error::Internal(format!(
                "{}: write outside a transaction",
                self.describe()
            )))
        }
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

impl Mirror for SqliteMirror {
    fn describe(&self) -> String {
        format!("sqlite://{} ({})", self.store.path().display(), self.table)
    }

    fn schema_script(&self) -> String {
        fabric_store::mirror::ddl(&self.table)
    }

    fn missing_schema_objects(&mut self) -> Result<Vec<String>> {
        self.restore_indexes()?;
        Ok(self.store.mirror_missing_objects(&self.table)?)
    }

    fn apply_schema(&mut self) -> Result<Vec<String>> {
        self.settle()?;
        let created = self.store.mirror_apply_schema(&self.table)?;
        self.exists = true;
        Ok(created)
    }

    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        let mut out = ContentHashSet::default();
        self.for_each_hash_in_scope(scope, &mut |h| {
            out.insert(h);
        })?;
        Ok(out)
    }

    fn for_each_hash_in_scope(
        &mut self,
        scope: &Scope,
        each: &mut dyn FnMut(ContentHash),
    ) -> Result<()> {
        if !self.exists {
            return Ok(());
        }
        self.restore_indexes()?;
        let mut bad = None;
        self.store.mirror_hashes(
            &self.table,
            &scope.source_system,
            &scope.entity_type,
            |h| match h.parse() {
                Ok(h) => each(h),
                Err(_) => bad = Some(h.to_owned()),
            },
        )?;
        if let Some(h) = bad {
            return Err(self.bad_row("?", format!("content_sha256 {h:?} is not 64 hex")));
        }
        Ok(())
    }

    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        if !self.exists {
            return Ok(vec![None; keys.len()]);
        }
        keys.iter()
            .map(|k| {
                self.store
                    .mirror_find_key(&self.table, &scope.source_system, &scope.entity_type, k)?
                    .map(|row| self.key_row(row))
                    .transpose()
            })
            .collect()
    }

    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64> {
        if !self.exists {
            return Ok(0);
        }
        self.restore_indexes()?;
        let this = &*self;
        this.store.mirror_scan(
            &this.table,
            &scope.source_system,
            &scope.entity_type,
            |row| sink(this.record(row)?),
        )
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        if !self.exists {
            return Ok(0);
        }
        self.restore_indexes()?;
        Ok(self.store.mirror_count(
            &self.table,
            scope.map(|s| (s.source_system.as_str(), s.entity_type.as_str())),
        )?)
    }

    fn begin(&mut self) -> Result<()> {
        if self.store.mirror_in_transaction() {
            return Err(Error::Internal(format!(
                "{}: nested transaction",
                self.describe()
            )));
        }
        let missing = self.store.mirror_missing_objects(&self.table)?;
        if !missing.is_empty() {
            self.settle()?;
            self.store.mirror_apply_schema(&self.table)?;
        }
        self.exists = true;
        self.store.mirror_begin()?;
        self.bulk_candidate = true;
        self.deferred = false;
        Ok(())
    }

    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        self.ensure_tx()?;
        // The same column limits as SQL Server: a record one backend takes, both take.
        crate::limits::check_writes(&self.describe(), writes)?;
        self.settle()?;
        if std::mem::take(&mut self.bulk_candidate) {
            self.deferred = self.store.mirror_defer_indexes(&self.table)?;
        }
        if writes
            .iter()
            .any(|w| matches!(w, MirrorWrite::Update { .. }))
        {
            // An update finds its row through the exchange_id index.
            self.restore_indexes()?;
        }
        // The two derived texts of each row, then rows borrowing everything else
        // (the payload line is bound in place, never copied).
        let texts: Vec<(String, String)> = writes
            .iter()
            .map(|w| {
                let r = match w {
                    MirrorWrite::Insert(r) | MirrorWrite::Update { record: r, .. } => r,
                };
                (r.content_sha256.to_hex(), r.observed_at_text())
            })
            .collect();
        let refs: Vec<MirrorWriteRef<'_>> = writes
            .iter()
            .zip(&texts)
            .map(|(w, (hash, time))| match w {
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
        Ok(self.store.mirror_write_batch(&self.table, &refs)?)
    }

    fn commit(&mut self) -> Result<()> {
        self.bulk_candidate = false;
        if let Err(e) = self.settle() {
            let _ = self.rollback();
            return Err(e);
        }
        if let Err(e) = self.restore_indexes() {
            let _ = self.rollback();
            return Err(e);
        }
        Ok(self.store.mirror_commit()?)
    }

    fn rollback(&mut self) -> Result<()> {
        self.bulk_candidate = false;
        self.deferred = false;
        Ok(self.store.mirror_rollback()?)
    }

    fn settle(&mut self) -> Result<()> {
        let Some(check) = self.check.take() else {
            return Ok(());
        };
        let took = check
            .join()
            .map_err(|_| Error::Internal("the integrity check stopped unexpectedly".into()))??;
        self.check_took = Some(took);
        Ok(())
    }
}

impl Drop for SqliteMirror {
    fn drop(&mut self) {
        let _ = self.store.mirror_rollback();
        // Do not leave the check's connection (and its shared lock) behind.
        let _ = self.settle();
    }
}
