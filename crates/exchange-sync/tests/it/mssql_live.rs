//! SQL Server mirror against sockets: a closed local port (always runs) and the live
//! suite against a real server when `FABRIC_TEST_MSSQL` holds a connection string
//! (else each live test prints that SQL Server was skipped, and passes).

use std::time::{Duration, Instant};

use exchange_sync::mssql::tsql::TableName;
use exchange_sync::mssql::{SqlServerConfig, SqlServerMirror};
use exchange_sync::{Error, Mirror, MirrorRead, MirrorRecord, MirrorWrite, Scope};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn lake() -> Result<TableName, Error> {
    TableName::new("lake", "RawExchangeRecord")
}

// ---- a real socket, no server ----

/// Every line of `err`'s chain.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str("\ncaused by: ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[test]
fn closed_port_fails_fast_naming_the_host_not_the_password() -> TestResult {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    }; // listener dropped: nothing listens there now
    let config = SqlServerConfig::from_target(&format!(
        "mssql://fabric:hunter2@127.0.0.1:{port}/Holocron?connectTimeout=5"
    ))?;
    let started = Instant::now();
    let err = match SqlServerMirror::connect(&config, lake()?) {
        Err(e) => e,
        Ok(m) => return Err(format!("connected to a closed port: {m:?}").into()),
    };
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::MirrorUnavailable { .. }), "{err:?}");
    let text = format!("{}\n{err:?}", chain(&err));
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "password leaked: {text}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    Ok(())
}

/// The original system's default port 1434 is usually not the database engine: a failed
/// connection made with it says where SQL Server usually listens and how to set
/// the port; one made with a port given says nothing of the kind.
#[test]
fn default_port_1434_failure_says_1433() -> TestResult {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let vars = |with_port: bool| {
        move |k: &str| match k {
            "INGEST_SQLSERVER_HOST" => Some("127.0.0.1".to_owned()),
            "INGEST_SQLSERVER_PORT" if with_port => Some(port.to_string()),
            _ => None,
        }
    };
    let mut defaulted = SqlServerConfig::from_env(vars(false))?.ok_or("no config")?;
    assert_eq!(defaulted.port, 1434);
    assert!(defaulted.port_is_env_default);
    // Whatever listens on 1434 here, aim the defaulted config at a closed port.
    defaulted.port = port;
    defaulted.connect_timeout = Duration::from_secs(5);
    let given = SqlServerConfig::from_env(vars(true))?.ok_or("no config")?;
    assert!(!given.port_is_env_default);
    for (config, hinted) in [(defaulted, true), (given, false)] {
        let err = match SqlServerMirror::connect(&config, lake()?) {
            Err(e) => e,
            Ok(m) => return Err(format!("connected to a closed port: {m:?}").into()),
        };
        let text = chain(&err);
        assert_eq!(text.contains("usually listens on 1433"), hinted, "{text}");
        assert_eq!(text.contains("set INGEST_SQLSERVER_PORT"), hinted, "{text}");
    }
    Ok(())
}

// ---- live suite (FABRIC_TEST_MSSQL) ----

/// The live server's settings, or `None` (with a printed notice) when
/// `FABRIC_TEST_MSSQL` is unset.
fn live_config(test: &str) -> Result<Option<SqlServerConfig>, Box<dyn std::error::Error>> {
    match std::env::var("FABRIC_TEST_MSSQL") {
        Ok(target) => {
            let config = SqlServerConfig::from_target(&target)?;
            println!("mssql::{test}: backend SQL Server {}", config.describe());
            Ok(Some(config))
        }
        Err(_) => {
            println!(
                "mssql::{test}: SQL Server SKIPPED (set FABRIC_TEST_MSSQL to a connection string to run it)"
            );
            Ok(None)
        }
    }
}

/// A table name no other run uses: `[fabric_test].[<test>_<pid>_<nanos>_<n>]`.
fn fresh_table(test: &str, n: usize) -> Result<TableName, Box<dyn std::error::Error>> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    Ok(TableName::new(
        "fabric_test",
        &format!("{test}_{}_{nanos}_{n}", std::process::id()),
    )?)
}

