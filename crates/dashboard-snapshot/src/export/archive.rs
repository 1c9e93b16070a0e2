//! The deterministic ZIP (fixed order, manifest last, 1980-01-01 timestamps, mode
//! 0644, Deflate level 6), its manifest, and `verify_zip`, which recomputes parity
//! from a bundle and an archive.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};

use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;

use super::plan::{DatasetDecision, ExportPlan, ProjectionState, evaluate};
use super::{CsvSink, ExportContext, HashingWriter, Registry};
use crate::bundle::pretty_sorted;
use crate::contract::{Readiness, SnapshotBundle};
use crate::error::{Error, Result};
use crate::parity::{self, ParityComparison, compare};
use crate::telemetry::{Outcome, Telemetry, TelemetryEvent, elapsed_ms};

/// Format tag of the manifest.
pub const MANIFEST_FORMAT: &str = "fabric.dashboard.export-manifest/1";
/// Name of the manifest entry (always last).
pub const MANIFEST_NAME: &str = "manifest.json";

/// Scope identity in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestScope {
    /// Context type.
    pub context_type: String,
    /// Context id.
    pub context_id: u64,
    /// `course` or `container`.
    pub container_type: String,
    /// Container id.
    pub container_id: Option<u64>,
}

/// The CSV dialect, recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvDialect {
    /// `utf-8`.
    pub encoding: String,
    /// No BOM.
    pub bom: bool,
    /// `,`.
    pub delimiter: String,
    /// CRLF.
    pub line_terminator: String,
    /// `minimal`.
    pub quoting: String,
    /// `apostrophe_prefix`.
    pub formula_guard: String,
}

/// One dataset entry of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDataset {
    /// Dataset id.
    pub dataset_id: String,
    /// File name inside the ZIP.
    pub filename: String,
    /// `included` or `excluded`.
    pub status: String,
    /// Failure policy.
    pub failure_policy: String,
    /// Worst required projection state.
    pub projection_state: Readiness,
    /// Required projections' states.
    pub required_projections: BTreeMap<String, ProjectionState>,
    /// Optional projections' states.
    pub optional_projections: BTreeMap<String, ProjectionState>,
    /// Why it was excluded.
    pub reason_code: Option<String>,
    /// Header row.
    pub columns: Vec<String>,
    /// Data rows (header excluded).
    pub row_count: Option<u64>,
    /// File size.
    pub bytes: Option<u64>,
    /// SHA-256 of the file.
    pub sha256: Option<String>,
}

/// Dataset counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Datasets in the profile.
    pub datasets: usize,
    /// Written.
    pub included: usize,
    /// Left out.
    pub excluded: usize,
}

/// Parity section of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestParity {
    /// Algorithm tag.
    pub algorithm: String,
    /// The bundle's fingerprint.
    pub bundle_fingerprint: String,
    /// Fingerprint over projections and CSV contents.
    pub export_fingerprint: String,
    /// `projection:*` and `dataset:*` digests.
    pub components: BTreeMap<String, String>,
    /// The bundle's stored projection digests against the exported ones.
    pub comparison: ParityComparison,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// Profile name.
    pub export_profile: String,
    /// Request token.
    pub request_token: String,
    /// Snapshot version.
    pub snapshot_version: u32,
    /// Projection version.
    pub projection_version: u32,
    /// Scope identity.
    pub scope: ManifestScope,
    /// The bundle's `as_of`.
    pub generated_at: String,
    /// Display time zone.
    pub timezone: String,
    /// CSV dialect.
    pub csv: CsvDialect,
    /// Every dataset of the profile, in order.
    pub datasets: Vec<ManifestDataset>,
    /// Counts.
    pub totals: Totals,
    /// Parity.
    pub parity: ManifestParity,
}

impl ExportManifest {
    /// Sorted keys, 2-space indent, LF, trailing newline.
    pub fn to_json_string(&self) -> Result<String> {
        let value = serde_json::to_value(self).map_err(|source| Error::Json {
            what: "manifest",
            source,
        })?;
        Ok(pretty_sorted(&value))
    }
}

fn zip_err(entry: &str) -> impl FnOnce(zip::result::ZipError) -> Error + '_ {
    move |source| Error::Zip {
        entry: entry.to_owned(),
        source,
    }
}

/// The Deflate level of [`write_zip`] (the golden ZIP hash depends on it).
pub const DEFAULT_DEFLATE_LEVEL: u8 = 6;

pub(super) fn options(level: u8) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(i64::from(level.clamp(1, 9))))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644)
        .large_file(false)
}

