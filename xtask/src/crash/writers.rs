//! The two-writer scenario: two `fabric` processes write one pack at once and
//! one of them is SIGKILLed at a seeded random moment.
//!
//! Each round runs, on a fresh copy of the template folder (an `init`ed dataset
//! and a store whose mirror holds a third set of records), either two `exchange
//! add`s (sets A and B) or an `exchange add` (set A) beside an `exchange export`
//! (the store's set C), and kills one of the two. Then:
//! 1. the survivor exited 0 (it waited for the lock, never lost a record);
//! 2. every record of the survivor's set is in the pack's index, and the killed
//!    writer's set is there entirely or not at all (lost records: 0);
//! 3. `exchange verify` passes;
//! 4. re-running the killed command exits 0, after which every record of both
//!    sets is in the pack, verify passes, and no writer's scratch file is left.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{
    Env, Options, Outcome, SplitMix64, base_command, expect_success, fabric, listing, remove_all,
    trial_env,
};

/// The scenario's name in the report (and for `cargo xtask crash NAME`).
pub const NAME: &str = "exchange two writers";

/// Run the scenario `opts.kills` rounds.
pub fn run(opts: &Options, rng: &mut SplitMix64) -> Result<Outcome, String> {
    let (root, template) = super::scenario(opts, "two_writers")?;
    let half = (opts.records / 2).max(10);
    let sets = prepare(&template, half)?;

    // An uninterrupted round of each kind bounds the kill moments.
    let mut baseline = Duration::ZERO;
    for kind in [Kind::TwoAdds, Kind::AddAndExport] {
        let env = trial_env(&template, &root.join("clean"))?;
        let started = Instant::now();
        let (a, b) = (
            spawn(&env, &kind.args(&env, 0))?,
            spawn(&env, &kind.args(&env, 1))?,
        );
        for child in [a, b] {
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            expect_success(&out, NAME)?;
        }
        baseline = baseline.max(started.elapsed());
        let ids = index_ids(&env)?;
        for set in [&sets.a, kind.second(&sets)] {
            if !set.is_subset(&ids) {
                return Err(format!("{NAME}: an uninterrupted round lost records"));
            }
        }
    }
    remove_all(&root.join("clean"))?;

    let mut outcome = Outcome {
        command: NAME,
        kills: opts.kills,
        baseline,
        ..Outcome::default()
    };
    // The pair runs one after the other (the lock): a writer that got it first
    // is done by about half the pair's time, so kills fall in the first 60%.
    let window = (baseline.as_micros() as u64 * 6 / 10).max(1000);
    for round in 0..opts.kills {
        let kind = if round % 2 == 0 {
            Kind::TwoAdds
        } else {
            Kind::AddAndExport
        };
        let env = trial_env(&template, &root.join(format!("round-{round:03}")))?;
        let victim = usize::try_from(rng.below(2)).unwrap_or(0);
        let delay = Duration::from_micros(rng.below(window));
        let label = format!(
            "{NAME} round {round} ({}), kill writer {} at {} ms",
            kind.describe(),
            victim + 1,
            delay.as_millis()
        );
        match one_round(&env, kind, victim, delay, &sets) {
            Ok(r) => {
                outcome.lost_records += r.lost;
                match r.victim {
                    Victim::FinishedFirst => outcome.finished_first += 1,
                    Victim::Absent => outcome.left_before += 1,
                    Victim::Present => outcome.left_after += 1,
                }
                outcome.temp_left += usize::from(r.temp_files);
                if r.lost > 0 {
                    outcome
                        .failures
                        .push(format!("{label}: {} records lost", r.lost));
                } else {
                    remove_all(env.folder())?;
                }
            }
            Err(problem) => outcome.failures.push(format!("{label}: {problem}")),
        }
    }
    Ok(outcome)
}

/// The record ids of each set.
struct Sets {
    a: BTreeSet<String>,
    b: BTreeSet<String>,
    c: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    TwoAdds,
    AddAndExport,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::TwoAdds => "add + add",
            Kind::AddAndExport => "add + export",
        }
    }

    /// Writer `which` (0 or 1)'s arguments.
    fn args(self, env: &Env, which: usize) -> Vec<OsString> {
        let manifest = env.folder().join("ds/manifest.json");
        let add = |set: &str| -> Vec<OsString> {
            vec![
                "exchange".into(),
                "add".into(),
                "--chunk-size".into(),
                "100".into(),
                "--manifest".into(),
                manifest.clone().into(),
                env.inputs.join(set).into(),
            ]
        };
        match (self, which) {
            (_, 0) => add("a.ndjson"),
            (Kind::TwoAdds, _) => add("b.ndjson"),
            (Kind::AddAndExport, _) => vec![
                "exchange".into(),
                "export".into(),
                "--chunk-size".into(),
                "100".into(),
                "--manifest".into(),
                manifest.into(),
            ],
        }
    }

    fn second(self, sets: &Sets) -> &BTreeSet<String> {
        match self {
            Kind::TwoAdds => &sets.b,
            Kind::AddAndExport => &sets.c,
        }
    }
}

enum Victim {
    FinishedFirst,
    Absent,
    Present,
}

