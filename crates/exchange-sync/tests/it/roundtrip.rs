//! Round-trip properties: pack -> import -> export keeps hashes and payloads;
//! pack -> zip -> unzip is byte-identical; unsafe archives are refused whole.

use std::io::Write;

use exchange_sync::manifest::{ConflictStrategy, Direction, Manifest, ManifestFile};
use exchange_sync::mirror::Mirror;
use exchange_sync::mirror::sqlite::SqliteMirror;
use exchange_sync::pack::{PackEntry, PackWriter};
use exchange_sync::sync::{SyncOptions, SyncReport, sync};
use exchange_sync::{ExchangeRecord, Provenance};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::pack::read_all;

pub fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-22 03:00:00 UTC)
}

pub fn options(direction: Direction) -> SyncOptions {
    SyncOptions {
        direction,
        conflict: ConflictStrategy::PreferNewest,
        dry_run: false,
        lenient: false,
        chunk_size: 3,
        batch_commit: None,
    }
}

/// [`sync`] of the manifest file at `path`, at [`now`], without progress.
pub fn sync_file(
    path: &std::path::Path,
    mirror: &mut dyn Mirror,
    options: &SyncOptions,
) -> exchange_sync::Result<SyncReport> {
    let manifest = Manifest::load(path)?;
    sync(&manifest, path, mirror, options, &now, &mut |_, _, _| {})
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e12f64..1e12).prop_map(|x| Value::Number(
            fabric_core::json::py_float(x).unwrap_or_else(|| 0.into())
        )),
        "[a-zA-Zé\u{301}日本\u{2028}\"\\\\ ]{0,12}".prop_map(Value::String),
        Just(serde_json::from_str::<Value>("18446744073709551616").unwrap_or(Value::Null)),
        Just(serde_json::from_str::<Value>("1.0").unwrap_or(Value::Null)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_é]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn record(i: usize, key: Option<String>, response: Value, minute: u8) -> ExchangeRecord {
    let mut r = ExchangeRecord {
        exchange_id: format!("00000000-0000-4000-8000-{i:012x}"),
        exchange_type: "http".into(),
        source_system: "src".into(),
        entity_type: "page".into(),
        natural_key: key,
        request: json!({"i": i}),
        response,
        observed_at_utc: Some(
            time::macros::datetime!(2024-01-15 10:00:00 UTC)
                + time::Duration::minutes(i64::from(minute)),
        ),
        provenance: Some(Provenance::default()),
        content_sha256: exchange_sync::ContentHash([0; 32]),
        schema_version: 1,
        tags: vec!["t".into()],
        redactions_applied: Vec::new(),
        response_ref: None,
        extra: serde_json::Map::new(),
    };
    r.content_sha256 = r.compute_hash();
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn pack_import_export_keeps_hashes_and_payloads(
        responses in prop::collection::vec((value(), 0u8..50), 1..12),
    ) {
        let tmp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let run = || -> Result<(), Box<dyn std::error::Error>> {
            let manifest = Manifest::new("ds", "http", "src", "page");
            let src = tmp.path().join("ds");
            let records: Vec<ExchangeRecord> = responses
                .iter()
                .enumerate()
                .map(|(i, (v, m))| record(i, Some(format!("k{i}")), v.clone(), *m))
                .collect();
            let mut w = PackWriter::open(&src, manifest.clone(), 3, now())?;
            for r in &records {
                w.write(PackEntry::from_record(r))?;
            }
            w.close()?;
            let db = tmp.path().join("f.db");
            let mut mirror = SqliteMirror::open(&db, "lake", "RawExchangeRecord", &fabric_store::StoreOptions::default())?;
            let report = sync_file(&src.join("manifest.json"), &mut mirror, &options(Direction::JsonToSql))?;
            assert_eq!(report.json_to_sql.inserted as usize, records.len());
            let dst = tmp.path().join("out");
            let mut m2 = manifest;
            m2.save(&{ std::fs::create_dir_all(&dst)?; dst.join("manifest.json") }, now())?;
            let report = sync_file(&dst.join("manifest.json"), &mut mirror, &options(Direction::SqlToJson))?;
            assert_eq!(report.sql_to_json.inserted as usize, records.len());
            let mut back = read_all(&dst)?;
            back.sort_by(|a, b| a.exchange_id.cmp(&b.exchange_id));
            assert_eq!(back.len(), records.len());
            for (a, b) in records.iter().zip(&back) {
                assert_eq!(a.content_sha256, b.content_sha256);
                assert_eq!(b.compute_hash(), b.content_sha256);
                assert_eq!(a.to_line(), b.to_line());
            }
            // A second sync both ways changes nothing.
            let report = sync_file(&dst.join("manifest.json"), &mut mirror, &options(Direction::Bidirectional))?;
            assert_eq!((report.json_to_sql.inserted, report.json_to_sql.updated, report.sql_to_json.inserted), (0, 0, 0));
            Ok(())
        };
        run().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }

    #[test]
    fn pack_zip_unzip_is_byte_identical(
        responses in prop::collection::vec(value(), 1..8),
    ) {
        let tmp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let run = || -> Result<(), Box<dyn std::error::Error>> {
            let src = tmp.path().join("ds");
            let mut w = PackWriter::open(&src, Manifest::new("ds", "http", "src", "page"), 2, now())?;
            for (i, v) in responses.iter().enumerate() {
                w.write(PackEntry::from_record(&record(i, None, v.clone(), 0)))?;
            }
            w.close()?;
            let zip = tmp.path().join("a.zip");
            let mpath = src.join("manifest.json");
            exchange_sync::archive::pack(&Manifest::load(&mpath)?, &mpath, &zip, None, false, &mut |_, _| {})?;
            let out = exchange_sync::archive::unpack(&zip, &tmp.path().join("un"), None, false, &Default::default())?;
            for (rel, path) in exchange_sync::archive::dataset_files(&src)? {
                assert_eq!(std::fs::read(&path)?, std::fs::read(out.join(&rel))?, "{rel}");
            }
            Ok(())
        };
        run().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

fn zip_with(entries: &[(&str, &[u8])]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())?;
        zip.write_all(data)?;
    }
    Ok(zip.finish()?.into_inner())
}

