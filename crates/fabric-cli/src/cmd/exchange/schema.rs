//! `fabric exchange schema` (the mirror table's DDL, printed or applied) and
//! `check` (every record against the column limits, no connection).

use std::path::PathBuf;

use clap::Args as ClapArgs;
use exchange_sync::manifest::{Manifest, ManifestFile};
use exchange_sync::target::Target;
use serde_json::json;

use super::{TARGET_LONG_HELP, open_target};
use crate::context::Ctx;
use crate::error::CmdResult;
use crate::exit;
use crate::output::{print_json, print_text};

/// `exchange check`.
#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// sqlite://PATH (default: the --db file), mssql://... or an ADO connection string;
    /// only its kind is used: nothing is opened or connected.
    #[arg(long, value_name = "URL", long_help = TARGET_LONG_HELP)]
    target: Option<String>,
}

/// `exchange schema`.
#[derive(Debug, ClapArgs)]
pub struct SchemaArgs {
    /// The dataset's manifest.json (its sql_target names the table).
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// sqlite://PATH (default: the --db file), mssql://..., an ADO connection string or postgres://...
    #[arg(long, value_name = "URL", long_help = TARGET_LONG_HELP)]
    target: Option<String>,
    /// Print the DDL.
    #[arg(long, conflicts_with = "apply", required_unless_present = "apply")]
    print: bool,
    /// Create what is missing (never drops anything).
    #[arg(long)]
    apply: bool,
    /// With --apply: list what would be created.
    #[arg(long)]
    dry_run: bool,
}

pub(super) fn check(ctx: &Ctx, a: CheckArgs) -> CmdResult {
    // Only the kind of target matters: the limits are the same on every backend,
    // and nothing is opened or connected.
    let target = Target::resolve(a.target.as_deref(), &ctx.db, |k| std::env::var(k).ok())?;
    let kind = match target {
        Target::Sqlite(_) => "sqlite",
        Target::SqlServer(_) => "sqlserver",
        Target::Postgres(_) => "postgres",
    };
    let report = exchange_sync::preflight::check_pack(&a.manifest)?;
    if ctx.json {
        let mut value = report.to_json();
        if let Some(map) = value.as_object_mut() {
            map.insert("target".into(), json!(kind));
        }
        print_json(&value)?;
    } else {
        print_text(&format!("{kind} {}", report.to_text()))?;
    }
    Ok(if report.ok() {
        exit::SUCCESS
    } else {
        exit::PROBLEM
    })
}

pub(super) fn schema(ctx: &Ctx, a: SchemaArgs) -> CmdResult {
    let manifest = Manifest::load(&a.manifest)?;
    // ---- mssql: --print needs no server (the DDL is a pure function) ----
    if a.print {
        let target = Target::resolve(a.target.as_deref(), &ctx.db, |k| std::env::var(k).ok())?;
        if let Target::SqlServer(conn) = &target {
            let (describe, ddl) =
                exchange_sync::target::mssql_schema_offline(conn.as_deref(), &manifest.sql_target)?;
            if ctx.json {
                print_json(&json!({"target": describe, "ddl": ddl}))?;
            } else {
                print_text(ddl.trim_end())?;
            }
            return Ok(exit::SUCCESS);
        }
        if let Target::Postgres(conn) = &target {
            let (describe, ddl) = exchange_sync::target::postgres_schema_offline(
                conn.as_deref(),
                &manifest.sql_target,
            )?;
            if ctx.json {
                print_json(&json!({"target": describe, "ddl": ddl}))?;
            } else {
                print_text(ddl.trim_end())?;
            }
            return Ok(exit::SUCCESS);
        }
    }
    // ---- end mssql ----
    // Printing the DDL needs no store (the SQLite DDL is a pure function of the
    // table name) and a dry run never creates one.
    if let Target::Sqlite(db) =
        Target::resolve(a.target.as_deref(), &ctx.db, |k| std::env::var(k).ok())?
    {
        if a.print {
            let sql = &manifest.sql_target;
            let table = fabric_store::mirror::TableName::new(&sql.schema, &sql.table)?;
            let ddl = table.ddl();
            if ctx.json {
                let describe = format!("sqlite://{} ({table})", db.display());
                print_json(&json!({"target": describe, "ddl": ddl}))?;
            } else {
                print_text(ddl.trim_end())?;
            }
            return Ok(exit::SUCCESS);
        }
        if a.dry_run && !db.exists() {
            return Err(fabric_store::Error::NoStore { path: db }.into());
        }
    }
    let mut mirror = open_target(ctx, a.target.as_deref(), &manifest, a.dry_run || a.print)?;
    if a.print {
        let ddl = mirror.schema_script();
        if ctx.json {
            print_json(&json!({"target": mirror.describe(), "ddl": ddl}))?;
        } else {
            print_text(ddl.trim_end())?;
        }
        return Ok(exit::SUCCESS);
    }
    let objects = if a.dry_run {
        mirror.missing_schema_objects()?
    } else {
        mirror.apply_schema()?
    };
    if ctx.json {
        print_json(
            &json!({"target": mirror.describe(), "created": objects, "dry_run": a.dry_run}),
        )?;
    } else if objects.is_empty() {
        print_text(&format!("{}: nothing missing", mirror.describe()))?;
    } else {
        print_text(&format!(
            "{}: {} {}",
            mirror.describe(),
            if a.dry_run { "would create" } else { "created" },
            objects.join(", ")
        ))?;
    }
    Ok(exit::SUCCESS)
}