struct Round {
    lost: usize,
    victim: Victim,
    temp_files: bool,
}

fn one_round(
    env: &Env,
    kind: Kind,
    victim: usize,
    delay: Duration,
    sets: &Sets,
) -> Result<Round, String> {
    let mut children = vec![
        spawn(env, &kind.args(env, 0))?,
        spawn(env, &kind.args(env, 1))?,
    ];
    std::thread::sleep(delay);
    let finished = children[victim]
        .try_wait()
        .map_err(|e| e.to_string())?
        .is_some();
    if !finished {
        children[victim].kill().map_err(|e| format!("kill: {e}"))?;
    }
    // Both are waited for before any error is returned.
    let mut outs = children.into_iter().map(Child::wait_with_output);
    let (first, second) = (outs.next(), outs.next());
    let survivor = if victim == 0 { second } else { first };
    let out = survivor
        .ok_or("no surviving writer")?
        .map_err(|e| e.to_string())?;
    expect_success(&out, "the surviving writer")?;

    let set_of = |which: usize| {
        if which == 0 {
            &sets.a
        } else {
            kind.second(sets)
        }
    };
    let ids = index_ids(env)?;
    let survivor_set = set_of(1 - victim);
    let victim_set = set_of(victim);
    let mut lost = survivor_set.difference(&ids).count();
    let present = victim_set.intersection(&ids).count();
    let state = if present == victim_set.len() {
        Victim::Present
    } else if present == 0 {
        Victim::Absent
    } else {
        // Part of a batch: the rest is lost (nothing tells the user what).
        lost += victim_set.len() - present;
        Victim::Absent
    };
    let ds = env.folder().join("ds");
    let temp_files = scratch_files(&ds)?;
    let verify = fabric(env, &verify_args(env))?;
    expect_success(&verify, "exchange verify after the kill")?;

    let again = fabric(env, &kind.args(env, victim))?;
    expect_success(&again, "the killed writer's re-run")?;
    let ids = index_ids(env)?;
    lost += survivor_set.difference(&ids).count() + victim_set.difference(&ids).count();
    let verify = fabric(env, &verify_args(env))?;
    expect_success(&verify, "exchange verify after the re-run")?;
    if scratch_files(&ds)? {
        return Err("a writer's scratch file is left after the re-run".to_owned());
    }
    Ok(Round {
        lost,
        victim: if finished {
            Victim::FinishedFirst
        } else {
            state
        },
        temp_files,
    })
}

fn spawn(env: &Env, args: &[OsString]) -> Result<Child, String> {
    base_command(env, args)
        // A kill mid-run makes the other wait at most that long; never time out.
        .env("FABRIC_LOCK_WAIT", "600")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start fabric: {e}"))
}

fn verify_args(env: &Env) -> Vec<OsString> {
    vec![
        "exchange".into(),
        "verify".into(),
        "--manifest".into(),
        env.folder().join("ds/manifest.json").into(),
    ]
}

/// A writer's scratch files in the dataset folder (journal, pending index,
/// temporary chunk or index).
fn scratch_files(ds: &Path) -> Result<bool, String> {
    Ok(listing(ds)?.iter().any(|f| {
        f.contains(".chunks.pending-") || f.contains(".index.pending-") || f.contains(".tmp-")
    }))
}

/// The `id` of every line of the pack's index.
fn index_ids(env: &Env) -> Result<BTreeSet<String>, String> {
    let path = env.folder().join("ds/index.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["id"].as_str().map(String::from))
                .ok_or_else(|| format!("{}: unreadable line {l:?}", path.display()))
        })
        .collect()
}

/// The inputs (`a.ndjson`, `b.ndjson`), the template's empty dataset `ds`, and a
/// store whose mirror holds set C (imported from the inputs' `c` dataset).
fn prepare(env: &Env, half: usize) -> Result<Sets, String> {
    super::exchange::write_records(&env.inputs.join("a.ndjson"), half, 21)?;
    super::exchange::write_records(&env.inputs.join("b.ndjson"), half, 22)?;
    let c = super::exchange::make_dataset(env, &env.inputs, "c", half, 23)?;
    let schema = fabric(
        env,
        &[
            "exchange".into(),
            "schema".into(),
            "--apply".into(),
            "--manifest".into(),
            c.clone().into(),
        ],
    )?;
    expect_success(&schema, "exchange schema --apply")?;
    let import = fabric(
        env,
        &[
            "exchange".into(),
            "import".into(),
            "--manifest".into(),
            c.into(),
        ],
    )?;
    expect_success(&import, "exchange import (set C)")?;
    let init = fabric(
        env,
        &[
            "exchange",
            "init",
            "--name",
            "ds",
            "--source",
            "wiki",
            "--entity",
            "page",
            "--type",
            "mediawiki",
            "--out",
        ]
        .iter()
        .map(OsString::from)
        .chain([env.folder().into()])
        .collect::<Vec<_>>(),
    )?;
    expect_success(&init, "exchange init")?;
    let ids = |tag: u32| -> BTreeSet<String> {
        (0..half)
            .map(|i| super::exchange::record_id(tag, i))
            .collect()
    };
    Ok(Sets {
        a: ids(21),
        b: ids(22),
        c: ids(23),
    })
}
