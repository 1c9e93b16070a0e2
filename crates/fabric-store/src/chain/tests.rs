//! Tests of the snapshot chains against real SQLite files.

use std::process::Command;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use fabric_core::chain::{Action, SnapshotMetadata, Source, checksum, diff};

use super::{ChainCache, HistoryPage, NewVersion};
use crate::error::Error;
use crate::store::Store;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const NOW: OffsetDateTime = datetime!(2026-11-22 03:00 UTC);

fn meta() -> SnapshotMetadata {
    SnapshotMetadata::new(Source::Api, NOW, 1.0)
}

fn fresh() -> Result<(tempfile::TempDir, Store), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("fabric.db"))?;
    Ok((dir, store))
}

fn create(
    store: &mut Store,
    key: &str,
    payload: &Value,
) -> crate::Result<fabric_core::chain::VersionSummary> {
    let m = meta();
    store.chain_create(&NewVersion::new(key, payload, &m, "tester", NOW))
}

fn count(store: &Store, sql: &str) -> rusqlite::Result<i64> {
    store.conn().query_row(sql, [], |r| r.get(0))
}

#[test]
fn versions_are_numbered_diffed_and_logged() -> TestResult {
    let (_dir, mut store) = fresh()?;
    let v1 = create(&mut store, "fabric", &json!({"jobs": 1, "rates": [0.5]}))?;
    let v2 = create(
        &mut store,
        "fabric",
        &json!({"jobs": 2, "rates": [0.5, 0.25]}),
    )?;
    let other = create(&mut store, "other", &json!([]))?;
    assert_eq!(
        (v1.version, v1.parent_version, v2.version, v2.parent_version),
        (1, None, 2, Some(1))
    );
    assert_eq!(other.version, 1);
    let read = store.chain_get("fabric", None)?;
    assert_eq!(read.summary, v2);
    assert_eq!(
        read.summary.checksum,
        checksum(&json!({"jobs": 2, "rates": [0.5, 0.25]}))
    );
    let changes = read
        .body
        .changes
        .clone()
        .ok_or("v2 has a changes summary")?;
    assert_eq!(
        (changes.added, changes.modified, changes.deleted),
        (1, 1, 0)
    );
    assert_eq!(changes.added_paths, vec!["/rates/1".to_owned()]);
    assert!(store.chain_get("fabric", Some(1))?.body.changes.is_none());
    assert!(!store.chain_summary("fabric", Some(1))?.is_active);
    let log = store.chain_log(Some("fabric"), None)?;
    assert_eq!(log.len(), 2);
    assert_eq!(
        log.first()
            .map(|e| (e.action, e.from_version, e.to_version)),
        Some((Action::Create, Some(1), 2))
    );
    Ok(())
}

