//! The PostgreSQL mirror against a real server: the throwaway cluster that
//! `.ci/run` (or `scripts/pg-test-cluster.sh start DIR`) starts and names in
//! `FABRIC_TEST_POSTGRES`. Without it each test says that PostgreSQL was skipped;
//! under `CI=true` a missing cluster fails the test instead.

use exchange_sync::manifest::SqlTarget;
use exchange_sync::postgres::{PgConfig, PostgresMirror, TableName};
use exchange_sync::{Error, Mirror, MirrorRead, MirrorRecord, MirrorWrite, Scope};

use crate::conformance::{self, Check};

/// The live cluster's URL, or `None` (with a printed notice) when it is not set
/// outside CI. Under `CI=true` a missing variable is an error.
pub fn live_url(test: &str) -> Result<Option<String>, Box<dyn std::error::Error>> {
    live_var(test, "FABRIC_TEST_POSTGRES")
}

fn live_var(test: &str, var: &str) -> Result<Option<String>, Box<dyn std::error::Error>> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => Err(format!(
            "{test}: CI=true but {var} is not set: PostgreSQL could not be started \
             (see .ci/run and scripts/pg-test-cluster.sh)"
        )
        .into()),
        _ => {
            println!(
                "conformance: postgres SKIPPED in {test} (start a cluster with \
                 `eval \"$(scripts/pg-test-cluster.sh start /tmp/fabric-pg)\"`)"
            );
            Ok(None)
        }
    }
}

/// A schema name no other test or run uses.
pub fn fresh_schema(test: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "t_{test}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn connect(url: &str, schema: &str) -> Result<PostgresMirror, Box<dyn std::error::Error>> {
    let config = PgConfig::from_target(url, |_| None)?;
    let table = TableName::from_sql_target(&SqlTarget {
        schema: schema.into(),
        table: "RawExchangeRecord".into(),
        ..SqlTarget::default()
    })?;
    Ok(PostgresMirror::connect(&config, table)?)
}

/// Drops the schemas it was given when it goes (also when a test fails).
struct Cleanup {
    url: String,
    schemas: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(mut m) = connect(&self.url, "cleanup") {
            for s in &self.schemas {
                let _ = m.execute_batch(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"));
            }
        }
    }
}

fn run_conformance(test: &str, url: &str) -> Check {
    let mut cleanup = Cleanup {
        url: url.to_owned(),
        schemas: Vec::new(),
    };
    conformance::run_all(&mut || {
        let schema = fresh_schema(test);
        cleanup.schemas.push(schema.clone());
        let mut m = connect(url, &schema)?;
        m.apply_schema()?;
        Ok(Box::new(m) as Box<dyn Mirror>)
    })?;
    println!("conformance: postgres ran ({test})");
    Ok(())
}

#[test]
fn postgres_backend_conforms() -> Check {
    let Some(url) = live_url("postgres_backend_conforms")? else {
        return Ok(());
    };
    run_conformance("conf", &url)
}

/// The cluster's loopback URL (no parameters) and its CA file, or `None` as
/// [`live_url`] says.
fn live_tls(test: &str) -> Result<Option<(String, String)>, Box<dyn std::error::Error>> {
    let Some(tcp) = live_var(test, "FABRIC_TEST_POSTGRES_TCP")? else {
        return Ok(None);
    };
    Ok(live_var(test, "FABRIC_TEST_POSTGRES_CA")?.map(|ca| (tcp, ca)))
}

/// The same suite over loopback TCP with TLS, the certificate checked against the
/// run's CA and the host name (`sslmode=verify-full`, rustls).
#[test]
fn postgres_backend_conforms_over_verified_tls() -> Check {
    let Some((tcp, ca)) = live_tls("postgres_tls")? else {
        return Ok(());
    };
    let url = format!("{tcp}?sslmode=verify-full&sslrootcert={ca}");
    run_conformance("tls", &url)?;
    // The same server under another name than its certificate's: refused.
    let wrong = format!(
        "{}&hostaddr=127.0.0.1",
        url.replace("@localhost:", "@fabric-wrong-name.invalid:")
    );
    let err = connect(&wrong, "nope")
        .err()
        .ok_or("connected to a mismatched name")?;
    assert!(
        crate::postgres_live::chain(err.as_ref()).contains("certificate"),
        "{err:?}"
    );
    Ok(())
}