#[test]
fn unsafe_archives_are_refused_and_write_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = Manifest::new("ds", "http", "src", "page").to_text();
    for bad in [
        "../evil.txt",
        "/abs.txt",
        "C:/win.txt",
        "a\\..\\..\\evil.txt",
        "\\\\server\\share\\x",
        "records/../../x",
    ] {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("bad.zip");
        std::fs::write(
            &path,
            zip_with(&[("manifest.json", manifest.as_bytes()), (bad, b"x")])?,
        )?;
        let out = tmp.path().join("out");
        let result = exchange_sync::archive::unpack(&path, &out, None, false, &Default::default());
        assert!(
            matches!(result, Err(exchange_sync::Error::Archive { .. })),
            "{bad}: {result:?}"
        );
        assert!(!out.exists(), "{bad}: nothing written");
        assert!(!tmp.path().join("evil.txt").exists());
    }
    // A dataset name that is a path is refused too.
    let evil = Manifest::new("../up", "http", "src", "page").to_text();
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("bad.zip");
    std::fs::write(&path, zip_with(&[("manifest.json", evil.as_bytes())])?)?;
    assert!(
        exchange_sync::archive::unpack(
            &path,
            &tmp.path().join("out"),
            None,
            false,
            &Default::default()
        )
        .is_err()
    );
    // One top-level folder is accepted; a duplicate _pack_meta.json is fine.
    let path = tmp.path().join("top.zip");
    std::fs::write(
        &path,
        zip_with(&[
            ("ds/manifest.json", manifest.as_bytes()),
            ("ds/_pack_meta.json", b"{}"),
            ("ds/_pack_meta.json", b"{\"last\": 1}"),
        ])
        .or_else(|_| zip_with(&[("ds/manifest.json", manifest.as_bytes())]))?,
    )?;
    let out = exchange_sync::archive::unpack(
        &path,
        &tmp.path().join("ok"),
        None,
        false,
        &Default::default(),
    )?;
    assert!(out.join("manifest.json").exists());
    Ok(())
}

