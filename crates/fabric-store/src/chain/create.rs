//! Creating versions: validate and encode outside the lock, then one `BEGIN
//! IMMEDIATE` transaction that numbers, diffs, deactivates the parent, inserts and
//! logs.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::Value;

use fabric_core::chain::{ChangesSummary, VersionSummary, diff, first_non_finite, format_instant};

use super::codec::{self, ENCODING, Encoded};
use super::{ChainKind, NewVersion, check_key, check_text, version_columns};
use crate::error::At;
use crate::error::{Error, Result};
use crate::store::Store;

/// The active version a new one descends from.
struct Parent<'a> {
    id: i64,
    version: i64,
    checksum: String,
    /// The parent's document, when already at hand (the previous item of a batch).
    payload: Option<&'a Value>,
}

impl Store {
    /// Create the next version of `new.key` and make it the active one.
    ///
    /// In one transaction: check `expect_version`, number it highest + 1, diff it
    /// against the active version (its parent, verified on read), deactivate the
    /// parent, insert, log `create`. Invalid input writes nothing.
    pub fn chain_create(&mut self, new: &NewVersion<'_>) -> Result<VersionSummary> {
        let mut created = self.chain_create_many(std::slice::from_ref(new))?;
        created.pop().ok_or_else(|| Error::InvalidChainInput {
            key: new.key.to_owned(),
            reason: "nothing was created".to_owned(),
        })
    }

    /// Create several versions (of one or more chains), in order, in ONE
    /// transaction: all of them or none (`fabric snapshot import-reports`).
    pub fn chain_create_many(&mut self, items: &[NewVersion<'_>]) -> Result<Vec<VersionSummary>> {
        let mut encoded = Vec::with_capacity(items.len());
        for new in items {
            encoded.push(prepare(new)?);
        }
        let (conn, path) = self.split();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| path.err("starting a snapshot chain transaction", e))?;
        let mut created = Vec::with_capacity(items.len());
        // Each chain's kind, read once per batch (from its first version).
        let mut kinds: BTreeMap<&str, ChainKind> = BTreeMap::new();
        // The previous item, kept so a batch on one key does not re-read its parent.
        let mut previous: Option<(String, i64, i64, String, &Value)> = None;
        for (new, enc) in items.iter().zip(&encoded) {
            let kind = match kinds.get(new.key) {
                Some(kind) => *kind,
                None => match first_payload(&tx, path, new.key)? {
                    Some(first) => ChainKind::of(&first),
                    None => new.kind,
                },
            };
            kind.check(new.key, new.payload)?;
            kinds.insert(new.key, kind);
            let parent = match previous.take() {
                Some((key, id, version, checksum, payload)) if key == new.key => Some(Parent {
                    id,
                    version,
                    checksum,
                    payload: Some(payload),
                }),
                _ => active_parent(&tx, path, new.key)?,
            };
            let summary = insert(&tx, path, new, enc, parent)?;
            previous = Some((
                new.key.to_owned(),
                summary.id,
                summary.version,
                summary.checksum.clone(),
                new.payload,
            ));
            created.push(summary);
        }
        for summary in &created {
            read_back(&tx, path, summary)?;
        }
        tx.commit()
            .map_err(|e| path.err("committing new snapshot versions", e))?;
        Ok(created)
    }
}

/// Validate one item and encode its payload (no lock held).
fn prepare(new: &NewVersion<'_>) -> Result<Encoded> {
    check_key(new.key)?;
    check_text(new.key, "created_by", new.created_by)?;
    new.metadata
        .validate()
        .map_err(|source| Error::InvalidMetadata {
            key: new.key.to_owned(),
            source,
        })?;
    if let Some(path) = first_non_finite(new.payload) {
        return Err(Error::InvalidChainInput {
            key: new.key.to_owned(),
            reason: format!("payload number at {path:?} overflows a 64-bit float"),
        });
    }
    if let Some(expected) = new.expect_version.filter(|v| *v < 0) {
        return Err(Error::InvalidChainInput {
            key: new.key.to_owned(),
            reason: format!("expected version {expected} is negative"),
        });
    }
    codec::encode(new.payload).map_err(|e| Error::InvalidChainInput {
        key: new.key.to_owned(),
        reason: format!("payload cannot be compressed ({e})"),
    })
}

fn active_parent<'a>(tx: &Transaction<'_>, path: At<'_>, key: &str) -> Result<Option<Parent<'a>>> {
    version_ref(tx, path, key, "is_active = 1", "the active version")
}

/// The first version's document of `key`, read and verified (`None`: no versions).
fn first_payload(tx: &Transaction<'_>, path: At<'_>, key: &str) -> Result<Option<Value>> {
    version_ref(tx, path, key, "version = 1", "the first version")?
        .map(|first| parent_payload(tx, path, key, &first))
        .transpose()
}

/// The version of `key` that `condition` (a fixed SQL condition) picks, without
/// its payload; `what` names it in an error.
fn version_ref<'a>(
    tx: &Transaction<'_>,
    path: At<'_>,
    key: &str,
    condition: &str,
    what: &str,
) -> Result<Option<Parent<'a>>> {
    tx.prepare_cached(&format!(
        "SELECT id, version, checksum FROM chain_versions WHERE chain_key = ?1 AND {condition}"
    ))
    .and_then(|mut stmt| {
        stmt.query_row([key], |row| {
            Ok(Parent {
                id: row.get(0)?,
                version: row.get(1)?,
                checksum: row.get(2)?,
                payload: None,
            })
        })
        .optional()
    })
    .map_err(|e| path.err(format!("reading {what} of chain {key:?}"), e))
}

