//! `verify`: re-check every stored checksum and the chains' structure.

use serde::Serialize;

use super::{check_key, codec, not_found};
use crate::error::{Error, Result};
use crate::store::Store;

/// One damaged version or chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyFailure {
    /// The chain key.
    pub key: String,
    /// The damaged version; `None` for a chain-level problem (no active version,
    /// a gap in the numbering).
    pub version: Option<i64>,
    /// What is wrong.
    pub reason: String,
}

/// What `verify` checked and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Chains checked.
    pub chains: u64,
    /// Versions whose payload was decompressed and re-hashed.
    pub versions: u64,
    /// Everything that did not match, by key and version.
    pub failures: Vec<VerifyFailure>,
}

impl VerifyReport {
    /// `Ok` when nothing failed, else [`Error::VerifyFailed`] naming the first.
    pub fn into_result(self) -> Result<Self> {
        match self.failures.first() {
            None => Ok(self),
            Some(first) => Err(Error::VerifyFailed {
                failures: self.failures.len(),
                first: match first.version {
                    Some(v) => format!("{}@{v}", first.key),
                    None => first.key.clone(),
                },
            }),
        }
    }
}

impl Store {
    /// Re-check every stored version (of `key`, or of every chain): decompress,
    /// re-hash, compare with the stored checksum and size; and check each chain has
    /// exactly one active version and versions 1..=N without gaps. Damage is
    /// reported, not raised; `progress(done, total)` is called as versions are read.
    pub fn chain_verify(
        &self,
        key: Option<&str>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<VerifyReport> {
        if let Some(key) = key {
            check_key(key)?;
        }
        let err = |e| self.err("verifying snapshot chains", e);
        let chains: Vec<(String, i64, i64, i64)> = self
            .conn()
            .prepare(
                "SELECT chain_key, count(*), max(version), sum(is_active) FROM chain_versions \
                 WHERE ?1 IS NULL OR chain_key = ?1 GROUP BY chain_key ORDER BY chain_key",
            )
            .and_then(|mut stmt| {
                stmt.query_map([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .map_err(err)?;
        if let (Some(key), true) = (key, chains.is_empty()) {
            return Err(not_found(key, None, 0));
        }
        let mut failures = Vec::new();
        for (k, count, max, active) in &chains {
            if count != max {
                failures.push(VerifyFailure {
                    key: k.clone(),
                    version: None,
                    reason: format!("{count} versions numbered up to {max}"),
                });
            }
            if *active != 1 {
                failures.push(VerifyFailure {
                    key: k.clone(),
                    version: None,
                    reason: format!("{active} active versions (exactly one expected)"),
                });
            }
        }
        let total: u64 = chains.iter().map(|c| c.1.max(0) as u64).sum();
        let mut stmt = self
            .conn()
            .prepare(
                "SELECT v.chain_key, v.version, v.encoding, p.payload, v.checksum, v.data_size \
                 FROM chain_versions v LEFT JOIN chain_payloads p ON p.version_id = v.id \
                 WHERE ?1 IS NULL OR v.chain_key = ?1 ORDER BY v.chain_key, v.version",
            )
            .map_err(err)?;
        let mut rows = stmt.query([key]).map_err(err)?;
        let mut versions = 0;
        while let Some(row) = rows.next().map_err(err)? {
            let (k, v): (String, i64) = (row.get(0).map_err(err)?, row.get(1).map_err(err)?);
            let encoding: String = row.get(2).map_err(err)?;
            let blob = row
                .get_ref(3)
                .and_then(|b| Ok(b.as_blob_or_null()?))
                .map_err(err)?;
            let checksum: String = row.get(4).map_err(err)?;
            let size: u64 = row.get(5).map_err(err)?;
            let checked = match blob {
                Some(blob) => codec::decode_verified(&encoding, blob, &checksum, size).map(drop),
                None => Err("the payload is missing".to_owned()),
            };
            if let Err(reason) = checked {
                failures.push(VerifyFailure {
                    key: k,
                    version: Some(v),
                    reason,
                });
            }
            versions += 1;
            progress(versions, total);
        }
        Ok(VerifyReport {
            chains: chains.len() as u64,
            versions,
            failures,
        })
    }
}
