//! SQL Server mirror: the T-SQL and DDL snapshots and the connection-string rules
//! (always run), a closed-port connection (always run), and the live suite against
//! a real server when `FABRIC_TEST_MSSQL` holds a connection string (else each live
//! test prints that SQL Server was skipped and passes).

use std::time::{Duration, Instant};

use exchange_sync::mssql::tsql::{self, TableName};
use exchange_sync::mssql::{Encrypt, SqlServerConfig, SqlServerMirror, conn_string};
use exchange_sync::{Error, Mirror, MirrorRecord, MirrorWrite, Scope};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn lake() -> Result<TableName, Error> {
    TableName::new("lake", "RawExchangeRecord")
}

// ---- DDL and statements (pure, snapshot-pinned) ----

#[test]
fn ddl_script() -> TestResult {
    insta::assert_snapshot!("ddl_script", tsql::schema_script(&lake()?));
    Ok(())
}

#[test]
fn ddl_create_statements() -> TestResult {
    let all: Vec<String> = tsql::schema_objects(&lake()?)
        .iter()
        .map(tsql::create_if_missing)
        .collect();
    insta::assert_snapshot!("ddl_create_statements", all.join("\n\n"));
    insta::assert_snapshot!("missing_query", tsql::missing_query(&lake()?));
    Ok(())
}

#[test]
fn statements() -> TestResult {
    let t = lake()?;
    let text = [
        ("hashes_in_scope", tsql::hashes_in_scope(&t)),
        ("find_by_natural_keys(3)", tsql::find_by_natural_keys(&t, 3)),
        ("export_scope", tsql::export_scope(&t)),
        ("count(scoped)", tsql::count(&t, true)),
        ("count(table)", tsql::count(&t, false)),
        ("update_batch(2)", tsql::update_batch(&t, 2)),
        ("server_time", tsql::SERVER_TIME.to_owned()),
        ("session_settings", tsql::SESSION_SETTINGS.to_owned()),
        ("rollback", tsql::ROLLBACK.to_owned()),
        ("bulk columns", tsql::INSERT_COLUMNS.join(", ")),
    ]
    .iter()
    .map(|(name, sql)| format!("-- {name}\n{sql}"))
    .collect::<Vec<_>>()
    .join("\n\n");
    insta::assert_snapshot!("statements", text);
    Ok(())
}

