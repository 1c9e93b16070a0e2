//! The backend-conformance suite of the [`Mirror`] trait, written once.
//!
//! Every `check_*` function takes a fresh, empty mirror and asserts one part of the
//! contract documented on the trait. [`run_all`] runs them all with a factory; the
//! SQLite backend runs it below, the PostgreSQL backend runs it live against the
//! cluster in `FABRIC_TEST_POSTGRES` (`postgres_live.rs`; required under CI=true),
//! and the SQL Server backend runs the same [`run_all`] when `FABRIC_TEST_MSSQL` is
//! set. Each run prints `conformance: <backend> ran` (see with `--nocapture`).

use exchange_sync::ContentHash;
use exchange_sync::mirror::sqlite::SqliteMirror;
use exchange_sync::mirror::{Mirror, MirrorKeyRow, MirrorRead, MirrorRecord, MirrorWrite, Scope};
use fabric_store::StoreOptions;

/// A test failure with a message.
pub type Check = Result<(), Box<dyn std::error::Error>>;

/// One named check of the suite.
pub type NamedCheck = (&'static str, fn(&mut dyn Mirror) -> Check);

/// Run every check, each on a fresh mirror from `make`.
pub fn run_all(
    make: &mut dyn FnMut() -> Result<Box<dyn Mirror>, Box<dyn std::error::Error>>,
) -> Check {
    let checks: [NamedCheck; 12] = [
        ("empty", check_empty),
        ("insert_and_read_back", check_insert_and_read_back),
        ("update_by_exchange_id", check_update_by_exchange_id),
        ("rollback", check_rollback),
        ("read_your_writes", check_read_your_writes),
        ("uniqueness", check_uniqueness),
        ("update_missing_row", check_update_missing_row),
        ("drop_rolls_back", check_drop_rolls_back),
        ("schema_is_idempotent", check_schema_is_idempotent),
        ("first_load", check_first_load),
        ("column_limits", check_column_limits),
        ("microseconds_kept", check_microseconds_kept),
    ];
    for (name, check) in checks {
        let mut mirror = make()?;
        check(mirror.as_mut()).map_err(|e| format!("conformance check {name}: {e}"))?;
    }
    Ok(())
}

fn scope(s: &str) -> Scope {
    Scope {
        source_system: s.into(),
        entity_type: "page".into(),
    }
}

fn hash(n: u8) -> ContentHash {
    ContentHash([n; 32])
}

fn record(n: u8, src: &str, key: Option<&str>, micros: i64) -> MirrorRecord {
    let t = time::macros::datetime!(2024-01-15 10:00:00 UTC) + time::Duration::microseconds(micros);
    MirrorRecord {
        exchange_id: format!("00000000-0000-4000-8000-0000000000{n:02x}"),
        exchange_type: "http".into(),
        source_system: src.into(),
        entity_type: "page".into(),
        natural_key: key.map(String::from),
        observed_at_utc: t,
        content_sha256: hash(n),
        payload_json: format!(
            "{{\"n\": {n}, \"text\": \"Café e\u{301} 日本 \u{2028} 😀\", \"big\": 18446744073709551616, \"f\": 1.0}}"
        ),
        schema_version: 1,
    }
}

fn insert(mirror: &mut dyn Mirror, records: &[MirrorRecord]) -> Check {
    let mut tx = mirror.begin(&scope("a"))?;
    let writes: Vec<MirrorWrite> = records.iter().cloned().map(MirrorWrite::Insert).collect();
    tx.write_batch(&writes)?;
    tx.commit()?;
    Ok(())
}

fn export(
    mirror: &mut dyn MirrorRead,
    s: &Scope,
) -> Result<Vec<MirrorRecord>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let n = mirror.export_scope(s, &mut |r| {
        out.push(r);
        Ok(())
    })?;
    assert_eq!(n as usize, out.len());
    Ok(out)
}

/// An empty table answers with nothing.
pub fn check_empty(mirror: &mut dyn Mirror) -> Check {
    let a = scope("a");
    assert_eq!(mirror.count(None)?, 0);
    assert_eq!(mirror.count(Some(&a))?, 0);
    assert!(mirror.hashes_in_scope(&a)?.is_empty());
    assert_eq!(mirror.hashes_and_count_in_scope(&a)?.1, 0);
    assert_eq!(
        mirror.find_by_natural_keys(&a, &["x", "y"])?,
        vec![None, None]
    );
    assert!(export(mirror, &a)?.is_empty());
    Ok(())
}

