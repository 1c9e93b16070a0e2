//! `fabric report`: the operator report computed from the store.

use fabric_core::report::{DeterminismMode, FabricReport};
use fabric_core::timestamp::Timestamp;

use crate::context::Ctx;
use crate::error::CmdResult;
use crate::{exit, output};

/// Output format of `fabric report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// export_json: the report document.
    Json,
    /// export_text: the operator report for people.
    Text,
}

/// How non-deterministic jobs are detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Determinism {
    /// The reference algorithm (order-dependent; compatible, the default).
    Reference,
    /// Flag every member of a group with two or more distinct outcomes.
    Strict,
}

/// Arguments of `fabric report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format (`--json` implies json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Non-determinism detection mode.
    #[arg(long, value_enum, default_value_t = Determinism::Reference)]
    determinism: Determinism,
}

/// Compute the report from the store in `ctx`, streaming the rows.
pub fn from_store(
    ctx: &Ctx,
    determinism: Determinism,
) -> Result<FabricReport, crate::error::CliError> {
    let started = std::time::Instant::now();
    let store = ctx.store_read()?;
    let mode = match determinism {
        Determinism::Reference => DeterminismMode::Reference,
        Determinism::Strict => DeterminismMode::Strict,
    };
    let report = store.report(mode)?;
    if ctx.verbose {
        errln!(
            "report: {:.3} s (integrity check {:.3} s)",
            started.elapsed().as_secs_f64(),
            store.integrity_check_duration().as_secs_f64()
        );
    }
    Ok(report)
}

/// Run `fabric report`.
pub fn run(ctx: &Ctx, args: Args) -> CmdResult {
    let report = from_store(ctx, args.determinism)?;
    if ctx.json || args.format == Format::Json {
        let now = Timestamp::from_utc(time::OffsetDateTime::now_utc());
        output::print_json(&report.export_json(&now))?;
    } else {
        output::print_text(&report.export_text())?;
    }
    Ok(exit::SUCCESS)
}
