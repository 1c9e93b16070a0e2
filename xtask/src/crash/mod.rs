//! Crash safety with real processes: start a `fabric` command, SIGKILL it at a
//! seeded random moment, then check what a user would find.
//!
//! After every kill the harness checks that
//! 1. `fabric db check` opens the store and passes the integrity check (exit 0);
//! 2. the store holds either the state before the command or the state after an
//!    uninterrupted run, nothing in between (every batch entirely or not at all);
//! 3. the inputs are untouched; SQLite's hot journal is gone once the next command
//!    has opened the store; any other file the kill left in the trial folder (a
//!    temporary zip, chunk or index) is gone after the re-run, which leaves exactly
//!    the files of an uninterrupted run;
//! 4. running the same command again completes and gives the same result as an
//!    uninterrupted run.
//!
//! The commands live in one table, [`COMMANDS`]: each is one entry with its own
//! preparation, arguments and state/result probes (the exchange ones are in
//! `exchange.rs`). Beside the table, `writers.rs` runs two writers on one pack
//! (two `add`s, or `add` and `export`) and kills one of them each round: the
//! survivor must finish, and no record may be lost. `cargo xtask crash [--release] [--kills N]` runs the long version;
//! `crates/fabric-cli/tests/cli/crash.rs` runs a short one in `cargo test`.
//!
//! This module drives the built `fabric` binary only: it links no workspace crate.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

mod exchange;
mod jobs;
mod util;

use jobs::*;
use util::*;
mod writers;

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
    /// Records in the generated exchange packs (larger: longer commands).
    pub records: usize,
    /// Only the commands whose name contains one of these (all when empty).
    pub only: Vec<String>,
}

/// Where one trial happens: the prepared inputs and the trial's folder.
#[derive(Debug, Clone)]
pub struct Env {
    /// The built `fabric` binary.
    pub fabric: PathBuf,
    /// The command's prepared inputs (shared by its trials, never written by them).
    pub inputs: PathBuf,
    /// The store of this trial, `fabric.db` in the trial folder. The trial folder
    /// is a copy of the prepared template folder (the store and whatever else the
    /// command writes, e.g. a pack that `sync` extends).
    pub db: PathBuf,
}

impl Env {
    /// The trial folder (holds the store and the files the command writes).
    pub fn folder(&self) -> &Path {
        self.db.parent().unwrap_or(&self.db)
    }
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
    /// The state as the atomicity check sees it, one part per batch (the store's
    /// rows, a pack's records...): after a kill every part must be either its
    /// state before the command or after an uninterrupted run.
    pub state: fn(&Env) -> Result<Vec<String>, String>,
    /// The command's result to compare with an uninterrupted run, from its stdout
    /// and the store after it.
    pub result: fn(&Env, &[u8]) -> Result<String, String>,
}

/// The commands, one entry each.
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
        state: |env| chain_state(env).map(|s| vec![s]),
        result: snapshot_result,
    },
    CrashCommand {
        name: "exchange import",
        prepare: exchange::import_prepare,
        args: exchange::import_args,
        state: exchange::mirror_state,
        result: exchange::mirror_result,
    },
    CrashCommand {
        name: "exchange sync",
        prepare: exchange::sync_prepare,
        args: exchange::sync_args,
        state: exchange::sync_state,
        result: exchange::sync_result,
    },
    CrashCommand {
        name: "exchange pack",
        prepare: exchange::pack_prepare,
        args: exchange::pack_args,
        state: exchange::pack_state,
        result: exchange::pack_result,
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
    /// Killed while running, some batches before and the others after (e.g. a
    /// sync whose export reached the pack, its import not yet committed).
    pub left_between: usize,
    /// The process had already exited when the kill came.
    pub finished_first: usize,
    /// Kills after which SQLite's hot journal was beside the store (rolled back by
    /// the next reader).
    pub hot_journals: usize,
    /// Kills that left another file in the trial folder (a temporary file), gone
    /// after the re-run.
    pub temp_left: usize,
    /// Records missing after a kill and a re-run (the two-writer scenario; 0 for
    /// the other commands, whose batches the state check covers).
    pub lost_records: usize,
    /// Lost or partial batches, unreadable stores, stray files, wrong re-runs.
    pub failures: Vec<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<24} kills {:>3} (baseline {:>6.0} ms): before {:>3}, after {:>3}, \
             between {:>3}, finished first {:>3}, hot journal {:>3}, temp files {:>3}, \
             lost records {}, failures {}",
            self.command,
            self.kills,
            self.baseline.as_secs_f64() * 1000.0,
            self.left_before,
            self.left_after,
            self.left_between,
            self.finished_first,
            self.hot_journals,
            self.temp_left,
            self.lost_records,
            self.failures.len()
        )
    }
}

