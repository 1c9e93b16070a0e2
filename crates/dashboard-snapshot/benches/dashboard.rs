//! Timed harness for dashboard-snapshot (issue 6 budgets, 10x under 's):
//! a generated section of 5,000 students x 200 resources.
//!
//! - assembly p95 (parse both documents + assemble the snapshot) <= 70 ms
//! - projection derivation p95 (derive_all) <= 30 ms; the bundle fingerprint apart
//! - CSV ZIP of the instructor datasets, and of 100,000 rows x 20 columns <= 0.5 s
//! - memory: peak RSS growth while writing the ZIP for 25k / 50k / 100k rows (flat
//!   when rows are streamed)
//!
//! `--quick` uses 500 students x 40 resources and fewer repetitions; `--skip-wide`
//! leaves out the 100,000-row ZIPs.
//!
//! At scale, through the release binary: `gen_dashboard.py DIR` (this folder) writes
//! a 1,000,000-student scope and oracle results file of the same shape, and
//! `peer_export.py BUNDLE OUT.zip` is the Python peer (stdlib json, csv, zipfile)
//! writing the same `student_support_list.csv` bytes; docs/performance.md has the
//! commands and figures.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashboard_snapshot::export::{
    Cell, DatasetSerializer, DatasetSpec, ExportContext, ExportProfile, FailurePolicy, Registry,
    RowSink, SerializeError, plan_export, write_zip, write_zip_with,
};
use dashboard_snapshot::{
    ProjectionSet, ProjectionStatus, Telemetry, assemble_bundle, assemble_owned, parse_oracles,
    parse_scope,
};
use serde_json::{Value, json};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pct(&mut self) -> f64 {
        (self.next() % 1001) as f64 / 10.0
    }
}

fn generate(students: usize, resources: usize) -> (String, String) {
    let mut rng = Lcg(42);
    let scope = json!({
        "format": "fabric.dashboard.scope/1",
        "request_token": "req-bench",
        "context": {"type": "section", "id": 1},
        "container": {"type": "course"},
        "as_of": "2026-03-16T14:00:00Z",
        "labels": {"course_title": "Bench course", "section_label": "Bench", "scope_label": "Entire Course"},
    });
    let items: Vec<Value> = (0..resources)
        .map(|i| json!({"resource_id": 1000 + i, "title": format!("Unit {i}"), "resource_type": "container"}))
        .collect();
    let pages: Vec<Value> = (0..resources / 4)
        .map(|i| json!({"resource_id": 5000 + i, "title": format!("Quiz {i}"), "context_label": format!("Unit {i}")}))
        .collect();
    let mut bins = serde_json::Map::new();
    for i in 0..resources {
        let mut per = serde_json::Map::new();
        let mut left = students as u64;
        for bin in (0..=10u32).rev().map(|b| b * 10) {
            let n = if bin == 0 {
                left
            } else {
                rng.next() % (left / 4 + 1)
            };
            left -= n;
            per.insert(bin.to_string(), json!(n));
        }
        bins.insert((1000 + i).to_string(), Value::Object(per));
    }
    let rows: Vec<Value> = (0..students)
        .map(|s| json!({"student_id": 100_000 + s, "progress_pct": rng.pct(), "proficiency_pct": rng.pct()}))
        .collect();
    let info: Vec<Value> = (0..students)
        .map(|s| {
            let day = 1 + rng.next() % 15;
            json!({"student_id": 100_000 + s, "given_name": format!("Given{s}"), "family_name": format!("Family{}", rng.next() % 997),
                   "email": format!("s{s}@example.edu"), "last_interaction_at": format!("2026-03-{day:02}T10:00:00Z")})
        })
        .collect();
    let objectives: Vec<Value> = (0..120)
        .map(|i| {
            let parent = if i < 20 { Value::Null } else { json!(i % 20) };
            json!({"objective_id": i, "parent_id": parent, "title": format!("Objective {i}"), "numbering_index": i,
                   "proficiency_distribution": {"low": rng.next() % 50, "medium": rng.next() % 50, "high": rng.next() % 50, "not_enough_data": 3},
                   "numeric_proficiency": null})
        })
        .collect();
    let grades: Vec<Value> = (0..resources / 4)
        .map(|i| {
            let hist: serde_json::Map<String, Value> = dashboard_snapshot::instructor::HISTOGRAM_BINS
                .iter()
                .map(|b| ((*b).to_owned(), json!(rng.next() % 500)))
                .collect();
            json!({"assessment_id": 5000 + i, "due_at": format!("2026-04-{:02}T00:00:00Z", 1 + i % 28), "minimum": 3.0, "median": 61.5,
                   "mean": rng.pct(), "maximum": 100.0, "standard_deviation": 12.25, "histogram": hist,
                   "completed_count": rng.next() % students as u64, "total_students": students})
        })
        .collect();
    let ok =
        |key: &str, payload: Value| json!({"oracle_key": key, "status": "ok", "payload": payload});
    let oracles = json!({
        "format": "fabric.dashboard.oracles/1",
        "results": [
            ok("scope_resources", json!({"course_title": "Bench", "scope_label": "All", "items": items, "pages": pages})),
            ok("progress_bins", json!({"total_students": students, "by_resource_bins": bins})),
            ok("schedule_position", json!({"current_resource_id": 1003, "label": "Unit 3"})),
            ok("progress_proficiency", Value::Array(rows)),
            ok("student_info", Value::Array(info)),
            ok("objectives_proficiency", json!({"objectives": objectives})),
            ok("grades", json!({"grades": grades})),
            ok("recommendation", json!({"status": "ready", "body": "Review unit 3."})),
        ],
    });
    (scope.to_string(), oracles.to_string())
}