#[test]
fn bad_input_writes_nothing() -> TestResult {
    let (_dir, mut store) = fresh()?;
    let doc = json!({"a": 1});
    let mut m = meta();
    m.confidence = 1.5;
    let err = store
        .chain_create(&NewVersion::new("k", &doc, &m, "t", NOW))
        .err();
    assert!(
        matches!(err, Some(Error::InvalidMetadata { ref key, ref source }) if key == "k" && source.field == "confidence")
    );
    let err = create(&mut store, "bad key", &doc).err();
    assert!(matches!(err, Some(Error::InvalidChainKey { .. })));
    let huge: Value = serde_json::from_str(r#"{"x": [1e999]}"#)?;
    let err = create(&mut store, "k", &huge).err();
    assert!(
        matches!(err, Some(Error::InvalidChainInput { ref reason, .. }) if reason.contains("/x/0"))
    );
    let good = meta();
    let err = store
        .chain_create(&NewVersion::new("k", &doc, &good, " ", NOW))
        .err();
    assert!(matches!(err, Some(Error::InvalidChainInput { .. })));
    // A batch with one bad item stores none of them.
    let batch = [
        NewVersion::new("k", &doc, &good, "t", NOW),
        NewVersion::new("k", &doc, &m, "t", NOW),
    ];
    assert!(store.chain_create_many(&batch).is_err());
    assert_eq!(count(&store, "SELECT count(*) FROM chain_versions")?, 0);
    assert_eq!(count(&store, "SELECT count(*) FROM chain_activity")?, 0);
    assert!(matches!(
        store.chain_get("k", None),
        Err(Error::ChainNotFound { .. })
    ));
    Ok(())
}

#[test]
fn optimistic_locking_reports_expected_and_actual() -> TestResult {
    let (_dir, mut store) = fresh()?;
    let doc = json!({"a": 1});
    let m = meta();
    let mut new = NewVersion::new("k", &doc, &m, "t", NOW);
    new.expect_version = Some(0);
    store.chain_create(&new)?;
    let err = store.chain_create(&new).err();
    assert!(matches!(
        err,
        Some(Error::VersionConflict {
            expected: 0,
            actual: 1,
            ..
        })
    ));
    new.expect_version = Some(1);
    assert_eq!(store.chain_create(&new)?.version, 2);
    assert_eq!(count(&store, "SELECT count(*) FROM chain_versions")?, 2);
    Ok(())
}

#[test]
fn the_database_enforces_immutability_and_one_active_version() -> TestResult {
    let (_dir, mut store) = fresh()?;
    create(&mut store, "k", &json!({"a": 1}))?;
    create(&mut store, "k", &json!({"a": 2}))?;
    let refused = [
        "UPDATE chain_payloads SET payload = x'00'",
        "UPDATE chain_payloads SET changes_summary = NULL",
        "DELETE FROM chain_payloads",
        "UPDATE chain_versions SET checksum = 'x' WHERE version = 1",
        "UPDATE chain_versions SET version = 9 WHERE version = 1",
        "UPDATE chain_versions SET chain_key = 'j' WHERE version = 1",
        "UPDATE chain_versions SET parent_id = NULL WHERE version = 2",
        "UPDATE chain_versions SET metadata = '{}' WHERE version = 1",
        "DELETE FROM chain_versions WHERE version = 1",
        "UPDATE chain_versions SET is_active = 1 WHERE version = 1",
        "UPDATE chain_activity SET actor = 'x'",
        "DELETE FROM chain_activity",
        // Not the next version: a gap.
        "INSERT INTO chain_versions (chain_key, version, encoding, checksum, data_size, stored_size, metadata, created_by, created_at, is_active) \
         SELECT 'k', 5, encoding, checksum, data_size, stored_size, metadata, 'x', 'now', 0 FROM chain_versions WHERE version = 1",
    ];
    for sql in refused {
        assert!(store.conn().execute(sql, []).is_err(), "{sql}");
    }
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM chain_versions WHERE is_active = 1"
        )?,
        1
    );
    store.chain_deprecate("k", 1, "wrong totals", "ops", NOW)?;
    assert!(
        store
            .conn()
            .execute(
                "UPDATE chain_versions SET deprecated_reason = 'other' WHERE version = 1",
                []
            )
            .is_err()
    );
    let ok: String = store
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(ok, "ok");
    Ok(())
}

#[test]
fn rollback_moves_the_pointer_and_is_a_no_op_on_the_active_version() -> TestResult {
    let (_dir, mut store) = fresh()?;
    for i in 1..=3 {
        create(&mut store, "k", &json!({"i": i}))?;
    }
    let same = store.chain_rollback("k", 3, "ops", NOW)?;
    assert!(!same.changed);
    assert_eq!(store.chain_log(Some("k"), None)?.len(), 3);
    let moved = store.chain_rollback("k", 1, "ops", NOW)?;
    assert_eq!(
        (moved.from_version, moved.to_version, moved.changed),
        (3, 1, true)
    );
    assert_eq!(*store.chain_get("k", None)?.body.payload, json!({"i": 1}));
    // The next version is numbered after the highest, descends from the active one.
    let v4 = create(&mut store, "k", &json!({"i": 4}))?;
    assert_eq!((v4.version, v4.parent_version), (4, Some(1)));
    store.chain_deprecate("k", 2, "bad data", "ops", NOW)?;
    assert!(matches!(
        store.chain_rollback("k", 2, "ops", NOW),
        Err(Error::VersionDeprecated { version: 2, .. })
    ));
    assert!(matches!(
        store.chain_deprecate("k", 2, "again", "ops", NOW),
        Err(Error::AlreadyDeprecated { .. })
    ));
    assert!(matches!(
        store.chain_rollback("k", 9, "ops", NOW),
        Err(Error::VersionNotFound {
            version: 9,
            latest: 4,
            ..
        })
    ));
    assert!(matches!(
        store.chain_rollback("nope", 1, "ops", NOW),
        Err(Error::ChainNotFound { .. })
    ));
    let actions: Vec<_> = store
        .chain_log(Some("k"), None)?
        .iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            Action::Deprecate,
            Action::Create,
            Action::Rollback,
            Action::Create,
            Action::Create,
            Action::Create
        ]
    );
    Ok(())
}