/// The modes that do not check the certificate's name: `verify-ca` takes the
/// server under another name but still wants a chain to the run's CA; `require`
/// takes any certificate.
#[test]
fn verify_ca_and_require_do_not_check_the_name() -> Check {
    let Some((tcp, ca)) = live_tls("postgres_tls_modes")? else {
        return Ok(());
    };
    let renamed = tcp.replace("@localhost:", "@fabric-wrong-name.invalid:");
    let ca_url = format!("{renamed}?sslmode=verify-ca&sslrootcert={ca}&hostaddr=127.0.0.1");
    connect(&ca_url, "nope")?;
    connect(
        &format!("{renamed}?sslmode=require&hostaddr=127.0.0.1"),
        "nope",
    )?;
    // A root that did not sign the server's certificate: refused.
    let other = tempfile::tempdir()?;
    let other_ca = other.path().join("other.crt");
    std::fs::write(&other_ca, OTHER_ROOT)?;
    let untrusted = format!("{tcp}?sslmode=verify-ca&sslrootcert={}", other_ca.display());
    let err = connect(&untrusted, "nope")
        .err()
        .ok_or("verify-ca took a chain to another root")?;
    assert!(chain(err.as_ref()).contains("certificate"), "{err:?}");
    Ok(())
}

/// A self-signed root that signed nothing the test cluster holds (its key is gone).
const OTHER_ROOT: &str = "\
-----BEGIN CERTIFICATE-----
MIIBqTCCAU+gAwIBAgIUCy7rF/bG/KMQcxIzdvIaoo14X2kwCgYIKoZIzj0EAwIw
KTEnMCUGA1UEAwweZmFicmljIHRlc3Q6IGFuIHVucmVsYXRlZCByb290MCAXDTI2
MTIwNjIxMjMxOVoYDzIxMjYxMTEyMjEyMzE5WjApMScwJQYDVQQDDB5mYWJyaWMg
dGVzdDogYW4gdW5yZWxhdGVkIHJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AASUvGxNgqrPp8lDugVZ7tp72XHMhBCRhxRmm1quAl8a9oPTsXMoEciLroyavlXr
8O/8qcBfvmIi+fG1twXpAVZeo1MwUTAdBgNVHQ4EFgQUOeE2GgHsMMCf8sfEF1oy
010OlX4wHwYDVR0jBBgwFoAUOeE2GgHsMMCf8sfEF1oy010OlX4wDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAQqFMBbSsoOFuFhbjb4uhlpzrvKM/0
BqkjMFy1Mcs7PwIhAI6io1jYXaghUSsdmfDKmo0oIutDsZ94+TLKtVEHgcvM
-----END CERTIFICATE-----
";

