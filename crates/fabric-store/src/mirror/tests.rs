//! The mirror table's own tests: scan order, the bulk load's index deferral, the
//! transaction's rollback on drop.

use rusqlite::params;

use super::*;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn lake() -> Result<TableName> {
    TableName::new("lake", "RawExchangeRecord")
}

/// A row of scope `s`/`e` without a natural key, for the tests of this crate.
pub(crate) fn row_ref<'a>(id: &'a str, hash: &'a str, payload: &'a str) -> MirrorRowRef<'a> {
    MirrorRowRef {
        exchange_id: id,
        exchange_type: "file",
        source_system: "s",
        entity_type: "e",
        natural_key: None,
        observed_at_utc: "2026-01-01T00:00:00.000000Z",
        content_sha256: hash,
        payload_json: payload,
        schema_version: 1,
    }
}

fn row<'a>(id: &'a str, hash: &'a str) -> MirrorWriteRef<'a> {
    MirrorWriteRef::Insert(row_ref(id, hash, "{}"))
}

fn count(store: &mut Store, table: &TableName) -> Result<u64> {
    store.mirror(table).reader()?.count(None)
}

#[test]
fn a_new_store_gets_large_pages() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("f.db"))?;
    let size: u32 = store
        .conn()
        .query_row("PRAGMA page_size", [], |r| r.get(0))?;
    assert_eq!(size, crate::PAGE_SIZE);
    Ok(())
}

#[test]
fn table_names_are_checked() {
    assert!(TableName::new("lake", "Raw_1").is_ok());
    for (schema, table) in [("", "t"), ("lake", "1t"), ("la ke", "t"), ("l", "t;--")] {
        assert!(
            matches!(
                TableName::new(schema, table),
                Err(Error::MirrorTableName { .. })
            ),
            "{schema}.{table}"
        );
    }
}

/// The scan reads the scope index backwards (no sort step: a sort copies every
/// row), newest first with ties by exchange_id ascending.
#[test]
fn the_scan_needs_no_sort_and_orders_ties_by_id() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("f.db"))?;
    let table = lake()?;
    store.mirror(&table).apply_schema()?;
    let plan: Vec<String> = store
        .conn()
        .prepare(&format!("EXPLAIN QUERY PLAN {}", read::scan_sql(&table)))?
        .query_map(params!["s", "e"], |r| r.get::<_, String>(3))?
        .collect::<rusqlite::Result<_>>()?;
    assert!(plan.iter().any(|p| p.contains("_scope_time")), "{plan:?}");
    assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");

    let at = |id: &'static str, t: &'static str, h: char| {
        (id, t, std::iter::repeat_n(h, 64).collect::<String>())
    };
    let rows = [
        at("b", "2026-01-01T00:00:00.000000Z", 'a'),
        at("c", "2026-01-02T00:00:00.000000Z", 'b'),
        at("a", "2026-01-01T00:00:00.000000Z", 'c'),
        at("d", "2026-01-01T00:00:00.000000Z", 'd'),
    ];
    let writes: Vec<MirrorWriteRef<'_>> = rows
        .iter()
        .map(|(id, t, h)| match row(id, h) {
            MirrorWriteRef::Insert(r) => MirrorWriteRef::Insert(MirrorRowRef {
                observed_at_utc: t,
                ..r
            }),
            other => other,
        })
        .collect();
    let mut tx = store.mirror(&table).begin()?;
    tx.write_batch(&writes)?;
    tx.commit()?;
    let mut order = Vec::new();
    store
        .mirror(&table)
        .reader()?
        .scan::<Error>("s", "e", |r| {
            order.push(r.exchange_id);
            Ok(())
        })?;
    assert_eq!(order, ["c", "a", "b", "d"]);
    Ok(())
}

