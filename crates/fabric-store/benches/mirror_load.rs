//! The floor under `exchange import`: how long SQLite itself takes to load the
//! mirror table, with no JSON read, parsed or hashed.
//!
//! The rows are built in memory first (one scope, keys in order, random ids
//! and hashes, payloads of about 2.1 KB as the bench pack's lines are), then
//! loaded two ways, alternated, each into a new file:
//!
//! - **rusqlite alone**: the table's own DDL and page size, its exchange_id and
//!   hash indexes dropped and rebuilt at the end, one prepared insert binding
//!   five texts a row, one transaction: the obvious bulk load;
//! - **fabric-store**: [`fabric_store::mirror::MirrorTx::write_batch`] in
//!   batches of 512, as import's SQL thread calls it (the same deferred
//!   indexes, plus the write-back thread and the disk blocks reserved ahead).
//!
//! `cargo bench -p fabric-store --bench mirror_load [-- --quick] [--rows N]
//! [--runs N]` (or `cargo xtask bench mirror_load`). `--quick` loads 100,000
//! rows once each. `FABRIC_BENCH_DIR` puts the files elsewhere.
//!
//! A whole import of the same number of records also reads, parses and
//! re-hashes every line on the other core; put its time beside these to see
//! how much of it is SQLite's.

use std::time::{Duration, Instant};

use fabric_store::mirror::{MirrorRowRef, MirrorWriteRef, TableName};
use fabric_store::{PAGE_SIZE, Store};

type BenchResult = Result<(), Box<dyn std::error::Error>>;

/// One row's texts.
struct Row {
    exchange_id: String,
    natural_key: String,
    observed_at_utc: String,
    content_sha256: String,
    payload_json: String,
}

fn main() -> BenchResult {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let rows_wanted = value_of("--rows").unwrap_or(if quick { 100_000 } else { 1_000_000 });
    let runs = value_of("--runs").unwrap_or(if quick { 1 } else { 3 });
    let dir = match std::env::var_os("FABRIC_BENCH_DIR") {
        Some(base) => tempfile::tempdir_in(base)?,
        None => tempfile::tempdir()?,
    };
    let rows = build_rows(rows_wanted);
    let bytes: usize = rows.iter().map(|r| r.payload_json.len()).sum();
    println!(
        "mirror load bench: {} rows, payloads {:.0} MB ({} bytes a row), {runs} run(s) each",
        rows.len(),
        bytes as f64 / 1e6,
        bytes / rows.len().max(1)
    );
    let table = TableName::new("lake", "RawExchangeRecord")?;
    let mut alone = Vec::new();
    let mut store = Vec::new();
    for run in 0..runs {
        let path = dir.path().join(format!("alone-{run}.db"));
        let phases = load_alone(&path, &table, &rows)?;
        println!(
            "  rusqlite alone: {:.2} s (load {:.2} s, index builds {:.2} s, commit {:.2} s)",
            phases.total().as_secs_f64(),
            phases.load.as_secs_f64(),
            phases.indexes.as_secs_f64(),
            phases.commit.as_secs_f64()
        );
        alone.push(phases.total());
        std::fs::remove_file(&path)?;
        let path = dir.path().join(format!("store-{run}.db"));
        let took = load_store(&path, &table, &rows)?;
        println!("  fabric-store:   {:.2} s", took.as_secs_f64());
        store.push(took);
        std::fs::remove_file(&path)?;
    }
    let (a, s) = (median(&mut alone), median(&mut store));
    println!(
        "median: rusqlite alone {:.2} s, fabric-store {:.2} s, ratio {:.3}",
        a.as_secs_f64(),
        s.as_secs_f64(),
        s.as_secs_f64() / a.as_secs_f64()
    );
    Ok(())
}

