//! Help that teaches: the examples every `--help` ends with, and the fixed value
//! sets of options, applied to the clap command tree in one place.
//!
//! The argument structs stay plain; [`apply`] walks the tree built from them and
//! adds, per command path, an `Examples:` section ([`EXAMPLES`]) and the possible
//! values of options whose values are a fixed set taken from the library types
//! (so completions offer them and a wrong value lists them). A test walks the tree
//! and fails on any command without examples, on any example that does not parse,
//! and on any table row that names no command.

use clap::Command;
use clap::builder::{PossibleValue, PossibleValuesParser};

/// Examples per command path (`""` is `fabric` itself). Lines starting with `#`
/// explain the line after them.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "",
        "# Ingest job results, then print the operator report
fabric --db \"$PWD/fabric.db\" ingest examples/results
fabric --db \"$PWD/fabric.db\" report
# The same command for one machine-readable document
fabric --db \"$PWD/fabric.db\" report --json",
    ),
    (
        "ingest",
        "# All or nothing: one bad file and nothing is stored
fabric ingest examples/results
# Store the valid files, list the rejected ones
fabric ingest --keep-going incoming/ more/r01.json",
    ),
    (
        "jobs",
        "fabric jobs --status FAILED --engine ffmpeg
fabric jobs --reason timeout --json",
    ),
    (
        "job",
        "fabric job job-00002
fabric job job-00002 --format text",
    ),
    (
        "report",
        "fabric report
fabric report --format json > report.json
fabric report --determinism strict",
    ),
    (
        "snapshot",
        "fabric snapshot create > before.json
fabric snapshot create --save
fabric snapshot list --key fabric",
    ),
    (
        "snapshot create",
        "# Print a snapshot of the store's report
fabric snapshot create > before.json
# Save it as the next version of the chain `fabric`, failing if someone saved first
fabric snapshot create --save --expect-version 3
fabric snapshot create --from-report report.json",
    ),
    (
        "snapshot list",
        "fabric snapshot list
fabric snapshot list --key fabric --limit 50 --json",
    ),
    (
        "snapshot show",
        "fabric snapshot show fabric
fabric snapshot show fabric@2 --json",
    ),
    (
        "snapshot rollback",
        "fabric snapshot rollback fabric@2 --actor alice",
    ),
    (
        "snapshot compare",
        "fabric snapshot compare fabric@1 fabric@3
fabric snapshot compare fabric@1 fabric@3 --json
# The older spelling: KEY FROM TO
fabric snapshot compare fabric 1 3",
    ),
    (
        "snapshot verify",
        "fabric snapshot verify
fabric snapshot verify --key fabric",
    ),
    (
        "snapshot log",
        "fabric snapshot log
fabric snapshot log --key fabric --limit 10 --json",
    ),
    (
        "snapshot deprecate",
        "fabric snapshot deprecate fabric@1 --reason \"bad import\" --actor alice",
    ),
    (
        "snapshot import-reports",
        "# Oldest first by modification time; one transaction
fabric snapshot import-reports examples/reports --key ops
fabric snapshot import-reports reports/ --key ops --order name",
    ),
    (
        "diff",
        "fabric diff before.json after.json
fabric diff before.json after.json --format text
# Exit 1 when something moved (for scripts and CI)
fabric diff before.json after.json --exit-code
fabric diff fabric@1 fabric@3",
    ),
    (
        "exchange",
        "fabric exchange init --name orders --source shop --entity order --type http --out packs
fabric exchange add --manifest packs/orders/manifest.json examples/records.ndjson
fabric exchange sync --manifest packs/orders/manifest.json",
    ),
    (
        "exchange init",
        "fabric exchange init --name orders --source shop --entity order --type http --out packs
fabric exchange init --name pages --source wiki --entity page --type mediawiki --out packs --owner data-team",
    ),
    (
        "exchange add",
        "fabric exchange add --manifest packs/orders/manifest.json examples/records.ndjson
# From a pipe
fabric exchange add --manifest packs/orders/manifest.json - < records.ndjson",
    ),
    (
        "exchange import",
        "fabric exchange import --manifest packs/orders/manifest.json
fabric exchange import --manifest packs/orders/manifest.json --conflict fail --dry-run
# Commit every 100,000 records; a stopped run resumes where it stopped
fabric exchange import --manifest packs/orders/manifest.json --batch-commit 100000",
    ),
    (
        "exchange export",
        "fabric exchange export --manifest packs/orders/manifest.json
fabric exchange export --manifest packs/orders/manifest.json --json",
    ),
    (
        "exchange sync",
        "fabric exchange sync --manifest packs/orders/manifest.json
fabric exchange sync --manifest packs/orders/manifest.json --conflict prefer_newest --json
fabric exchange sync --manifest packs/orders/manifest.json --direction json_to_sql --dry-run",
    ),
    (
        "exchange check",
        "# Would an import be accepted? No connection and no store needed
fabric exchange check --manifest packs/orders/manifest.json
fabric exchange check --manifest packs/orders/manifest.json --target mssql://fabric:PASSWORD@db.example:1433/lake --json",
    ),
    (
        "exchange verify",
        "fabric exchange verify --manifest packs/orders/manifest.json
fabric exchange verify --manifest packs/orders/manifest.json --json",
    ),
    (
        "exchange pack",
        "fabric exchange pack --manifest packs/orders/manifest.json --out orders.zip
# Encrypted with the passphrase in $SNAPSHOT_ENCRYPTION_KEY: writes orders.zip.enc
fabric exchange pack --manifest packs/orders/manifest.json --out orders.zip --encrypt",
    ),
    (
        "exchange unpack",
        "fabric exchange unpack --in orders.zip --out restore
fabric exchange unpack --in orders.zip.enc --out restore",
    ),
    (
        "exchange schema",
        "fabric exchange schema --manifest packs/orders/manifest.json --print
fabric exchange schema --manifest packs/orders/manifest.json --target sqlite:///srv/lake.db --apply",
    ),
    (
        "dashboard",
        "fabric dashboard assemble --scope examples/dashboard/scope.json --oracles examples/dashboard/oracles.json > bundle.json
fabric dashboard export --bundle bundle.json --profile instructor_best_effort --out out.zip
fabric dashboard verify --bundle bundle.json --zip out.zip",
    ),
    (
        "dashboard assemble",
        "fabric dashboard assemble --scope examples/dashboard/scope.json --oracles examples/dashboard/oracles.json > bundle.json
fabric dashboard assemble --scope scope.json --oracles oracles.json --token req-1",
    ),
    (
        "dashboard export",
        "fabric dashboard export --bundle bundle.json --out out.zip
fabric dashboard export --bundle bundle.json --profile instructor_best_effort --out out.zip --json",
    ),
    (
        "dashboard verify",
        "# In CI: exit 1 names every component that drifted
fabric dashboard verify --bundle bundle.json --zip out.zip",
    ),
    (
        "dashboard profiles",
        "fabric dashboard profiles
fabric dashboard profiles --json",
    ),
    (
        "db",
        "fabric db init
fabric db check
fabric db upgrade",
    ),
    (
        "db init",
        "# An empty store, folders included; an existing one is checked and left alone
fabric --db /srv/farm/fabric.db db init
fabric db init --json",
    ),
    (
        "db check",
        "fabric db check
fabric --db /srv/farm/fabric.db db check --json",
    ),
    (
        "db upgrade",
        "# Adds the snapshot and mirror tables to a jobs-only (version 1) store
fabric --db /srv/farm/fabric.db db upgrade",
    ),
    (
        "completions",
        "fabric completions bash > ~/.local/share/bash-completion/completions/fabric
fabric completions zsh > ~/.zfunc/_fabric",
    ),
    (
        "version",
        "fabric version
# With the commit, the enabled backends and the SQLite version
fabric version --verbose",
    ),
];

