//! `fabric snapshot list|show|rollback|compare|verify|log|deprecate|import-reports`:
//! the versioned snapshot chains over fabric-store's chain API.

mod import;
mod render;

use std::path::PathBuf;

use serde_json::{Value, json};
use time::OffsetDateTime;

use fabric_core::chain::{SnapshotMetadata, Source, parse_key_version};
use fabric_store::chain::{HistoryPage, NewVersion};

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::exit;
use crate::output::{print_json, print_text};

use render::{
    compare_text, pretty, sizes, storage, summary_line, to_json, version_json, with_saving,
};

/// Arguments of `fabric snapshot list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// One chain's versions; without it, one line per chain.
    #[arg(long)]
    key: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Skip this many entries (newest first).
    #[arg(long, default_value_t = 0)]
    offset: u64,
}

/// Arguments of `fabric snapshot show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// KEY or KEY@VERSION (the active version unless one is named).
    target: String,
}

/// Arguments of `fabric snapshot rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The version to make active: KEY@VERSION (or KEY, then VERSION).
    #[arg(value_name = "KEY@VERSION")]
    key: String,
    /// The version, when the first argument is only the key.
    #[arg(value_name = "VERSION")]
    target: Option<i64>,
    /// Who does it [default: $USER, else `fabric`].
    #[arg(long)]
    actor: Option<String>,
}

/// Arguments of `fabric snapshot compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The version to compare from: KEY@VERSION (or KEY, then both versions).
    #[arg(value_name = "KEY@FROM")]
    from: String,
    /// The version to compare to: KEY@VERSION (or FROM's number when the first
    /// argument is only the key).
    #[arg(value_name = "KEY@TO")]
    to: String,
    /// The version to compare to, in the form `KEY FROM TO`.
    #[arg(value_name = "TO", hide = true)]
    third: Option<i64>,
}

/// Arguments of `fabric snapshot verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Only this chain (default: the whole store).
    #[arg(long)]
    key: Option<String>,
}

/// Arguments of `fabric snapshot log`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Only this chain (default: every chain).
    #[arg(long)]
    key: Option<String>,
    /// At most this many entries.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
}

/// Arguments of `fabric snapshot deprecate`.
#[derive(Debug, clap::Args)]
pub struct DeprecateArgs {
    /// The version to deprecate: KEY@VERSION (or KEY, then VERSION).
    #[arg(value_name = "KEY@VERSION")]
    key: String,
    /// The version, when the first argument is only the key.
    #[arg(value_name = "VERSION")]
    target: Option<i64>,
    /// Why (kept with the version and in the log).
    #[arg(long)]
    reason: String,
    /// Who does it [default: $USER, else `fabric`].
    #[arg(long)]
    actor: Option<String>,
}

/// The order in which `import-reports` turns files into versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// Oldest modification time first (ties by name).
    Mtime,
    /// By file name.
    Name,
}

/// Arguments of `fabric snapshot import-reports`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A folder of report JSON files (`*.json`, not searched recursively).
    dir: PathBuf,
    /// The chain to append to.
    #[arg(long)]
    key: String,
    /// Which file becomes the first version.
    #[arg(long, value_enum, default_value_t = Order::Mtime)]
    order: Order,
    /// Metadata source: api, manual, import or migration.
    #[arg(long, default_value = "import")]
    source: String,
    /// Metadata confidence, in [0, 1].
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    confidence: f64,
    /// Metadata data provider.
    #[arg(long)]
    data_provider: Option<String>,
    /// Metadata API version.
    #[arg(long)]
    api_version: Option<String>,
    /// Who does it [default: $USER, else `fabric`].
    #[arg(long)]
    actor: Option<String>,
}