/// CSV bytes of one dataset into `out`: (rows, bytes, sha256).
pub(super) fn write_dataset<W: Write>(
    spec: &super::DatasetSpec,
    ctx: &ExportContext<'_>,
    out: W,
) -> Result<(u64, u64, String)> {
    let csv_err = |source: super::SinkError| match source {
        super::SinkError::Csv(source) => Error::Csv {
            dataset_id: spec.dataset_id.to_owned(),
            source,
        },
    };
    let mut sink =
        CsvSink::new(HashingWriter::new(out), spec.serializer.columns()).map_err(csv_err)?;
    spec.serializer
        .write_rows(ctx, &mut sink)
        .map_err(|e| match e {
            super::SerializeError::Sink(s) => csv_err(s),
            other => Error::Serialize {
                dataset_id: spec.dataset_id.to_owned(),
                message: other.to_string(),
            },
        })?;
    let rows = sink.rows();
    let (_, bytes, sha) = sink.finish().map_err(csv_err)?.finish();
    Ok((rows, bytes, sha))
}

fn base_manifest(plan: &ExportPlan, bundle: &SnapshotBundle) -> ExportManifest {
    let s = &bundle.snapshot;
    ExportManifest {
        format: MANIFEST_FORMAT.to_owned(),
        export_profile: plan.profile.clone(),
        request_token: s.request_token.clone(),
        snapshot_version: s.snapshot_version,
        projection_version: s.projection_version,
        scope: ManifestScope {
            context_type: s.scope.context.context_type.clone(),
            context_id: s.scope.context.id.get(),
            container_type: s.scope.container.type_name().to_owned(),
            container_id: s.scope.container.id(),
        },
        generated_at: s.scope.as_of.clone(),
        timezone: s.scope.timezone.clone(),
        csv: CsvDialect {
            encoding: "utf-8".into(),
            bom: false,
            delimiter: ",".into(),
            line_terminator: "\r\n".into(),
            quoting: "minimal".into(),
            formula_guard: "apostrophe_prefix".into(),
        },
        datasets: Vec::new(),
        totals: Totals {
            datasets: plan.datasets.len(),
            included: 0,
            excluded: 0,
        },
        parity: ManifestParity {
            algorithm: parity::ALGORITHM.to_owned(),
            bundle_fingerprint: bundle.parity.bundle_fingerprint.clone(),
            export_fingerprint: String::new(),
            components: BTreeMap::new(),
            comparison: ParityComparison::not_checked(),
        },
    }
}

fn manifest_entry(
    d: &super::PlannedDataset,
    written: Option<(u64, u64, String)>,
) -> ManifestDataset {
    let excluded_reason = match d.decision {
        DatasetDecision::Include => None,
        DatasetDecision::Exclude(r) => Some(r.as_str().to_owned()),
    };
    let (row_count, bytes, sha256) = match written {
        Some((r, b, s)) => (Some(r), Some(b), Some(s)),
        None => (None, None, None),
    };
    ManifestDataset {
        dataset_id: d.spec.dataset_id.to_owned(),
        filename: d.spec.filename.to_owned(),
        status: if excluded_reason.is_none() {
            "included"
        } else {
            "excluded"
        }
        .to_owned(),
        failure_policy: d.spec.failure_policy.as_str().to_owned(),
        projection_state: d.projection_state,
        required_projections: d.required.clone(),
        optional_projections: d.optional.clone(),
        reason_code: excluded_reason,
        columns: d
            .spec
            .serializer
            .columns()
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        row_count,
        bytes,
        sha256,
    }
}

fn finish_parity(
    manifest: &mut ExportManifest,
    bundle: &SnapshotBundle,
    projections: BTreeMap<String, String>,
) {
    let mut components = projections.clone();
    for d in &manifest.datasets {
        components.insert(
            format!("dataset:{}", d.dataset_id),
            parity::dataset_component(&d.status, d.reason_code.as_deref(), d.sha256.as_deref()),
        );
    }
    manifest.parity.export_fingerprint =
        parity::export_fingerprint(bundle, &manifest.export_profile, &components);
    manifest.parity.comparison = compare(&bundle.parity.components, &projections);
    manifest.parity.components = components;
    manifest.totals.included = manifest
        .datasets
        .iter()
        .filter(|d| d.status == "included")
        .count();
    manifest.totals.excluded = manifest.totals.datasets - manifest.totals.included;
}

/// Stream the included datasets into a ZIP on `out`, then `manifest.json`
/// (Deflate level [`DEFAULT_DEFLATE_LEVEL`]).
pub fn write_zip<W: Write + Seek>(
    plan: &ExportPlan,
    bundle: &SnapshotBundle,
    out: W,
    telemetry: &Telemetry<'_>,
) -> Result<ExportManifest> {
    write_zip_with(plan, bundle, out, telemetry, DEFAULT_DEFLATE_LEVEL)
}

