//! Reading chains: full versions (verified on every read, optionally through a
//! [`ChainCache`]), lazy summaries, history pages, the overview, comparisons and the
//! activity log.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use fabric_core::chain::{
    Action, ActivityEntry, ChangesSummary, Comparison, SnapshotMetadata, VersionSummary, diff,
};

use super::codec;
use super::{
    ChainCache, ChainOverview, History, HistoryPage, SUMMARY_COLUMNS, SUMMARY_FROM, StoredVersion,
    VersionBody, check_key, not_found, stored_json, summary_from_row, version_columns,
};
use crate::error::{Error, Result};
use crate::store::Store;

impl Store {
    /// Version `version` of `key`, or its active version: decompressed, checked
    /// against its checksum ([`Error::Integrity`] on a mismatch) and parsed.
    pub fn chain_get(&self, key: &str, version: Option<i64>) -> Result<StoredVersion> {
        let summary = self.chain_summary(key, version)?;
        let body = self.read_body(&summary)?;
        Ok(StoredVersion {
            summary,
            body: Arc::new(body),
        })
    }

    /// As [`Store::chain_get`], answering from `cache` when it holds the version
    /// (bodies are immutable; the active/deprecated flags are always read now).
    pub fn chain_get_cached(
        &self,
        cache: &mut ChainCache,
        key: &str,
        version: Option<i64>,
    ) -> Result<StoredVersion> {
        let summary = self.chain_summary(key, version)?;
        let body = match cache.get(summary.id) {
            Some(body) => body,
            None => {
                let body = Arc::new(self.read_body(&summary)?);
                cache.put(summary.id, Arc::clone(&body));
                body
            }
        };
        Ok(StoredVersion { summary, body })
    }