/// Run every selected command of [`COMMANDS`] `opts.kills` times, then the
/// two-writer scenario (`writers.rs`) for as many rounds.
pub fn run(opts: &Options) -> Result<Vec<Outcome>, String> {
    let mut outcomes = Vec::new();
    let mut rng = SplitMix64(opts.seed);
    for command in COMMANDS {
        if !opts.only.is_empty() && !opts.only.iter().any(|o| command.name.contains(o.as_str())) {
            continue;
        }
        outcomes.push(run_command(command, opts, &mut rng)?);
    }
    if opts.only.is_empty() || opts.only.iter().any(|o| writers::NAME.contains(o.as_str())) {
        outcomes.push(writers::run(opts, &mut rng)?);
    }
    Ok(outcomes)
}

fn run_command(
    cmd: &CrashCommand,
    opts: &Options,
    rng: &mut SplitMix64,
) -> Result<Outcome, String> {
    let (root, template) = scenario(opts, &cmd.name.replace([' ', '-'], "_"))?;
    let inputs = template.inputs.clone();
    (cmd.prepare)(&template, opts)?;
    let input_files = listing(&inputs)?;
    let template_files = listing(template.folder())?;
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
    if before.len() != after.len() || before.iter().zip(&after).any(|(b, a)| b == a) {
        return Err(format!(
            "{}: the command does not change every part of the state",
            cmd.name
        ));
    }
    let files_once = listing(clean.folder())?;
    // A kill after the commit leaves the "after" state; the re-run then is a second
    // run (ingest replaces, snapshot --save adds a version), compared with this.
    let again = fabric(&clean, &(cmd.args)(&clean))?;
    expect_success(&again, cmd.name)?;
    let expected_twice = (cmd.result)(&clean, &again.stdout)?;
    let expected = Expected {
        input_files,
        template_files,
        before,
        after,
        results: [expected, expected_twice],
        files: [files_once, listing(clean.folder())?],
    };

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

        match check_after_kill(cmd, &env, &inputs, &expected) {
            Ok(found) => {
                if finished {
                    outcome.finished_first += 1;
                } else {
                    match found.state {
                        Left::Before => outcome.left_before += 1,
                        Left::After => outcome.left_after += 1,
                        Left::Between => outcome.left_between += 1,
                    }
                }
                outcome.hot_journals += usize::from(found.hot_journal);
                outcome.temp_left += usize::from(found.temp_files);
                remove_all(env.folder())?;
            }
            // The trial folder stays for inspection.
            Err(problem) => outcome.failures.push(format!("{label}: {problem}")),
        }
    }
    remove_all(&root.join("clean"))?;
    Ok(outcome)
}

/// What an uninterrupted run gives, to compare the killed trials with.
struct Expected {
    /// The files of the inputs folder (never written).
    input_files: BTreeSet<String>,
    /// The files of the template folder (the state before).
    template_files: BTreeSet<String>,
    /// The state parts before the command.
    before: Vec<String>,
    /// The state parts after an uninterrupted run.
    after: Vec<String>,
    /// The result of a first and of a second uninterrupted run.
    results: [String; 2],
    /// The trial folder's files after a first and after a second run.
    files: [BTreeSet<String>; 2],
}