/// [`write_zip`] with another Deflate level (1 = fastest, 9 = smallest). Bytes are
/// deterministic for a given level; only the default level is covered by the
/// golden hash.
pub fn write_zip_with<W: Write + Seek>(
    plan: &ExportPlan,
    bundle: &SnapshotBundle,
    out: W,
    telemetry: &Telemetry<'_>,
    deflate_level: u8,
) -> Result<ExportManifest> {
    let start = std::time::Instant::now();
    let result = write_zip_inner(plan, bundle, out, deflate_level);
    let (included, excluded) = result
        .as_ref()
        .map_or((0, 0), |m| (m.totals.included, m.totals.excluded));
    telemetry.emit(TelemetryEvent::ExportStop {
        duration_ms: elapsed_ms(start),
        outcome: if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        export_profile: plan.profile.clone(),
        scope_container_type: bundle.snapshot.scope.container.type_name(),
        dataset_count: plan.datasets.len(),
        included_count: included,
        excluded_count: excluded,
        reason_code: result.as_ref().err().map(|_| "zip_build_failed"),
    });
    if let Ok(m) = &result {
        telemetry.emit(TelemetryEvent::ParityCheck {
            status: m.parity.comparison.status.as_str(),
            export_profile: plan.profile.clone(),
            dataset_count: plan.datasets.len(),
            mismatch_count: m.parity.comparison.mismatches.len(),
            expected_present: true,
        });
    }
    result
}

fn write_zip_inner<W: Write + Seek>(
    plan: &ExportPlan,
    bundle: &SnapshotBundle,
    out: W,
    level: u8,
) -> Result<ExportManifest> {
    // The projections' digests: those the plan checked the bundle with, else
    // hashed beside the archive.
    if let Some((fingerprint, components)) = &plan.checked
        && *fingerprint == bundle.parity.bundle_fingerprint
    {
        return write_entries(plan, bundle, out, level, &mut || Ok(components.clone()));
    }
    std::thread::scope(|scope| {
        let mut digests = Some(scope.spawn(|| parity::projection_components(bundle)));
        write_entries(plan, bundle, out, level, &mut || {
            digests
                .take()
                .and_then(|d| d.join().ok())
                .ok_or_else(|| Error::Registry("the parity digest failed".to_owned()))
        })
    })
}

fn write_entries<W: Write + Seek>(
    plan: &ExportPlan,
    bundle: &SnapshotBundle,
    out: W,
    level: u8,
    projections: &mut dyn FnMut() -> Result<BTreeMap<String, String>>,
) -> Result<ExportManifest> {
    let ctx = ExportContext::new(bundle);
    let mut zip = zip::ZipWriter::new(out);
    let mut manifest = base_manifest(plan, bundle);
    for d in &plan.datasets {
        let written = match d.decision {
            DatasetDecision::Include => match early_entry(d, bundle, level) {
                Some(early) => {
                    let mut entry = zip::ZipArchive::new(std::io::Cursor::new(early.zip))
                        .map_err(zip_err(d.spec.filename))?;
                    let file = entry.by_index_raw(0).map_err(zip_err(d.spec.filename))?;
                    zip.raw_copy_file(file).map_err(zip_err(d.spec.filename))?;
                    Some((early.rows, early.bytes, early.sha256))
                }
                None => {
                    zip.start_file(d.spec.filename, options(level))
                        .map_err(zip_err(d.spec.filename))?;
                    Some(super::pipe::piped(&d.spec, &ctx, &mut zip, write_dataset)?)
                }
            },
            DatasetDecision::Exclude(_) => None,
        };
        manifest.datasets.push(manifest_entry(d, written));
    }
    finish_parity(&mut manifest, bundle, projections()?);
    let text = manifest.to_json_string()?;
    zip.start_file(MANIFEST_NAME, options(level))
        .map_err(zip_err(MANIFEST_NAME))?;
    zip.write_all(text.as_bytes()).map_err(|source| Error::Io {
        entry: MANIFEST_NAME.to_owned(),
        source,
    })?;
    zip.finish().map_err(zip_err("-"))?;
    Ok(manifest)
}

