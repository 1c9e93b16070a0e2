//! Crash safety with real processes: start a `fabric` command, SIGKILL it at a
//! seeded random moment, then check what a user would find.
//!
//! After every kill the harness checks that
//! 1. `fabric db check` opens the store and passes the integrity check (exit 0);
//! 2. the store holds either the state before the command or the state after an
//!    uninterrupted run, nothing in between (every batch entirely or not at all);
//! 3. no file is left beside the store or the inputs except SQLite's own hot
//!    journal, and that one is gone once the next command has opened the store;
//! 4. running the same command again completes and gives the same result as an
//!    uninterrupted run.
//!
//! The commands live in one table, [`COMMANDS`]: a new command (the exchange
//! `import`, `sync` and `pack`) is one entry with its own preparation, arguments and
//! state/result probes. `cargo xtask crash [--kills N]` runs the long version; the
//! root `tests/` package runs a short one in `cargo test`.
//!
//! This module drives the built `fabric` binary only: it links no workspace crate.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What a harness run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The built `fabric` binary.
    pub fabric: PathBuf,
    /// The compatibility vectors folder (`tests/vectors`), for `gen_corpus.py`.
    pub vectors: PathBuf,
    /// A scratch folder (inputs, template stores, one folder per trial).
    pub work: PathBuf,
    /// Kills per command.
    pub kills: usize,
    /// Seed of the kill moments (same seed, same moments).
    pub seed: u64,
    /// Jobs in the generated corpus (larger: longer commands).
    pub jobs: usize,
    /// Only the commands whose name contains one of these (all when empty).
    pub only: Vec<String>,
}

/// Where one trial happens: the prepared inputs and the trial's store.
#[derive(Debug, Clone)]
pub struct Env {
    /// The built `fabric` binary.
    pub fabric: PathBuf,
    /// The command's prepared inputs (shared by its trials, never written by them).
    pub inputs: PathBuf,
    /// The store of this trial (a copy of the prepared template).
    pub db: PathBuf,
}

/// One command under test: a table row.
#[derive(Debug, Clone, Copy)]
pub struct CrashCommand {
    /// Name shown in the report, e.g. `ingest`.
    pub name: &'static str,
    /// Build the inputs in `env.inputs` and the template store at `env.db` (the
    /// state before the command). Runs once per harness run.
    pub prepare: fn(&Env, &Options) -> Result<(), String>,
    /// The command's arguments (after `--db DB`).
    pub args: fn(&Env) -> Vec<OsString>,
    /// The store's state as the atomicity check sees it (before / after the command).
    pub state: fn(&Env) -> Result<String, String>,
    /// The command's result to compare with an uninterrupted run, from its stdout
    /// and the store after it.
    pub result: fn(&Env, &[u8]) -> Result<String, String>,
}

/// The commands, one line each. Exchange `import`, `sync` and `pack` join here.
pub const COMMANDS: &[CrashCommand] = &[
    CrashCommand {
        name: "ingest",
        prepare: ingest_prepare,
        args: ingest_args,
        state: report_state,
        result: ingest_result,
    },
    CrashCommand {
        name: "snapshot create --save",
        prepare: snapshot_prepare,
        args: snapshot_args,
        state: chain_state,
        result: snapshot_result,
    },
];

/// What happened to one command's kills.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The command's name.
    pub command: &'static str,
    /// Kills attempted.
    pub kills: usize,
    /// How long one uninterrupted run took.
    pub baseline: Duration,
    /// Killed while running, store left as before.
    pub left_before: usize,
    /// Killed while running, but the store already held the whole result.
    pub left_after: usize,
    /// The process had already exited when the kill came.
    pub finished_first: usize,
    /// Kills after which SQLite's hot journal was beside the store (rolled back by
    /// the next reader).
    pub hot_journals: usize,
    /// Lost or partial batches, unreadable stores, stray files, wrong re-runs.
    pub failures: Vec<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<24} kills {:>3} (baseline {:>6.0} ms): before {:>3}, after {:>3}, \
             finished first {:>3}, hot journal {:>3}, failures {}",
            self.command,
            self.kills,
            self.baseline.as_secs_f64() * 1000.0,
            self.left_before,
            self.left_after,
            self.finished_first,
            self.hot_journals,
            self.failures.len()
        )
    }
}