#[test]
fn a_bulk_load_defers_the_indexes_and_gets_them_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("f.db"))?;
    let table = lake()?;
    let [_, indexes @ ..] = table.object_names();
    let missing_now = |tx: &MirrorTx<'_>| read::missing_objects(tx.conn, tx.at, tx.table);

    // Empty table: the exchange_id and hash indexes dropped, and back when the
    // transaction ends; the unique checks come back with them: a duplicate hash
    // or exchange_id fails the rebuild (at the next read or the commit), naming
    // the record.
    for (first, second) in [("1", "2"), ("1", "1")] {
        let mut tx = store.mirror(&table).begin()?;
        let h = "a".repeat(64);
        let other = if first == second {
            "b".repeat(64)
        } else {
            h.clone()
        };
        tx.write_batch(&[row(first, &h), row(second, &other)])?;
        assert_eq!(missing_now(&tx)?, indexes[..2]);
        match tx.commit() {
            Err(Error::MirrorConstraint { exchange_id, .. }) => assert_eq!(exchange_id, second),
            other => panic!("expected a constraint error, got {other:?}"),
        }
        assert!(store.mirror(&table).missing_objects()?.is_empty());
        assert_eq!(count(&mut store, &table)?, 0);
    }

    // Natural-key lookups mid-load leave the indexes dropped (they use the
    // natural-key index); dropped uncommitted, the indexes are back.
    let mut tx = store.mirror(&table).begin()?;
    tx.write_batch(&[row("1", &"b".repeat(64))])?;
    assert_eq!(tx.find_keys("s", "e", &["k", "j"])?, [None, None]);
    assert_eq!(missing_now(&tx)?, indexes[..2]);
    drop(tx);
    assert!(store.mirror(&table).missing_objects()?.is_empty());
    assert_eq!(count(&mut store, &table)?, 0);

    // A read inside the transaction builds them first, and sees the rows.
    let mut tx = store.mirror(&table).begin()?;
    let (h1, h2) = ("b".repeat(64), "c".repeat(64));
    tx.write_batch(&[row("1", &h1), row("2", &h2)])?;
    assert_eq!(tx.reader()?.count(None)?, 2);
    assert!(missing_now(&tx)?.is_empty());
    tx.commit()?;
    assert!(store.mirror(&table).missing_objects()?.is_empty());
    assert_eq!(count(&mut store, &table)?, 2);

    // A table with rows is never bulk loaded.
    let mut tx = store.mirror(&table).begin()?;
    tx.write_batch(&[row("3", &"d".repeat(64))])?;
    assert!(missing_now(&tx)?.is_empty());
    tx.rollback()?;
    assert_eq!(count(&mut store, &table)?, 2);
    Ok(())
}

/// A checkpoint commits what is written and goes on in a new transaction: a drop
/// afterwards undoes only what came after it.
#[test]
fn a_checkpoint_keeps_what_came_before_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("f.db"))?;
    let table = lake()?;
    let mut tx = store.mirror(&table).begin()?;
    tx.write_batch(&[row("1", &"a".repeat(64))])?;
    tx.checkpoint()?;
    tx.write_batch(&[row("2", &"b".repeat(64))])?;
    drop(tx);
    assert_eq!(count(&mut store, &table)?, 1);
    assert!(store.mirror(&table).missing_objects()?.is_empty());
    Ok(())
}

/// A missing table reads as empty and is created by the first transaction.
#[test]
fn a_missing_table_reads_as_empty_and_begin_creates_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("f.db"))?;
    let table = TableName::new("ops", "Other")?;
    assert_eq!(store.mirror(&table).missing_objects()?.len(), 5);
    let reader = store.mirror(&table).reader()?;
    assert_eq!(reader.count(Some(("s", "e")))?, 0);
    assert_eq!(reader.find_key("s", "e", "k")?, None);
    assert_eq!(reader.scan::<Error>("s", "e", |_| Ok(()))?, 0);
    drop(store.mirror(&table).begin()?);
    assert!(store.mirror(&table).missing_objects()?.is_empty());
    Ok(())
}

