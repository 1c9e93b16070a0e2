//! Planted secrets never come out: an `Authorization: Bearer` header and an
//! `api_key=` query in records given to `exchange add`, a password in `mssql://`
//! URLs, connection strings and `INGEST_SQLSERVER_PASSWORD`, the passphrase of
//! `pack --encrypt` / `unpack` (`SNAPSHOT_ENCRYPTION_KEY`). Every exchange command
//! runs plain, with `--json` and with `--verbose`, and in failing variants (wrong
//! key, bad target, SQL Server unreachable at 127.0.0.1:1); every captured stdout
//! and stderr and every file written (chunks, index, manifest, store, the entries
//! of the zip) is searched for the planted values.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::common::fabric;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TOKEN: &str = "tok-PLANTED-b3ar3r-51";
const API_KEY: &str = "ak-PLANTED-4242";
const PASSWORD: &str = "pw-PLANTED-9191";
const PASSPHRASE: &str = "pp-PLANTED-7373";

/// Every planted value (each must never be seen).
const PLANTED: &[&str] = &[TOKEN, API_KEY, PASSWORD, PASSPHRASE];

fn records() -> String {
    let one = serde_json::json!({
        "exchange_id": "00000000-0000-4000-8000-00000000000a",
        "natural_key": "k1",
        "request": {
            "url": format!("https://api.example/v1/items?api_key={API_KEY}&page=2"),
            "headers": {"Authorization": format!("Bearer {TOKEN}"), "Accept": "*/*"}
        },
        "response": {"status": 200, "body": "ok"},
        "observed_at_utc": "2024-03-01T10:00:00Z",
        "provenance": {"runner_name": "t", "host": "h", "git_sha": "abc", "connector_version": "1"}
    });
    let two = serde_json::json!({
        "exchange_id": "00000000-0000-4000-8000-00000000000b",
        "natural_key": "k2",
        "request": {"url": format!("https://api.example/v1/x?token=1&api_key={API_KEY}"),
                    "headers": {"authorization": format!("Bearer {TOKEN}")}},
        "response": {"status": 200},
        "observed_at_utc": "2024-03-02T10:00:00Z",
        "provenance": {"runner_name": "t", "host": "h", "git_sha": "abc", "connector_version": "1"}
    });
    format!("{one}\n{two}\n")
}

/// What every run left: the command, stdout and stderr.
struct Seen {
    runs: Vec<(String, String)>,
}

