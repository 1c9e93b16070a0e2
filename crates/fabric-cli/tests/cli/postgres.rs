//! `fabric exchange` against a live PostgreSQL: the throwaway cluster `.ci/run`
//! starts (`FABRIC_TEST_POSTGRES`), and for the kill test a private cluster of its
//! own started by `scripts/pg-test-cluster.sh`. Without a cluster each test says
//! PostgreSQL was skipped; under `CI=true` it fails instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::fabric;

mod interrupts;

use interrupts::start_slow_import;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The shared cluster's URL; `None` (skip, printed) outside CI when unset.
fn live(test: &str) -> Res<Option<String>> {
    match std::env::var("FABRIC_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            Err(format!("{test}: CI=true but FABRIC_TEST_POSTGRES is not set").into())
        }
        _ => {
            println!("postgres::{test}: PostgreSQL SKIPPED (FABRIC_TEST_POSTGRES is not set)");
            Ok(None)
        }
    }
}

/// The shared cluster's URL, a home folder and a fresh schema; `None` as [`live`].
fn setup(test: &str, schema: &str) -> Res<Option<(String, tempfile::TempDir, Schema)>> {
    let Some(url) = live(test)? else {
        return Ok(None);
    };
    let schema = Schema::new(&url, schema);
    Ok(Some((url, tempfile::tempdir()?, schema)))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `psql URL -Atc SQL`: the single value printed.
fn psql(url: &str, sql: &str) -> Res<String> {
    let out = Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .output()?;
    if !out.status.success() {
        return Err(format!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// A schema no other test or run uses, dropped when the guard goes.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(url: &str, test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self {
            url: url.to_owned(),
            name: format!("cli_{test}_{}_{nanos}", std::process::id()),
        }
    }

    fn count(&self) -> Res<u64> {
        Ok(psql(
            &self.url,
            &format!(
                "SELECT count(*) FROM \"{}\".\"RawExchangeRecord\"",
                self.name
            ),
        )?
        .parse()?)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = psql(
            &self.url,
            &format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name),
        );
    }
}

/// NDJSON of `n` records keyed `k0..k{n-1}`, observed `day`, with `tag` in the body.
fn records(n: usize, day: u8, tag: &str, id_base: u32) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "{{\"exchange_id\": \"00000000-0000-4000-8000-{:012x}\", \"natural_key\": \"k{i}\", \
             \"request\": {{\"url\": \"https://x.example/{i}\"}}, \"response\": {{\"tag\": \"{tag}\", \
             \"i\": {i}, \"text\": \"{}\"}}, \"observed_at_utc\": \"2024-03-{day:02}T10:00:00.1234567Z\", \
             \"provenance\": {{\"runner_name\": \"t\", \"host\": \"h\", \"git_sha\": \"abc\", \
             \"connector_version\": \"1\"}}}}\n",
            u64::from(id_base) * 1_000_000 + i as u64,
            "lorem ipsum 𝔣 ".repeat(20)
        ));
    }
    s
}

/// A dataset `name` in scope src/thing whose sql_target schema is `schema`, holding
/// `input`.
fn dataset(home: &Path, name: &str, schema: &str, input: &str) -> Res<PathBuf> {
    let m = crate::common::dataset_with(home, name, input)?;
    let text = std::fs::read_to_string(&m)?
        .replace("\"schema\": \"lake\"", &format!("\"schema\": \"{schema}\""));
    std::fs::write(&m, text)?;
    Ok(m)
}

/// `fabric --json exchange ARGS --target URL`: (exit code, stdout JSON, stderr).
fn exchange(home: &Path, url: &str, args: &[&str]) -> Res<(i32, serde_json::Value, String)> {
    let out = fabric(home)
        .args(["--json", "--quiet", "exchange"])
        .args(args)
        .args(["--target", url])
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Ok((
        out.status.code().unwrap_or(-1),
        value,
        String::from_utf8(out.stderr)?,
    ))
}

fn counts(v: &serde_json::Value) -> (u64, u64, u64, u64) {
    (
        v["json_to_sql"]["inserted"].as_u64().unwrap_or(99),
        v["json_to_sql"]["updated"].as_u64().unwrap_or(99),
        v["json_to_sql"]["skipped"].as_u64().unwrap_or(99),
        v["sql_to_json"]["inserted"].as_u64().unwrap_or(99),
    )
}

