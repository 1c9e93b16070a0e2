//! The exchange rows of the crash table: `fabric exchange import`, `sync` and
//! `pack` on packs built from generated records (through the real `init` and
//! `add`, so hashes and layout are the binary's own).
//!
//! * import: a pack of `records` records into an empty mirror table; the batch is
//!   the table's rows (count and every `exchange_id content_sha256`).
//! * sync: the mirror holds `records / 2` rows the pack lacks, the pack holds
//!   `records / 2` records the mirror lacks; two batches: the table's rows and the
//!   pack's files (index and chunks, byte for byte; the pack must verify).
//! * pack: a zip of a `6 × records`-record dataset; the batch is the zip, absent
//!   or byte-identical to an uninterrupted run's.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Env, Options, SplitMix64, expect_success, fabric, listing, mkdir};

/// The scope every generated dataset shares (sync mixes two of them).
const SOURCE: &str = "wiki";
const ENTITY: &str = "page";
/// The SQLite table of the default `sql_target` (`lake.RawExchangeRecord`).
const TABLE: &str = "lake_RawExchangeRecord";

const WORDS: &[&str] = &[
    "archive",
    "battle",
    "corridor",
    "droid",
    "empire",
    "fleet",
    "galaxy",
    "hyperspace",
    "imperial",
    "jedi",
    "kessel",
    "lightsaber",
    "moon",
    "nebula",
    "outpost",
    "planet",
    "rebel",
    "senate",
    "temple",
    "uprising",
    "vessel",
    "wookiee",
    "x-wing",
    "yavin",
];

/// Write `n` records (NDJSON, without scope fields: `add` fills them from the
/// manifest) to `path`; `tag` keeps the ids and keys of two sets apart. Records
/// come in `observed_at_utc` order over 30 days, about 1 KB each.
pub(super) fn write_records(path: &Path, n: usize, tag: u32) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let mut rng = SplitMix64(u64::from(tag) * 7919 + 17);
    for i in 0..n {
        let seconds = (i as u64) * (30 * 86_400) / (n.max(1) as u64);
        let day = 1 + seconds / 86_400;
        let rest = seconds % 86_400;
        let text: Vec<&str> = (0..120)
            .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
            .collect();
        let record = serde_json::json!({
            "exchange_id": record_id(tag, i),
            "natural_key": format!("page-{tag}-{i}"),
            "request": {"method": "GET", "url": format!("https://wiki.example/page/{tag}-{i}")},
            "response": {"status": 200, "title": format!("Page {tag}-{i}"), "text": text.join(" "),
                         "score": (rng.below(1_000_000) as f64) / 1000.0},
            "observed_at_utc": format!(
                "2024-03-{day:02}T{:02}:{:02}:{:02}Z",
                rest / 3600,
                rest / 60 % 60,
                rest % 60
            ),
            "provenance": {"runner_name": "crash", "host": "h", "git_sha": "0", "connector_version": "1"},
        });
        writeln!(w, "{record}").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    w.flush().map_err(|e| format!("{}: {e}", path.display()))
}

/// The `exchange_id` of record `i` of set `tag`.
pub(super) fn record_id(tag: u32, i: usize) -> String {
    format!("{tag:08x}-0000-4000-8000-{i:012x}")
}

/// `exchange init` a dataset `name` under `parent` and `exchange add` `n`
/// generated records to it; returns its manifest.
pub(super) fn make_dataset(
    env: &Env,
    parent: &Path,
    name: &str,
    n: usize,
    tag: u32,
) -> Result<PathBuf, String> {
    mkdir(parent)?;
    let records = env.inputs.join(format!("{name}-{tag}.ndjson"));
    write_records(&records, n, tag)?;
    let out = fabric(
        env,
        &os([
            "exchange",
            "init",
            "--name",
            name,
            "--source",
            SOURCE,
            "--entity",
            ENTITY,
            "--type",
            "mediawiki",
            "--out",
        ])
        .into_iter()
        .chain([parent.into()])
        .collect::<Vec<_>>(),
    )?;
    expect_success(&out, "exchange init")?;
    let manifest = parent.join(name).join("manifest.json");
    let out = fabric(
        env,
        &[
            "exchange".into(),
            "add".into(),
            "--manifest".into(),
            manifest.clone().into(),
            records.clone().into(),
        ],
    )?;
    expect_success(&out, "exchange add")?;
    std::fs::remove_file(&records).map_err(|e| format!("{}: {e}", records.display()))?;
    Ok(manifest)
}