#[test]
fn compare_gives_a_diff_that_turns_a_into_b() -> TestResult {
    let (_dir, mut store) = fresh()?;
    let a = json!({"a": 1, "b": [1, 2], "c": {"d": "x"}});
    let b = json!({"a": "1", "b": [1], "c": {"d": "x", "e": null}});
    create(&mut store, "k", &a)?;
    create(&mut store, "k", &b)?;
    let cmp = store.chain_compare("k", 1, 2)?;
    assert_eq!(
        (cmp.summary.added, cmp.summary.modified, cmp.summary.deleted),
        (1, 1, 1)
    );
    assert_eq!(checksum(&diff::apply(&a, &cmp.to_diff())?), checksum(&b));
    Ok(())
}

#[test]
fn history_pages_newest_first_with_the_total() -> TestResult {
    let (_dir, mut store) = fresh()?;
    let m = meta();
    let docs: Vec<Value> = (0..25).map(|i| json!({"i": i})).collect();
    let batch: Vec<_> = docs
        .iter()
        .map(|d| NewVersion::new("k", d, &m, "t", NOW))
        .collect();
    store.chain_create_many(&batch)?;
    let first = store.chain_history(
        "k",
        HistoryPage {
            before: None,
            limit: 10,
        },
    )?;
    assert_eq!(
        (first.total, first.active_version, first.next_before),
        (25, Some(25), Some(16))
    );
    assert_eq!(
        first.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        (16..=25).rev().collect::<Vec<_>>()
    );
    let third = store.chain_history(
        "k",
        HistoryPage {
            before: Some(6),
            limit: 10,
        },
    )?;
    assert_eq!(third.versions.len(), 5);
    assert_eq!(third.next_before, None);
    // The page query walks the (chain_key, version) index, never the table.
    let plan: Vec<String> = store
        .conn()
        .prepare(&format!(
            "EXPLAIN QUERY PLAN SELECT {} {} WHERE v.chain_key = 'k' AND v.version < 5 ORDER BY v.version DESC LIMIT 20",
            super::SUMMARY_COLUMNS,
            super::SUMMARY_FROM
        ))?
        .query_map([], |r| r.get(3))?
        .collect::<rusqlite::Result<_>>()?;
    assert!(
        plan.iter()
            .all(|step| !step.starts_with("SCAN") && !step.contains("TEMP B-TREE")),
        "{plan:?}"
    );
    assert!(matches!(
        store.chain_history(
            "k",
            HistoryPage {
                before: None,
                limit: 0
            }
        ),
        Err(Error::InvalidChainInput { .. })
    ));
    let list = store.chain_list()?;
    assert_eq!(
        list.first().map(|c| (c.versions, c.active_version)),
        Some((25, Some(25)))
    );
    Ok(())
}