#[test]
fn the_whole_engine_runs_against_postgres() -> TestResult {
    let Some((url, home, schema)) = setup("whole_engine", "engine")? else {
        return Ok(());
    };
    let m = dataset(home.path(), "a", &schema.name, &records(50, 1, "old", 1))?;
    let m = m.to_str().ok_or("path")?;

    // DDL: printed without a server, then applied (idempotent).
    let (code, ddl, _) = exchange(home.path(), &url, &["schema", "--manifest", m, "--print"])?;
    assert_eq!(code, 0);
    let text = ddl["ddl"].as_str().unwrap_or_default();
    assert!(text.contains("payload_json         text") && !text.contains("DROP"));
    assert!(
        !ddl.to_string().contains(
            url.split('@')
                .next()
                .unwrap_or("x")
                .rsplit(':')
                .next()
                .unwrap_or("x")
        )
    );
    let (code, applied, _) = exchange(home.path(), &url, &["schema", "--manifest", m, "--apply"])?;
    assert_eq!(code, 0, "{applied}");
    assert_eq!(applied["created"].as_array().map(Vec::len), Some(5));
    let (_, again, _) = exchange(home.path(), &url, &["schema", "--manifest", m, "--apply"])?;
    assert_eq!(again["created"].as_array().map(Vec::len), Some(0));

    // Import: the dry run counts what the real run does; a re-sync is a no-op.
    let (code, dry, _) = exchange(home.path(), &url, &["import", "--manifest", m, "--dry-run"])?;
    assert_eq!(code, 0);
    assert_eq!(schema.count()?, 0);
    let (code, real, err) = exchange(home.path(), &url, &["import", "--manifest", m])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(counts(&dry), counts(&real));
    assert_eq!(counts(&real), (50, 0, 0, 0));
    assert_eq!(schema.count()?, 50);
    let (code, resync, _) = exchange(home.path(), &url, &["sync", "--manifest", m])?;
    assert_eq!(code, 0);
    assert_eq!(counts(&resync), (0, 0, 50, 0));

    // The same keys, newer and changed: each conflict strategy.
    let m2 = dataset(home.path(), "b", &schema.name, &records(50, 9, "new", 2))?;
    let m2 = m2.to_str().ok_or("path")?;
    let (code, fail, _) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m2, "--conflict", "fail"],
    )?;
    assert_eq!(code, 1, "{fail}");
    assert_eq!(
        psql(
            &url,
            &format!(
                "SELECT count(*) FROM \"{}\".\"RawExchangeRecord\" WHERE payload_json LIKE '%\"new\"%'",
                schema.name
            )
        )?,
        "0"
    );
    let (code, sql_wins, _) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m2, "--conflict", "prefer_sql"],
    )?;
    assert_eq!((code, counts(&sql_wins)), (0, (0, 0, 50, 0)));
    let (code, newest, _) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m2, "--conflict", "prefer_newest"],
    )?;
    assert_eq!((code, counts(&newest)), (0, (0, 50, 0, 0)));
    // Back to the old contents with prefer_json, then newest again.
    let (code, json_wins, _) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m, "--conflict", "prefer_json"],
    )?;
    assert_eq!((code, counts(&json_wins)), (0, (0, 50, 0, 0)));
    assert_eq!(schema.count()?, 50);

    // --batch-commit: the same end state, committed in steps (each step relocks).
    let m4 = dataset(
        home.path(),
        "d",
        &schema.name,
        &records(30, 12, "batched", 12),
    )?;
    let (code, batched, err) = exchange(
        home.path(),
        &url,
        &[
            "import",
            "--manifest",
            m4.to_str().ok_or("p")?,
            "--batch-commit",
            "7",
            "--conflict",
            "prefer_json",
        ],
    )?;
    assert_eq!((code, counts(&batched)), (0, (0, 30, 0, 0)), "{err}");
    let (code, _, err) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m, "--conflict", "prefer_json"],
    )?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(schema.count()?, 50);

    // Export into a fresh dataset: byte-identical record lines.
    let m3 = dataset(home.path(), "c", &schema.name, "")?;
    let (code, exported, err) = exchange(
        home.path(),
        &url,
        &["export", "--manifest", m3.to_str().ok_or("path")?],
    )?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(counts(&exported).3, 50);
    let lines = |dir: &Path| -> Res<Vec<String>> {
        let mut all = Vec::new();
        for e in walk(&dir.join("records"))? {
            all.extend(std::fs::read_to_string(e)?.lines().map(str::to_owned));
        }
        all.sort();
        Ok(all)
    };
    let a_dir = Path::new(m).parent().ok_or("dir")?;
    let c_dir = m3.parent().ok_or("dir")?;
    assert_eq!(lines(a_dir)?, lines(c_dir)?);
    let out = fabric(home.path())
        .args(["exchange", "verify", "--manifest"])
        .arg(&m3)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn walk(dir: &Path) -> Res<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// The server refuses a row (an exchange_id already used in another scope): the