/// Every column of every row of a batch is stored as given, whichever columns
/// it shares with the row before (the insert rebinds only what changed), with
/// updates between the inserts.
#[test]
fn each_row_of_a_batch_keeps_its_own_columns() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("f.db"))?;
    let table = lake()?;
    let hashes: Vec<String> = (0..8)
        .map(|i| std::iter::repeat_n(char::from(b'a' + i), 64).collect())
        .collect();
    let ids: Vec<String> = (0..8).map(|i| format!("id-{i}")).collect();
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    // Type, scope and schema version change every so many rows; the key is
    // NULL on some.
    let at = |i: usize| MirrorRowRef {
        exchange_id: &ids[i],
        exchange_type: ["file", "file", "http", "http", "file", "x", "x", "x"][i],
        source_system: ["s", "s", "s", "t", "t", "t", "s", "s"][i],
        entity_type: ["e", "f", "f", "f", "e", "e", "e", "e"][i],
        natural_key: (i % 3 != 1).then_some(keys[i].as_str()),
        observed_at_utc: "2026-01-01T00:00:00.000000Z",
        content_sha256: &hashes[i],
        payload_json: ["{}", "[1]"][i % 2],
        schema_version: [1, 1, 2, 2, 2, 1, 3, 3][i],
    };
    let mut tx = store.mirror(&table).begin()?;
    tx.write_batch(
        &(0..4)
            .map(|i| MirrorWriteRef::Insert(at(i)))
            .collect::<Vec<_>>(),
    )?;
    tx.commit()?;
    // A second batch: inserts, an update of row 0 between them, inserts again.
    let updated = MirrorRowRef {
        exchange_type: "changed",
        ..at(0)
    };
    let writes = vec![
        MirrorWriteRef::Insert(at(4)),
        MirrorWriteRef::Update {
            exchange_id: &ids[0],
            row: updated,
        },
        MirrorWriteRef::Insert(at(5)),
        MirrorWriteRef::Insert(at(6)),
        MirrorWriteRef::Insert(at(7)),
    ];
    let mut tx = store.mirror(&table).begin()?;
    tx.write_batch(&writes)?;
    tx.commit()?;
    type Stored = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        i64,
    );
    let stored: Vec<Stored> = store
        .conn()
        .prepare(&format!(
            "SELECT exchange_id, exchange_type, source_system, entity_type, natural_key, \
             content_sha256, payload_json, schema_version FROM {} ORDER BY exchange_id",
            table.quoted()
        ))?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let expected: Vec<Stored> = (0..8)
        .map(|i| {
            let r = if i == 0 { updated } else { at(i) };
            (
                r.exchange_id.to_owned(),
                r.exchange_type.to_owned(),
                r.source_system.to_owned(),
                r.entity_type.to_owned(),
                r.natural_key.map(str::to_owned),
                r.content_sha256.to_owned(),
                r.payload_json.to_owned(),
                r.schema_version,
            )
        })
        .collect();
    assert_eq!(stored, expected);
    Ok(())
}

/// A stored hash that is not text (a blob of 64 bytes passes the table's
/// length check) is an error naming what was being read, not a row left out
/// of the hashes in scope: a sync would take its record for a new one.
#[test]
fn a_hash_that_is_not_text_is_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(dir.path().join("f.db"))?;
    let table = lake()?;
    let mut tx = store.mirror(&table).begin()?;
    tx.write_batch(&[row("1", &"a".repeat(64)), row("2", &"b".repeat(64))])?;
    tx.commit()?;
    store.conn().execute(
        &format!(
            "UPDATE {} SET content_sha256 = zeroblob(64) WHERE exchange_id = '2'",
            table.quoted()
        ),
        [],
    )?;
    let reader = store.mirror(&table).reader()?;
    let err = reader
        .hashes("s", "e", |_| {})
        .err()
        .ok_or("a blob hash was read without an error")?;
    assert!(err.to_string().contains("reading hashes"), "{err}");
    // Out of scope, the row is not read at all.
    let mut seen = Vec::new();
    reader.hashes("other", "e", |h| seen.push(h.to_owned()))?;
    assert!(seen.is_empty());
    Ok(())
}