/// `fabric snapshot list`.
pub fn list(ctx: &Ctx, args: ListArgs) -> CmdResult {
    let store = ctx.store_read()?;
    let Some(key) = args.key else {
        let chains = store.chain_list()?;
        let total = chains.len();
        let shown: Vec<_> = chains
            .into_iter()
            .skip(to_usize(args.offset))
            .take(args.limit as usize)
            .collect();
        if ctx.json {
            let (data, stored) = shown
                .iter()
                .fold((0, 0), |(d, s), c| (d + c.data_size, s + c.stored_size));
            let items: Vec<Value> = shown
                .iter()
                .map(|c| with_saving(to_json(c), c.data_size, c.stored_size))
                .collect::<Result<_, _>>()?;
            print_json(
                &json!({"total": total, "offset": args.offset, "limit": args.limit,
                "chains": items, "storage": storage(data, stored)}),
            )?;
        } else {
            if shown.is_empty() {
                print_text("no snapshot chains")?;
            }
            for c in &shown {
                let active = c
                    .active_version
                    .map_or_else(|| "-".to_owned(), |v| v.to_string());
                print_text(&format!(
                    "{}  {} version(s), active {active}, latest {}, {}",
                    c.key,
                    c.versions,
                    c.latest_created_at,
                    sizes(c.data_size, c.stored_size)
                ))?;
            }
            if total > to_usize(args.offset) + shown.len() {
                ctx.info(format_args!(
                    "showing {} of {total} chains (use --limit and --offset)",
                    shown.len()
                ));
            }
        }
        return Ok(exit::SUCCESS);
    };
    let before = if args.offset == 0 {
        None
    } else {
        let total = store
            .chain_history(
                &key,
                HistoryPage {
                    before: None,
                    limit: 1,
                },
            )?
            .total;
        Some(
            total
                .saturating_sub(i64::try_from(args.offset).unwrap_or(i64::MAX))
                .saturating_add(1)
                .max(1),
        )
    };
    let page = store.chain_history(
        &key,
        HistoryPage {
            before,
            limit: args.limit,
        },
    )?;
    if ctx.json {
        let (data, stored) = page
            .versions
            .iter()
            .fold((0, 0), |(d, s), v| (d + v.data_size, s + v.stored_size));
        let versions: Vec<Value> = page
            .versions
            .iter()
            .map(|v| with_saving(to_json(v), v.data_size, v.stored_size))
            .collect::<Result<_, _>>()?;
        let next_offset = page
            .next_before
            .map(|_| args.offset + page.versions.len() as u64);
        print_json(
            &json!({"key": page.key, "total": page.total, "active_version": page.active_version,
            "offset": args.offset, "limit": args.limit, "next_offset": next_offset,
            "versions": versions, "storage": storage(data, stored)}),
        )?;
    } else {
        print_text(&format!(
            "{}: {} version(s), active {}",
            page.key,
            page.total,
            page.active_version
                .map_or_else(|| "-".to_owned(), |v| v.to_string())
        ))?;
        for v in &page.versions {
            print_text(&summary_line(v))?;
        }
        if page.next_before.is_some() {
            ctx.info(format_args!(
                "showing {} of {} versions (use --limit and --offset)",
                page.versions.len(),
                page.total
            ));
        }
    }
    Ok(exit::SUCCESS)
}

/// `fabric snapshot show`.
pub fn show(ctx: &Ctx, args: ShowArgs) -> CmdResult {
    let (key, version) = parse_target(&args.target)?;
    let store = ctx.store_read()?;
    let stored = store.chain_get(key, version)?;
    if ctx.json {
        print_json(&version_json(&stored)?)?;
    } else {
        let s = &stored.summary;
        print_text(&summary_line(s))?;
        print_text(&format!("checksum {} (verified)", s.checksum))?;
        print_text(&format!("metadata {}", stored.body.metadata.to_json()))?;
        if let Some(c) = &stored.body.changes {
            print_text(&format!(
                "changes from {}: {} added, {} modified, {} deleted",
                s.parent_version
                    .map_or_else(|| "-".to_owned(), |v| v.to_string()),
                c.added,
                c.modified,
                c.deleted
            ))?;
        }
        print_text(&pretty(&stored.body.payload)?)?;
    }
    Ok(exit::SUCCESS)
}