#[test]
fn the_cache_counts_hits_and_evicts_the_least_recently_used() -> TestResult {
    let (_dir, mut store) = fresh()?;
    for i in 1..=3 {
        create(&mut store, "k", &json!({"i": i}))?;
    }
    let mut cache = ChainCache::new(2);
    store.chain_get_cached(&mut cache, "k", Some(1))?;
    store.chain_get_cached(&mut cache, "k", Some(2))?;
    store.chain_get_cached(&mut cache, "k", Some(1))?;
    store.chain_get_cached(&mut cache, "k", Some(3))?; // evicts 2
    store.chain_get_cached(&mut cache, "k", Some(1))?;
    store.chain_get_cached(&mut cache, "k", Some(2))?;
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.len), (2, 4, 2));
    // The active flag is read fresh even on a hit.
    let active = store.chain_get_cached(&mut cache, "k", None)?;
    assert_eq!(
        (active.summary.version, active.summary.is_active),
        (3, true)
    );
    store.chain_rollback("k", 2, "ops", NOW)?;
    assert!(
        !store
            .chain_get_cached(&mut cache, "k", Some(3))?
            .summary
            .is_active
    );
    Ok(())
}

#[test]
fn a_damaged_payload_is_an_integrity_error_naming_key_and_version() -> TestResult {
    let (_dir, mut store) = fresh()?;
    create(
        &mut store,
        "k",
        &json!({"a": "some text to compress", "n": [1, 2, 3]}),
    )?;
    create(&mut store, "k", &json!({"a": 2}))?;
    let report = store.chain_verify(None, &mut |_, _| {})?;
    assert_eq!(
        (report.chains, report.versions, report.failures.len()),
        (1, 2, 0)
    );
    // Only by removing the guard can a payload be changed: flip one byte.
    store
        .conn()
        .execute_batch("DROP TRIGGER chain_payloads_immutable")?;
    let blob: Vec<u8> = store.conn().query_row(
        "SELECT payload FROM chain_payloads WHERE version_id = 1",
        [],
        |r| r.get(0),
    )?;
    let mut flipped = blob.clone();
    let middle = flipped.len() / 2;
    if let Some(b) = flipped.get_mut(middle) {
        *b ^= 0x01;
    }
    store.conn().execute(
        "UPDATE chain_payloads SET payload = ?1 WHERE version_id = 1",
        [flipped],
    )?;
    assert!(
        matches!(store.chain_get("k", Some(1)), Err(Error::Integrity { ref key, version: 1, .. }) if key == "k")
    );
    assert!(store.chain_get("k", Some(2)).is_ok());
    assert!(matches!(
        store.chain_rollback("k", 1, "ops", NOW),
        Err(Error::Integrity { .. })
    ));
    assert!(matches!(
        store.chain_compare("k", 1, 2),
        Err(Error::Integrity { version: 1, .. })
    ));
    let report = store.chain_verify(Some("k"), &mut |_, _| {})?;
    assert_eq!(
        report
            .failures
            .iter()
            .map(|f| f.version)
            .collect::<Vec<_>>(),
        vec![Some(1)]
    );
    assert!(
        matches!(report.into_result(), Err(Error::VerifyFailed { failures: 1, ref first }) if first == "k@1")
    );
    Ok(())
}

#[test]
fn a_version_1_file_upgrades_without_touching_jobs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("v1.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(include_str!("../schema/jobs.sql"))?;
        conn.pragma_update(None, "user_version", 1)?;
    }
    assert_eq!(Store::upgrade(&path, &crate::StoreOptions::default())?, 1);
    let mut store = Store::open(&path)?;
    create(&mut store, "k", &json!({"a": 1}))?;
    assert_eq!(count(&store, "SELECT count(*) FROM jobs")?, 0);
    Ok(())
}

/// Environment variable that turns the race test's process into a worker.
const RACE_DB: &str = "FABRIC_CHAIN_RACE_DB";
const RACE_CREATES: i64 = 200;

