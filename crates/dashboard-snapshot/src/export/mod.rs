//! CSV ZIP export: the dataset registry, failure policies, serializers that
//! read projections only, the pre-flight plan and the deterministic ZIP.

mod archive;
mod cell;
mod datasets;
pub(crate) mod early;
mod pipe;
mod plan;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::{Scope, SnapshotBundle};
use crate::error::{Error, Result};

pub use archive::{
    DEFAULT_DEFLATE_LEVEL, ExportManifest, MANIFEST_FORMAT, MANIFEST_NAME, ManifestDataset,
    VerifyReport, verify_zip, write_zip, write_zip_with,
};
pub use cell::{
    Cell, CountingSink, CsvSink, HashingWriter, RowSink, SinkError, needs_formula_guard,
    render_cell,
};
pub use plan::{
    Blocking, BlockingProjection, DatasetDecision, ExportFailure, ExportPlan, PlannedDataset,
    plan_export,
};

/// What happens when a dataset's required projections are not all ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Anything but ready fails the export (the reference's behaviour).
    FailClosed,
    /// Partial is included; failed or unavailable fails the export.
    AcceptPartial,
    /// Partial is included; failed or unavailable excludes the dataset.
    AllowPartialWithManifest,
}

impl FailurePolicy {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::FailClosed => "fail_closed",
            FailurePolicy::AcceptPartial => "accept_partial",
            FailurePolicy::AllowPartialWithManifest => "allow_partial_with_manifest",
        }
    }
}

/// Why a serializer could not produce its rows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SerializeError {
    /// A projection value lacks what the serializer reads.
    #[error("projection {projection} at {pointer}: {message}")]
    Projection {
        /// The projection key.
        projection: String,
        /// JSON pointer into its value.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The sink refused a row.
    #[error("writing a row")]
    Sink(#[from] SinkError),
}

/// What a serializer may read: projections and the scope, never raw oracle payloads.
#[derive(Debug, Clone, Copy)]
pub struct ExportContext<'a> {
    bundle: &'a SnapshotBundle,
}

impl<'a> ExportContext<'a> {
    /// A context over `bundle`.
    pub fn new(bundle: &'a SnapshotBundle) -> Self {
        ExportContext { bundle }
    }

    /// A projection value (ready or partial). `None` for `student_support` in a
    /// bundle read by [`SnapshotBundle::from_reader_without_payloads`], whose
    /// student rows are held typed: only the instructor serializers read them.
    pub fn projection(&self, key: &str) -> Option<&'a Value> {
        if key == crate::compact::SUPPORT && self.support_rows().is_some() {
            return None;
        }
        self.bundle.projections.get(key)
    }

    /// The projection's JSON as stored (for `student_support` read for export,
    /// without its student rows).
    pub(crate) fn raw_projection(&self, key: &str) -> Option<&'a Value> {
        self.bundle.projections.get(key)
    }

    /// The typed `student_support` rows, when the bundle was read for export.
    pub(crate) fn support_rows(&self) -> Option<&'a crate::compact::SupportRows> {
        self.bundle.support_rows()
    }

    /// The scope (labels, filters, `as_of`).
    pub fn scope(&self) -> &'a Scope {
        &self.bundle.snapshot.scope
    }

    /// The request token.
    pub fn request_token(&self) -> &'a str {
        &self.bundle.snapshot.request_token
    }
}

/// Turns projections into CSV rows.
pub trait DatasetSerializer: Send + Sync {
    /// The header row.
    fn columns(&self) -> &'static [&'static str];
    /// Emit rows in final order, reading projections through `ctx` only.
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError>;
}

/// One dataset of a profile.
#[derive(Clone)]
pub struct DatasetSpec {
    /// Stable id.
    pub dataset_id: &'static str,
    /// `[a-z0-9_]+\.csv`.
    pub filename: &'static str,
    /// Projections that must be usable.
    pub required_projections: &'static [&'static str],
    /// Projections recorded in the manifest, never blocking.
    pub optional_projections: &'static [&'static str],
    /// The serializer.
    pub serializer: Arc<dyn DatasetSerializer>,
    /// The failure policy.
    pub failure_policy: FailurePolicy,
}