/// A connection to the live server with a fresh table, dropped again on exit.
struct Live {
    mirror: SqlServerMirror,
    packet_size: u32,
}

impl Live {
    /// `None` (with a printed notice) when `FABRIC_TEST_MSSQL` is unset.
    fn open(test: &str) -> Result<Option<Self>, Box<dyn std::error::Error>> {
        let Some(config) = live_config(test)? else {
            return Ok(None);
        };
        let table = fresh_table(test, 0)?;
        println!("mssql::{test}: table {}", table.quoted());
        let mut mirror = SqlServerMirror::connect(&config, table)?;
        mirror.apply_schema()?;
        Ok(Some(Self {
            mirror,
            packet_size: config.packet_size,
        }))
    }
}

/// The shared backend-conformance suite (`conformance::run_all`, the same one
/// SQLite runs) on SQL Server, each check on a fresh table, all dropped afterwards.
#[test]
fn live_sql_server_backend_conforms() -> TestResult {
    let Some(config) = live_config("conformance")? else {
        return Ok(());
    };
    let mut tables = Vec::new();
    let result = super::conformance::run_all(&mut || {
        let table = fresh_table("conformance", tables.len())?;
        tables.push(table.clone());
        let mut m = SqlServerMirror::connect(&config, table)?;
        m.apply_schema()?;
        Ok(Box::new(m) as Box<dyn Mirror>)
    });
    if let Some(first) = tables.first() {
        let mut admin = SqlServerMirror::connect(&config, first.clone())?;
        for t in &tables {
            let _ = admin.execute_batch(&format!("DROP TABLE IF EXISTS {}", t.quoted()));
        }
    }
    result?;
    println!("mssql::conformance: SQL Server passed all conformance checks");
    Ok(())
}

impl Drop for Live {
    fn drop(&mut self) {
        let sql = format!("DROP TABLE {}", self.mirror.table().quoted());
        let _ = self.mirror.execute_batch(&sql);
    }
}

fn scope() -> Scope {
    Scope {
        source_system: "wookieepedia".into(),
        entity_type: "page".into(),
    }
}

fn record(
    i: u64,
    key: Option<&str>,
    payload_text: &str,
) -> Result<MirrorRecord, Box<dyn std::error::Error>> {
    let hash = format!("{:064x}", i + 1);
    let payload = serde_json::json!({"n": i, "text": payload_text}).to_string();
    Ok(MirrorRecord {
        exchange_id: format!("00000000-0000-4000-8000-{i:012x}"),
        exchange_type: "mediawiki".into(),
        source_system: "wookieepedia".into(),
        entity_type: "page".into(),
        natural_key: key.map(str::to_owned),
        observed_at_utc: time::macros::datetime!(2024-01-15 09:21:00.003711 UTC)
            + time::Duration::seconds(i64::try_from(i)?),
        content_sha256: hash.parse()?,
        payload_json: payload,
        schema_version: 1,
    })
}

