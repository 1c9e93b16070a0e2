//! `fabric`: the command line over the Fabric crates.
//!
//! Every subcommand parses its arguments, calls one library function of the crate
//! that owns the behaviour and prints the result. Exit codes: see [`exit`].

/// `eprintln!` that cannot panic: a closed or full stderr is ignored (there is
/// nowhere left to report it).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cmd;
mod context;
mod error;
mod exit;
mod help;
mod input;
mod output;
mod progress;
mod version;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::context::Ctx;

/// Every allocation of the binary goes through mimalloc: records are allocated on
/// one thread and freed on another, where glibc's allocator cost about a tenth of
/// an import's time (docs/performance.md, "Where the time goes").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The heading the options every command takes are listed under.
const GLOBAL: &str = "Global options";

/// Fabric: freeze operational truth into snapshots, show what moved, keep history,
/// move data between JSON packs and SQL.
#[derive(Debug, Parser)]
#[command(name = "fabric", version, long_about = None, propagate_version = true)]
struct Cli {
    /// The SQLite store [default: $FABRIC_DB, else ~/.proxx/fabric/fabric.db].
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    db: Option<std::path::PathBuf>,
    /// Print one machine-readable JSON document on stdout.
    #[arg(long, global = true, help_heading = GLOBAL)]
    json: bool,
    /// No progress bars and no informational messages on stderr.
    #[arg(long, short, global = true, help_heading = GLOBAL)]
    quiet: bool,
    /// More detail on stderr (timings, how long the store check at open took).
    #[arg(long, short, global = true, help_heading = GLOBAL)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest JobExecutionResult JSON files or folders into the store.
    Ingest(cmd::ingest::Args),
    /// List job ids, optionally filtered.
    Jobs(cmd::jobs::ListArgs),
    /// Show one job with its outputs, as JSON.
    Job(cmd::jobs::ShowArgs),
    /// The operator report computed from the store.
    Report(cmd::report::Args),
    /// Create, list and inspect snapshots and versioned snapshot chains.
    #[command(subcommand)]
    Snapshot(cmd::snapshot::Command),
    /// Diff two snapshots (files, or saved versions written KEY@VERSION).
    Diff(cmd::diff::Args),
    /// Exchange packs and JSON <-> SQL sync.
    #[command(subcommand)]
    Exchange(cmd::exchange::Command),
    /// Dashboard snapshots, CSV ZIP export and the parity check.
    #[command(subcommand)]
    Dashboard(cmd::dashboard::Command),
    /// Database maintenance: check, upgrade.
    #[command(subcommand)]
    Db(cmd::db::Command),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the version; with --verbose also the commit, backends and SQLite version.
    Version,
    /// Write the manual pages (one per command) into a folder: `cargo xtask man`.
    #[command(hide = true)]
    GenerateMan {
        /// The folder to write `fabric.1`, `fabric-ingest.1`, ... into.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
}

/// The whole command tree, with the examples and fixed values of [`help`].
fn cli() -> clap::Command {
    help::apply(Cli::command())
}

fn main() -> ExitCode {
    let parsed = cli()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let mut ctx = Ctx::new(cli.db, cli.json, cli.quiet, cli.verbose);
    let result = context::check_policy().and_then(|policy| {
        ctx.store.check = policy;
        match cli.command {
            Command::Ingest(args) => cmd::ingest::run(&ctx, args),
            Command::Jobs(args) => cmd::jobs::list(&ctx, args),
            Command::Job(args) => cmd::jobs::show(&ctx, args),
            Command::Report(args) => cmd::report::run(&ctx, args),
            Command::Snapshot(command) => cmd::snapshot::run(&ctx, command),
            Command::Diff(args) => cmd::diff::run(&ctx, args),
            Command::Exchange(command) => cmd::exchange::run(&ctx, command),
            Command::Dashboard(command) => cmd::dashboard::run(&ctx, command),
            Command::Db(command) => cmd::db::run(&ctx, command),
            Command::Version => version::run(&ctx),
            Command::GenerateMan { out } => help::write_man_pages(&out),
            Command::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut crate::cli(), "fabric", &mut script);
                output::print_bytes(&script).map(|()| exit::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // Whatever a failed command created (a store file, its journal, its
            // folders; the --db store or another target) is removed again, so a
            // failure leaves the disk as it was.
            ctx.undo_created();
            error::print(&err);
            if ctx.json {
                // The text went to stderr; scripts read this one document.
                let _ = output::print_json(&error::to_json(&err));
            }
            ExitCode::from(exit::code(&err))
        }
    }
}

/// What the argument parser found wrong, or `--help` / `--version`. Help and
/// version go to stdout like any output (a closed pipe is success, a full device
/// exit 3); under `--json` a usage error is also one error document on stdout.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let text = e.render().to_string();
        return match output::print_bytes(text.as_bytes()) {
            Ok(()) => ExitCode::from(exit::SUCCESS),
            Err(err) => {
                error::print(&err);
                ExitCode::from(exit::code(&err))
            }
        };
    }
    let _ = e.print();
    if std::env::args_os().any(|a| a == "--json") {
        let message = e.render().to_string();
        let first = message
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned();
        let _ = output::print_json(&error::error_json("USAGE", &first, &[], exit::BAD_INPUT));
    }
    ExitCode::from(exit::BAD_INPUT)
}