/// CPU time of this thread (ns), from `/proc/thread-self/schedstat`: the machine is
/// shared, so wall time alone mostly measures the neighbours.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

thread_local! {
    static CPU: std::cell::RefCell<Vec<Duration>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Median and p95 (ms) of the CPU times recorded by the last `time` call.
fn cpu_p95() -> (f64, f64) {
    p95(CPU.with(|c| c.borrow().clone()))
}

fn cpu((median, p95): (f64, f64)) -> String {
    format!("cpu median {median:7.2} ms p95 {p95:7.2} ms")
}

fn p95(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    let idx = ((samples.len() as f64 * 0.95).ceil() as usize).saturating_sub(1);
    let p = samples.get(idx).copied().unwrap_or_default();
    (ms(median), ms(p))
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    let mut cpu = Vec::with_capacity(runs);
    let wall = (0..runs)
        .map(|_| {
            let (start, start_cpu) = (Instant::now(), cpu_ns());
            std::hint::black_box(f());
            cpu.push(Duration::from_nanos(cpu_ns().saturating_sub(start_cpu)));
            start.elapsed()
        })
        .collect();
    CPU.with(|c| *c.borrow_mut() = cpu);
    wall
}

/// 20 columns per student of the support projection, `repeat` times: rows read
/// from a projection only, like every real serializer.
struct Wide {
    repeat: usize,
}

impl DatasetSerializer for Wide {
    fn columns(&self) -> &'static [&'static str] {
        &[
            "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c10", "c11", "c12",
            "c13", "c14", "c15", "c16", "c17", "c18", "c19", "c20",
        ]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let support =
            ctx.projection("student_support")
                .ok_or_else(|| SerializeError::Projection {
                    projection: "student_support".into(),
                    pointer: String::new(),
                    message: "missing".into(),
                })?;
        let buckets = support["buckets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for r in 0..self.repeat {
            for b in buckets {
                for s in b["students"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    let name = s["name"].as_str().unwrap_or("");
                    let id = s["student_id"].as_i64().unwrap_or(0);
                    let progress = s["progress_pct"].as_f64().unwrap_or(0.0);
                    let prof = s["proficiency_pct"].as_f64().unwrap_or(0.0);
                    let mut cells = Vec::with_capacity(20);
                    cells.push(Cell::Int(id));
                    cells.push(Cell::Text(Cow::Borrowed(name)));
                    cells.push(Cell::Text(Cow::Borrowed(b["id"].as_str().unwrap_or(""))));
                    cells.push(Cell::Int(r as i64));
                    for k in 0..8 {
                        cells.push(Cell::Dec1(progress - f64::from(k)));
                        cells.push(Cell::Dec1(prof + f64::from(k)));
                    }
                    sink.row(&cells)?;
                }
            }
        }
        Ok(())
    }
}

