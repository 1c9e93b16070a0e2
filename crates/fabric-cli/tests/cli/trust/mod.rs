//! Exchange packs you can trust: the adversary's cases through the real binary.
//!
//! * `lock`: two writers on one pack (the writer lock), readers beside a writer;
//! * `redaction`: a corpus of planted secrets that must never come out;
//! * `archive`: zip bombs, duplicate entries, a killed unpack's folder, the
//!   encryption policy;
//! * `input`: size limits, FIFOs and devices, the `add` envelope, duplicate ids,
//!   import collisions, chunks that are not regular files, dry runs.

mod archive;
mod input;
mod lock;
mod redaction;

use std::path::{Path, PathBuf};

use crate::common::Env;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Files as `(relative name, bytes)`, sorted.
pub type Files = Vec<(String, Vec<u8>)>;

pub const BAD_INPUT: i32 = 2;
pub const STORAGE: i32 = 3;

/// A home folder holding a dataset `ds` made by `exchange init` (scope
/// `src`/`page`) and the path of a store that does not exist yet.
pub struct Home {
    env: Env,
}

/// What a run left.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Home {
    pub fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let home = Home { env: Env::new()? };
        let out = home.run(
            &[
                "exchange", "init", "--name", "ds", "--source", "src", "--entity", "page",
                "--type", "http", "--out",
            ],
            &[home.path().to_str().ok_or("path")?],
            "",
            &[],
        )?;
        if out.code != 0 {
            return Err(format!("init: {out:?}").into());
        }
        Ok(home)
    }

    pub fn path(&self) -> &Path {
        self.env.home()
    }

    pub fn ds(&self) -> PathBuf {
        self.path().join("ds")
    }

    pub fn m(&self) -> String {
        self.ds().join("manifest.json").display().to_string()
    }

    pub fn db(&self) -> PathBuf {
        self.env.db()
    }

    /// A `fabric --db DB ARGS...` command.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.env.cmd();
        cmd.args(args);
        cmd
    }

    /// Run `ARGS EXTRA` with `stdin` and `env`.
    pub fn run(
        &self,
        args: &[&str],
        extra: &[&str],
        stdin: &str,
        env: &[(&str, &str)],
    ) -> Result<Out, Box<dyn std::error::Error>> {
        let mut cmd = self.cmd(args);
        cmd.args(extra).write_stdin(stdin.to_owned());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output()?;
        Ok(Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `exchange add --manifest M -` with `lines` on stdin.
    pub fn add(&self, lines: &str, extra: &[&str]) -> Result<Out, Box<dyn std::error::Error>> {
        let m = self.m();
        self.run(&["exchange", "add", "--manifest", &m], extra, lines, &[])
    }

    /// `exchange verify --json`: (exit code, records counted).
    pub fn verify(&self) -> Result<(i32, u64), Box<dyn std::error::Error>> {
        let m = self.m();
        let out = self.run(
            &["--json", "exchange", "verify", "--manifest", &m],
            &[],
            "",
            &[],
        )?;
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        Ok((out.code, v["records"].as_u64().unwrap_or(u64::MAX)))
    }

    /// Every file under the home folder, relative, sorted, with its bytes.
    pub fn files(&self) -> Result<Files, Box<dyn std::error::Error>> {
        files_under(self.path())
    }
}

/// Every regular file under `dir`, relative, sorted, with its bytes.
pub fn files_under(dir: &Path) -> Result<Files, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let rel = entry.path().strip_prefix(dir)?.display().to_string();
                out.push((rel, std::fs::read(entry.path())?));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One envelope line in scope `src`/`page`, its content set by `n`.
pub fn record(n: usize) -> String {
    serde_json::json!({
        "natural_key": format!("k{n}"),
        "request": {"url": format!("https://api.example.org/items/{n}")},
        "response": {"status": 200, "body": {"n": n}},
        "observed_at_utc": "2024-03-01T10:00:00Z",
    })
    .to_string()
}

/// `n` envelope lines from `from`.
pub fn records(from: usize, n: usize) -> String {
    (from..from + n).map(|i| record(i) + "\n").collect()
}
