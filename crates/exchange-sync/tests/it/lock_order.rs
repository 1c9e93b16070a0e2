//! The scope lock comes before any read of the scope: the sync engine calls
//! `begin`, then `lock_scope`, and only then reads hashes, keys, rows or counts, so
//! a second writer (SQL Server's `sp_getapplock`, PostgreSQL's advisory lock) reads
//! what the first committed. A lock that is not granted ends the run before any
//! read, with the backend's `ScopeBusy`. Checked on a real SQLite mirror whose
//! calls are recorded.

use exchange_sync::manifest::{Direction, Manifest};

use crate::roundtrip::now;
use exchange_sync::mirror::sqlite::SqliteMirror;
use exchange_sync::pack::{PackEntry, PackWriter};
use exchange_sync::sync::{SyncOptions, sync};
use exchange_sync::{
    ContentHash, ContentHashSet, Error, ExchangeRecord, Mirror, MirrorKeyRow, MirrorRecord,
    MirrorWrite, Provenance, Result, Scope,
};
use serde_json::json;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A real mirror that records which calls the engine makes, and can refuse the
/// scope lock as a busy server does.
struct Recorder {
    inner: SqliteMirror,
    calls: Vec<&'static str>,
    busy: bool,
}

/// The calls that read the scope.
const READS: [&str; 5] = [
    "hashes_in_scope",
    "for_each_hash_in_scope",
    "find_by_natural_keys",
    "export_scope",
    "count",
];

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
    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        self.calls.push("hashes_in_scope");
        self.inner.hashes_in_scope(scope)
    }
    fn for_each_hash_in_scope(
        &mut self,
        scope: &Scope,
        each: &mut dyn FnMut(ContentHash),
    ) -> Result<()> {
        self.calls.push("for_each_hash_in_scope");
        self.inner.for_each_hash_in_scope(scope, each)
    }
    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        self.calls.push("find_by_natural_keys");
        self.inner.find_by_natural_keys(scope, keys)
    }
    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64> {
        self.calls.push("export_scope");
        self.inner.export_scope(scope, sink)
    }
    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        self.calls.push("count");
        self.inner.count(scope)
    }
    fn begin(&mut self) -> Result<()> {
        self.calls.push("begin");
        self.inner.begin()
    }
    fn lock_scope(&mut self, scope: &Scope) -> Result<()> {
        self.calls.push("lock_scope");
        if self.busy {
            return Err(Error::ScopeBusy {
                target: self.describe(),
                scope: format!("{}/{}", scope.source_system, scope.entity_type),
                waited_secs: 29,
            });
        }
        self.inner.lock_scope(scope)
    }
    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        self.calls.push("write_batch");
        self.inner.write_batch(writes)
    }
    fn commit(&mut self) -> Result<()> {
        self.calls.push("commit");
        self.inner.commit()
    }
    fn rollback(&mut self) -> Result<()> {
        self.calls.push("rollback");
        self.inner.rollback()
    }
    fn settle(&mut self) -> Result<()> {
        self.calls.push("settle");
        self.inner.settle()
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
    let db = tmp.path().join("f.db");
    for (direction, batch) in [
        (Direction::JsonToSql, None),
        (Direction::Bidirectional, None),
        (Direction::SqlToJson, None),
        (Direction::JsonToSql, Some(2)),
    ] {
        let mut mirror = Recorder {
            inner: SqliteMirror::open(&db, "lake", "RawExchangeRecord")?,
            calls: Vec::new(),
            busy: false,
        };
        sync(
            &manifest,
            &mut mirror,
            &options(direction, batch),
            &now,
            &mut |_, _, _| {},
        )?;
        let calls = &mirror.calls;
        let lock = first_of(calls, &["lock_scope"]);
        let read = first_of(calls, &READS);
        assert!(
            read < calls.len(),
            "{direction:?}: no read at all: {calls:?}"
        );
        assert!(
            lock < read,
            "{direction:?}: a read before the lock: {calls:?}"
        );
        // Every transaction (one per --batch-commit step too) takes the lock first.
        for (i, c) in calls.iter().enumerate() {
            if *c == "begin" {
                assert_eq!(
                    calls.get(i + 1),
                    Some(&"lock_scope"),
                    "{direction:?} {batch:?}: {calls:?}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn a_busy_scope_stops_before_any_read() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let manifest = pack(&tmp.path().join("p"), 3)?;
    let mut mirror = Recorder {
        inner: SqliteMirror::open(&tmp.path().join("f.db"), "lake", "RawExchangeRecord")?,
        calls: Vec::new(),
        busy: true,
    };
    let err = sync(
        &manifest,
        &mut mirror,
        &options(Direction::Bidirectional, None),
        &now,
        &mut |_, _, _| {},
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
    assert_eq!(
        first_of(calls, &READS),
        calls.len(),
        "read while busy: {calls:?}"
    );
    assert_eq!(first_of(calls, &["write_batch"]), calls.len(), "{calls:?}");
    assert!(calls.contains(&"rollback"), "{calls:?}");
    Ok(())
}
