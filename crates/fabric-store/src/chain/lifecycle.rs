//! Moving the active pointer (rollback) and deprecating versions; each one
//! transaction with its activity log entry.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use time::OffsetDateTime;

use fabric_core::chain::{VersionSummary, format_instant};

use super::{
    RollbackOutcome, SUMMARY_COLUMNS, SUMMARY_FROM, check_key, check_text, codec, not_found,
    summary_from_row,
};
use crate::error::At;
use crate::error::{Error, Result};
use crate::store::Store;

impl Store {
    /// Make `version` the active version of `key`, logged as a `rollback` by
    /// `actor`. The target is verified first (a damaged version is never made
    /// active); a deprecated one is refused. Rolling back to the version that is
    /// already active is a no-op: nothing is written or logged, `changed` is false.
    pub fn chain_rollback(
        &mut self,
        key: &str,
        version: i64,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<RollbackOutcome> {
        check_key(key)?;
        check_text(key, "actor", actor)?;
        let (conn, path) = self.split();
        let tx = begin(conn, path)?;
        let target = version_in(&tx, path, key, version)?;
        let active = super::active_version(&tx, key)
            .map_err(|e| path.err(format!("reading chain {key:?}"), e))?
            .unwrap_or(0);
        if target.version == active {
            return Ok(RollbackOutcome {
                key: key.to_owned(),
                from_version: active,
                to_version: active,
                changed: false,
            });
        }
        if target.deprecated_at.is_some() {
            return Err(Error::VersionDeprecated {
                key: key.to_owned(),
                version,
            });
        }
        verify_in(&tx, path, &target)?;
        let err = |e| {
            path.err(
                format!("rolling back chain {key:?} to version {version}"),
                e,
            )
        };
        tx.execute(
            "UPDATE chain_versions SET is_active = 0 WHERE chain_key = ?1 AND is_active = 1",
            [key],
        )
        .map_err(err)?;
        tx.execute(
            "UPDATE chain_versions SET is_active = 1 WHERE id = ?1",
            [target.id],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO chain_activity (chain_key, action, actor, at, from_version, to_version) \
             VALUES (?1, 'rollback', ?2, ?3, ?4, ?5)",
            params![key, actor, format_instant(now), active, version],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(RollbackOutcome {
            key: key.to_owned(),
            from_version: active,
            to_version: version,
            changed: true,
        })
    }

    /// Deprecate `version` of `key` with `reason` (permanent; logged as
    /// `deprecate` by `actor`). The version stays readable; it can no longer be
    /// rolled back to.
    pub fn chain_deprecate(
        &mut self,
        key: &str,
        version: i64,
        reason: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<VersionSummary> {
        check_key(key)?;
        check_text(key, "reason", reason)?;
        check_text(key, "actor", actor)?;
        let (conn, path) = self.split();
        let tx = begin(conn, path)?;
        let mut target = version_in(&tx, path, key, version)?;
        if target.deprecated_at.is_some() {
            return Err(Error::AlreadyDeprecated {
                key: key.to_owned(),
                version,
            });
        }
        if target.is_active {
            return Err(Error::DeprecateActive {
                key: key.to_owned(),
                version,
            });
        }
        let at = format_instant(now);
        let err = |e| path.err(format!("deprecating {key}@{version}"), e);
        tx.execute(
            "UPDATE chain_versions SET deprecated_at = ?1, deprecated_reason = ?2 WHERE id = ?3",
            params![at, reason, target.id],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT INTO chain_activity (chain_key, action, actor, at, to_version, reason) \
             VALUES (?1, 'deprecate', ?2, ?3, ?4, ?5)",
            params![key, actor, at, version, reason],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        target.deprecated_at = Some(at);
        target.deprecated_reason = Some(reason.to_owned());
        Ok(target)
    }
}

fn begin<'s>(conn: &'s mut rusqlite::Connection, path: At<'_>) -> Result<Transaction<'s>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| path.err("starting a snapshot chain transaction", e))
}

fn version_in(
    tx: &Transaction<'_>,
    path: At<'_>,
    key: &str,
    version: i64,
) -> Result<VersionSummary> {
    let err = |e| path.err(format!("reading chain {key:?}"), e);
    let found = tx
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE v.chain_key = ?1 AND v.version = ?2"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(params![key, version], summary_from_row)
                .optional()
        })
        .map_err(err)?;
    match found {
        Some(summary) => Ok(summary),
        None => {
            let latest = super::latest_version(tx, key).map_err(err)?;
            Err(not_found(key, Some(version), latest))
        }
    }
}

fn verify_in(tx: &Transaction<'_>, path: At<'_>, target: &VersionSummary) -> Result<()> {
    let (encoding, blob): (String, Vec<u8>) = tx
        .query_row(
            "SELECT v.encoding, p.payload FROM chain_versions v \
             JOIN chain_payloads p ON p.version_id = v.id WHERE v.id = ?1",
            [target.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| path.err(format!("reading {}@{}", target.key, target.version), e))?;
    codec::decode_verified(&encoding, &blob, &target.checksum, target.data_size)
        .map(drop)
        .map_err(|reason| Error::Integrity {
            key: target.key.clone(),
            version: target.version,
            reason,
        })
}