/// `fabric snapshot rollback`.
pub fn rollback(ctx: &Ctx, args: RollbackArgs) -> CmdResult {
    let (key, version) = saved_version(&args.key, args.target)?;
    let mut store = ctx.store_existing()?;
    let actor = actor(args.actor);
    let outcome = store.chain_rollback(key, version, &actor, OffsetDateTime::now_utc())?;
    if ctx.json {
        print_json(&to_json(&outcome)?)?;
    } else if outcome.changed {
        print_text(&format!(
            "{}: active version {} -> {}",
            outcome.key, outcome.from_version, outcome.to_version
        ))?;
    } else {
        print_text(&format!(
            "{}: version {} is already active; nothing to do",
            outcome.key, outcome.to_version
        ))?;
    }
    Ok(exit::SUCCESS)
}

/// `fabric snapshot compare`.
pub fn compare(ctx: &Ctx, args: CompareArgs) -> CmdResult {
    let (key, v1, v2) = match args.third {
        // The older spelling: KEY FROM TO.
        Some(v2) => {
            let v1 = args
                .to
                .parse::<i64>()
                .map_err(|_| CliError::Usage(format!("{:?} is not a version number", args.to)))?;
            (args.from.as_str(), v1, v2)
        }
        None => {
            let (key, v1) = saved_version(&args.from, None)?;
            let (other, v2) = saved_version(&args.to, None)?;
            if other != key {
                return Err(CliError::Usage(format!(
                    "compare takes two versions of one chain, not {key} and {other}"
                )));
            }
            (key, v1, v2)
        }
    };
    let store = ctx.store_read()?;
    let cmp = store.chain_compare(key, v1, v2)?;
    if ctx.json {
        print_json(&to_json(&cmp)?)?;
    } else {
        print_text(&compare_text(&cmp)?)?;
    }
    Ok(exit::SUCCESS)
}

/// `fabric snapshot verify`.
pub fn verify(ctx: &Ctx, args: VerifyArgs) -> CmdResult {
    let store = ctx.store_read()?;
    if ctx.verbose {
        ctx.info(format_args!(
            "integrity check of {}: {} ms",
            ctx.db.display(),
            store.integrity_check_duration().as_millis()
        ));
    }
    let bar = ctx.progress(0, "verify");
    let report = store.chain_verify(args.key.as_deref(), &mut crate::progress::follow(&bar))?;
    bar.finish_and_clear();
    if ctx.json {
        print_json(&to_json(&report)?)?;
    } else {
        for f in &report.failures {
            let at = f
                .version
                .map_or_else(|| f.key.clone(), |v| format!("{}@{v}", f.key));
            print_text(&format!("DAMAGED {at}: {}", f.reason))?;
        }
        print_text(&format!(
            "checked {} version(s) in {} chain(s): {}",
            report.versions,
            report.chains,
            if report.failures.is_empty() {
                "ok".to_owned()
            } else {
                format!("{} problem(s)", report.failures.len())
            }
        ))?;
    }
    // Found damage: exit 1. The report above is the one document on stdout; the
    // summary goes to stderr.
    if let Err(e) = report.into_result() {
        crate::error::print(&e.into());
        return Ok(exit::PROBLEM);
    }
    Ok(exit::SUCCESS)
}

/// `fabric snapshot log`.
pub fn log(ctx: &Ctx, args: LogArgs) -> CmdResult {
    let store = ctx.store_read()?;
    let entries = store.chain_log(args.key.as_deref(), args.limit)?;
    if ctx.json {
        print_json(&json!({ "entries": to_json(&entries)? }))?;
    } else {
        for e in &entries {
            let from = e
                .from_version
                .map_or_else(String::new, |v| format!("{v} -> "));
            let reason = e
                .reason
                .as_deref()
                .map_or_else(String::new, |r| format!(" ({r})"));
            print_text(&format!(
                "#{} {} {} {} {}{}{reason}",
                e.id,
                e.at,
                e.actor,
                e.action.as_str(),
                e.key,
                format_args!(" {from}{}", e.to_version)
            ))?;
        }
    }
    Ok(exit::SUCCESS)
}

/// `fabric snapshot deprecate`.
pub fn deprecate(ctx: &Ctx, args: DeprecateArgs) -> CmdResult {
    let (key, version) = saved_version(&args.key, args.target)?;
    let mut store = ctx.store_existing()?;
    let actor = actor(args.actor);
    let summary = store.chain_deprecate(
        key,
        version,
        &args.reason,
        &actor,
        OffsetDateTime::now_utc(),
    )?;
    if ctx.json {
        print_json(&to_json(&summary)?)?;
    } else {
        print_text(&format!(
            "{}@{} deprecated: {}",
            summary.key, summary.version, args.reason
        ))?;
    }
    Ok(exit::SUCCESS)
}