#[test]
fn live_round_trip_keeps_every_character() -> TestResult {
    let Some(mut live) = Live::open("roundtrip")? else {
        return Ok(());
    };
    let m = &mut live.mirror;
    assert!(m.missing_schema_objects()?.is_empty());
    assert!(
        m.apply_schema()?.is_empty(),
        "a second apply created something"
    );
    let text = "astral 😀𝄞 line\u{2028}sep\u{2029} nul-free \u{85} é vs e\u{301} \u{feff}";
    let a = record(1, Some("Luke_Skywalker"), text)?;
    let b = record(2, Some("luke_skywalker"), "case differs")?; // exact, case-sensitive keys
    let c = record(3, None, "no key")?;
    let mut tx = m.begin(&scope())?;
    tx.write_batch(&[
        MirrorWrite::Insert(a.clone()),
        MirrorWrite::Insert(b.clone()),
        MirrorWrite::Insert(c.clone()),
    ])?;
    tx.commit()?;
    let mut got = Vec::new();
    assert_eq!(
        m.export_scope(&scope(), &mut |r| {
            got.push(r);
            Ok(())
        })?,
        3
    );
    assert_eq!(
        got,
        vec![c.clone(), b.clone(), a.clone()],
        "newest first, byte for byte"
    );
    let found =
        m.find_by_natural_keys(&scope(), &["Luke_Skywalker", "nobody", "luke_skywalker"])?;
    assert_eq!(
        found.first().cloned().flatten().map(|r| r.exchange_id),
        Some(a.exchange_id.clone())
    );
    assert_eq!(found.get(1).cloned().flatten(), None);
    assert_eq!(
        found.get(2).cloned().flatten().map(|r| r.exchange_id),
        Some(b.exchange_id.clone())
    );
    assert_eq!(m.count(Some(&scope()))?, 3);
    assert_eq!(m.hashes_in_scope(&scope())?.len(), 3);

    // Update by exchange_id (the primary key moves), then a rollback leaves no trace.
    let mut a2 = record(10, Some("Luke_Skywalker"), "newer")?;
    a2.exchange_id = "00000000-0000-4000-8000-0000000000aa".into();
    let mut tx = m.begin(&scope())?;
    tx.write_batch(&[MirrorWrite::Update {
        exchange_id: a.exchange_id.clone(),
        record: a2.clone(),
    }])?;
    tx.commit()?;
    let found = m.find_by_natural_keys(&scope(), &["Luke_Skywalker"])?;
    assert_eq!(
        found.first().cloned().flatten().map(|r| r.exchange_id),
        Some(a2.exchange_id.clone())
    );
    let mut tx = m.begin(&scope())?;
    tx.write_batch(&[MirrorWrite::Insert(record(20, Some("Han_Solo"), "x")?)])?;
    tx.rollback()?;
    assert_eq!(m.count(None)?, 3);

    // Refused writes are MirrorWrite errors.
    let mut tx = m.begin(&scope())?;
    let dup = tx.write_batch(&[MirrorWrite::Insert(b.clone())]);
    tx.rollback()?;
    assert!(matches!(dup, Err(Error::MirrorWrite { .. })), "{dup:?}");
    let mut tx = m.begin(&scope())?;
    let missing = tx.write_batch(&[MirrorWrite::Update {
        exchange_id: "00000000-0000-4000-8000-0000000000ff".into(),
        record: record(30, None, "y")?,
    }]);
    tx.rollback()?;
    assert!(
        matches!(missing, Err(Error::MirrorWrite { .. })),
        "{missing:?}"
    );
    Ok(())
}

/// Bulk-insert throughput: `FABRIC_TEST_MSSQL_ROWS` rows (default 100,000) in
/// batches of 5,000, one transaction, printed as rows/s. tiberius users report
/// 100k-180k rows/s with 16 KiB packets on small rows; payloads here are ~100 bytes.
#[test]
fn live_bulk_insert_throughput() -> TestResult {
    let Some(mut live) = Live::open("bulk")? else {
        return Ok(());
    };
    let rows: u64 = std::env::var("FABRIC_TEST_MSSQL_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let m = &mut live.mirror;
    let mut batch = Vec::with_capacity(5_000);
    let started = Instant::now();
    let mut tx = m.begin(&scope())?;
    for i in 0..rows {
        batch.push(MirrorWrite::Insert(record(
            i,
            Some(&format!("key-{i}")),
            "bulk",
        )?));
        if batch.len() == 5_000 {
            tx.write_batch(&batch)?;
            batch.clear();
        }
    }
    tx.write_batch(&batch)?;
    tx.commit()?;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(m.count(None)?, rows);
    println!(
        "mssql::bulk: {rows} rows in {secs:.2} s = {:.0} rows/s (packet size {} bytes)",
        rows as f64 / secs,
        live.packet_size
    );
    Ok(())
}