/// Run every selected command of [`COMMANDS`] `opts.kills` times.
pub fn run(opts: &Options) -> Result<Vec<Outcome>, String> {
    let mut outcomes = Vec::new();
    let mut rng = SplitMix64(opts.seed);
    for command in COMMANDS {
        if !opts.only.is_empty() && !opts.only.iter().any(|o| command.name.contains(o.as_str())) {
            continue;
        }
        outcomes.push(run_command(command, opts, &mut rng)?);
    }
    Ok(outcomes)
}

fn run_command(
    cmd: &CrashCommand,
    opts: &Options,
    rng: &mut SplitMix64,
) -> Result<Outcome, String> {
    let root = opts.work.join(cmd.name.replace([' ', '-'], "_"));
    remove_all(&root)?;
    let inputs = root.join("inputs");
    let template_dir = root.join("template");
    mkdir(&inputs)?;
    mkdir(&template_dir)?;
    let template = Env {
        fabric: opts.fabric.clone(),
        inputs: inputs.clone(),
        db: template_dir.join("fabric.db"),
    };
    (cmd.prepare)(&template, opts)?;
    let input_files = listing(&inputs)?;
    let before = (cmd.state)(&template)?;

    // The uninterrupted run: its duration bounds the kill moments, its state and
    // result are what a re-run must give.
    let clean = trial_env(&template, &root.join("clean"))?;
    let started = Instant::now();
    let out = fabric(&clean, &(cmd.args)(&clean))?;
    let baseline = started.elapsed();
    expect_success(&out, cmd.name)?;
    let after = (cmd.state)(&clean)?;
    let expected = (cmd.result)(&clean, &out.stdout)?;
    if before == after {
        return Err(format!(
            "{}: the command does not change the store",
            cmd.name
        ));
    }
    // A kill after the commit leaves the "after" state; the re-run then is a second
    // run (ingest replaces, snapshot --save adds a version), compared with this.
    let again = fabric(&clean, &(cmd.args)(&clean))?;
    expect_success(&again, cmd.name)?;
    let expected_twice = (cmd.result)(&clean, &again.stdout)?;
    let expected = [expected, expected_twice];

    let mut outcome = Outcome {
        command: cmd.name,
        kills: opts.kills,
        baseline,
        ..Outcome::default()
    };
    let window = (baseline.as_micros() as u64).max(1000) * 11 / 10;
    for kill in 0..opts.kills {
        let env = trial_env(&template, &root.join(format!("kill-{kill:03}")))?;
        let delay = Duration::from_micros(rng.below(window));
        let label = format!("{} kill {kill} at {} ms", cmd.name, delay.as_millis());
        let mut child = base_command(&env, &(cmd.args)(&env))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{label}: cannot start fabric: {e}"))?;
        std::thread::sleep(delay);
        let finished = child
            .try_wait()
            .map_err(|e| format!("{label}: {e}"))?
            .is_some();
        if !finished {
            child.kill().map_err(|e| format!("{label}: kill: {e}"))?;
        }
        child.wait().map_err(|e| format!("{label}: wait: {e}"))?;

        let problems =
            check_after_kill(cmd, &env, &input_files, &inputs, &before, &after, &expected);
        match problems {
            Ok(found) => {
                if finished {
                    outcome.finished_first += 1;
                } else if found.state_after {
                    outcome.left_after += 1;
                } else {
                    outcome.left_before += 1;
                }
                if found.hot_journal {
                    outcome.hot_journals += 1;
                }
                remove_all(env.db.parent().unwrap_or(&env.db))?;
            }
            // The trial folder stays for inspection.
            Err(problem) => outcome.failures.push(format!("{label}: {problem}")),
        }
    }
    remove_all(&root.join("clean"))?;
    Ok(outcome)
}

/// What the checks saw after one kill.
struct Found {
    state_after: bool,
    hot_journal: bool,
}