impl Seen {
    /// Run `args` plain, with `--json` and with `--verbose`.
    fn run(
        &mut self,
        home: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<i32, Box<dyn std::error::Error>> {
        self.run_modes(home, args, env, &[None, Some("--json"), Some("--verbose")])
    }

    /// Run `args` in the given output modes (key derivation is slow in a debug
    /// build: the passphrase commands run once per mode, spread over the cases).
    fn run_modes(
        &mut self,
        home: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        modes: &[Option<&str>],
    ) -> Result<i32, Box<dyn std::error::Error>> {
        let mut code = 0;
        for mode in modes.iter().copied() {
            let mut cmd = fabric(home);
            cmd.arg("--db").arg(home.join("fabric.db"));
            if let Some(m) = mode {
                cmd.arg(m);
            }
            cmd.args(args);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let out = cmd.output()?;
            code = out.status.code().unwrap_or(-1);
            self.runs.push((
                format!("{mode:?} {args:?} (exit {code})"),
                format!(
                    "{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            ));
        }
        Ok(code)
    }

    fn check(&self) -> TestResult {
        for (what, text) in &self.runs {
            for secret in PLANTED {
                assert!(!text.contains(secret), "{what} printed {secret}: {text}");
            }
        }
        Ok(())
    }
}

/// Files read back: (name, bytes).
type Files = Vec<(String, Vec<u8>)>;

/// Every file under `dir` (zip entries opened), as (name, bytes).
fn written(dir: &Path) -> Result<Files, Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let bytes = std::fs::read(path)?;
        let name = path.display().to_string();
        if bytes.starts_with(b"PK\x03\x04") {
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes))?;
            for i in 0..zip.len() {
                let mut f = zip.by_index(i)?;
                let mut inner = Vec::new();
                f.read_to_end(&mut inner)?;
                files.push((format!("{name}!{}", f.name()), inner));
            }
        }
        files.push((name, bytes));
    }
    Ok(files)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn planted_secrets_appear_in_no_output_and_no_file() -> TestResult {
    let home = tempfile::tempdir()?;
    let h = home.path();
    let mut seen = Seen { runs: Vec::new() };
    let packs = h.join("packs");
    let packs_s = packs.display().to_string();
    assert_eq!(
        seen.run(
            h,
            &[
                "exchange", "init", "--name", "ds", "--source", "api", "--entity", "item",
                "--type", "http", "--out", &packs_s
            ],
            &[],
        )?,
        2,
        "the third init meets the first one's folder"
    );
    let m = packs.join("ds/manifest.json").display().to_string();
    let input = h.join("in.ndjson");
    std::fs::write(&input, records())?;
    let input_s = input.display().to_string();
    seen.run(
        h,
        &["exchange", "add", "--manifest", &m, "--dry-run", &input_s],
        &[],
    )?;
    // Added once (the later runs add the same records again: new ids each time).
    let out = fabric(h)
        .args(["exchange", "add", "--manifest", &m, &input_s])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&input)?;
    seen.run(h, &["exchange", "verify", "--manifest", &m], &[])?;
    seen.run(h, &["exchange", "import", "--manifest", &m], &[])?;
    seen.run(h, &["exchange", "sync", "--manifest", &m], &[])?;
    seen.run(h, &["exchange", "export", "--manifest", &m], &[])?;
    seen.run(h, &["exchange", "schema", "--print", "--manifest", &m], &[])?;

    // Archives: plain, encrypted, unpacked with the right key, a wrong one, none.
    let zip = h.join("out/ds.zip").display().to_string();
    seen.run(
        h,
        &["exchange", "pack", "--manifest", &m, "--out", &zip],
        &[],
    )?;
    let key = [("SNAPSHOT_ENCRYPTION_KEY", PASSPHRASE)];
    let enc_out = h.join("out/enc.zip.enc").display().to_string();
    let enc_args = [
        "exchange",
        "pack",
        "--encrypt",
        "--manifest",
        &m,
        "--out",
        &enc_out,
    ];
    seen.run_modes(h, &enc_args, &key, &[Some("--json")])?;
    let enc = h.join("out/enc.zip.enc").display().to_string();
    // Right key (plain, then --verbose into a second folder), wrong key, no key.
    for (i, env, mode) in [
        (0, vec![("SNAPSHOT_ENCRYPTION_KEY", PASSPHRASE)], None),
        (
            1,
            vec![("SNAPSHOT_ENCRYPTION_KEY", PASSPHRASE)],
            Some("--verbose"),
        ),
        (
            2,
            vec![("SNAPSHOT_ENCRYPTION_KEY", "pp-wrong")],
            Some("--json"),
        ),
        (
            3,
            vec![("SNAPSHOT_ENCRYPTION_KEY", "pp-wrong")],
            Some("--verbose"),
        ),
        (4, vec![], None),
        (4, vec![], Some("--json")),
    ] {
        let out = h.join(format!("unpacked-{i}")).display().to_string();
        seen.run_modes(
            h,
            &["exchange", "unpack", "--in", &enc, "--out", &out],
            &env,
            &[mode],
        )?;
    }
    // A failing encrypted pack (the folder is a file): the passphrase stays hidden.
    std::fs::write(h.join("blocker"), b"")?;
    let blocked = h.join("blocker/enc.zip").display().to_string();
    let blocked_args = [
        "exchange",
        "pack",
        "--encrypt",
        "--manifest",
        &m,
        "--out",
        &blocked,
    ];
    assert_ne!(
        seen.run_modes(h, &blocked_args, &key, &[Some("--verbose")])?,
        0
    );
    // A passphrase given where none is needed is not echoed either.
    seen.run(
        h,
        &[
            "exchange",
            "unpack",
            "--dry-run",
            "--in",
            &zip,
            "--out",
            &h.join("u").display().to_string(),
        ],
        &key,
    )?;