    /// The summary of a version (or of the active one) without reading its payload.
    pub fn chain_summary(&self, key: &str, version: Option<i64>) -> Result<VersionSummary> {
        check_key(key)?;
        let err = |e| self.err(format!("reading chain {key:?}"), e);
        let found = match version {
            Some(v) => self
                .conn()
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE v.chain_key = ?1 AND v.version = ?2"
                ))
                .and_then(|mut stmt| stmt.query_row(params![key, v], summary_from_row).optional()),
            None => self
                .conn()
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE v.chain_key = ?1 AND v.is_active = 1"
                ))
                .and_then(|mut stmt| stmt.query_row(params![key], summary_from_row).optional()),
        }
        .map_err(err)?;
        match found {
            Some(summary) => Ok(summary),
            None => {
                let latest = super::latest_version(self.conn(), key).map_err(err)?;
                Err(not_found(key, version, latest))
            }
        }
    }

    /// One page of `key`'s versions, newest first, with the chain's total.
    ///
    /// Keyset pagination on `(chain_key, version)`; the total is the highest
    /// version (versions have no gaps), so no page scans the chain.
    pub fn chain_history(&self, key: &str, page: HistoryPage) -> Result<History> {
        check_key(key)?;
        if page.limit == 0 {
            return Err(Error::InvalidChainInput {
                key: key.to_owned(),
                reason: "page size 0".to_owned(),
            });
        }
        let err = |e| self.err(format!("reading the history of chain {key:?}"), e);
        let total = super::latest_version(self.conn(), key).map_err(err)?;
        if total == 0 {
            return Err(not_found(key, None, 0));
        }
        let active_version = super::active_version(self.conn(), key).map_err(err)?;
        let before = page.before.unwrap_or(i64::MAX);
        let versions = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} {SUMMARY_FROM} WHERE v.chain_key = ?1 AND v.version < ?2 \
                 ORDER BY v.version DESC LIMIT ?3"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(params![key, before, page.limit], summary_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(err)?;
        let next_before = versions
            .last()
            .filter(|last| last.version > 1 && versions.len() == page.limit as usize)
            .map(|last| last.version);
        Ok(History {
            key: key.to_owned(),
            total,
            active_version,
            versions,
            next_before,
        })
    }

    /// The kind of chain `key` (from its first version, read and verified), or
    /// [`Error::ChainNotFound`].
    pub fn chain_kind(&self, key: &str) -> Result<super::ChainKind> {
        let first = self.chain_get(key, Some(1)).map_err(|e| match e {
            Error::VersionNotFound { key, .. } => Error::ChainNotFound { key },
            other => other,
        })?;
        Ok(super::ChainKind::of(&first.body.payload))
    }

    /// Every chain in the store, by key, with its size before and after compression.
    pub fn chain_list(&self) -> Result<Vec<ChainOverview>> {
        self.conn()
            .prepare_cached(
                "SELECT chain_key, max(version), \
                 (SELECT a.version FROM chain_versions a WHERE a.chain_key = v.chain_key AND a.is_active = 1), \
                 max(created_at), sum(data_size), sum(stored_size) \
                 FROM chain_versions v GROUP BY chain_key ORDER BY chain_key",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(ChainOverview {
                        key: row.get(0)?,
                        versions: row.get(1)?,
                        active_version: row.get(2)?,
                        latest_created_at: row.get(3)?,
                        data_size: row.get(4)?,
                        stored_size: row.get(5)?,
                    })
                })?
                .collect()
            })
            .map_err(|e| self.err("listing snapshot chains", e))
    }

    /// Compare versions `from` and `to` of `key` (both verified on read).
    pub fn chain_compare(&self, key: &str, from: i64, to: i64) -> Result<Comparison> {
        let a = self.chain_get(key, Some(from))?;
        let b = self.chain_get(key, Some(to))?;
        Ok(Comparison::new(
            key,
            from,
            to,
            diff::diff(&a.body.payload, &b.body.payload),
        ))
    }

    /// The activity log, newest first: of `key`, or of every chain; at most `limit`
    /// entries when given.
    pub fn chain_log(&self, key: Option<&str>, limit: Option<u32>) -> Result<Vec<ActivityEntry>> {
        if let Some(key) = key {
            check_key(key)?;
            if super::latest_version(self.conn(), key)
                .map_err(|e| self.err(format!("reading chain {key:?}"), e))?
                == 0
            {
                return Err(not_found(key, None, 0));
            }
        }
        let limit = limit.map_or(-1, i64::from);
        let rows = self
            .conn()
            // Two statements, so that a key's log walks its (chain_key, id) index.
            .prepare_cached(if key.is_some() {
                "SELECT id, chain_key, action, actor, at, from_version, to_version, reason \
                 FROM chain_activity WHERE chain_key = ?1 ORDER BY id DESC LIMIT ?2"
            } else {
                "SELECT id, chain_key, action, actor, at, from_version, to_version, reason \
                 FROM chain_activity WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2"
            })
            .and_then(|mut stmt| {
                stmt.query_map(params![key, limit], |row| {
                    Ok((
                        row.get::<_, String>(2)?,
                        ActivityEntry {
                            id: row.get(0)?,
                            key: row.get(1)?,
                            action: Action::Create,
                            actor: row.get(3)?,
                            at: row.get(4)?,
                            from_version: row.get(5)?,
                            to_version: row.get(6)?,
                            reason: row.get(7)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.err("reading the snapshot activity log", e))?;
        rows.into_iter()
            .map(|(action, mut entry)| {
                entry.action = Action::parse(&action).ok_or_else(|| Error::BadRow {
                    path: self.path().to_path_buf(),
                    row: format!("chain_activity/{}", entry.id),
                    reason: format!("unknown action {action:?}"),
                })?;
                Ok(entry)
            })
            .collect()
    }

    /// Read, verify and parse the immutable part of the version `summary` names.
    pub(crate) fn read_body(&self, summary: &VersionSummary) -> Result<VersionBody> {
        let (key, version) = (summary.key.as_str(), summary.version);
        let (encoding, blob, metadata, changes): (String, Vec<u8>, String, Option<String>) =
            version_columns(
                self.conn(),
                "SELECT v.encoding, p.payload, v.metadata, p.changes_summary FROM chain_versions v \
                 JOIN chain_payloads p ON p.version_id = v.id WHERE v.id = ?1",
                summary.id,
            )
            .map_err(|e| self.err(format!("reading {key}@{version}"), e))?;
        let integrity = |reason| Error::Integrity {
            key: key.to_owned(),
            version,
            reason,
        };
        let bytes = codec::decode_verified(&encoding, &blob, &summary.checksum, summary.data_size)
            .map_err(integrity)?;
        let payload = codec::parse(&bytes).map_err(integrity)?;
        let row = format!("chain_versions/{key}@{version}");
        let bad_row = |reason: String| Error::BadRow {
            path: self.path().to_path_buf(),
            row: row.clone(),
            reason,
        };
        let metadata =
            SnapshotMetadata::from_json(&stored_json(self.path(), row.clone(), &metadata)?)
                .map_err(|e| bad_row(e.to_string()))?;
        let changes = changes
            .map(|text| {
                serde_json::from_str::<ChangesSummary>(&text)
                    .map_err(|e| bad_row(format!("changes summary ({e})")))
            })
            .transpose()?;
        Ok(VersionBody {
            metadata,
            changes,
            payload: Arc::new(payload),
        })
    }
}