fn check_after_kill(
    cmd: &CrashCommand,
    env: &Env,
    input_files: &BTreeSet<String>,
    inputs: &Path,
    before: &str,
    after: &str,
    expected: &[String; 2],
) -> Result<Found, String> {
    let folder = env.db.parent().ok_or("the store has no folder")?;
    let db_name = file_name(&env.db);
    let journal = format!("{db_name}-journal");
    let left = listing(folder)?;
    let stray: Vec<&String> = left
        .iter()
        .filter(|f| **f != db_name && **f != journal)
        .collect();
    if !stray.is_empty() {
        return Err(format!("files left beside the store: {stray:?}"));
    }
    if listing(inputs)? != *input_files {
        return Err("files appeared or vanished among the inputs".to_owned());
    }
    let journal_path = folder.join(&journal);
    let hot_journal = is_hot(&journal_path)?;

    // The next reader rolls a hot journal back (and SQLite deletes it). A journal
    // whose header was never synced is not hot: SQLite ignores it and the next
    // write removes it (checked after the re-run below).
    let check = fabric(env, &["db".into(), "check".into()])?;
    if !check.status.success() {
        return Err(format!("db check failed: {}", stderr_of(&check)));
    }
    if is_hot(&journal_path)? {
        return Err("after db check, the hot journal is still there".to_owned());
    }
    let left = listing(folder)?;
    if left.iter().any(|f| *f != db_name && *f != journal) {
        return Err(format!(
            "after db check, files left beside the store: {left:?}"
        ));
    }
    let state = (cmd.state)(env)?;
    let state_after = if state == before {
        false
    } else if state == after {
        true
    } else {
        return Err(format!(
            "partial state: {}",
            first_difference(&state, after)
        ));
    };

    let out = fabric(env, &(cmd.args)(env))?;
    expect_success(&out, "re-run")?;
    let result = (cmd.result)(env, &out.stdout)?;
    let want = &expected[usize::from(state_after)];
    if result != *want {
        return Err(format!(
            "re-run differs: {}",
            first_difference(&result, want)
        ));
    }
    let left = listing(folder)?;
    if left.iter().any(|f| *f != db_name) {
        return Err(format!(
            "after the re-run, files left beside the store: {left:?}"
        ));
    }
    Ok(Found {
        state_after,
        hot_journal,
    })
}