/// Two real processes create 200 versions each of the same key at the same time:
/// all 400 numbers are distinct and consecutive, exactly one is active, and each
/// worker saw its own versions increase. The test binary re-runs itself as the
/// workers (a worker is this same test with `FABRIC_CHAIN_RACE_DB` set).
#[test]
fn two_processes_racing_get_distinct_consecutive_versions() -> TestResult {
    if let Some(db) = std::env::var_os(RACE_DB) {
        let actor = std::env::var("FABRIC_CHAIN_RACE_ACTOR")?;
        let mut store = Store::open(db)?;
        let mut last = 0;
        for i in 0..RACE_CREATES {
            let doc = json!({"actor": actor, "i": i});
            let v = create(&mut store, "race", &doc)?;
            assert!(v.version > last, "versions seen by one worker increase");
            last = v.version;
        }
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("race.db");
    Store::open(&db)?; // create the schema before the race
    let exe = std::env::current_exe()?;
    let spawn = |actor: &str| {
        Command::new(&exe)
            .args([
                "chain::tests::two_processes_racing_get_distinct_consecutive_versions",
                "--exact",
                "--test-threads=1",
            ])
            .env(RACE_DB, &db)
            .env("FABRIC_CHAIN_RACE_ACTOR", actor)
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("a"));
        let b = s.spawn(|| spawn("b"));
        (a.join(), b.join())
    });
    for out in [
        a.map_err(|_| "worker thread")??,
        b.map_err(|_| "worker thread")??,
    ] {
        assert!(
            out.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let store = Store::open(&db)?;
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM chain_versions WHERE chain_key = 'race'"
        )?,
        2 * RACE_CREATES
    );
    assert_eq!(
        count(&store, "SELECT count(DISTINCT version) FROM chain_versions")?,
        2 * RACE_CREATES
    );
    assert_eq!(
        count(
            &store,
            "SELECT max(version) - min(version) + 1 FROM chain_versions"
        )?,
        2 * RACE_CREATES
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM chain_versions WHERE is_active = 1"
        )?,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM chain_activity WHERE action = 'create'"
        )?,
        2 * RACE_CREATES
    );
    // Each version descends from the one before it (no lost update).
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM chain_versions v JOIN chain_versions p ON p.id = v.parent_id WHERE p.version = v.version - 1"
        )?,
        2 * RACE_CREATES - 1
    );
    let report = store.chain_verify(None, &mut |_, _| {})?;
    assert!(report.failures.is_empty());
    Ok(())
}

#[test]
fn the_active_version_cannot_be_deprecated() -> TestResult {
    let (_dir, mut store) = fresh()?;
    create(&mut store, "k", &json!({"a": 1}))?;
    create(&mut store, "k", &json!({"a": 2}))?;
    let refused = store.chain_deprecate("k", 2, "bad", "ops", NOW);
    assert!(
        matches!(refused, Err(Error::DeprecateActive { version: 2, .. })),
        "{refused:?}"
    );
    assert_eq!(store.chain_log(Some("k"), None)?.len(), 2, "nothing logged");
    store.chain_rollback("k", 1, "ops", NOW)?;
    store.chain_deprecate("k", 2, "bad", "ops", NOW)?;
    Ok(())
}

/// A snapshot document of vector case 03's report, as `snapshot create` makes it.
fn snapshot_doc() -> Result<Value, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/vectors/fabric/cases/03-typical-mix/snapshot.json"),
    )?;
    Ok(serde_json::from_str(&text)?)
}

#[test]
fn a_chains_kind_is_its_first_versions_and_a_fabric_report_chain_checks_each_document() -> TestResult
{
    use super::ChainKind;
    let (_dir, mut store) = fresh()?;
    let good = snapshot_doc()?;
    let m = meta();
    let mut first = NewVersion::new("reports", &good, &m, "tester", NOW);
    first.kind = ChainKind::FabricReport;
    store.chain_create(&first)?;
    assert_eq!(store.chain_kind("reports")?, ChainKind::FabricReport);
    // Refused whatever kind the caller asks for: the chain's kind decides.
    let free = json!({"any": "thing"});
    let refused = create(&mut store, "reports", &free);
    assert!(
        matches!(refused, Err(Error::WrongKind { .. })),
        "{refused:?}"
    );
    assert_eq!(store.chain_summary("reports", None)?.version, 1);
    // A json chain takes anything, a snapshot too.
    create(&mut store, "free", &free)?;
    create(&mut store, "free", &good)?;
    assert_eq!(store.chain_kind("free")?, ChainKind::Json);
    assert!(matches!(
        store.chain_kind("none"),
        Err(Error::ChainNotFound { .. })
    ));
    Ok(())
}
