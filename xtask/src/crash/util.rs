//! What every row of the crash table shares: trial folders, running the binary,
//! reading its output, listing folders, and the seeded generator of kill moments.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::Env;

/// A fresh trial folder holding a copy of the template folder (the store and
/// whatever else the command writes).
pub(super) fn trial_env(template: &Env, folder: &Path) -> Result<Env, String> {
    remove_all(folder)?;
    mkdir(folder)?;
    let from = template.folder();
    for rel in listing(from)? {
        let to = folder.join(&rel);
        if let Some(parent) = to.parent() {
            mkdir(parent)?;
        }
        std::fs::copy(from.join(&rel), &to)
            .map_err(|e| format!("copying the template's {rel}: {e}"))?;
    }
    let db = folder.join("fabric.db");
    Ok(Env {
        fabric: template.fabric.clone(),
        inputs: template.inputs.clone(),
        db,
    })
}

pub(super) fn base_command(env: &Env, args: &[OsString]) -> Command {
    let mut cmd = Command::new(&env.fabric);
    let home = env.db.parent().unwrap_or(&env.db);
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .arg("--db")
        .arg(&env.db)
        .args(args);
    cmd
}

pub(super) fn fabric(env: &Env, args: &[OsString]) -> Result<Output, String> {
    base_command(env, args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", env.fabric.display()))
}

pub(super) fn expect_success(out: &Output, what: &str) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            stderr_of(out)
        ))
    }
}

pub(super) fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

pub(super) fn json(bytes: &[u8], what: &str) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{what}: not JSON: {e}"))
}

pub(super) fn first_difference(got: &str, want: &str) -> String {
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
    format!(
        "line {}: got {:?}, want {:?}",
        line + 1,
        got.lines().nth(line).unwrap_or(""),
        want.lines().nth(line).unwrap_or("")
    )
}

/// Relative paths of every file under `dir`.
pub(super) fn listing(dir: &Path) -> Result<BTreeSet<String>, String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("listing {}: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("listing {}: {e}", d.display()))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                found.insert(rel.display().to_string());
            }
        }
    }
    Ok(found)
}

/// Whether SQLite would treat `journal` as hot: it exists and its header has been
/// written (a journal whose first bytes are zero is ignored).
pub(super) fn is_hot(journal: &Path) -> Result<bool, String> {
    match std::fs::read(journal) {
        Ok(bytes) => Ok(bytes.iter().take(8).any(|b| *b != 0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("reading {}: {e}", journal.display())),
    }
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))
}

pub(super) fn remove_all(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Small seeded generator (the one gen_corpus.py uses): reproducible kill moments.
#[derive(Debug)]
pub(super) struct SplitMix64(pub(super) u64);

impl SplitMix64 {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `[0, n)` (n > 0; the slight modulo bias does not matter here).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A scenario's fresh folder under `opts.work`: its `inputs` and the template
/// store's folder, emptied; returns the folder and the template's [`Env`].
pub(super) fn scenario(opts: &super::Options, name: &str) -> Result<(PathBuf, Env), String> {
    let root = opts.work.join(name);
    remove_all(&root)?;
    let inputs = root.join("inputs");
    let template_dir = root.join("template");
    mkdir(&inputs)?;
    mkdir(&template_dir)?;
    let template = Env {
        fabric: opts.fabric.clone(),
        inputs,
        db: template_dir.join("fabric.db"),
    };
    Ok((root, template))
}