/// An export whose scan of the mirror fails half-way (a damaged row, met after
/// several chunks were written on the writer's thread) leaves the target pack as
/// it was: no chunk, no index line, the manifest unchanged.
#[test]
fn an_export_failing_half_way_leaves_the_pack_as_it_was() -> Result<(), Box<dyn std::error::Error>>
{
    let tmp = tempfile::tempdir()?;
    let mut manifest = Manifest::new("ds", "http", "src", "page");
    let src = tmp.path().join("ds");
    let mut w = PackWriter::open(&src, manifest.clone(), 3, now())?;
    for i in 0..40 {
        w.write(PackEntry::from_record(&record(
            i,
            Some(format!("k{i}")),
            json!(i),
            0,
        )))?;
    }
    w.close()?;
    let db = tmp.path().join("f.db");
    let mut mirror = SqliteMirror::open(
        &db,
        "lake",
        "RawExchangeRecord",
        &fabric_store::StoreOptions::default(),
    )?;
    sync_file(
        &src.join("manifest.json"),
        &mut mirror,
        &options(Direction::JsonToSql),
    )?;
    drop(mirror);
    // Damage one row's time so that it sorts oldest: the export (newest first)
    // meets it after 39 good rows, 13 chunks of 3.
    let damaged = record(0, Some("k0".into()), json!(0), 0).exchange_id;
    let changed = rusqlite::Connection::open(&db)?.execute(
        "UPDATE lake_RawExchangeRecord SET observed_at_utc = '0000-not-a-time' \
         WHERE exchange_id = ?1",
        [&damaged],
    )?;
    assert_eq!(changed, 1);
    let dst = tmp.path().join("out");
    std::fs::create_dir_all(&dst)?;
    manifest.save(&dst.join("manifest.json"), now())?;
    let snapshot = || -> Result<_, Box<dyn std::error::Error>> {
        Ok((
            crate::pack::pack_bytes(&dst)?,
            std::fs::read(dst.join("manifest.json"))?,
        ))
    };
    let before = snapshot()?;
    let mut mirror = SqliteMirror::open(
        &db,
        "lake",
        "RawExchangeRecord",
        &fabric_store::StoreOptions::default(),
    )?;
    let err = sync_file(
        &dst.join("manifest.json"),
        &mut mirror,
        &options(Direction::SqlToJson),
    )
    .err()
    .ok_or("the export must fail")?;
    assert!(err.to_string().contains(&damaged), "{err}");
    assert_eq!(snapshot()?, before);
    Ok(())
}

/// A two-way sync exports what the mirror holds beyond the pack (rows another pack
/// brought), counts the same in a dry run, and is a no-op the second time.
#[test]
fn a_two_way_sync_exports_what_only_the_mirror_has() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("f.db");
    let manifest = Manifest::new("ds", "http", "src", "page");
    let pack_of =
        |name: &str, range: std::ops::Range<usize>| -> Result<_, Box<dyn std::error::Error>> {
            let dir = tmp.path().join(name);
            let mut w = PackWriter::open(&dir, manifest.clone(), 4, now())?;
            for i in range {
                w.write(PackEntry::from_record(&record(
                    i,
                    Some(format!("k{i}")),
                    json!(i),
                    1,
                )))?;
            }
            w.close()?;
            Ok(dir.join("manifest.json"))
        };
    let (a, b) = (pack_of("a", 0..10)?, pack_of("b", 10..25)?);
    let mut mirror = SqliteMirror::open(
        &db,
        "lake",
        "RawExchangeRecord",
        &fabric_store::StoreOptions::default(),
    )?;
    for m in [&a, &b] {
        sync_file(m, &mut mirror, &options(Direction::JsonToSql))?;
    }
    let counts = |r: &SyncReport| {
        (
            r.json_to_sql.inserted,
            r.json_to_sql.skipped,
            r.sql_to_json.inserted,
            r.sql_to_json.skipped,
            r.json_record_count,
            r.sql_record_count,
        )
    };
    let both = options(Direction::Bidirectional);
    let dry = sync_file(
        &a,
        &mut mirror,
        &SyncOptions {
            dry_run: true,
            ..both
        },
    )?;
    let real = sync_file(&a, &mut mirror, &both)?;
    assert_eq!(counts(&real), (0, 10, 15, 10, 25, 25));
    assert_eq!(counts(&dry), counts(&real));
    assert_eq!(read_all(a.parent().ok_or("dir")?)?.len(), 25);
    let again = sync_file(&a, &mut mirror, &both)?;
    assert_eq!(counts(&again), (0, 25, 0, 25, 25, 25));
    Ok(())
}
