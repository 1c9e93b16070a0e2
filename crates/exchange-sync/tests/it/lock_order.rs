//! The scope lock comes before any read of the scope: the sync engine begins its
//! transaction (which takes the scope's writer lock: SQL Server's `sp_getapplock`,
//! PostgreSQL's advisory lock) before it reads anything, and reads only through
//! that transaction, so a second writer reads what the first committed. A lock
//! that is not granted ends the run before any read, with the backend's
//! `ScopeBusy`. Checked on a real SQLite mirror whose calls are recorded.

use exchange_sync::manifest::{Direction, Manifest};

use crate::roundtrip::{now, sync_file};
use exchange_sync::mirror::sqlite::SqliteMirror;
use exchange_sync::pack::{PackEntry, PackWriter};
use exchange_sync::sync::SyncOptions;
use exchange_sync::{
    ContentHash, ContentHashSet, Error, ExchangeRecord, Mirror, MirrorKeyRow, MirrorRead,
    MirrorRecord, MirrorTransaction, MirrorWrite, Provenance, Result, Scope,
};
use fabric_store::StoreOptions;
use serde_json::json;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A real mirror that records which calls the engine makes, and can refuse the
/// scope lock as a busy server does (after opening its transaction, which is
/// then rolled back).
struct Recorder {
    inner: SqliteMirror,
    calls: Vec<&'static str>,
    busy: bool,
}

/// The transaction of a [`Recorder`]: its reads are recorded as `tx:` calls.
struct RecordedTx<'m> {
    inner: Box<dyn MirrorTransaction + 'm>,
    calls: &'m mut Vec<&'static str>,
}

/// The calls that read the scope outside a transaction.
const READS: [&str; 5] = [
    "hashes_in_scope",
    "for_each_hash_in_scope",
    "find_by_natural_keys",
    "export_scope",
    "count",
];

/// The same reads inside the transaction.
const TX_READS: [&str; 5] = [
    "tx:hashes_in_scope",
    "tx:for_each_hash_in_scope",
    "tx:find_by_natural_keys",
    "tx:export_scope",
    "tx:count",
];

/// [`MirrorRead`] for a recording type: each read pushes its name (with
/// `$prefix`) and goes to `self.inner`.
macro_rules! recorded_reads {
    ($ty:ty, $prefix:literal) => {
        impl MirrorRead for $ty {
            fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
                self.calls.push(concat!($prefix, "hashes_in_scope"));
                self.inner.hashes_in_scope(scope)
            }
            fn for_each_hash_in_scope(
                &mut self,
                scope: &Scope,
                each: &mut dyn FnMut(ContentHash),
            ) -> Result<()> {
                self.calls.push(concat!($prefix, "for_each_hash_in_scope"));
                self.inner.for_each_hash_in_scope(scope, each)
            }
            fn find_by_natural_keys(
                &mut self,
                scope: &Scope,
                keys: &[&str],
            ) -> Result<Vec<Option<MirrorKeyRow>>> {
                self.calls.push(concat!($prefix, "find_by_natural_keys"));
                self.inner.find_by_natural_keys(scope, keys)
            }
            fn export_scope(
                &mut self,
                scope: &Scope,
                sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
            ) -> Result<u64> {
                self.calls.push(concat!($prefix, "export_scope"));
                self.inner.export_scope(scope, sink)
            }
            fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
                self.calls.push(concat!($prefix, "count"));
                self.inner.count(scope)
            }
        }
    };
}

recorded_reads!(Recorder, "");
recorded_reads!(RecordedTx<'_>, "tx:");

impl Mirror for Recorder {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn schema_script(&self) -> String {
        self.inner.schema_script()
    }
    fn missing_schema_objects(&mut self) -> Result<Vec<String>> {
        self.calls.push("missing_schema_objects");
        self.inner.missing_schema_objects()
    }
    fn apply_schema(&mut self) -> Result<Vec<String>> {
        self.calls.push("apply_schema");
        self.inner.apply_schema()
    }
    fn begin(&mut self, scope: &Scope) -> Result<Box<dyn MirrorTransaction + '_>> {
        self.calls.push("begin");
        let target = self.inner.describe();
        let inner = self.inner.begin(scope)?;
        if self.busy {
            drop(inner);
            return Err(Error::ScopeBusy {
                target,
                scope: format!("{}/{}", scope.source_system, scope.entity_type),
                waited_secs: 29,
            });
        }
        Ok(Box::new(RecordedTx {
            inner,
            calls: &mut self.calls,
        }))
    }
}