    // SQL Server targets with a password: unreachable, malformed, by variables.
    let url = format!("mssql://sa:{PASSWORD}@127.0.0.1:1/db?connectTimeout=1");
    let ado =
        format!("Server=127.0.0.1,1;Database=db;User Id=sa;Password={PASSWORD};Connect Timeout=1");
    let odbc = format!(
        "Driver={{ODBC Driver 18}};Server=tcp:127.0.0.1,1;Uid=sa;Pwd={PASSWORD};Connection Timeout=1"
    );
    let bad = [
        format!("mssql://sa:{PASSWORD}@/db"),
        format!("mssql://sa:{PASSWORD}@127.0.0.1:notaport/db"),
        format!("Server=127.0.0.1,1;Password={PASSWORD};Encrypt=maybe"),
        format!("ftp://sa:{PASSWORD}@host/db"),
    ];
    for target in [url.as_str(), ado.as_str(), odbc.as_str()]
        .into_iter()
        .chain(bad.iter().map(String::as_str))
    {
        for cmd in ["import", "export", "sync"] {
            seen.run(
                h,
                &["exchange", cmd, "--manifest", &m, "--target", target],
                &[],
            )?;
        }
        seen.run(
            h,
            &[
                "exchange",
                "schema",
                "--print",
                "--manifest",
                &m,
                "--target",
                target,
            ],
            &[],
        )?;
        seen.run(
            h,
            &[
                "exchange",
                "schema",
                "--apply",
                "--manifest",
                &m,
                "--target",
                target,
            ],
            &[],
        )?;
    }
    let vars = [
        ("INGEST_SQLSERVER_HOST", "127.0.0.1"),
        ("INGEST_SQLSERVER_PORT", "1"),
        ("INGEST_SQLSERVER_PASSWORD", PASSWORD),
        ("INGEST_SQLSERVER_CONNECT_TIMEOUT", "1"),
    ];
    seen.run(h, &["exchange", "import", "--manifest", &m], &vars)?;
    let conn_str = [("INGEST_SQLSERVER_CONN_STR", ado.as_str())];
    seen.run(h, &["exchange", "sync", "--manifest", &m], &conn_str)?;
    seen.check()?;

    // Nothing written holds a planted value: chunks, index, manifest, the store,
    // the zip's entries, the unpacked copy.
    let files = written(h)?;
    assert!(
        files.iter().any(|(n, _)| n.ends_with("fabric.db")),
        "no store written"
    );
    assert!(
        files.iter().any(|(n, _)| n.contains("ds.zip!")),
        "no zip entry read"
    );
    for (name, bytes) in &files {
        for secret in PLANTED {
            assert!(!contains(bytes, secret), "{name} holds {secret}");
        }
        // The redacted header value is not there in any spelling.
        assert!(!contains(bytes, &format!("Bearer {TOKEN}")), "{name}");
    }
    Ok(())
}

/// `h/packs/ds`, made by `exchange init` and holding the planted [`records`]
/// (`exchange add`); returns `h/packs`.
fn planted_dataset(h: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let packs = h.join("packs");
    fabric(h)
        .args([
            "exchange", "init", "--name", "ds", "--source", "api", "--entity", "item", "--type",
            "http", "--out",
        ])
        .arg(&packs)
        .assert()
        .success();
    let input = h.join("in.ndjson");
    std::fs::write(&input, records())?;
    fabric(h)
        .args(["exchange", "add", "--manifest"])
        .arg(packs.join("ds/manifest.json"))
        .arg(&input)
        .assert()
        .success();
    Ok(packs)
}

