//! The assembler: identity checks, token resolution, oracle statuses,
//! then projections and the parity fingerprint. No I/O: the caller hands in text or
//! parsed values.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::contract::{
    BUNDLE_FORMAT, OracleState, OracleStatus, PROJECTION_VERSION, SNAPSHOT_VERSION, Scope,
    Snapshot, SnapshotBundle, SnapshotMetadata,
};
use crate::error::{Error, Result};
use crate::input::{
    OracleOutcome, OracleResult, OracleResults, ScopeFile, parse_oracles, parse_scope,
};
use crate::parity;
use crate::projection::ProjectionSet;
use crate::reason::OracleReason;
use crate::telemetry::{Outcome, Telemetry, TelemetryEvent, elapsed_ms};

/// The request token: `override_token`, then the scope file's, else
/// `auto-` + 16 hex of SHA-256 over `{scope without token, oracles}`.
pub fn resolve_token(
    override_token: Option<&str>,
    scope: &ScopeFile,
    oracles: &OracleResults,
) -> Result<String> {
    if let Some(t) = override_token {
        if t.is_empty() {
            return Err(Error::field("request token", "", "must be non-empty"));
        }
        return Ok(t.to_owned());
    }
    if let Some(t) = &scope.request_token {
        return Ok(t.clone());
    }
    let doc = json!({"scope": scope.identity, "oracles": oracles.raw()});
    let digest = fabric_core::json::canonical_sha256(&doc);
    Ok(format!("auto-{}", digest.get(..16).unwrap_or(&digest)))
}

/// Reject results of another request or scope.
pub fn check_identity(scope: &Scope, token: &str, oracles: &OracleResults) -> Result<()> {
    if let Some(t) = &oracles.request_token
        && t != token
    {
        return Err(Error::ForeignResults {
            field: "request_token",
            expected: token.to_owned(),
            found: t.clone(),
        });
    }
    if let Some(c) = &oracles.context
        && c != &scope.context
    {
        return Err(Error::ForeignResults {
            field: "context",
            expected: format!("{}:{}", scope.context.context_type, scope.context.id),
            found: format!("{}:{}", c.context_type, c.id),
        });
    }
    if let Some(c) = &oracles.container
        && c != &scope.container
    {
        return Err(Error::ForeignResults {
            field: "container",
            expected: scope.container.to_string(),
            found: c.to_string(),
        });
    }
    Ok(())
}

/// Build the snapshot from merged results: ok -> ready (stale kept), error ->
/// failed (`oracle_timeout` for a `timeout` code, else `oracle_error`), expected but
/// absent -> unavailable (`missing_oracle_payload`).
pub fn assemble(
    scope: &Scope,
    request_token: &str,
    results: &BTreeMap<String, OracleResult>,
) -> Result<Snapshot> {
    assemble_owned(scope, request_token, results.clone())
}

/// [`assemble`] taking the results by value (payloads are moved, not copied).
pub fn assemble_owned(
    scope: &Scope,
    request_token: &str,
    results: BTreeMap<String, OracleResult>,
) -> Result<Snapshot> {
    if request_token.is_empty() {
        return Err(Error::field("request token", "", "must be non-empty"));
    }
    scope.as_of_time()?;
    let mut oracles = BTreeMap::new();
    let mut statuses = BTreeMap::new();
    for (key, result) in results {
        let source = result
            .metadata
            .get("source")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let status = match result.outcome {
            OracleOutcome::Ok(payload) => {
                oracles.insert(key.clone(), payload);
                OracleStatus {
                    status: OracleState::Ready,
                    stale: result.stale,
                    oracle_version: result.oracle_version,
                    source,
                    metadata: result.metadata,
                    reason_code: None,
                    message: None,
                }
            }
            OracleOutcome::Error { code, message } => OracleStatus {
                status: OracleState::Failed,
                stale: result.stale,
                oracle_version: result.oracle_version,
                source,
                metadata: result.metadata,
                reason_code: Some(if code.as_deref() == Some("timeout") {
                    OracleReason::OracleTimeout
                } else {
                    OracleReason::OracleError
                }),
                message,
            },
        };
        statuses.insert(key.clone(), status);
    }
    for key in &scope.expected_oracles {
        statuses.entry(key.clone()).or_insert_with(|| OracleStatus {
            status: OracleState::Unavailable,
            stale: false,
            oracle_version: 0,
            source: None,
            metadata: BTreeMap::new(),
            reason_code: Some(OracleReason::MissingOraclePayload),
            message: None,
        });
    }
    Ok(Snapshot {
        snapshot_version: SNAPSHOT_VERSION,
        projection_version: PROJECTION_VERSION,
        request_token: request_token.to_owned(),
        metadata: SnapshotMetadata {
            dashboard_product: scope.dashboard_product.clone(),
            dashboard_context_type: scope.context.context_type.clone(),
            dashboard_context_id: scope.context.id.get(),
            container_type: scope.container.type_name().to_owned(),
            container_id: scope.container.id(),
            generated_at: scope.as_of.clone(),
            timezone: scope.timezone.clone(),
        },
        scope: scope.clone(),
        oracles,
        oracle_statuses: statuses,
    })
}