/// Rows come back exactly, scoped, newest first.
pub fn check_insert_and_read_back(mirror: &mut dyn Mirror) -> Check {
    let (a, b) = (scope("a"), scope("b"));
    let rows = [
        record(1, "a", Some("k1"), 0),
        record(2, "a", Some("k2"), 1),
        record(3, "b", Some("k1"), 2),
        record(4, "a", None, 3),
        record(5, "a", None, 3),
    ];
    insert(mirror, &rows)?;
    assert_eq!(mirror.count(None)?, 5);
    assert_eq!(mirror.count(Some(&a))?, 4);
    assert_eq!(mirror.count(Some(&b))?, 1);
    let hashes = mirror.hashes_in_scope(&a)?;
    assert_eq!(hashes.len(), 4);
    assert!(hashes.contains(&hash(1)) && !hashes.contains(&hash(3)));
    // Read together, the same hashes and each scope's own count.
    assert_eq!(mirror.hashes_and_count_in_scope(&a)?, (hashes, 4));
    let (in_b, rows_in_b) = mirror.hashes_and_count_in_scope(&b)?;
    assert_eq!((in_b.len(), rows_in_b), (1, 1));
    assert!(in_b.contains(&hash(3)));
    let found = mirror.find_by_natural_keys(&a, &["k2", "nope", "k1", "k2"])?;
    let row = |r: &MirrorRecord| MirrorKeyRow {
        exchange_id: r.exchange_id.clone(),
        content_sha256: r.content_sha256,
        observed_at_utc: r.observed_at_utc,
    };
    assert_eq!(
        found,
        vec![
            Some(row(&rows[1])),
            None,
            Some(row(&rows[0])),
            Some(row(&rows[1]))
        ]
    );
    let out = export(mirror, &a)?;
    // Newest first; ties by exchange_id ascending.
    assert_eq!(
        out,
        vec![
            rows[3].clone(),
            rows[4].clone(),
            rows[1].clone(),
            rows[0].clone()
        ]
    );
    Ok(())
}

/// An update replaces the one addressed row, primary key included.
pub fn check_update_by_exchange_id(mirror: &mut dyn Mirror) -> Check {
    let a = scope("a");
    insert(
        mirror,
        &[record(1, "a", Some("k1"), 0), record(2, "a", Some("k2"), 0)],
    )?;
    let mut new = record(9, "a", Some("k1"), 10);
    new.payload_json = "{\"v\": 2}".into();
    let mut tx = mirror.begin(&a)?;
    tx.write_batch(&[MirrorWrite::Update {
        exchange_id: record(1, "a", None, 0).exchange_id,
        record: new.clone(),
    }])?;
    tx.commit()?;
    assert_eq!(mirror.count(Some(&a))?, 2);
    let out = export(mirror, &a)?;
    assert_eq!(out[0], new);
    assert!(!mirror.hashes_in_scope(&a)?.contains(&hash(1)));
    Ok(())
}

/// A rolled-back transaction leaves nothing.
pub fn check_rollback(mirror: &mut dyn Mirror) -> Check {
    let mut tx = mirror.begin(&scope("a"))?;
    tx.write_batch(&[MirrorWrite::Insert(record(1, "a", Some("k"), 0))])?;
    tx.rollback()?;
    assert_eq!(mirror.count(None)?, 0);
    Ok(())
}

/// Reads inside a transaction see its writes.
pub fn check_read_your_writes(mirror: &mut dyn Mirror) -> Check {
    let a = scope("a");
    let mut tx = mirror.begin(&a)?;
    tx.write_batch(&[MirrorWrite::Insert(record(1, "a", Some("k"), 0))])?;
    assert_eq!(tx.count(Some(&a))?, 1);
    assert!(tx.hashes_in_scope(&a)?.contains(&hash(1)));
    assert!(tx.find_by_natural_keys(&a, &["k"])?[0].is_some());
    tx.commit()?;
    assert_eq!(mirror.count(Some(&a))?, 1);
    Ok(())
}