/// Every line of `err`'s chain.
pub fn chain(err: &dyn std::error::Error) -> String {
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
fn wrong_password_is_unavailable_naming_the_host_and_the_server_message() -> Check {
    let Some(url) = live_url("wrong_password")? else {
        return Ok(());
    };
    let (head, rest) = url.split_once('@').ok_or("no @ in the URL")?;
    let user = head.rsplit_once(':').map_or(head, |(u, _)| u);
    let bad = format!("{user}:not-the-password-x9@{rest}");
    let err = match connect(&bad, "nope") {
        Err(e) => e,
        Ok(_) => return Err("logged in with a wrong password".into()),
    };
    let text = chain(err.as_ref());
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(text.contains("postgres://fabric@"), "{text}");
    assert!(!text.contains("not-the-password-x9"), "{text}");
    let e = err.downcast_ref::<Error>().ok_or("not a crate error")?;
    assert!(matches!(e, Error::MirrorUnavailable { .. }), "{e:?}");
    Ok(())
}

#[test]
fn a_missing_database_is_unavailable_with_the_server_message() -> Check {
    let Some(url) = live_url("missing_database")? else {
        return Ok(());
    };
    let bad = url.replace("/fabric_test", "/no_such_db_fabric");
    let err = match connect(&bad, "nope") {
        Err(e) => e,
        Ok(_) => return Err("connected to a database that does not exist".into()),
    };
    let text = chain(err.as_ref());
    assert!(
        text.contains("no_such_db_fabric\" does not exist"),
        "{text}"
    );
    Ok(())
}

fn record(n: u32, payload: String) -> MirrorRecord {
    MirrorRecord {
        exchange_id: format!("00000000-0000-4000-8000-{n:012x}"),
        exchange_type: "http".into(),
        source_system: "𝔣𝔞𝔟𝔯𝔦𝔠 😀".into(),
        entity_type: "page".into(),
        natural_key: Some(format!("key-\u{10FFFF}-{n}")),
        observed_at_utc: time::macros::datetime!(2024-01-15 10:00:00.123456 UTC),
        content_sha256: exchange_sync::ContentHash([n as u8; 32]),
        payload_json: payload,
        schema_version: 1,
    }
}

/// A 10 MB payload and astral-plane text come back byte for byte.
#[test]
fn ten_megabyte_payloads_and_astral_text_round_trip_exactly() -> Check {
    let Some(url) = live_url("big_payload")? else {
        return Ok(());
    };
    let schema = fresh_schema("big");
    let _cleanup = Cleanup {
        url: url.clone(),
        schemas: vec![schema.clone()],
    };
    let mut m = connect(&url, &schema)?;
    m.apply_schema()?;
    let astral = "𝕏🎉\u{1F600}\u{10FFFF}\u{E0001}e\u{301}\u{2028}";
    let big = format!(
        "{{\"observed_at_utc\": \"2024-01-15T10:00:00.1234567Z\", \"t\": \"{}\"}}",
        astral.repeat(10 * 1024 * 1024 / astral.len())
    );
    assert!(big.len() >= 10_000_000);
    let rows = [
        record(1, big),
        record(2, format!("{{\"t\": \"{astral}\", \"n\": 1.0e0}}")),
    ];
    let scope = Scope {
        source_system: rows[0].source_system.clone(),
        entity_type: "page".into(),
    };
    let mut tx = m.begin(&scope)?;
    tx.write_batch(
        &rows
            .iter()
            .cloned()
            .map(MirrorWrite::Insert)
            .collect::<Vec<_>>(),
    )?;
    tx.commit()?;
    let mut out = Vec::new();
    m.export_scope(&scope, &mut |r| {
        out.push(r);
        Ok(())
    })?;
    out.sort_by(|a, b| a.exchange_id.cmp(&b.exchange_id));
    assert_eq!(out.len(), 2);
    for (a, b) in out.iter().zip(&rows) {
        assert!(a.payload_json.as_bytes() == b.payload_json.as_bytes());
        assert_eq!(a, b);
    }
    // The original 7-digit time text is kept beside the typed column.
    m.execute_batch(&format!(
        "DO $$ BEGIN IF (SELECT observed_at_utc_text FROM \"{schema}\".\"RawExchangeRecord\" \
         WHERE exchange_id = '{}') <> '2024-01-15T10:00:00.1234567Z' THEN \
         RAISE EXCEPTION 'observed_at_utc_text lost its spelling'; END IF; END $$",
        rows[0].exchange_id
    ))?;
    Ok(())
}

/// A statement that runs past `statement_timeout` fails, nothing is committed,
/// and the error says why.
#[test]
fn a_statement_timeout_fails_the_write_and_keeps_nothing() -> Check {
    let Some(url) = live_url("statement_timeout")? else {
        return Ok(());
    };
    let schema = fresh_schema("timeout");
    let _cleanup = Cleanup {
        url: url.clone(),
        schemas: vec![schema.clone()],
    };
    connect(&url, &schema)?.apply_schema()?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let timed = format!("{url}{sep}options=-c%20statement_timeout%3D300");
    let mut m = connect(&timed, &schema)?;
    // A trigger that sleeps makes the COPY outlast the timeout.
    m.execute_batch(&format!(
        "CREATE FUNCTION \"{schema}\".slow() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$; \
         CREATE TRIGGER slow BEFORE INSERT ON \"{schema}\".\"RawExchangeRecord\" \
         FOR EACH ROW EXECUTE FUNCTION \"{schema}\".slow()"
    ))?;
    let record_scope = Scope {
        source_system: record(1, String::new()).source_system,
        entity_type: "page".into(),
    };
    let mut tx = m.begin(&record_scope)?;
    let err = tx
        .write_batch(&[MirrorWrite::Insert(record(1, "{}".into()))])
        .err()
        .ok_or("the slow insert succeeded")?;
    drop(tx);
    let text = chain(&err);
    assert!(text.contains("statement timeout"), "{text}");
    assert!(
        text.contains(&record(1, String::new()).exchange_id),
        "{text}"
    );
    assert_eq!(m.count(None)?, 0);
    Ok(())
}