/// `fabric snapshot import-reports`.
pub fn import_reports(ctx: &Ctx, args: ImportArgs) -> CmdResult {
    let source =
        Source::parse(&args.source).map_err(|source| invalid_metadata(&args.key, source))?;
    // Refuse bad metadata (and a bad key) before the store file is even created.
    let mut probe = SnapshotMetadata::new(source, OffsetDateTime::UNIX_EPOCH, args.confidence);
    probe.data_provider.clone_from(&args.data_provider);
    probe.api_version.clone_from(&args.api_version);
    probe
        .validate()
        .map_err(|source| invalid_metadata(&args.key, source))?;
    if let Some(reason) = fabric_core::chain::validate_key(&args.key) {
        return Err(CliError::Store(fabric_store::Error::InvalidChainKey {
            key: args.key,
            reason,
        }));
    }
    let files = import::report_files(&args.dir, args.order)?;
    let bar = ctx.progress(files.len() as u64, "read");
    let mut docs = Vec::with_capacity(files.len());
    for file in &files {
        docs.push(import::read_report(&file.path)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let metas: Vec<SnapshotMetadata> = files
        .iter()
        .map(|f| {
            let mut m = SnapshotMetadata::new(source, f.modified, args.confidence);
            m.data_provider.clone_from(&args.data_provider);
            m.api_version.clone_from(&args.api_version);
            m
        })
        .collect();
    let actor = actor(args.actor);
    let now = OffsetDateTime::now_utc();
    let items: Vec<NewVersion<'_>> = docs
        .iter()
        .zip(&metas)
        .map(|(doc, meta)| NewVersion::new(&args.key, doc, meta, &actor, now))
        .collect();
    let mut store = ctx.store_write()?;
    let created = store.chain_create_many(&items)?;
    let (data, stored) = created
        .iter()
        .fold((0, 0), |(d, s), v| (d + v.data_size, s + v.stored_size));
    if ctx.json {
        let versions: Vec<Value> = files
            .iter()
            .zip(&created)
            .map(|(f, v)| json!({"file": f.name, "version": v.version, "checksum": v.checksum}))
            .collect();
        print_json(
            &json!({"key": args.key, "imported": created.len(), "versions": versions,
            "storage": storage(data, stored)}),
        )?;
    } else {
        for (f, v) in files.iter().zip(&created) {
            print_text(&format!("{}@{} <- {}", v.key, v.version, f.name))?;
        }
        print_text(&format!(
            "imported {} report(s) into {}: {}",
            created.len(),
            args.key,
            sizes(data, stored)
        ))?;
    }
    Ok(exit::SUCCESS)
}

fn invalid_metadata(key: &str, source: fabric_core::chain::MetadataError) -> CliError {
    CliError::Store(fabric_store::Error::InvalidMetadata {
        key: key.to_owned(),
        source,
    })
}

fn parse_target(target: &str) -> Result<(&str, Option<i64>), CliError> {
    parse_key_version(target).ok_or_else(|| {
        CliError::Usage(format!(
            "{target:?} is not KEY or KEY@VERSION (VERSION a number from 1)"
        ))
    })
}

/// One saved version, written `KEY@VERSION`, or `KEY` with the version as a
/// separate argument (the older spelling, kept as an alias).
fn saved_version(key: &str, version: Option<i64>) -> Result<(&str, i64), CliError> {
    match (parse_target(key)?, version) {
        ((key, Some(v)), None) | ((key, None), Some(v)) => Ok((key, v)),
        ((_, Some(_)), Some(_)) => Err(CliError::Usage(format!(
            "{key:?} already names a version; give it once"
        ))),
        ((_, None), None) => Err(CliError::Usage(format!(
            "{key:?} names no version: write {key}@VERSION"
        ))),
    }
}

pub(crate) fn actor(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| "fabric".to_owned())
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