impl MirrorTransaction for RecordedTx<'_> {
    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        self.calls.push("tx:write_batch");
        self.inner.write_batch(writes)
    }
    fn checkpoint(&mut self) -> Result<()> {
        self.calls.push("tx:checkpoint");
        self.inner.checkpoint()
    }
    fn commit(self: Box<Self>) -> Result<()> {
        self.calls.push("tx:commit");
        self.inner.commit()
    }
    fn rollback(self: Box<Self>) -> Result<()> {
        self.calls.push("tx:rollback");
        self.inner.rollback()
    }
}

fn options(direction: Direction, batch_commit: Option<usize>) -> SyncOptions {
    SyncOptions {
        batch_commit,
        ..crate::roundtrip::options(direction)
    }
}

fn pack(
    dir: &std::path::Path,
    n: usize,
) -> std::result::Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let manifest = Manifest::new("ds", "http", "src", "page");
    let mut w = PackWriter::open(dir, manifest, 4, now())?;
    for i in 0..n {
        let mut r = ExchangeRecord {
            exchange_id: format!("00000000-0000-4000-8000-{i:012x}"),
            exchange_type: "http".into(),
            source_system: "src".into(),
            entity_type: "page".into(),
            natural_key: Some(format!("k{i}")),
            request: json!({"i": i}),
            response: json!(i),
            observed_at_utc: Some(time::macros::datetime!(2024-01-15 10:00:00 UTC)),
            provenance: Some(Provenance::default()),
            content_sha256: ContentHash([0; 32]),
            schema_version: 1,
            tags: Vec::new(),
            redactions_applied: Vec::new(),
            response_ref: None,
            extra: serde_json::Map::new(),
        };
        r.content_sha256 = r.compute_hash();
        w.write(PackEntry::from_record(&r))?;
    }
    w.close()?;
    Ok(dir.join("manifest.json"))
}

/// Index of the first call named one of `names`, or the length when none was made.
fn first_of(calls: &[&str], names: &[&str]) -> usize {
    calls
        .iter()
        .position(|c| names.contains(c))
        .unwrap_or(calls.len())
}

#[test]
fn the_scope_lock_comes_before_any_read() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let manifest = pack(&tmp.path().join("p"), 7)?;
    for (direction, batch, db) in [
        (Direction::JsonToSql, None, "f.db"),
        (Direction::Bidirectional, None, "f.db"),
        (Direction::SqlToJson, None, "f.db"),
        (Direction::JsonToSql, Some(2), "batched.db"),
    ] {
        let db = tmp.path().join(db);
        let mut mirror = Recorder {
            inner: SqliteMirror::open(&db, "lake", "RawExchangeRecord", &StoreOptions::default())?,
            calls: Vec::new(),
            busy: false,
        };
        sync_file(&manifest, &mut mirror, &options(direction, batch))?;
        let calls = &mirror.calls;
        assert_eq!(calls.first(), Some(&"begin"), "{direction:?}: {calls:?}");
        assert!(
            first_of(calls, &TX_READS) < calls.len(),
            "{direction:?}: no read at all: {calls:?}"
        );
        assert_eq!(
            first_of(calls, &READS),
            calls.len(),
            "{direction:?}: a read outside the locked transaction: {calls:?}"
        );
        assert_eq!(calls.last(), Some(&"tx:commit"), "{direction:?}: {calls:?}");
        // --batch-commit 2 over 7 records: the transaction goes on (and takes the
        // lock again) after each checkpoint.
        let checkpoints = calls.iter().filter(|c| **c == "tx:checkpoint").count();
        assert_eq!(checkpoints > 0, batch.is_some(), "{direction:?}: {calls:?}");
    }
    Ok(())
}

#[test]
fn a_busy_scope_stops_before_any_read() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let manifest = pack(&tmp.path().join("p"), 3)?;
    let db = tmp.path().join("f.db");
    let mut mirror = Recorder {
        inner: SqliteMirror::open(&db, "lake", "RawExchangeRecord", &StoreOptions::default())?,
        calls: Vec::new(),
        busy: true,
    };
    let err = sync_file(
        &manifest,
        &mut mirror,
        &options(Direction::Bidirectional, None),
    )
    .err()
    .ok_or("a busy scope was synced")?;
    assert!(matches!(err, Error::ScopeBusy { .. }), "{err:?}");
    assert_eq!(err.class(), fabric_core::ErrorClass::Storage);
    assert!(
        err.to_string()
            .contains("scope src/page is being written by another sync; waited 29 s"),
        "{err}"
    );
    let calls = &mirror.calls;
    assert_eq!(calls.as_slice(), ["begin"], "{calls:?}");
    // The transaction it opened was rolled back: the store takes a writer.
    mirror.busy = false;
    drop(mirror.begin(&Scope {
        source_system: "src".into(),
        entity_type: "page".into(),
    })?);
    Ok(())
}