/// Every backend refuses, before writing anything of the batch, exactly the
/// records `limits::check` refuses (so SQLite and SQL Server accept the same
/// records), naming the record; a record at every limit is accepted.
pub fn check_column_limits(mirror: &mut dyn Mirror) -> Check {
    let mut bad = Vec::new();
    let mut r = record(2, "a", Some("k2"), 0);
    r.exchange_id = "00000000-0000-4000-8000-0000000000AB".into();
    bad.push(r);
    let mut r = record(3, "a", None, 0);
    r.natural_key = Some("k".repeat(501));
    bad.push(r);
    let mut r = record(4, "a", None, 0);
    r.exchange_type = "t".repeat(51);
    bad.push(r);
    let mut r = record(5, "a", Some("k5 "), 0);
    r.natural_key = Some("k5 ".into());
    bad.push(r);
    let mut r = record(6, "a", None, 0);
    r.observed_at_utc = time::macros::datetime!(0001-01-01 00:30 +01:00);
    bad.push(r);
    let mut r = record(7, "a", None, 0);
    r.schema_version = i64::from(i32::MAX) + 1;
    bad.push(r);
    for r in bad {
        assert!(
            exchange_sync::limits::check(&exchange_sync::limits::Fields::of(&r)).is_some(),
            "{r:?}"
        );
        let mut tx = mirror.begin(&scope("a"))?;
        let batch = [
            MirrorWrite::Insert(record(1, "a", Some("k1"), 0)),
            MirrorWrite::Insert(r.clone()),
        ];
        match tx.write_batch(&batch) {
            Err(exchange_sync::Error::MirrorWrite { exchange_id, .. }) => {
                assert_eq!(exchange_id, r.exchange_id);
            }
            other => return Err(format!("{r:?} accepted: {other:?}").into()),
        }
        tx.rollback()?;
        assert_eq!(mirror.count(None)?, 0);
    }
    let mut at_limits = record(8, "a", None, 0);
    at_limits.natural_key = Some("😀".repeat(250));
    at_limits.exchange_type = "t".repeat(50);
    at_limits.source_system = "s".repeat(100);
    at_limits.observed_at_utc = time::macros::datetime!(9999-12-31 23:59:59.999999 UTC);
    insert(mirror, std::slice::from_ref(&at_limits))?;
    let scope = Scope {
        source_system: at_limits.source_system.clone(),
        entity_type: at_limits.entity_type.clone(),
    };
    assert_eq!(export(mirror, &scope)?, vec![at_limits]);
    Ok(())
}

/// Same id, same hash, or same non-null natural key in scope: refused.
pub fn check_uniqueness(mirror: &mut dyn Mirror) -> Check {
    insert(mirror, &[record(1, "a", Some("k"), 0)])?;
    let mut same_id = record(2, "a", Some("k2"), 0);
    same_id.exchange_id = record(1, "a", None, 0).exchange_id;
    let mut same_hash = record(3, "a", Some("k3"), 0);
    same_hash.content_sha256 = hash(1);
    let same_key = record(4, "a", Some("k"), 0);
    for bad in [same_id, same_hash, same_key] {
        let mut tx = mirror.begin(&scope("a"))?;
        let result = tx.write_batch(&[MirrorWrite::Insert(bad.clone())]);
        tx.rollback()?;
        assert!(result.is_err(), "insert of {bad:?} must fail");
    }
    // The same key in another scope is fine.
    insert(mirror, &[record(5, "b", Some("k"), 0)])?;
    assert_eq!(mirror.count(None)?, 2);
    Ok(())
}