/// Options whose values are a fixed set: (command path, option id, values,
/// whether case is ignored). The spellings come from the library types.
fn fixed_values() -> Vec<(&'static str, &'static str, Vec<PossibleValue>, bool)> {
    use exchange_sync::manifest::{ConflictStrategy, Direction};
    let named = |names: Vec<&'static str>| names.into_iter().map(PossibleValue::new).collect();
    let conflicts: Vec<PossibleValue> =
        named(ConflictStrategy::ALL.iter().map(|c| c.as_str()).collect());
    let directions = named(Direction::ALL.iter().map(|d| d.as_str()).collect());
    // The report calls PARTIAL jobs "Validation failed"; any case is accepted.
    let statuses = fabric_core::model::FinalStatus::ALL
        .iter()
        .map(|s| match s {
            fabric_core::model::FinalStatus::Partial => PossibleValue::new(s.as_str()).aliases([
                "VALIDATION FAILED",
                "VALIDATION_FAILED",
                "VALIDATION-FAILED",
            ]),
            _ => PossibleValue::new(s.as_str()),
        })
        .collect();
    let profiles = named(
        dashboard_snapshot::export::Registry::instructor()
            .profiles()
            .iter()
            .map(|p| p.name)
            .collect(),
    );
    vec![
        ("jobs", "status", statuses, true),
        ("exchange import", "conflict", conflicts.clone(), false),
        ("exchange export", "conflict", conflicts.clone(), false),
        ("exchange sync", "conflict", conflicts, false),
        ("exchange sync", "direction", directions, false),
        ("dashboard export", "profile", profiles, false),
    ]
}