/// The highest `@Pn` in `sql`.
fn max_param(sql: &str) -> usize {
    sql.split("@P")
        .skip(1)
        .filter_map(|s| {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn batches_respect_the_2100_parameter_limit() -> TestResult {
    let t = lake()?;
    let updates = tsql::update_batch(&t, tsql::UPDATES_PER_REQUEST);
    assert_eq!(
        max_param(&updates),
        tsql::UPDATES_PER_REQUEST * tsql::PARAMS_PER_UPDATE
    );
    assert!(max_param(&updates) <= 2_100);
    assert_eq!(
        updates.matches("UPDATE ").count(),
        tsql::UPDATES_PER_REQUEST
    );
    let lookup = tsql::find_by_natural_keys(&t, tsql::KEYS_PER_LOOKUP);
    assert_eq!(max_param(&lookup), tsql::KEYS_PER_LOOKUP + 2);
    assert!(max_param(&lookup) <= 2_100);
    Ok(())
}

#[test]
fn ddl_never_drops_and_guards_every_object() -> TestResult {
    let t = lake()?;
    let script = tsql::schema_script(&t).to_uppercase();
    for o in tsql::schema_objects(&t) {
        let statement = tsql::create_if_missing(&o);
        assert!(statement.starts_with("IF "), "{}", o.name);
        let upper = statement.to_uppercase();
        assert!(
            !upper.contains("DROP") && !upper.contains("ALTER"),
            "{statement}"
        );
    }
    // §4.1 + Fabric fix: unique hash, unique filtered natural key, PK on exchange_id.
    assert!(script.contains("CREATE UNIQUE INDEX [IX_RAWEXCHANGERECORD_CONTENTHASH]"));
    assert!(script.contains(
        "CREATE UNIQUE INDEX [UX_RAWEXCHANGERECORD_NATURALKEY] ON [LAKE].[RAWEXCHANGERECORD] (SOURCE_SYSTEM, ENTITY_TYPE, NATURAL_KEY) WHERE NATURAL_KEY IS NOT NULL"
    ));
    assert!(script.contains("PRIMARY KEY CLUSTERED (EXCHANGE_ID)"));
    assert!(script.contains("CHECK (LEN(CONTENT_SHA256) = 64)"));
    Ok(())
}

#[test]
fn table_names_are_validated() -> TestResult {
    for (schema, table) in [
        ("lake", "RawExchangeRecord"),
        ("_x", "t1"),
        ("données", "Ärger_2"),
    ] {
        let t = TableName::new(schema, table)?;
        assert_eq!(t.quoted(), format!("[{schema}].[{table}]"));
    }
    for (schema, table) in [
        ("", "t"),
        ("lake", ""),
        ("1lake", "t"),
        ("lake", "2t"),
        ("la-ke", "t"),
        ("lake", "t]; DROP TABLE x; --"),
        ("lake", "a b"),
        ("lake", "a.b"),
        ("lake", "[t]"),
    ] {
        match TableName::new(schema, table) {
            Err(Error::Invalid { what, .. }) => assert!(what.starts_with("sql_target.")),
            other => return Err(format!("{schema:?}.{table:?} accepted: {other:?}").into()),
        }
    }
    Ok(())
}

// ---- connection settings ----

#[test]
fn url_target() -> TestResult {
    let c = SqlServerConfig::from_target(
        "mssql://fabric:p%40ss%3Bw%3Drd@db.example:14330/Holocron?encrypt=strict&trustServerCertificate=true&connectTimeout=5&commandTimeout=60&packetSize=32767&applicationName=nightly",
    )?;
    assert_eq!(c.host, "db.example");
    assert_eq!(c.port, 14330);
    assert_eq!(c.database.as_deref(), Some("Holocron"));
    assert_eq!(c.user, "fabric");
    assert_eq!(c.password.expose(), "p@ss;w=rd");
    assert_eq!(c.encrypt, Encrypt::Strict);
    assert!(c.trust_server_certificate);
    assert_eq!(c.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.command_timeout, Duration::from_secs(60));
    assert_eq!(c.packet_size, 32_767);
    assert_eq!(c.application_name, "nightly");
    assert_eq!(c.describe(), "mssql://fabric@db.example:14330/Holocron");

    let d = SqlServerConfig::from_target("mssql://sa:x@[::1]/db")?;
    assert_eq!((d.host.as_str(), d.port), ("::1", 1433));
    assert_eq!(d.address(), "[::1]:1433");
    assert_eq!(d.encrypt, Encrypt::Required);
    assert!(!d.trust_server_certificate);
    assert_eq!(d.packet_size, 16_384);
    Ok(())
}

#[test]
fn ado_and_odbc_targets() -> TestResult {
    let c = SqlServerConfig::from_target(
        "Server=tcp:db.example,1500;Initial Catalog=Holocron;User Id=fabric;Password='a;b''c';Encrypt=no;TrustServerCertificate=yes;Connect Timeout=7;Packet Size=8192",
    )?;
    assert_eq!((c.host.as_str(), c.port), ("db.example", 1500));
    assert_eq!(c.database.as_deref(), Some("Holocron"));
    assert_eq!(c.password.expose(), "a;b'c");
    assert_eq!(c.encrypt, Encrypt::Off);
    assert!(c.trust_server_certificate);
    assert_eq!(c.connect_timeout, Duration::from_secs(7));
    assert_eq!(c.packet_size, 8192);

    // The reference's ODBC form: DRIVER is accepted and ignored.
    let o = SqlServerConfig::from_target(
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=localhost,1434;DATABASE=Holocron;UID=sa;PWD={p}}w;d};TrustServerCertificate=yes",
    )?;
    assert_eq!((o.host.as_str(), o.port), ("localhost", 1434));
    assert_eq!(o.user, "sa");
    assert_eq!(o.password.expose(), "p}w;d");
    Ok(())
}

#[test]
fn bad_targets_name_the_setting_not_the_password() -> TestResult {
    for (target, needle) in [
        (
            "Server=h;User Id=u;Password=hunter2;Colour=blue",
            "\"colour\"",
        ),
        (
            "Server=h\\SQLEXPRESS;User Id=u;Password=hunter2",
            "named instance",
        ),
        (
            "Server=h;User Id=u;Password=hunter2;Integrated Security=true",
            "Windows authentication",
        ),
        (
            "Server=h;User Id=u;Password=hunter2;Packet Size=100",
            "512..=32767",
        ),
        ("Server=h;User Id=u;Password='hunter2", "never closed"),
        ("mssql://u:hunter2@h:99999/db", "port"),
        ("mssql://u:hunter2@h/db?encrypt=maybe", "encrypt"),
        ("Server=h;Password=hunter2", "no user"),
        (
            "Server=h;User Id=u;Password=hunter2;TrustServerCertificate=yes;TrustServerCertificateCA=/ca.pem",
            "exclude",
        ),
    ] {
        let err = match SqlServerConfig::from_target(target) {
            Err(e) => e,
            Ok(c) => return Err(format!("{target:?} accepted: {c:?}").into()),
        };
        let shown = format!("{err} / {err:?}");
        assert!(matches!(err, Error::Target { .. }), "{shown}");
        assert!(shown.contains(needle), "{needle:?} not in {shown}");
        assert!(!shown.contains("hunter2"), "password leaked: {shown}");
    }
    Ok(())
}

#[test]
fn debug_and_describe_never_show_the_password() -> TestResult {
    let c = SqlServerConfig::from_target("mssql://fabric:hunter2@db.example/Holocron")?;
    for shown in [
        format!("{c:?}"),
        format!("{c:#?}"),
        c.describe(),
        format!("{}", c.password),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    assert!(format!("{c:?}").contains("password: ***"));
    Ok(())
}

#[test]
fn redaction_of_raw_targets() {
    assert_eq!(
        conn_string::redact("mssql://sa:hunter2@h:1433/db?password=x&encrypt=true"),
        "mssql://sa:***@h:1433/db?password=***&encrypt=true"
    );
    assert_eq!(
        conn_string::redact("Server=h;UID=sa;PWD={hun;ter2};Database=d"),
        "server=h;uid=sa;pwd=***;database=d"
    );
    assert_eq!(
        conn_string::redact("Server=h;PWD='unclosed"),
        "<connection string>"
    );
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

#[test]
fn env_variables() -> TestResult {
    assert_eq!(SqlServerConfig::from_env(env(&[]))?, None);
    assert_eq!(
        SqlServerConfig::from_env(env(&[("INGEST_SQLSERVER_DRIVER", "x")]))?,
        None
    );

    let c = SqlServerConfig::from_env(env(&[
        ("INGEST_SQLSERVER_HOST", "db.example"),
        ("INGEST_SQLSERVER_PASSWORD", "hunter2"),
        ("INGEST_SQLSERVER_DRIVER", "ODBC Driver 18 for SQL Server"),
    ]))?
    .ok_or("HOST set but no config")?;
    assert_eq!((c.host.as_str(), c.port), ("db.example", 1434));
    assert_eq!(c.database.as_deref(), Some("Holocron"));
    assert_eq!(c.user, "sa");
    assert_eq!(c.password.expose(), "hunter2");
    assert!(c.trust_server_certificate);
    assert_eq!(c.encrypt, Encrypt::Required);

    let c = SqlServerConfig::from_env(env(&[
        ("INGEST_SQLSERVER_HOST", "ignored"),
        ("INGEST_SQLSERVER_PORT", "1"),
        (
            "INGEST_SQLSERVER_CONN_STR",
            "Server=conn.example,1600;Database=D;UID=u;PWD=p",
        ),
    ]))?
    .ok_or("CONN_STR set but no config")?;
    assert_eq!((c.host.as_str(), c.port), ("conn.example", 1600));

    match SqlServerConfig::from_env(env(&[
        ("INGEST_SQLSERVER_HOST", "h"),
        ("INGEST_SQLSERVER_PORT", "http"),
    ])) {
        Err(Error::Target { target, .. }) => assert_eq!(target, "INGEST_SQLSERVER_PORT"),
        other => return Err(format!("bad port accepted: {other:?}").into()),
    }
    Ok(())
}

#[test]
fn target_kind() {
    assert!(SqlServerConfig::is_sql_server_target("mssql://h/db"));
    assert!(SqlServerConfig::is_sql_server_target("Server=h;Database=d"));
    assert!(!SqlServerConfig::is_sql_server_target("sqlite:///tmp/x.db"));
    assert!(!SqlServerConfig::is_sql_server_target("/tmp/x.db"));
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
        let _ = self.mirror.rollback();
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
    m.begin()?;
    m.write_batch(&[
        MirrorWrite::Insert(a.clone()),
        MirrorWrite::Insert(b.clone()),
        MirrorWrite::Insert(c.clone()),
    ])?;
    m.commit()?;
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
    m.begin()?;
    m.write_batch(&[MirrorWrite::Update {
        exchange_id: a.exchange_id.clone(),
        record: a2.clone(),
    }])?;
    m.commit()?;
    let found = m.find_by_natural_keys(&scope(), &["Luke_Skywalker"])?;
    assert_eq!(
        found.first().cloned().flatten().map(|r| r.exchange_id),
        Some(a2.exchange_id.clone())
    );
    m.begin()?;
    m.write_batch(&[MirrorWrite::Insert(record(20, Some("Han_Solo"), "x")?)])?;
    m.rollback()?;
    assert_eq!(m.count(None)?, 3);

    // Refused writes are MirrorWrite errors.
    m.begin()?;
    let dup = m.write_batch(&[MirrorWrite::Insert(b.clone())]);
    m.rollback()?;
    assert!(matches!(dup, Err(Error::MirrorWrite { .. })), "{dup:?}");
    m.begin()?;
    let missing = m.write_batch(&[MirrorWrite::Update {
        exchange_id: "00000000-0000-4000-8000-0000000000ff".into(),
        record: record(30, None, "y")?,
    }]);
    m.rollback()?;
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
    m.begin()?;
    for i in 0..rows {
        batch.push(MirrorWrite::Insert(record(
            i,
            Some(&format!("key-{i}")),
            "bulk",
        )?));
        if batch.len() == 5_000 {
            m.write_batch(&batch)?;
            batch.clear();
        }
    }
    m.write_batch(&batch)?;
    m.commit()?;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(m.count(None)?, rows);
    println!(
        "mssql::bulk: {rows} rows in {secs:.2} s = {:.0} rows/s (packet size {} bytes)",
        rows as f64 / secs,
        live.packet_size
    );
    Ok(())
}
