//! Progress bars under a real pseudo-terminal (`script` from util-linux): drawn
//! on a terminal, at most 80 columns, cleared when the command ends, and absent
//! with `-q`, with `--json` and when stderr is not a terminal.

use std::path::Path;
use std::process::Command;

use crate::common::fabric;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CLEAR_LINE: &str = "\u{1b}[2K";

/// Run `fabric ARGS` with its output on a pseudo-terminal; returns everything the
/// terminal received (stdout and stderr interleaved, as a user sees them).
pub fn on_a_terminal(home: &Path, args: &str) -> Result<String, Box<dyn std::error::Error>> {
    let bin = env!("CARGO_BIN_EXE_fabric");
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &format!("{bin} {args}"), "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("running `script` (util-linux) to get a pseudo-terminal: {e}"))?;
    assert!(out.status.success(), "fabric {args}: {out:?}");
    Ok(String::from_utf8(out.stdout)?)
}

/// The text of every frame drawn, escape sequences removed.
fn frames(raw: &str) -> Vec<String> {
    raw.split('\r')
        .map(|f| {
            let mut text = String::new();
            let mut chars = f.chars();
            while let Some(c) = chars.next() {
                if c == '\u{1b}' {
                    // CSI: ESC [ parameters final-byte
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            break;
                        }
                    }
                } else {
                    text.push(c);
                }
            }
            text
        })
        .collect()
}

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/results")
}

#[test]
fn a_bar_is_drawn_on_a_terminal_then_cleared() -> TestResult {
    let home = tempfile::tempdir()?;
    let db = home.path().join("f.db");
    let raw = on_a_terminal(
        home.path(),
        &format!("--db {} ingest {}", db.display(), examples().display()),
    )?;
    let frames = frames(&raw);
    let bars: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains("ingest [") && f.contains("/30"))
        .collect();
    assert!(!bars.is_empty(), "no bar was drawn:\n{raw:?}");
    for f in &bars {
        assert!(
            f.trim_end().chars().count() <= 80,
            "wider than 80 columns: {f:?}"
        );
        assert!(f.contains("/s"), "no rate in {f:?}");
    }
    // The last bar is wiped before the summary is printed.
    let last_bar = raw.rfind("/30").ok_or("no bar")?;
    let summary = raw.find("files read: 30").ok_or("no summary")?;
    let clear = raw[last_bar..].find(CLEAR_LINE).map(|i| i + last_bar);
    assert!(
        clear.is_some_and(|c| c < summary),
        "the bar was not cleared before the summary:\n{raw:?}"
    );
    Ok(())
}

#[test]
fn quiet_json_and_pipes_draw_no_bar() -> TestResult {
    let home = tempfile::tempdir()?;
    for flags in ["-q", "--json"] {
        let db = home.path().join(format!("{flags}.db"));
        let raw = on_a_terminal(
            home.path(),
            &format!(
                "{flags} --db {} ingest {}",
                db.display(),
                examples().display()
            ),
        )?;
        assert!(!raw.contains("ingest ["), "{flags} drew a bar:\n{raw:?}");
        assert!(!raw.contains(CLEAR_LINE), "{flags} drew a bar:\n{raw:?}");
    }
    // Not a terminal: stderr holds no escape sequence at all.
    let out = fabric(home.path())
        .arg("--db")
        .arg(home.path().join("pipe.db"))
        .arg("ingest")
        .arg(examples())
        .output()?;
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));
    Ok(())
}

#[test]
fn exchange_verify_draws_a_bar_in_bytes() -> TestResult {
    let home = tempfile::tempdir()?;
    let packs = home.path().join("packs");
    fabric(home.path())
        .args([
            "exchange", "init", "--name", "o", "--source", "shop", "--entity", "order",
        ])
        .args(["--type", "http", "--out"])
        .arg(&packs)
        .assert()
        .success();
    let manifest = packs.join("o/manifest.json");
    fabric(home.path())
        .args(["exchange", "add", "--manifest"])
        .arg(&manifest)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/records.ndjson"))
        .assert()
        .success();
    let raw = on_a_terminal(
        home.path(),
        &format!("exchange verify --manifest {}", manifest.display()),
    )?;
    let bars: Vec<String> = frames(&raw)
        .into_iter()
        .filter(|f| f.contains("verify [") && f.contains("KiB/"))
        .collect();
    assert!(!bars.is_empty(), "no bar in bytes was drawn:\n{raw:?}");
    assert!(raw.contains("Verify: OK"), "{raw:?}");
    Ok(())
}