impl std::fmt::Debug for DatasetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetSpec")
            .field("dataset_id", &self.dataset_id)
            .field("filename", &self.filename)
            .field("required_projections", &self.required_projections)
            .field("optional_projections", &self.optional_projections)
            .field("failure_policy", &self.failure_policy)
            .finish_non_exhaustive()
    }
}

/// A named list of datasets (the order is the ZIP order).
#[derive(Debug, Clone)]
pub struct ExportProfile {
    /// Profile name.
    pub name: &'static str,
    /// One line for `fabric dashboard profiles`.
    pub description: &'static str,
    /// Datasets in ZIP order.
    pub datasets: Vec<DatasetSpec>,
}

/// Profiles -> dataset specs.
#[derive(Debug, Clone)]
pub struct Registry {
    profiles: Vec<ExportProfile>,
    projections: Vec<&'static str>,
}

impl Registry {
    /// A checked registry over `profiles`, for projections named `projections`.
    pub fn new(profiles: Vec<ExportProfile>, projections: Vec<&'static str>) -> Result<Self> {
        let reg = Registry {
            profiles,
            projections,
        };
        reg.validate()?;
        Ok(reg)
    }

    /// The default instructor profiles: `instructor` (accept_partial),
    /// `instructor_strict` (fail_closed), `instructor_best_effort`
    /// (allow_partial_with_manifest).
    pub fn instructor() -> Self {
        let make = |name, description, policy| ExportProfile {
            name,
            description,
            datasets: datasets::instructor_datasets(policy),
        };
        Registry {
            profiles: vec![
                make(
                    "instructor",
                    "default: partial projections are exported, failed ones block",
                    FailurePolicy::AcceptPartial,
                ),
                make(
                    "instructor_strict",
                    "the reference's behaviour: anything not ready blocks",
                    FailurePolicy::FailClosed,
                ),
                make(
                    "instructor_best_effort",
                    "datasets whose projections failed are left out and listed in the manifest",
                    FailurePolicy::AllowPartialWithManifest,
                ),
            ],
            projections: crate::projection::ProjectionSet::instructor().keys(),
        }
    }

    /// Every profile, in registration order.
    pub fn profiles(&self) -> &[ExportProfile] {
        &self.profiles
    }

    /// The datasets of `profile` (`unknown_export_profile` otherwise).
    pub fn datasets_for(&self, profile: &str) -> Result<&[DatasetSpec]> {
        self.profiles
            .iter()
            .find(|p| p.name == profile)
            .map(|p| p.datasets.as_slice())
            .ok_or_else(|| Error::UnknownProfile {
                name: profile.to_owned(),
                known: self
                    .profiles
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The first spec with id `id` (`unknown_dataset` otherwise).
    pub fn dataset_spec(&self, id: &str) -> Result<&DatasetSpec> {
        self.profiles
            .iter()
            .flat_map(|p| &p.datasets)
            .find(|d| d.dataset_id == id)
            .ok_or_else(|| Error::UnknownDataset { id: id.to_owned() })
    }

    /// Unique profile names, unique ids and filenames per profile, valid filenames,
    /// known projections.
    pub fn validate(&self) -> Result<()> {
        let mut names = std::collections::BTreeSet::new();
        for p in &self.profiles {
            if !names.insert(p.name) {
                return Err(Error::Registry(format!(
                    "profile {} registered twice",
                    p.name
                )));
            }
            let mut ids = std::collections::BTreeSet::new();
            let mut files = std::collections::BTreeSet::new();
            for d in &p.datasets {
                if !ids.insert(d.dataset_id) || !files.insert(d.filename) {
                    return Err(Error::Registry(format!(
                        "profile {}: dataset {} or its file repeats",
                        p.name, d.dataset_id
                    )));
                }
                let stem = d.filename.strip_suffix(".csv").unwrap_or("");
                if stem.is_empty()
                    || !stem
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(Error::Registry(format!(
                        "dataset {}: bad filename {}",
                        d.dataset_id, d.filename
                    )));
                }
                for key in d.required_projections.iter().chain(d.optional_projections) {
                    if !self.projections.contains(key) {
                        return Err(Error::Registry(format!(
                            "dataset {}: unknown projection {key}",
                            d.dataset_id
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}