/// The entry of `d` compressed while the bundle was read, when it is exactly
/// the one this archive would hold (see [`super::early`]).
fn early_entry(
    d: &super::PlannedDataset,
    bundle: &SnapshotBundle,
    level: u8,
) -> Option<super::early::Compressed> {
    let builtin = std::ptr::addr_eq(
        std::sync::Arc::as_ptr(&d.spec.serializer),
        std::sync::Arc::as_ptr(&super::datasets::SUPPORT_LIST_SERIALIZER),
    );
    if !builtin
        || level != DEFAULT_DEFLATE_LEVEL
        || d.spec.filename != super::datasets::SUPPORT_LIST_FILE
    {
        return None;
    }
    let typed = bundle.typed.as_ref()?;
    typed.early.as_ref()?.take(typed.support.as_ref()?)
}

/// What `verify_zip` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Profile recorded in the manifest.
    pub export_profile: String,
    /// Export fingerprint recomputed from the bundle.
    pub expected_fingerprint: String,
    /// Export fingerprint recomputed from the archive.
    pub actual_fingerprint: String,
    /// Component-level comparison.
    pub comparison: ParityComparison,
}

/// Recompute parity from `bundle` (projections re-serialized) and from the archive
/// (CSV bytes as stored, statuses from its manifest) and compare them.
pub fn verify_zip<R: Read + Seek>(
    reg: &Registry,
    bundle: &SnapshotBundle,
    archive: R,
    telemetry: &Telemetry<'_>,
) -> Result<VerifyReport> {
    let mut zip = zip::ZipArchive::new(archive).map_err(zip_err("-"))?;
    let manifest: ExportManifest = {
        let mut entry = zip.by_name(MANIFEST_NAME).map_err(zip_err(MANIFEST_NAME))?;
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|source| Error::Io {
                entry: MANIFEST_NAME.to_owned(),
                source,
            })?;
        serde_json::from_str(&text).map_err(|source| Error::Json {
            what: "manifest",
            source,
        })?
    };
    let profile = manifest.export_profile.clone();
    // Expected side: the bundle's content, serialized again.
    let (plan, _) = evaluate(reg, bundle, &profile)?;
    let ctx = ExportContext::new(bundle);
    let mut expected = parity::projection_components(bundle);
    for d in &plan.datasets {
        let written = match d.decision {
            DatasetDecision::Include => Some(write_dataset(&d.spec, &ctx, std::io::sink())?),
            DatasetDecision::Exclude(_) => None,
        };
        let entry = manifest_entry(d, written);
        expected.insert(
            format!("dataset:{}", entry.dataset_id),
            parity::dataset_component(
                &entry.status,
                entry.reason_code.as_deref(),
                entry.sha256.as_deref(),
            ),
        );
    }
    // Actual side: what the archive holds.
    let mut actual: BTreeMap<String, String> = manifest
        .parity
        .components
        .iter()
        .filter(|(k, _)| k.starts_with("projection:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut listed = vec![MANIFEST_NAME.to_owned()];
    for d in &manifest.datasets {
        let sha = if d.status == "included" {
            listed.push(d.filename.clone());
            read_sha(&mut zip, &d.filename)?
        } else {
            None
        };
        actual.insert(
            format!("dataset:{}", d.dataset_id),
            parity::dataset_component(&d.status, d.reason_code.as_deref(), sha.as_deref()),
        );
    }
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for name in names {
        if !listed.contains(&name) {
            actual.insert(format!("entry:{name}"), "unlisted".to_owned());
        }
    }
    let mut comparison = compare(&expected, &actual);
    let expected_fingerprint = parity::export_fingerprint(bundle, &profile, &expected);
    let actual_fingerprint = parity::export_fingerprint(bundle, &profile, &actual);
    if comparison.mismatches.is_empty()
        && manifest.parity.export_fingerprint != expected_fingerprint
    {
        comparison = ParityComparison {
            status: parity::ParityStatus::Mismatch,
            mismatches: vec![parity::Mismatch {
                component: "manifest:export_fingerprint".into(),
                expected: Some(expected_fingerprint.clone()),
                actual: Some(manifest.parity.export_fingerprint.clone()),
            }],
        };
    }
    telemetry.emit(TelemetryEvent::ParityCheck {
        status: comparison.status.as_str(),
        export_profile: profile.clone(),
        dataset_count: manifest.datasets.len(),
        mismatch_count: comparison.mismatches.len(),
        expected_present: true,
    });
    Ok(VerifyReport {
        export_profile: profile,
        expected_fingerprint,
        actual_fingerprint,
        comparison,
    })
}

fn read_sha<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Result<Option<String>> {
    let mut entry = match zip.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(source) => return Err(zip_err(name)(source)),
    };
    let mut hashing = HashingWriter::new(std::io::sink());
    std::io::copy(&mut entry, &mut hashing).map_err(|source| Error::Io {
        entry: name.to_owned(),
        source,
    })?;
    Ok(Some(hashing.finish().2))
}