/// Derive every projection of `set` and seal the bundle with its fingerprint.
pub fn build_bundle(
    set: &ProjectionSet,
    snapshot: Snapshot,
    telemetry: &Telemetry<'_>,
) -> SnapshotBundle {
    build(set, snapshot, telemetry, false)
}

/// [`build_bundle`] for printing: the student rows of `student_support` stay
/// typed (about 150 bytes a student instead of a JSON tree), so that
/// projection's value in `projections` has empty `students` arrays; the bundle
/// prints, fingerprints and exports exactly as [`build_bundle`]'s.
pub fn build_bundle_typed(
    set: &ProjectionSet,
    snapshot: Snapshot,
    telemetry: &Telemetry<'_>,
) -> SnapshotBundle {
    build(set, snapshot, telemetry, true)
}

fn build(
    set: &ProjectionSet,
    snapshot: Snapshot,
    telemetry: &Telemetry<'_>,
    typed: bool,
) -> SnapshotBundle {
    let (projections, projection_statuses, rows) = set.derive_all_with(&snapshot, telemetry, typed);
    let known = set.all_oracles();
    let unknown_oracles = snapshot
        .oracle_statuses
        .keys()
        .filter(|k| !known.contains(k))
        .cloned()
        .collect();
    let mut bundle = SnapshotBundle {
        format: BUNDLE_FORMAT.to_owned(),
        snapshot,
        projections,
        projection_statuses,
        unknown_oracles,
        parity: parity::ParityReport::default(),
        typed: rows.map(|support| {
            std::sync::Arc::new(crate::contract::Typed {
                support: Some(support),
                payloads_skipped: false,
                early: None,
            })
        }),
    };
    bundle.parity = parity::bundle_report(&bundle);
    bundle
}

/// From the two documents' text to a bundle: parse, resolve the token, check
/// identity, assemble, derive, fingerprint.
pub fn assemble_bundle(
    set: &ProjectionSet,
    scope_text: &str,
    oracles_text: &str,
    token: Option<&str>,
    telemetry: &Telemetry<'_>,
) -> Result<SnapshotBundle> {
    let start = std::time::Instant::now();
    let result = (|| {
        let mut scope_file = parse_scope(scope_text)?;
        let oracles = parse_oracles(oracles_text)?;
        if !scope_file.expected_given {
            scope_file.scope.expected_oracles = set.all_oracles();
        }
        let token = resolve_token(token, &scope_file, &oracles)?;
        check_identity(&scope_file.scope, &token, &oracles)?;
        assemble_owned(&scope_file.scope, &token, oracles.results)
    })();
    let container_type = match &result {
        Ok(s) => s.scope.container.type_name(),
        Err(_) => "unknown",
    };
    telemetry.emit(TelemetryEvent::AssemblyStop {
        duration_ms: elapsed_ms(start),
        outcome: if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        container_type,
        oracle_count: result.as_ref().map_or(0, |s| s.oracles.len()),
        status_count: result.as_ref().map_or(0, |s| s.oracle_statuses.len()),
        error_type: result.as_ref().err().map(error_type),
    });
    Ok(build_bundle(set, result?, telemetry))
}

fn error_type(e: &Error) -> &'static str {
    match e {
        Error::Json { .. } => "malformed_json",
        Error::Field { .. } => "invalid_field",
        Error::UnknownKeys { .. } => "unknown_keys",
        Error::UnsupportedVersion { .. } => "unsupported_version",
        Error::ForeignResults { .. } => "foreign_results",
        Error::DuplicateOracle { .. } => "duplicate_oracle",
        _ => "snapshot_assembly_failed",
    }
}