/// Where a killed trial's state stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    Before,
    After,
    Between,
}

/// What the checks saw after one kill.
struct Found {
    state: Left,
    hot_journal: bool,
    temp_files: bool,
}

fn check_after_kill(
    cmd: &CrashCommand,
    env: &Env,
    inputs: &Path,
    expected: &Expected,
) -> Result<Found, String> {
    let folder = env.folder();
    let journal = format!("{}-journal", file_name(&env.db));
    if listing(inputs)? != expected.input_files {
        return Err("files appeared or vanished among the inputs".to_owned());
    }
    let known = |f: &String| {
        expected.template_files.contains(f) || expected.files.iter().any(|s| s.contains(f))
    };
    let temp_files = listing(folder)?.iter().any(|f| *f != journal && !known(f));
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
    let state = (cmd.state)(env)?;
    if state.len() != expected.before.len() {
        return Err(format!(
            "{} state parts, want {}",
            state.len(),
            expected.before.len()
        ));
    }
    let mut befores = 0;
    for (i, part) in state.iter().enumerate() {
        if *part == expected.before[i] {
            befores += 1;
        } else if *part != expected.after[i] {
            return Err(format!(
                "partial state (part {}): {}",
                i + 1,
                first_difference(part, &expected.after[i])
            ));
        }
    }
    let left = match befores {
        0 => Left::After,
        n if n == state.len() => Left::Before,
        _ => Left::Between,
    };

    let out = fabric(env, &(cmd.args)(env))?;
    expect_success(&out, "re-run")?;
    let result = (cmd.result)(env, &out.stdout)?;
    let which = usize::from(left == Left::After);
    if result != expected.results[which] {
        return Err(format!(
            "re-run differs: {}",
            first_difference(&result, &expected.results[which])
        ));
    }
    let left_files = listing(folder)?;
    if left_files != expected.files[which] {
        let extra: Vec<&String> = left_files.difference(&expected.files[which]).collect();
        let missing: Vec<&String> = expected.files[which].difference(&left_files).collect();
        return Err(format!(
            "after the re-run, the files differ from an uninterrupted run's: extra {extra:?}, missing {missing:?}"
        ));
    }
    Ok(Found {
        state: left,
        hot_journal,
        temp_files,
    })
}

/// Print the outcomes and return the exit code: failure if any check failed.
pub fn report(outcomes: &[Outcome]) -> ExitCode {
    let mut failures = 0;
    let mut kills = 0;
    let mut lost = 0;
    for o in outcomes {
        lost += o.lost_records;
        println!("{o}");
        for f in &o.failures {
            println!("  FAIL {f}");
        }
        failures += o.failures.len();
        kills += o.kills;
    }
    println!(
        "total: {kills} kills, {lost} lost records, {failures} lost or partial batches / failed checks"
    );
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `cargo xtask crash [--release] [--kills N] [--seed S] [--jobs J] [--records R] [COMMAND...]`.
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
        records: 40_000,
        only: Vec::new(),
    };
    let mut profile = "debug";
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
            "--records" => opts.records = number("--records")? as usize,
            "--release" => profile = "release",
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => opts.only.push(other.to_owned()),
        }
    }
    opts.fabric = root.join("target").join(profile).join("fabric");
    let mut build = vec!["build", "--quiet", "-p", "fabric-cli"];
    if profile == "release" {
        build.push("--release");
    }
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(&build)
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo {} failed", build.join(" ")));
    }
    println!(
        "crash: {} kills per command, seed {}, {} jobs, {} records, {} build, work folder {}",
        opts.kills,
        opts.seed,
        opts.jobs,
        opts.records,
        profile,
        opts.work.display()
    );
    run(&opts)
}