/// The planted header really was there to redact: the chunk says so.
#[test]
fn the_planted_record_is_redacted_not_dropped() -> TestResult {
    let home = tempfile::tempdir()?;
    let h = home.path();
    let packs = planted_dataset(h)?;
    let chunk: PathBuf = packs.join("ds/records/2024/2024-03-01/chunk-0001.ndjson");
    let text = std::fs::read_to_string(chunk)?;
    assert!(text.contains(r#""Authorization": "[REDACTED]""#), "{text}");
    assert!(text.contains("api_key=[REDACTED]"), "{text}");
    assert!(text.contains(r#""authorization": "[REDACTED]""#), "{text}");
    Ok(())
}

/// The mode bits of `path`.
fn mode(path: &Path) -> Result<u32, std::io::Error> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

/// Every file `0600` and every folder `0700` under `dir` (and `dir` itself).
fn assert_owner_only(dir: &Path) -> TestResult {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry?;
        let want = if entry.file_type().is_dir() {
            0o700
        } else {
            0o600
        };
        let got = mode(entry.path())?;
        assert_eq!(got, want, "{} is {got:o}", entry.path().display());
    }
    Ok(())
}

/// What the exchange commands create is owner-only: the dataset of init/add, the
/// chunks of an export, archives (plain and encrypted) and their new folders, the
/// unpacked dataset. A file the user opened up keeps its mode when rewritten.
#[test]
fn exchange_outputs_are_owner_only() -> TestResult {
    let home = tempfile::tempdir()?;
    let h = home.path();
    let packs = planted_dataset(h)?;
    let m = packs.join("ds/manifest.json");
    assert_owner_only(&packs)?;
    // Export into a second, empty dataset: its new chunks and index are private.
    let db = h.join("fabric.db");
    fabric(h)
        .arg("--db")
        .arg(&db)
        .args(["exchange", "import", "--manifest"])
        .arg(&m)
        .assert()
        .success();
    fabric(h)
        .args([
            "exchange", "init", "--name", "copy", "--source", "api", "--entity", "item", "--type",
            "http", "--out",
        ])
        .arg(&packs)
        .assert()
        .success();
    fabric(h)
        .arg("--db")
        .arg(&db)
        .args(["exchange", "export", "--manifest"])
        .arg(packs.join("copy/manifest.json"))
        .assert()
        .success();
    assert!(packs.join("copy/index.jsonl").exists());
    assert_owner_only(&packs.join("copy"))?;
    // Archives into new folders.
    let out = h.join("archives/new");
    fabric(h)
        .args(["exchange", "pack", "--manifest"])
        .arg(&m)
        .arg("--out")
        .arg(out.join("ds.zip"))
        .assert()
        .success();
    fabric(h)
        .env("SNAPSHOT_ENCRYPTION_KEY", PASSPHRASE)
        .args(["exchange", "pack", "--encrypt", "--manifest"])
        .arg(&m)
        .arg("--out")
        .arg(out.join("enc.zip.enc"))
        .assert()
        .success();
    assert_owner_only(&h.join("archives"))?;
    // Unpacked.
    let unpacked = h.join("unpacked/here");
    fabric(h)
        .args(["exchange", "unpack", "--in"])
        .arg(out.join("ds.zip"))
        .arg("--out")
        .arg(&unpacked)
        .assert()
        .success();
    assert_owner_only(&h.join("unpacked"))?;
    // A file the user opened up keeps its mode when add rewrites it.
    use std::os::unix::fs::PermissionsExt;
    let index = packs.join("ds/index.jsonl");
    std::fs::set_permissions(&index, std::fs::Permissions::from_mode(0o644))?;
    let more = records()
        .replace("00000000000a", "00000000000c")
        .replace("00000000000b", "00000000000d");
    let input = h.join("more.ndjson");
    std::fs::write(
        &input,
        more.replace("\"k1\"", "\"k3\"").replace("\"k2\"", "\"k4\""),
    )?;
    fabric(h)
        .args(["exchange", "add", "--manifest"])
        .arg(&m)
        .arg(&input)
        .assert()
        .success();
    assert_eq!(mode(&index)?, 0o644);
    assert_eq!(mode(&m)?, 0o600);
    Ok(())
}