fn wide_registry(repeat: usize) -> Result<Registry, dashboard_snapshot::Error> {
    Registry::new(
        vec![ExportProfile {
            name: "wide",
            description: "bench",
            datasets: vec![DatasetSpec {
                dataset_id: "wide",
                filename: "wide.csv",
                required_projections: &["student_support"],
                optional_projections: &[],
                serializer: Arc::new(Wide { repeat }),
                failure_policy: FailurePolicy::FailClosed,
            }],
        }],
        ProjectionSet::instructor().keys(),
    )
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (students, resources, runs) = if quick {
        (500, 40, 5)
    } else {
        (5_000, 200, 30)
    };
    let (scope_text, oracles_text) = generate(students, resources);
    println!(
        "dashboard-snapshot bench: {students} students x {resources} resources ({} KiB of oracle JSON), {runs} runs",
        oracles_text.len() / 1024
    );
    let set = ProjectionSet::instructor();
    let telemetry = Telemetry::none();

    let assembly = time(runs, || -> Result<_, dashboard_snapshot::Error> {
        let mut scope = parse_scope(&scope_text)?;
        scope.scope.expected_oracles = set.all_oracles();
        let oracles = parse_oracles(&oracles_text)?;
        assemble_owned(&scope.scope, "req-bench", oracles.results)
    });
    let assembly_cpu = cpu_p95();
    let mut scope = parse_scope(&scope_text)?;
    scope.scope.expected_oracles = set.all_oracles();
    let snapshot = assemble_owned(
        &scope.scope,
        "req-bench",
        parse_oracles(&oracles_text)?.results,
    )?;
    let derivation = time(runs, || set.derive_all(&snapshot, &telemetry));
    let derivation_cpu = cpu_p95();
    let bundle = assemble_bundle(&set, &scope_text, &oracles_text, None, &telemetry)?;
    let fingerprint = time(runs, || dashboard_snapshot::parity::bundle_report(&bundle));
    let fingerprint_cpu = cpu_p95();
    let statuses: Vec<String> = bundle
        .projection_statuses
        .iter()
        .filter(|(_, s)| **s != ProjectionStatus::ready())
        .map(|(k, s)| format!("{k}={}", s.status.as_str()))
        .collect();
    if !statuses.is_empty() {
        println!("  note: non-ready projections: {}", statuses.join(", "));
    }

    let registry = Registry::instructor();
    let path = std::env::temp_dir().join(format!("dashboard-bench-{}.zip", std::process::id()));
    let export_all = time(
        runs.min(10),
        || -> Result<u64, dashboard_snapshot::Error> {
            let plan = plan_export(&registry, &bundle, "instructor")?;
            let mut file =
                std::fs::File::create(&path).map_err(|e| dashboard_snapshot::Error::Io {
                    entry: "bench".into(),
                    source: e,
                })?;
            let m = write_zip(&plan, &bundle, &mut file, &telemetry)?;
            Ok(m.datasets.iter().filter_map(|d| d.row_count).sum())
        },
    );
    let export_cpu = cpu_p95();

    let (a_med, a_p95) = p95(assembly);
    let (d_med, d_p95) = p95(derivation);
    let (f_med, f_p95) = p95(fingerprint);
    let mut per_projection = Vec::new();
    for key in set.keys() {
        let projection = set.get(key)?;
        let (m, _) = p95(time(runs, || {
            dashboard_snapshot::derive_one(projection.as_ref(), &snapshot, &telemetry)
        }));
        per_projection.push(format!("{key} {m:.1}"));
    }
    let (e_med, e_p95) = p95(export_all);
    println!(
        "  assembly (parse + assemble)      median {a_med:8.2} ms  p95 {a_p95:8.2} ms  budget 70 ms  ratio {:.2}  {}",
        a_p95 / 70.0,
        cpu(assembly_cpu)
    );
    println!(
        "  derivation (5 projections)       median {d_med:8.2} ms  p95 {d_p95:8.2} ms  budget 30 ms  ratio {:.2}  {}",
        d_p95 / 30.0,
        cpu(derivation_cpu)
    );
    println!(
        "  bundle fingerprint (parity)      median {f_med:8.2} ms  p95 {f_p95:8.2} ms  {}",
        cpu(fingerprint_cpu)
    );
    println!(
        "  per projection (median ms): {}",
        per_projection.join(", ")
    );
    println!(
        "  instructor CSV ZIP (8 datasets)  median {e_med:8.2} ms  p95 {e_p95:8.2} ms  budget 500 ms ratio {:.2}  {}",
        e_p95 / 500.0,
        cpu(export_cpu)
    );

    // 100,000 rows x 20 columns (and memory growth at 25k / 50k / 100k rows).
    let per_repeat = students;
    let skip_wide = std::env::args().any(|a| a == "--skip-wide");
    let sizes: Vec<usize> = if skip_wide {
        Vec::new()
    } else if quick {
        vec![5_000, 10_000, 20_000]
    } else {
        vec![25_000, 50_000, 100_000]
    };
    for (rows, level) in sizes
        .iter()
        .map(|r| (*r, 6))
        .chain(sizes.last().map(|r| (*r, 1)))
    {
        let repeat = rows.div_ceil(per_repeat);
        let reg = wide_registry(repeat)?;
        let wide_runs = if quick { 3 } else { 5 };
        let mut peak_growth = 0;
        let samples = time(wide_runs, || -> Result<u64, dashboard_snapshot::Error> {
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            let before = status_kib("VmRSS:");
            let plan = plan_export(&reg, &bundle, "wide")?;
            let mut file =
                std::fs::File::create(&path).map_err(|e| dashboard_snapshot::Error::Io {
                    entry: "bench".into(),
                    source: e,
                })?;
            let m = write_zip_with(&plan, &bundle, &mut file, &telemetry, level)?;
            peak_growth = peak_growth.max(status_kib("VmHWM:").saturating_sub(before));
            Ok(m.datasets.first().and_then(|d| d.bytes).unwrap_or(0))
        });
        let wide_cpu = cpu_p95();
        let (w_med, w_p95) = p95(samples);
        println!(
            "  CSV ZIP {:>7} rows x 20 cols, deflate {level}: median {w_med:8.2} ms  p95 {w_p95:8.2} ms  budget 500 ms ratio {:.2}  {}  peak RSS growth {peak_growth} KiB",
            repeat * per_repeat,
            w_p95 / 500.0,
            cpu(wide_cpu)
        );
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}