/// `n` rows shaped like the bench pack's: one scope, natural keys in order,
/// times rising, ids and hashes spread at random, payloads 1.8 to 2.45 KB.
fn build_rows(n: usize) -> Vec<Row> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"];
    (0..n)
        .map(|i| {
            let (a, b, c, d) = (next(), next(), next(), next());
            let exchange_id = format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                a & 0xffff,
                b & 0xfff,
                (b >> 16) & 0xffff,
                c & 0xffff_ffff_ffff
            );
            let content_sha256 = format!("{a:016x}{b:016x}{c:016x}{d:016x}");
            let secs = i as u64;
            let observed_at_utc = format!(
                "2024-{:02}-{:02}T{:02}:{:02}:{:02}.000000Z",
                1 + (secs / 86_400 / 28) % 12,
                1 + (secs / 86_400) % 28,
                (secs / 3600) % 24,
                (secs / 60) % 60,
                secs % 60
            );
            let natural_key = format!("wookieepedia|page|{i:09}");
            let len = 1_800 + (d % 650) as usize;
            let mut payload_json = format!(
                "{{\"exchange_id\": \"{exchange_id}\", \"natural_key\": \"{natural_key}\", \"response\": \""
            );
            while payload_json.len() < len {
                payload_json.push_str(words[(next() % 7) as usize]);
                payload_json.push(' ');
            }
            payload_json.push_str("\"}");
            Row {
                exchange_id,
                natural_key,
                observed_at_utc,
                content_sha256,
                payload_json,
            }
        })
        .collect()
}

/// The phases of one plain load.
struct Phases {
    load: Duration,
    indexes: Duration,
    commit: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.load + self.indexes + self.commit
    }
}

/// The obvious bulk load through rusqlite: the table's DDL and page size, its
/// two random-key indexes dropped and rebuilt, one transaction.
fn load_alone(
    path: &std::path::Path,
    table: &TableName,
    rows: &[Row],
) -> Result<Phases, rusqlite::Error> {
    let name = table.as_str();
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.execute_batch(&table.ddl())?;
    conn.execute_batch(&format!(
        "DROP INDEX {name}_exchange_id; DROP INDEX {name}_content_sha256;"
    ))?;
    drop(conn);
    let started = Instant::now();
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA cell_size_check = ON; \
         PRAGMA cache_size = -65536; PRAGMA threads = 2; BEGIN IMMEDIATE",
    )?;
    let mut insert = conn.prepare(&format!(
        "INSERT INTO {name} (exchange_id, exchange_type, source_system, entity_type, \
         natural_key, observed_at_utc, content_sha256, payload_json, schema_version, \
         created_at_utc, updated_at_utc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)"
    ))?;
    insert.raw_bind_parameter(2, "mediawiki")?;
    insert.raw_bind_parameter(3, "wookieepedia")?;
    insert.raw_bind_parameter(4, "page")?;
    insert.raw_bind_parameter(9, 1i64)?;
    insert.raw_bind_parameter(10, "2026-12-07T10:00:00.000Z")?;
    for row in rows {
        insert.raw_bind_parameter(1, row.exchange_id.as_str())?;
        insert.raw_bind_parameter(5, row.natural_key.as_str())?;
        insert.raw_bind_parameter(6, row.observed_at_utc.as_str())?;
        insert.raw_bind_parameter(7, row.content_sha256.as_str())?;
        insert.raw_bind_parameter(8, row.payload_json.as_str())?;
        insert.raw_execute()?;
    }
    drop(insert);
    let load = started.elapsed();
    conn.execute_batch(&format!(
        "PRAGMA cache_size = -8192; {} PRAGMA cache_size = -65536;",
        table.ddl()
    ))?;
    let indexes = started.elapsed() - load;
    conn.execute_batch("COMMIT")?;
    let commit = started.elapsed() - load - indexes;
    Ok(Phases {
        load,
        indexes,
        commit,
    })
}

/// The same rows through the store's mirror transaction, in import's batches.
fn load_store(
    path: &std::path::Path,
    table: &TableName,
    rows: &[Row],
) -> Result<Duration, fabric_store::Error> {
    // The file and its schema first, outside the timing, as for the plain load.
    drop(Store::open(path)?);
    let started = Instant::now();
    let mut store = Store::open(path)?;
    let mut tx = store.mirror(table).begin()?;
    for batch in rows.chunks(512) {
        let writes: Vec<MirrorWriteRef<'_>> = batch
            .iter()
            .map(|row| {
                MirrorWriteRef::Insert(MirrorRowRef {
                    exchange_id: &row.exchange_id,
                    exchange_type: "mediawiki",
                    source_system: "wookieepedia",
                    entity_type: "page",
                    natural_key: Some(&row.natural_key),
                    observed_at_utc: &row.observed_at_utc,
                    content_sha256: &row.content_sha256,
                    payload_json: &row.payload_json,
                    schema_version: 1,
                })
            })
            .collect();
        tx.write_batch(&writes)?;
    }
    tx.commit()?;
    Ok(started.elapsed())
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}
