//! Telemetry: the assembly and export events as a caller callback and as `tracing`
//! events with target `fabric::dashboard`. Events are fixed structs holding only
//! codes, counts, durations and static names, so no id, token, name or payload value
//! can leak into them.

use serde::Serialize;

/// Outcome of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It worked.
    Ok,
    /// It failed.
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}

/// One telemetry event. Every field is a code, a count or a duration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TelemetryEvent {
    /// `snapshot.assembly.stop`.
    AssemblyStop {
        /// Wall time of the assembly.
        duration_ms: f64,
        /// Outcome.
        outcome: Outcome,
        /// `course` or `container`.
        container_type: &'static str,
        /// Oracle payloads stored.
        oracle_count: usize,
        /// Oracle status entries.
        status_count: usize,
        /// Error class when it failed.
        error_type: Option<&'static str>,
    },
    /// `snapshot.projection.stop` (one per projection).
    ProjectionStop {
        /// Wall time of the derivation.
        duration_ms: f64,
        /// Projection key (a static name).
        capability_key: &'static str,
        /// `ready` / `partial` / `failed` / `unavailable`.
        status: &'static str,
        /// Outcome.
        outcome: Outcome,
        /// Reason code when not ready.
        reason_code: Option<&'static str>,
        /// `panic`, `invalid_data`, `error` or none.
        error_type: Option<&'static str>,
        /// Oracles the projection declares.
        oracle_count: usize,
    },
    /// `snapshot.projection.status` (count = 1 per projection).
    ProjectionStatus {
        /// Projection key.
        capability_key: &'static str,
        /// Status.
        status: &'static str,
        /// Reason code when not ready.
        reason_code: Option<&'static str>,
    },
    /// `snapshot.export.stop`.
    ExportStop {
        /// Wall time of the export.
        duration_ms: f64,
        /// Outcome.
        outcome: Outcome,
        /// Profile name (a registry name, not user data).
        export_profile: String,
        /// `course` or `container`.
        scope_container_type: &'static str,
        /// Datasets in the profile.
        dataset_count: usize,
        /// Included datasets.
        included_count: usize,
        /// Excluded datasets.
        excluded_count: usize,
        /// Reason code when it failed.
        reason_code: Option<&'static str>,
    },
    /// `snapshot.parity.check`.
    ParityCheck {
        /// `match`, `mismatch` or `not_checked`.
        status: &'static str,
        /// Profile name.
        export_profile: String,
        /// Datasets compared.
        dataset_count: usize,
        /// Components that drifted.
        mismatch_count: usize,
        /// Whether an expected fingerprint was supplied.
        expected_present: bool,
    },
}

/// Where events go: an optional callback, and always `tracing`.
#[derive(Clone, Copy, Default)]
pub struct Telemetry<'a> {
    callback: Option<&'a (dyn Fn(&TelemetryEvent) + Sync)>,
}

impl std::fmt::Debug for Telemetry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl<'a> Telemetry<'a> {
    /// Only `tracing` events.
    pub fn none() -> Self {
        Telemetry { callback: None }
    }

    /// Events also go to `callback`.
    pub fn with_callback(callback: &'a (dyn Fn(&TelemetryEvent) + Sync)) -> Self {
        Telemetry {
            callback: Some(callback),
        }
    }

    /// Emit `event`.
    pub fn emit(&self, event: TelemetryEvent) {
        trace(&event);
        if let Some(callback) = self.callback {
            callback(&event);
        }
    }
}

fn trace(event: &TelemetryEvent) {
    const T: &str = "fabric::dashboard";
    match event {
        TelemetryEvent::AssemblyStop {
            duration_ms,
            outcome,
            container_type,
            oracle_count,
            status_count,
            error_type,
        } => {
            tracing::info!(name: "snapshot.assembly.stop", target: T, duration_ms, outcome = outcome.as_str(),
            container_type, oracle_count, status_count, error_type = error_type.unwrap_or(""))
        }
        TelemetryEvent::ProjectionStop {
            duration_ms,
            capability_key,
            status,
            outcome,
            reason_code,
            error_type,
            oracle_count,
        } => {
            tracing::debug!(name: "snapshot.projection.stop", target: T, duration_ms, capability_key, status,
            outcome = outcome.as_str(), reason_code = reason_code.unwrap_or(""),
            error_type = error_type.unwrap_or(""), oracle_count)
        }
        TelemetryEvent::ProjectionStatus {
            capability_key,
            status,
            reason_code,
        } => {
            tracing::debug!(name: "snapshot.projection.status", target: T, count = 1u64, capability_key, status,
            reason_code = reason_code.unwrap_or(""))
        }
        TelemetryEvent::ExportStop {
            duration_ms,
            outcome,
            export_profile,
            scope_container_type,
            dataset_count,
            included_count,
            excluded_count,
            reason_code,
        } => {
            tracing::info!(name: "snapshot.export.stop", target: T, duration_ms, outcome = outcome.as_str(),
            export_profile = export_profile.as_str(), scope_container_type, dataset_count, included_count,
            excluded_count, reason_code = reason_code.unwrap_or(""))
        }
        TelemetryEvent::ParityCheck {
            status,
            export_profile,
            dataset_count,
            mismatch_count,
            expected_present,
        } => tracing::info!(name: "snapshot.parity.check", target: T, count = 1u64, status,
            export_profile = export_profile.as_str(), dataset_count, mismatch_count, expected_present),
    }
}

/// Milliseconds since `start`.
pub(crate) fn elapsed_ms(start: std::time::Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