fn os<const N: usize>(args: [&str; N]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Create the store and its mirror table (the state before an import).
fn apply_schema(env: &Env, manifest: &Path) -> Result<(), String> {
    let out = fabric(
        env,
        &[
            "exchange".into(),
            "schema".into(),
            "--manifest".into(),
            manifest.into(),
            "--apply".into(),
        ],
    )?;
    expect_success(&out, "exchange schema --apply")
}

fn manifest_arg(command: &str, manifest: PathBuf) -> Vec<OsString> {
    vec![
        "exchange".into(),
        command.into(),
        "--manifest".into(),
        manifest.into(),
    ]
}

// ---- import ---------------------------------------------------------------------

/// A pack of `records` records in the inputs; an empty mirror table.
pub fn import_prepare(env: &Env, opts: &Options) -> Result<(), String> {
    let manifest = make_dataset(env, &env.inputs, "ds", opts.records, 1)?;
    apply_schema(env, &manifest)
}

pub fn import_args(env: &Env) -> Vec<OsString> {
    manifest_arg("import", env.inputs.join("ds/manifest.json"))
}

/// The mirror table's rows: count and a digest of every `exchange_id hash`, read
/// with Python's sqlite3 (independent of Fabric's code).
fn mirror_rows(env: &Env) -> Result<String, String> {
    const SCRIPT: &str = "import hashlib, sqlite3, sys\n\
        c = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n\
        rows = c.execute('SELECT exchange_id, content_sha256, source_system, entity_type \
        FROM \"' + sys.argv[2] + '\" ORDER BY exchange_id').fetchall()\n\
        text = '\\n'.join(' '.join(r) for r in rows)\n\
        print('rows', len(rows), 'digest', hashlib.sha256(text.encode()).hexdigest())\n";
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&env.db)
        .arg(TABLE)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    expect_success(&out, "reading the mirror table")?;
    Ok(format!(
        "mirror: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

pub fn mirror_state(env: &Env) -> Result<Vec<String>, String> {
    Ok(vec![mirror_rows(env)?])
}

pub fn mirror_result(env: &Env, _stdout: &[u8]) -> Result<String, String> {
    mirror_rows(env)
}

// ---- sync -----------------------------------------------------------------------

/// The mirror holds a first set (imported from the inputs' `old` dataset); the
/// trial's own pack `work/ds` holds a second one.
pub fn sync_prepare(env: &Env, opts: &Options) -> Result<(), String> {
    let half = (opts.records / 2).max(1);
    let old = make_dataset(env, &env.inputs, "old", half, 2)?;
    apply_schema(env, &old)?;
    let out = fabric(env, &manifest_arg("import", old))?;
    expect_success(&out, "exchange import (the mirror's first set)")?;
    make_dataset(env, &env.folder().join("work"), "ds", half, 3)?;
    Ok(())
}

pub fn sync_args(env: &Env) -> Vec<OsString> {
    manifest_arg("sync", env.folder().join("work/ds/manifest.json"))
}

/// The pack's files but the manifest (whose `updated_at` is the clock) and the
/// lock file, each with
/// its length and digest; the pack must pass `exchange verify`.
fn pack_files(env: &Env) -> Result<String, String> {
    let dir = env.folder().join("work/ds");
    let verify = fabric(env, &manifest_arg("verify", dir.join("manifest.json")))?;
    expect_success(&verify, "exchange verify")?;
    let mut text = String::from("pack:");
    for rel in listing(&dir)? {
        // The lock file holds the last writer's process id: no pack content.
        if rel == "manifest.json" || rel == ".writer.lock" {
            continue;
        }
        text.push_str(&format!("\n{rel} {}", file_digest(&dir.join(&rel))?));
    }
    Ok(text)
}

pub fn sync_state(env: &Env) -> Result<Vec<String>, String> {
    Ok(vec![mirror_rows(env)?, pack_files(env)?])
}

pub fn sync_result(env: &Env, _stdout: &[u8]) -> Result<String, String> {
    Ok(sync_state(env)?.join("\n"))
}

// ---- pack -----------------------------------------------------------------------

/// A `6 × records`-record dataset in the inputs; a store (pack does not use it, the
/// harness checks it).
pub fn pack_prepare(env: &Env, opts: &Options) -> Result<(), String> {
    // Packing is much faster than importing: 6 times the records, so that an
    // uninterrupted run takes about a second (2.5 times took 0.57 s).
    let manifest = make_dataset(env, &env.inputs, "ds", opts.records * 6, 4)?;
    apply_schema(env, &manifest)
}

pub fn pack_args(env: &Env) -> Vec<OsString> {
    let mut args = manifest_arg("pack", env.inputs.join("ds/manifest.json"));
    args.push("--out".into());
    args.push(env.folder().join("out/ds.zip").into());
    args
}

/// The archive: absent, or its length and digest.
fn archive(env: &Env) -> Result<String, String> {
    let zip = env.folder().join("out/ds.zip");
    if zip.exists() {
        Ok(format!("archive {}", file_digest(&zip)?))
    } else {
        Ok("archive absent".to_owned())
    }
}

pub fn pack_state(env: &Env) -> Result<Vec<String>, String> {
    Ok(vec![archive(env)?])
}

pub fn pack_result(env: &Env, _stdout: &[u8]) -> Result<String, String> {
    archive(env)
}

/// Length and 64-bit FNV-1a digest of a file's bytes.
fn file_digest(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let digest = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    Ok(format!("{} bytes {digest:016x}", bytes.len()))
}