/// Options that exist in a shared argument struct but do not apply to this command:
/// hidden from its help and completions (using one is still refused with a message).
const NOT_APPLICABLE: &[(&str, &str)] = &[
    ("exchange import", "direction"),
    ("exchange export", "direction"),
    // Commands that never open the store: the global --db is not shown on them.
    ("exchange init", "db"),
    ("exchange add", "db"),
    ("exchange verify", "db"),
    ("exchange pack", "db"),
    ("exchange unpack", "db"),
    ("dashboard", "db"),
    ("dashboard assemble", "db"),
    ("dashboard export", "db"),
    ("dashboard verify", "db"),
    ("dashboard profiles", "db"),
    ("completions", "db"),
    ("version", "db"),
];

/// `cmd` (the whole `fabric` tree) with examples, fixed values and hidden
/// options applied. A table row naming a command or option that does not exist is
/// skipped here and reported by the tests.
pub fn apply(cmd: Command) -> Command {
    let mut cmd = cmd;
    for (path, text) in EXAMPLES {
        cmd = at(cmd, path, &|c| {
            c.after_help(format!("Examples:\n{}", indent(text)))
        });
    }
    for (path, id, values, ignore_case) in fixed_values() {
        cmd = at(cmd, path, &|c| {
            if !has_arg(&c, id) {
                return c;
            }
            let values = values.clone();
            c.mut_arg(id, move |a| {
                a.value_parser(PossibleValuesParser::new(values))
                    .ignore_case(ignore_case)
            })
        });
    }
    for (path, id) in NOT_APPLICABLE {
        let global = cmd.get_arguments().find(|a| a.get_id() == *id).cloned();
        cmd = at(cmd, path, &|c| {
            if has_arg(&c, id) {
                c.mut_arg(*id, |a| a.hide(true))
            } else if let Some(global) = &global {
                // A global option: a hidden copy here keeps clap from adding the
                // visible one when it propagates global options.
                c.arg(global.clone().hide(true))
            } else {
                c
            }
        });
    }
    cmd
}

/// Write one manual page per visible command into `out` (`fabric.1`,
/// `fabric-exchange-sync.1`, ...), from the same tree `--help` shows.
pub fn write_man_pages(out: &std::path::Path) -> crate::error::CmdResult {
    let io = |source| crate::error::CliError::Output {
        path: out.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(io)?;
    clap_mangen::generate_to(crate::cli(), out).map_err(io)?;
    Ok(crate::exit::SUCCESS)
}

/// Run `f` on the command at `path` (space-separated names) if it exists.
fn at(cmd: Command, path: &str, f: &dyn Fn(Command) -> Command) -> Command {
    let mut names = path.split_whitespace();
    match names.next() {
        None => f(cmd),
        Some(first) => {
            let rest: Vec<&str> = names.collect();
            if cmd.find_subcommand(first).is_none() {
                return cmd;
            }
            let rest = rest.join(" ");
            cmd.mut_subcommand(first, |sub| at(sub, &rest, f))
        }
    }
}

fn has_arg(cmd: &Command, id: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_id() == id)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests;