/// The parent's document, read and verified.
fn parent_payload(
    tx: &Transaction<'_>,
    path: At<'_>,
    key: &str,
    parent: &Parent<'_>,
) -> Result<Value> {
    let (encoding, blob, checksum, size): (String, Vec<u8>, String, u64) = version_columns(
        tx,
        "SELECT v.encoding, p.payload, v.checksum, v.data_size FROM chain_versions v \
         JOIN chain_payloads p ON p.version_id = v.id WHERE v.id = ?1",
        parent.id,
    )
    .map_err(|e| path.err(format!("reading {key}@{}", parent.version), e))?;
    let integrity = |reason| Error::Integrity {
        key: key.to_owned(),
        version: parent.version,
        reason,
    };
    let bytes = codec::decode_verified(&encoding, &blob, &checksum, size).map_err(integrity)?;
    codec::parse(&bytes).map_err(integrity)
}

/// Read a version just written back through the chain's own lookup (key and
/// version, then its payload) and re-hash it before the commit: the pages this
/// write touched are read and checked again, at the cost of this version only.
fn read_back(tx: &Transaction<'_>, path: At<'_>, summary: &VersionSummary) -> Result<()> {
    let key = &summary.key;
    let version = summary.version;
    let (encoding, blob, checksum, data_size): (String, Vec<u8>, String, i64) = tx
        .prepare_cached(
            "SELECT v.encoding, p.payload, v.checksum, v.data_size FROM chain_versions v \
             JOIN chain_payloads p ON p.version_id = v.id \
             WHERE v.chain_key = ?1 AND v.version = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![key, version], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
        })
        .map_err(|e| path.err(format!("reading back {key}@{version}"), e))?;
    let size = u64::try_from(data_size).unwrap_or(u64::MAX);
    codec::decode_verified(&encoding, &blob, &checksum, size)
        .and_then(|_| {
            (checksum == summary.checksum).then_some(()).ok_or_else(|| {
                format!(
                    "checksum {checksum} read back, {} written",
                    summary.checksum
                )
            })
        })
        .map_err(|detail| Error::Corrupt {
            path: path.path().to_path_buf(),
            detail: format!("{key}@{version} read back before commit: {detail}"),
        })
}

fn empty_changes(key: &str) -> Result<String> {
    serde_json::to_string(&ChangesSummary::from_diff(&diff::Diff::default())).map_err(|e| {
        Error::InvalidChainInput {
            key: key.to_owned(),
            reason: format!("changes summary cannot be written ({e})"),
        }
    })
}

fn insert(
    tx: &Transaction<'_>,
    path: At<'_>,
    new: &NewVersion<'_>,
    enc: &Encoded,
    parent: Option<Parent<'_>>,
) -> Result<VersionSummary> {
    let key = new.key;
    let sql_err = |what: &str, e| path.err(format!("{what} of chain {key:?}"), e);
    let latest: i64 =
        super::latest_version(tx, key).map_err(|e| sql_err("reading the versions", e))?;
    let active = parent.as_ref().map_or(0, |p| p.version);
    if let Some(expected) = new.expect_version
        && expected != active
    {
        return Err(Error::VersionConflict {
            key: key.to_owned(),
            expected,
            actual: active,
        });
    }
    let version = latest + 1;
    let changes = match &parent {
        None => None,
        // Same checksum, same content: an empty diff without reading the parent.
        Some(p) if p.checksum == enc.checksum => Some(empty_changes(key)?),
        Some(p) => {
            let read;
            let old = match p.payload {
                Some(v) => v,
                None => {
                    read = parent_payload(tx, path, key, p)?;
                    &read
                }
            };
            let summary = ChangesSummary::from_diff(&diff::diff(old, new.payload));
            Some(
                serde_json::to_string(&summary).map_err(|e| Error::InvalidChainInput {
                    key: key.to_owned(),
                    reason: format!("changes summary cannot be written ({e})"),
                })?,
            )
        }
    };
    if let Some(p) = &parent {
        tx.prepare_cached("UPDATE chain_versions SET is_active = 0 WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([p.id]))
            .map_err(|e| sql_err("deactivating the parent", e))?;
    }
    let created_at = format_instant(new.now);
    let metadata = new.metadata.to_json().to_string();
    tx.prepare_cached(
        "INSERT INTO chain_versions (chain_key, version, encoding, checksum, data_size, \
         stored_size, metadata, parent_id, created_by, created_at, is_active) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key,
            version,
            ENCODING,
            enc.checksum,
            enc.data_size,
            enc.bytes.len() as u64,
            metadata,
            parent.as_ref().map(|p| p.id),
            new.created_by,
            created_at,
        ])
    })
    .map_err(|e| sql_err("inserting a version", e))?;
    let id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO chain_payloads (version_id, payload, changes_summary) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut stmt| stmt.execute(params![id, enc.bytes, changes]))
    .map_err(|e| sql_err("storing the payload", e))?;
    tx.prepare_cached(
        "INSERT INTO chain_activity (chain_key, action, actor, at, from_version, to_version) \
         VALUES (?1, 'create', ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key,
            new.created_by,
            created_at,
            parent.as_ref().map(|p| p.version),
            version
        ])
    })
    .map_err(|e| sql_err("logging a create", e))?;
    Ok(VersionSummary {
        id,
        key: key.to_owned(),
        version,
        parent_version: parent.map(|p| p.version),
        is_active: true,
        created_at,
        created_by: new.created_by.to_owned(),
        checksum: enc.checksum.clone(),
        data_size: enc.data_size,
        stored_size: enc.bytes.len() as u64,
        deprecated_at: None,
        deprecated_reason: None,
    })
}
