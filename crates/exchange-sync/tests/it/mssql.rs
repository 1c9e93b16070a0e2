//! SQL Server mirror without a server: the T-SQL and DDL snapshots and the
//! connection-string rules. The closed-port test and the live suite are in
//! `mssql_live.rs`.

use std::time::Duration;

use exchange_sync::mssql::tsql::{self, TableName};
use exchange_sync::mssql::{Encrypt, ExposeSecret, SqlServerConfig, conn_string};
use exchange_sync::{CoreError, Error};

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
        ("export_page(first)", tsql::export_page(&t, false)),
        ("export_page(after)", tsql::export_page(&t, true)),
        ("insert_rows(2)", tsql::insert_rows(&t, 2)),
        ("lock_scope", tsql::LOCK_SCOPE.to_owned()),
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
fn script_runs_under_classic_sqlcmd() -> TestResult {
    // Classic sqlcmd runs with QUOTED_IDENTIFIER OFF: the filtered unique index
    // then fails with error 1934 unless the script sets it first, in its own batch.
    let script = tsql::schema_script(&lake()?);
    let batches = tsql::script_batches(&script);
    let first = batches.first().ok_or("no batch")?;
    assert!(first.contains("SET ANSI_NULLS ON;"), "{first}");
    assert!(first.contains("SET QUOTED_IDENTIFIER ON;"), "{first}");
    assert!(!first.contains("CREATE"), "{first}");
    // One object per batch after it, each behind IF NOT EXISTS.
    let objects = tsql::schema_objects(&lake()?);
    assert_eq!(batches.len(), 1 + objects.len());
    for (batch, o) in batches.iter().skip(1).zip(&objects) {
        assert!(batch.contains("IF NOT EXISTS"), "{batch}");
        assert!(batch.contains(&o.create), "{batch}");
    }
    Ok(())
}

#[test]
fn hashes_in_scope_have_a_covering_index() -> TestResult {
    let t = lake()?;
    let index = tsql::schema_objects(&t)
        .into_iter()
        .find(|o| o.name.ends_with("IX_RawExchangeRecord_Scope_ContentHash"))
        .ok_or("no scope/hash index")?;
    assert!(
        index
            .create
            .ends_with("(source_system, entity_type, content_sha256)"),
        "{}",
        index.create
    );
    // The query reads only columns of that index.
    assert_eq!(
        tsql::hashes_in_scope(&t).split(" FROM ").next(),
        Some("SELECT content_sha256")
    );
    Ok(())
}

#[test]
fn long_payloads_skip_bulk_load() {
    use tsql::{BULK_PAYLOAD_MAX, InsertPath, insert_path};
    assert_eq!(insert_path(""), InsertPath::Bulk);
    assert_eq!(insert_path(&"x".repeat(BULK_PAYLOAD_MAX)), InsertPath::Bulk);
    assert_eq!(
        insert_path(&"x".repeat(BULK_PAYLOAD_MAX + 1)),
        InsertPath::Parameterized
    );
    // 4,000 UTF-16 units of 3-byte characters: 12,000 bytes, still bulk.
    assert_eq!(
        insert_path(&"日".repeat(BULK_PAYLOAD_MAX)),
        InsertPath::Bulk
    );
    // 2,001 astral characters are 4,002 UTF-16 units.
    assert_eq!(insert_path(&"😀".repeat(2_001)), InsertPath::Parameterized);
    assert_eq!(insert_path(&"😀".repeat(2_000)), InsertPath::Bulk);
}

#[test]
fn parameterized_inserts_respect_the_2100_parameter_limit() -> TestResult {
    let sql = tsql::insert_rows(&lake()?, tsql::INSERTS_PER_REQUEST);
    assert_eq!(
        max_param(&sql),
        tsql::INSERTS_PER_REQUEST * tsql::PARAMS_PER_INSERT
    );
    assert!(max_param(&sql) <= 2_100);
    Ok(())
}

#[test]
fn scope_lock_names_fit_sp_getapplock() -> TestResult {
    let long = "x".repeat(100);
    let t = TableName::new(&"s".repeat(128), &"t".repeat(107))?;
    let a = tsql::lock_resource(&t, &long, &long);
    assert!(a.len() <= 255, "{a}");
    assert_ne!(a, tsql::lock_resource(&t, &long, "other"));
    // Scope parts cannot run into each other.
    assert_ne!(
        tsql::lock_resource(&lake()?, "ab", "c"),
        tsql::lock_resource(&lake()?, "a", "bc")
    );
    Ok(())
}

#[test]
fn derived_names_fit_128_characters() -> TestResult {
    let t = TableName::new(&"s".repeat(128), &"t".repeat(107))?;
    for o in tsql::schema_objects(&t) {
        for name in o
            .create
            .split('[')
            .skip(1)
            .filter_map(|s| s.split(']').next())
        {
            assert!(name.chars().count() <= 128, "{name}");
        }
    }
    match TableName::new("lake", &"t".repeat(108)) {
        Err(Error::Core(CoreError::Invalid { what, reason })) => {
            assert_eq!(what, "sql_target.table");
            assert!(reason.contains("the limit is 107"), "{reason}");
        }
        other => return Err(format!("108 characters accepted: {other:?}").into()),
    }
    Ok(())
}