/// Print the outcomes and return the exit code: failure if any check failed.
pub fn report(outcomes: &[Outcome]) -> ExitCode {
    let mut failures = 0;
    let mut kills = 0;
    for o in outcomes {
        println!("{o}");
        for f in &o.failures {
            println!("  FAIL {f}");
        }
        failures += o.failures.len();
        kills += o.kills;
    }
    println!("total: {kills} kills, {failures} lost or partial batches / failed checks");
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `cargo xtask crash [--kills N] [--seed S] [--jobs J] [COMMAND...]`.
pub fn main(args: &[String]) -> ExitCode {
    match parse_and_run(args) {
        Ok(outcomes) => report(&outcomes),
        Err(e) => {
            eprintln!("crash: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_and_run(args: &[String]) -> Result<Vec<Outcome>, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent folder")?
        .to_path_buf();
    let mut opts = Options {
        fabric: root.join("target/debug/fabric"),
        vectors: root.join("tests/vectors"),
        work: root.join("target/crash"),
        kills: 50,
        seed: 7,
        jobs: 32_000,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |what: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{what} needs a number"))
        };
        match arg.as_str() {
            "--kills" => opts.kills = number("--kills")? as usize,
            "--seed" => opts.seed = number("--seed")?,
            "--jobs" => opts.jobs = number("--jobs")? as usize,
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => opts.only.push(other.to_owned()),
        }
    }
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--quiet", "-p", "fabric-cli"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("cargo build -p fabric-cli failed".to_owned());
    }
    println!(
        "crash: {} kills per command, seed {}, {} jobs, work folder {}",
        opts.kills,
        opts.seed,
        opts.jobs,
        opts.work.display()
    );
    run(&opts)
}

// ---- the commands -------------------------------------------------------------

/// Two batches from gen_corpus.py; the template store holds batch 1, the killed
/// command ingests batch 2 (which replaces some of batch 1's jobs).
fn ingest_prepare(env: &Env, opts: &Options) -> Result<(), String> {
    gen_corpus(opts, &env.inputs.join("corpus"), &["--batches", "2"])?;
    let out = fabric(
        env,
        &["ingest".into(), env.inputs.join("corpus/batch-01").into()],
    )?;
    expect_success(&out, "ingest batch-01")
}

fn ingest_args(env: &Env) -> Vec<OsString> {
    vec!["ingest".into(), env.inputs.join("corpus/batch-02").into()]
}

/// The report minus `generated_at`, and the job ids: all of the store's jobs.
fn report_state(env: &Env) -> Result<String, String> {
    let jobs = fabric(env, &["jobs".into()])?;
    expect_success(&jobs, "jobs")?;
    Ok(format!(
        "jobs: {}\n{}",
        String::from_utf8_lossy(&jobs.stdout).lines().count(),
        report_json(env)?
    ))
}

fn ingest_result(env: &Env, _stdout: &[u8]) -> Result<String, String> {
    report_json(env)
}

/// A store with a corpus (a large report) and one saved snapshot; the killed
/// command saves version 2.
fn snapshot_prepare(env: &Env, opts: &Options) -> Result<(), String> {
    gen_corpus(opts, &env.inputs.join("corpus"), &[])?;
    let out = fabric(env, &["ingest".into(), env.inputs.join("corpus").into()])?;
    expect_success(&out, "ingest")?;
    let out = fabric(env, &snapshot_args(env))?;
    expect_success(&out, "snapshot create --save")
}

fn snapshot_args(_env: &Env) -> Vec<OsString> {
    vec!["snapshot".into(), "create".into(), "--save".into()]
}

/// The chain's version count, active version and the active payload's snapshot id;
/// `snapshot verify` must pass.
fn chain_state(env: &Env) -> Result<String, String> {
    let verify = fabric(env, &["snapshot".into(), "verify".into()])?;
    expect_success(&verify, "snapshot verify")?;
    let show = fabric(
        env,
        &[
            "--json".into(),
            "snapshot".into(),
            "show".into(),
            "fabric".into(),
        ],
    )?;
    expect_success(&show, "snapshot show")?;
    let doc = json(&show.stdout, "snapshot show")?;
    Ok(format!(
        "version {} active {} snapshot_id {}",
        doc["version"], doc["is_active"], doc["payload"]["snapshot_id"]
    ))
}

fn snapshot_result(env: &Env, stdout: &[u8]) -> Result<String, String> {
    let doc = json(stdout, "snapshot create")?;
    Ok(format!("{} / {}", doc["snapshot_id"], chain_state(env)?))
}

// ---- plumbing -------------------------------------------------------------------

fn gen_corpus(opts: &Options, out: &Path, extra: &[&str]) -> Result<(), String> {
    let status = Command::new("python3")
        .arg(opts.vectors.join("fabric/gen_corpus.py"))
        .args(["--seed", "7", "--jobs", &opts.jobs.to_string()])
        .args(extra)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("python3 gen_corpus.py: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("gen_corpus.py failed: {status}"))
    }
}

fn report_json(env: &Env) -> Result<String, String> {
    let out = fabric(env, &["report".into(), "--format".into(), "json".into()])?;
    expect_success(&out, "report")?;
    let mut doc = json(&out.stdout, "report")?;
    if let Some(map) = doc.as_object_mut() {
        map.remove("generated_at");
    }
    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
}

/// A fresh trial folder holding a copy of the template store.
fn trial_env(template: &Env, folder: &Path) -> Result<Env, String> {
    remove_all(folder)?;
    mkdir(folder)?;
    let db = folder.join("fabric.db");
    std::fs::copy(&template.db, &db).map_err(|e| format!("copying the template store: {e}"))?;
    Ok(Env {
        fabric: template.fabric.clone(),
        inputs: template.inputs.clone(),
        db,
    })
}

fn base_command(env: &Env, args: &[OsString]) -> Command {
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

fn fabric(env: &Env, args: &[OsString]) -> Result<Output, String> {
    base_command(env, args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", env.fabric.display()))
}

fn expect_success(out: &Output, what: &str) -> Result<(), String> {
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

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

fn json(bytes: &[u8], what: &str) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{what}: not JSON: {e}"))
}

fn first_difference(got: &str, want: &str) -> String {
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
fn listing(dir: &Path) -> Result<BTreeSet<String>, String> {
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
fn is_hot(journal: &Path) -> Result<bool, String> {
    match std::fs::read(journal) {
        Ok(bytes) => Ok(bytes.iter().take(8).any(|b| *b != 0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("reading {}: {e}", journal.display())),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn mkdir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))
}

fn remove_all(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Small seeded generator (the one gen_corpus.py uses): reproducible kill moments.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `[0, n)` (n > 0; the slight modulo bias does not matter here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