/// The first load into an empty table (which a backend may run as a bulk load,
/// building some indexes once at the end) ends with every schema object there,
/// and a duplicate hash or exchange_id in it fails by the commit at the latest,
/// leaving nothing.
pub fn check_first_load(mirror: &mut dyn Mirror) -> Check {
    let mut same_hash = record(2, "a", Some("k2"), 0);
    same_hash.content_sha256 = hash(1);
    let mut same_id = record(2, "a", Some("k2"), 0);
    same_id.exchange_id = record(1, "a", None, 0).exchange_id;
    for (what, dup) in [("hash", same_hash), ("exchange_id", same_id)] {
        let mut tx = mirror.begin(&scope("a"))?;
        let result = tx
            .write_batch(&[MirrorWrite::Insert(record(1, "a", Some("k"), 0))])
            .and_then(|()| tx.write_batch(&[MirrorWrite::Insert(dup)]));
        let result = match result {
            Ok(()) => tx.commit(),
            Err(e) => {
                drop(tx);
                Err(e)
            }
        };
        assert!(result.is_err(), "a duplicate {what} must fail");
        assert_eq!(mirror.count(None)?, 0);
        assert!(mirror.missing_schema_objects()?.is_empty());
    }

    // Lookups and updates in the middle of a first load see its earlier rows.
    let first = record(1, "a", Some("k"), 0);
    let mut tx = mirror.begin(&scope("a"))?;
    tx.write_batch(&[MirrorWrite::Insert(first.clone())])?;
    let found = tx.find_by_natural_keys(&scope("a"), &["k", "nope"])?;
    assert_eq!(
        found
            .iter()
            .map(|r| r.as_ref().map(|r| r.content_sha256))
            .collect::<Vec<_>>(),
        [Some(hash(1)), None]
    );
    tx.write_batch(&[MirrorWrite::Update {
        exchange_id: first.exchange_id.clone(),
        record: record(2, "a", Some("k"), 1),
    }])?;
    assert_eq!(tx.count(None)?, 1);
    assert!(tx.hashes_in_scope(&scope("a"))?.contains(&hash(2)));
    let (seen, rows) = tx.hashes_and_count_in_scope(&scope("a"))?;
    assert_eq!((seen.len(), rows), (1, 1));
    tx.rollback()?;
    assert_eq!(mirror.count(None)?, 0);
    assert!(mirror.missing_schema_objects()?.is_empty());

    let a = scope("a");
    let records: Vec<MirrorRecord> = (1..=20)
        .map(|n| record(n, "a", Some(&format!("k{n}")), i64::from(n)))
        .collect();
    insert(mirror, &records)?;
    assert!(mirror.missing_schema_objects()?.is_empty());
    assert_eq!(mirror.count(Some(&a))?, 20);
    assert_eq!(mirror.hashes_in_scope(&a)?.len(), 20);
    let mut newest_first = Vec::new();
    mirror.export_scope(&a, &mut |r| {
        newest_first.push(r.content_sha256);
        Ok(())
    })?;
    let expected: Vec<ContentHash> = (1..=20).rev().map(hash).collect();
    assert_eq!(newest_first, expected);
    Ok(())
}