/// error names the pack file and line, exit 3, nothing of the run is kept.
#[test]
fn a_server_side_constraint_error_names_the_pack_line() -> TestResult {
    let Some((url, home, schema)) = setup("constraint_line", "constraint")? else {
        return Ok(());
    };
    let m = dataset(home.path(), "a", &schema.name, &records(5, 1, "a", 7))?;
    // Without the table: a dry run sees an empty table and creates nothing; the
    // import creates it (as on every backend).
    let (code, dry, err) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m.to_str().ok_or("p")?, "--dry-run"],
    )?;
    assert_eq!((code, counts(&dry)), (0, (5, 0, 0, 0)), "{err}");
    assert!(schema.count().is_err(), "a dry run created the table");
    let (code, _, err) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m.to_str().ok_or("p")?],
    )?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(schema.count()?, 5);
    // Same ids, another scope: the engine cannot see them; the primary key can.
    let m2 = home.path().join("packs/a2/manifest.json");
    fabric(home.path())
        .args([
            "exchange", "init", "--name", "a2", "--source", "other", "--entity", "thing", "--type",
            "http", "--out",
        ])
        .arg(home.path().join("packs"))
        .assert()
        .success();
    let text = std::fs::read_to_string(&m2)?.replace(
        "\"schema\": \"lake\"",
        &format!("\"schema\": \"{}\"", schema.name),
    );
    std::fs::write(&m2, text)?;
    let mut input = records(3, 2, "fresh", 8);
    input.push_str(
        &records(5, 2, "b", 7)
            .lines()
            .nth(3)
            .ok_or("line")?
            .replace("\"k3\"", "\"other-key\""),
    );
    input.push('\n');
    std::fs::write(home.path().join("b.ndjson"), input)?;
    fabric(home.path())
        .args(["--quiet", "exchange", "add", "--manifest"])
        .arg(&m2)
        .arg(home.path().join("b.ndjson"))
        .assert()
        .success();
    let out = fabric(home.path())
        .args(["exchange", "import", "--manifest"])
        .arg(&m2)
        .args(["--target", &url])
        .output()?;
    let err = String::from_utf8(out.stderr)?;
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("chunk-0001.ndjson line 4"), "{err}");
    assert!(
        err.contains(&format!("00000000-0000-4000-8000-{:012x}", 7_000_003)),
        "{err}"
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(schema.count()?, 5, "nothing of the refused run is kept");
    Ok(())
}

