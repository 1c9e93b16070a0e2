//! Interrupting a PostgreSQL import: Ctrl-C while a COPY runs, and the server
//! killed mid-import (a private cluster of its own).

use super::*;

/// A row trigger that sleeps `secs` per row: keeps a COPY on the server long
/// enough to interrupt it.
fn slow_trigger(url: &str, schema: &str, secs: &str) -> Res<()> {
    psql(
        url,
        &format!(
            "CREATE FUNCTION \"{schema}\".slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep({secs}); RETURN NEW; END $$; \
         CREATE TRIGGER slow BEFORE INSERT ON \"{schema}\".\"RawExchangeRecord\" FOR EACH ROW EXECUTE FUNCTION \"{schema}\".slow()"
        ),
    )?;
    Ok(())
}

/// `fabric exchange import` in the background, stderr piped.
fn spawn_import(home: &Path, m: &Path, url: &str) -> Res<Child> {
    Ok(Command::new(env!("CARGO_BIN_EXE_fabric"))
        .env_clear()
        .env("HOME", home)
        .args(["--quiet", "exchange", "import", "--manifest"])
        .arg(m)
        .args(["--target", url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// Create the table, add a row trigger sleeping `secs` per row, start `fabric
/// exchange import` of `m` and return once its COPY runs on the server.
pub(super) fn start_slow_import(
    home: &Path,
    url: &str,
    schema: &str,
    m: &Path,
    secs: &str,
) -> Res<Child> {
    let (code, _, err) = exchange(
        home,
        url,
        &["schema", "--manifest", m.to_str().ok_or("p")?, "--apply"],
    )?;
    assert_eq!(code, 0, "{err}");
    slow_trigger(url, schema, secs)?;
    let mut child = spawn_import(home, m, url)?;
    wait_for_copy(url, schema, &mut child)?;
    Ok(child)
}

/// Wait (up to 60 s) until a COPY into `schema` is running on the server.
fn wait_for_copy(url: &str, schema: &str, child: &mut Child) -> Res<()> {
    let started = Instant::now();
    loop {
        let n = psql(
            url,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"{schema}\"%' AND state = 'active'"
            ),
        )?;
        if n != "0" {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(format!("the import ended ({status}) before its COPY was seen").into());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("no COPY seen within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Ctrl-C during a COPY cancels the statement on the server and rolls back:
/// exit 130, nothing kept, the server's session idle again.
#[test]
fn ctrl_c_cancels_the_running_statement_and_keeps_nothing() -> TestResult {
    let Some((url, home, schema)) = setup("ctrl_c", "ctrlc")? else {
        return Ok(());
    };
    let m = dataset(home.path(), "big", &schema.name, &records(6_000, 1, "x", 5))?;
    let child = start_slow_import(home.path(), &url, &schema.name, &m, "0.001")?;
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    assert!(sent.success());
    let out = child.wait_with_output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(schema.count()?, 0);
    Ok(())
}

/// The server stops at once in the middle of an import (`pg_ctl stop -m
/// immediate`): exit 3 naming the host, nothing half-committed after restart, and
/// a re-run completes.
#[test]
fn a_server_killed_mid_import_leaves_nothing_and_a_rerun_completes() -> TestResult {
    if live("killed_server")?.is_none() {
        return Ok(());
    }
    let home = tempfile::tempdir()?;
    let cluster = home.path().join("pg");
    let script = repo().join("scripts/pg-test-cluster.sh");
    let started = Command::new("bash")
        .arg(&script)
        .arg("start")
        .arg(&cluster)
        .output()?;
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    struct Stop(PathBuf, PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new("bash")
                .arg(&self.0)
                .arg("stop")
                .arg(&self.1)
                .output();
        }
    }
    let _stop = Stop(script.clone(), cluster.clone());
    let env = String::from_utf8(started.stdout)?;
    let url = env
        .lines()
        .find_map(|l| l.strip_prefix("export FABRIC_TEST_POSTGRES='"))
        .and_then(|l| l.strip_suffix('\''))
        .ok_or("no URL from the cluster script")?
        .to_owned();
    let schema = Schema::new(&url, "killed");
    let n = 6_000;
    let m = dataset(home.path(), "big", &schema.name, &records(n, 1, "x", 6))?;
    let child = start_slow_import(home.path(), &url, &schema.name, &m, "0.0005")?;
    // The test cluster runs with synchronous_commit = off: a commit's WAL may still
    // be in the server's memory when an immediate stop kills it. Flush it, so the
    // table and trigger made before the import survive the kill, as they would on
    // a server that keeps its commits.
    psql(&url, "CHECKPOINT")?;
    let killed = Command::new("bash")
        .arg(&script)
        .arg("kill")
        .arg(&cluster)
        .output()?;
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let out = child.wait_with_output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&cluster.display().to_string()),
        "names the host: {err}"
    );
    assert!(
        !err.contains(
            url.split('@')
                .next()
                .unwrap_or("@")
                .rsplit(':')
                .next()
                .unwrap_or("@")
        ),
        "{err}"
    );
    let restarted = Command::new("bash")
        .arg(&script)
        .arg("restart")
        .arg(&cluster)
        .output()?;
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
    assert_eq!(schema.count()?, 0, "nothing half-committed");
    psql(
        &url,
        &format!(
            "DROP TRIGGER slow ON \"{}\".\"RawExchangeRecord\"",
            schema.name
        ),
    )?;
    let (code, report, err) = exchange(
        home.path(),
        &url,
        &["import", "--manifest", m.to_str().ok_or("p")?],
    )?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(counts(&report).0, n as u64);
    assert_eq!(schema.count()?, n as u64);
    Ok(())
}