/// Every time comes back to the microsecond, through a key lookup and an
/// export: 10:33:16.123820 once came back from SQLite as .123819 (the text
/// was written through an `f64` of the seconds, cut to six digits), about one
/// time in 65 of those with a fraction.
pub fn check_microseconds_kept(mirror: &mut dyn Mirror) -> Check {
    let a = scope("a");
    let at = |n: u8| {
        time::macros::datetime!(2024-01-15 10:33:16.123820 UTC)
            + time::Duration::microseconds(i64::from(n) * 1_000_013)
    };
    let records: Vec<MirrorRecord> = (1..=200u8)
        .map(|n| MirrorRecord {
            observed_at_utc: at(n - 1),
            ..record(n, "a", Some(&format!("k{n}")), 0)
        })
        .collect();
    insert(mirror, &records)?;
    let keys: Vec<String> = (1..=200).map(|n| format!("k{n}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let found: Vec<Option<time::OffsetDateTime>> = mirror
        .find_by_natural_keys(&a, &keys)?
        .into_iter()
        .map(|r| r.map(|r| r.observed_at_utc))
        .collect();
    let changed: Vec<String> = (0..200)
        .zip(&found)
        .filter(|&(n, got)| *got != Some(at(n)))
        .map(|(n, got)| format!("{} came back as {got:?}", at(n)))
        .collect();
    assert!(changed.is_empty(), "key lookup: {changed:#?}");
    let exported = export(mirror, &a)?;
    let changed: Vec<String> = (0..200)
        .rev()
        .zip(&exported)
        .filter(|&(n, got)| got.observed_at_utc != at(n))
        .map(|(n, got)| format!("{} came back as {}", at(n), got.observed_at_utc))
        .collect();
    assert!(changed.is_empty(), "export: {changed:#?}");
    assert_eq!(exported.len(), 200);
    Ok(())
}

/// Updating a row that does not exist is an error.
pub fn check_update_missing_row(mirror: &mut dyn Mirror) -> Check {
    let mut tx = mirror.begin(&scope("a"))?;
    let result = tx.write_batch(&[MirrorWrite::Update {
        exchange_id: "00000000-0000-4000-8000-00000000ffff".into(),
        record: record(1, "a", Some("k"), 0),
    }]);
    tx.rollback()?;
    assert!(result.is_err());
    assert_eq!(mirror.count(None)?, 0);
    Ok(())
}

/// A transaction dropped uncommitted (an error, an early return) leaves
/// nothing, and the mirror takes the next transaction. (A write outside a
/// transaction or a nested `begin` does not compile: the transaction borrows the
/// mirror.)
pub fn check_drop_rolls_back(mirror: &mut dyn Mirror) -> Check {
    let a = scope("a");
    let mut tx = mirror.begin(&a)?;
    tx.write_batch(&[MirrorWrite::Insert(record(1, "a", Some("k"), 0))])?;
    tx.checkpoint()?;
    tx.write_batch(&[MirrorWrite::Insert(record(2, "a", Some("k2"), 0))])?;
    assert_eq!(tx.count(None)?, 2);
    drop(tx);
    // The checkpoint's write stays, the one after it is gone.
    assert_eq!(mirror.count(None)?, 1);
    insert(mirror, &[record(3, "a", None, 0)])?;
    assert_eq!(mirror.count(None)?, 2);
    Ok(())
}

/// Applying the schema twice creates nothing the second time.
pub fn check_schema_is_idempotent(mirror: &mut dyn Mirror) -> Check {
    mirror.apply_schema()?;
    assert!(mirror.missing_schema_objects()?.is_empty());
    assert!(mirror.apply_schema()?.is_empty());
    assert!(!mirror.schema_script().contains("DROP"));
    Ok(())
}

#[test]
fn sqlite_backend_conforms() -> Check {
    let dir = tempfile::tempdir()?;
    let mut n = 0;
    run_all(&mut || {
        n += 1;
        let m = SqliteMirror::open(
            &dir.path().join(format!("m{n}.db")),
            "lake",
            "RawExchangeRecord",
            &StoreOptions::default(),
        )?;
        Ok(Box::new(m) as Box<dyn Mirror>)
    })?;
    println!("conformance: sqlite ran");
    Ok(())
}

/// A build without the `postgres` feature cannot run the live suite: under CI
/// that is a failure, not a skip.
#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_backend_is_built() -> Check {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Err(
            "CI=true but exchange-sync was built without the `postgres` feature: \
                    run `cargo test --workspace` (fabric-cli turns it on)"
                .into(),
        );
    }
    println!("conformance: postgres SKIPPED (built without the `postgres` feature)");
    Ok(())
}

#[test]
fn sqlite_backend_conforms_on_a_custom_table() -> Check {
    let dir = tempfile::tempdir()?;
    let mut n = 0;
    run_all(&mut || {
        n += 1;
        let m = SqliteMirror::open(
            &dir.path().join(format!("c{n}.db")),
            "ops",
            "Other",
            &StoreOptions::default(),
        )?;
        Ok(Box::new(m) as Box<dyn Mirror>)
    })
}

/// A store made before exchange_id got its own unique index (4 KiB pages, the
/// table's PRIMARY KEY doing that job): every check still holds.
#[test]
fn sqlite_backend_conforms_on_a_store_made_by_the_previous_release() -> Check {
    let dir = tempfile::tempdir()?;
    let mut n = 0;
    run_all(&mut || {
        n += 1;
        let path = dir.path().join(format!("old{n}.db"));
        {
            let small_pages = StoreOptions {
                page_size: Some(4096),
                ..StoreOptions::default()
            };
            drop(small_pages.open(&path)?);
            let conn = rusqlite::Connection::open(&path)?;
            let table = fabric_store::mirror::TableName::new("lake", "RawExchangeRecord")?;
            let ddl = table.ddl().replace(
                "exchange_id     TEXT    NOT NULL,",
                "exchange_id     TEXT    NOT NULL PRIMARY KEY,",
            );
            assert!(ddl.contains("PRIMARY KEY"));
            conn.execute_batch(&format!(
                "DROP TABLE lake_RawExchangeRecord; {ddl} \
                 DROP INDEX lake_RawExchangeRecord_exchange_id;"
            ))?;
            let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            assert_eq!(page_size, 4096);
        }
        let m = SqliteMirror::open(&path, "lake", "RawExchangeRecord", &StoreOptions::default())?;
        Ok(Box::new(m) as Box<dyn Mirror>)
    })
}