#[test]
fn ddl_never_drops_and_guards_every_object() -> TestResult {
    let t = lake()?;
    let script = tsql::schema_script(&t).to_uppercase();
    for o in tsql::schema_objects(&t) {
        let statement = tsql::create_if_missing(&o);
        assert!(statement.starts_with("IF NOT EXISTS ("), "{}", o.name);
        let upper = statement.to_uppercase();
        assert!(
            !upper.contains("DROP") && !upper.contains("ALTER"),
            "{statement}"
        );
    }
    // + Fabric fix: unique hash, unique filtered natural key, PK on exchange_id.
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
            Err(Error::Invalid { what, .. } | Error::Core(CoreError::Invalid { what, .. })) => {
                assert!(what.starts_with("sql_target."))
            }
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
    assert_eq!(c.password.expose_secret(), "p@ss;w=rd");
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
    assert_eq!(c.password.expose_secret(), "a;b'c");
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
    assert_eq!(o.password.expose_secret(), "p}w;d");
    Ok(())
}

#[test]
fn bad_targets_name_the_setting_not_the_password() -> TestResult {
    for (target, needle) in [
        (
            "Server=h;Colour=blue;User Id=u;Password=hunter2",
            "\"colour\"",
        ),
        // Right after the password, an unknown setting may be the rest of it.
        (
            "Server=h;User Id=u;Password=hunter2;Colour=blue",
            "must be quoted",
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
        format!("{:?}", c.password),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    // The password has no `Display`: `format!("{}", c.password)` does not compile.
    assert!(format!("{c:?}").contains("password: SecretBox<str>([REDACTED])"));
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
    assert!(SqlServerConfig::from_env(env(&[]))?.is_none());
    assert!(SqlServerConfig::from_env(env(&[("INGEST_SQLSERVER_DRIVER", "x")]))?.is_none());

    let c = SqlServerConfig::from_env(env(&[
        ("INGEST_SQLSERVER_HOST", "db.example"),
        ("INGEST_SQLSERVER_PASSWORD", "hunter2"),
        ("INGEST_SQLSERVER_DRIVER", "ODBC Driver 18 for SQL Server"),
    ]))?
    .ok_or("HOST set but no config")?;
    assert_eq!((c.host.as_str(), c.port), ("db.example", 1434));
    assert_eq!(c.database.as_deref(), Some("Holocron"));
    assert_eq!(c.user, "sa");
    assert_eq!(c.password.expose_secret(), "hunter2");
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

proptest::proptest! {
    /// Any password survives %-encoding in a URL and never shows in `Debug`,
    /// `describe` or the redacted target.
    #[test]
    fn url_passwords_round_trip_and_never_print(password in "[^\\x00]{1,40}") {
        let encoded: String = password
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        let target = format!("mssql://fabric:{encoded}@db.example:1433/Holocron");
        let c = SqlServerConfig::from_target(&target)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        proptest::prop_assert_eq!(c.password.expose_secret(), password.as_str());
        let shown = format!("{c:?} {} {}", c.describe(), conn_string::redact(&target));
        proptest::prop_assert!(!shown.contains(&encoded));
        proptest::prop_assert!(password.len() < 4 || !shown.contains(&password));
    }
}

/// A password written without quotes that holds `;` or `/` splits into
/// pieces that look like keys or ports: no piece of it may reach a message.
#[test]
fn a_split_password_never_shows_in_errors() -> TestResult {
    for target in [
        "Server=h;User Id=u;Password=hun;ter2xyz",
        "Server=h;User Id=u;Password=hun;ter2xyz=more;Database=d",
        "mssql://u:ter2xyz/more@h/db",
    ] {
        let err = match SqlServerConfig::from_target(target) {
            Err(e) => e,
            Ok(c) => return Err(format!("{target:?} accepted: {c:?}").into()),
        };
        let shown = format!("{err} / {err:?}");
        assert!(matches!(err, Error::Target { .. }), "{shown}");
        assert!(!shown.contains("ter2xyz"), "password piece leaked: {shown}");
    }
    Ok(())
}

/// Why ADO strings are not read by `tiberius::Config::from_ado_string`: it
/// refuses a password outside ASCII (which SQL Server logins allow and this
/// parser keeps), and it passes over a setting it does not know, so a typo
/// would be ignored quietly. Its errors do keep the password out.
#[test]
fn tiberius_ado_parser_is_not_enough() -> TestResult {
    let unicode = "Server=h;User Id=u;Password=pässwörd-hunter2";
    assert!(tiberius::Config::from_ado_string(unicode).is_err());
    let ours = SqlServerConfig::from_target(unicode)?;
    assert_eq!(ours.password.expose_secret(), "pässwörd-hunter2");

    let typo = "Server=h;User Id=u;Password=hunter2;Encrpyt=false";
    assert!(tiberius::Config::from_ado_string(typo).is_ok());
    assert!(SqlServerConfig::from_target(typo).is_err());

    for bad in [
        "Server=h;User Id=u;Password='hunter2",
        "Server=h,hunter2;User Id=u",
        "Server=h;User Id=u;Password=hunter2;TrustServerCertificate=hunter2",
    ] {
        let shown = match tiberius::Config::from_ado_string(bad) {
            Err(e) => format!("{e} / {e:?}"),
            Ok(_) => return Err(format!("tiberius accepted {bad:?}").into()),
        };
        assert!(!shown.contains("hunter2"), "tiberius leaked: {shown}");
    }
    Ok(())
}