/// Two `sync` processes on one scope at once: the advisory lock makes the second
/// wait and then see the first's rows. No duplicate, no lost update: the newer
/// contents win whichever runs first.
#[test]
fn two_concurrent_syncs_on_one_scope_neither_duplicate_nor_lose_updates() -> TestResult {
    let Some((url, home, schema)) = setup("concurrent", "concurrent")? else {
        return Ok(());
    };
    let n = 3000;
    let old = dataset(home.path(), "old", &schema.name, &records(n, 1, "old", 3))?;
    let new = dataset(home.path(), "new", &schema.name, &records(n, 9, "new", 4))?;
    let (code, _, err) = exchange(
        home.path(),
        &url,
        &["schema", "--manifest", old.to_str().ok_or("p")?, "--apply"],
    )?;
    assert_eq!(code, 0, "{err}");
    for round in 0..2 {
        let spawn = |m: &Path| -> Res<Child> {
            Ok(Command::new(env!("CARGO_BIN_EXE_fabric"))
                .env_clear()
                .env("HOME", home.path())
                .args([
                    "--quiet",
                    "exchange",
                    "sync",
                    "--direction",
                    "json_to_sql",
                    "--manifest",
                ])
                .arg(m)
                .args(["--target", &url])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?)
        };
        let (first, second) = if round == 0 {
            (&old, &new)
        } else {
            (&new, &old)
        };
        let a = spawn(first)?;
        let b = spawn(second)?;
        for child in [a, b] {
            let out = child.wait_with_output()?;
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(schema.count()?, n as u64, "round {round}");
        let newest = psql(
            &url,
            &format!(
                "SELECT count(*) FROM \"{}\".\"RawExchangeRecord\" WHERE payload_json LIKE '%\"new\"%'",
                schema.name
            ),
        )?;
        assert_eq!(
            newest,
            n.to_string(),
            "round {round}: every key holds the newer contents"
        );
    }
    Ok(())
}

/// The grants POSTGRES.md documents for the syncing role (CONNECT, USAGE on the
/// schema, SELECT/INSERT/UPDATE on the table; no DDL) are enough for import,
/// conflict updates, export and `schema --apply` on a complete schema.
#[test]
fn a_least_privilege_role_can_sync() -> TestResult {
    let Some((url, home, schema)) = setup("least_privilege", "grants")? else {
        return Ok(());
    };
    let role = format!("fabric_sync_{}", std::process::id());
    let password = format!("pw-{role}");
    struct DropRole(String, String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            let _ = psql(
                &self.0,
                &format!("DROP OWNED BY {r}; DROP ROLE IF EXISTS {r}", r = self.1),
            );
        }
    }
    let _drop_role = DropRole(url.clone(), role.clone());
    let m = dataset(home.path(), "a", &schema.name, &records(20, 1, "old", 9))?;
    let (code, _, err) = exchange(
        home.path(),
        &url,
        &["schema", "--manifest", m.to_str().ok_or("p")?, "--apply"],
    )?;
    assert_eq!(code, 0, "{err}");
    psql(
        &url,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}'; \
         DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database()); END $$; \
         GRANT USAGE ON SCHEMA \"{s}\" TO {role}; \
         GRANT SELECT, INSERT, UPDATE ON \"{s}\".\"RawExchangeRecord\" TO {role}",
            s = schema.name
        ),
    )?;
    let (head, rest) = url.split_once('@').ok_or("no @ in the URL")?;
    let scheme = head.split_once("://").map_or("postgres", |(s, _)| s);
    let app = format!("{scheme}://{role}:{password}@{rest}");
    let m = m.to_str().ok_or("p")?;
    let (code, _, err) = exchange(home.path(), &app, &["schema", "--manifest", m, "--apply"])?;
    assert_eq!(code, 0, "{err}");
    let (code, r, err) = exchange(home.path(), &app, &["import", "--manifest", m])?;
    assert_eq!((code, counts(&r)), (0, (20, 0, 0, 0)), "{err}");
    let m2 = dataset(home.path(), "b", &schema.name, &records(20, 9, "new", 10))?;
    let (code, r, err) = exchange(
        home.path(),
        &app,
        &["sync", "--manifest", m2.to_str().ok_or("p")?],
    )?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(counts(&r).1, 20);
    // And nothing more: the role cannot create a table.
    let denied = psql(
        &app,
        &format!("CREATE TABLE \"{}\".nope (x int)", schema.name),
    );
    assert!(denied.is_err_and(|e| e.to_string().contains("permission denied")));
    Ok(())
}

/// Nothing listens: exit 3, naming the host and the operating system's answer,
/// never the password. Needs no server, so it runs everywhere.
#[cfg(feature = "postgres")]
#[test]
fn an_unreachable_server_is_exit_3_naming_the_host_not_the_password() -> TestResult {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let home = tempfile::tempdir()?;
    let m = dataset(home.path(), "a", "lake", &records(1, 1, "x", 11))?;
    let url = format!("postgres://fabric:hunter2@127.0.0.1:{port}/lake?connect_timeout=5");
    let (code, _, err) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m.to_str().ok_or("p")?],
    )?;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!("postgres://fabric@127.0.0.1:{port}/lake")),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    Ok(())
}

/// A `fabric` built without the `postgres` feature says so, exit 2.
#[cfg(not(feature = "postgres"))]
#[test]
fn a_build_without_postgres_says_so() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = dataset(home.path(), "a", "lake", &records(1, 1, "x", 11))?;
    let (code, _, err) = exchange(
        home.path(),
        "postgres://fabric:hunter2@localhost/lake",
        &["import", "--manifest", m.to_str().ok_or("p")?],
    )?;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("PostgreSQL") && !err.contains("hunter2"),
        "{err}"
    );
    Ok(())
}

/// A second sync of a scope another sync is writing waits for its lock; when the
/// wait runs out (here the session's own `lock_timeout`, 500 ms) it stops with
/// "being written by another sync", exit 3, having written nothing.
#[test]
fn a_sync_that_waits_too_long_for_the_scope_says_it_is_busy() -> TestResult {
    let Some((url, home, schema)) = setup("scope_busy", "busy")? else {
        return Ok(());
    };
    let m = dataset(
        home.path(),
        "big",
        &schema.name,
        &records(6_000, 1, "x", 13),
    )?;
    let other = dataset(home.path(), "other", &schema.name, &records(5, 2, "y", 14))?;
    let first = start_slow_import(home.path(), &url, &schema.name, &m, "0.001")?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let impatient = format!("{url}{sep}options=-c%20lock_timeout%3D500");
    let (code, _, err) = exchange(
        home.path(),
        &impatient,
        &["sync", "--manifest", other.to_str().ok_or("p")?],
    )?;
    let _ = Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status();
    let _ = first.wait_with_output();
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("is being written by another sync"), "{err}");
    assert_eq!(schema.count()?, 0);
    Ok(())
}
