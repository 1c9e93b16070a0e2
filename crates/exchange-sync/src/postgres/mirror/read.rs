//! The reads of [`PostgresMirror`]: hashes and the export streamed, natural keys in
//! one round trip, counts.

use std::pin::pin;

use futures_util::StreamExt as _;
use time::OffsetDateTime;

use super::super::sql;
use super::PostgresMirror;
use crate::error::{Error, Result};
use crate::hash::{ContentHash, ContentHashSet};
use crate::mirror::server::{RecordSink, ServerRead};
use crate::mirror::{MirrorKeyRow, MirrorRecord, Scope};

impl ServerRead for PostgresMirror {
    fn readable(&mut self) -> Result<bool> {
        Ok(self.exists)
    }

    fn read_hashes(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        let q = sql::hashes_in_scope(&self.table);
        let (a, b) = (scope.source_system.as_str(), scope.entity_type.as_str());
        let r = self.conn.run(|c| async move {
            let mut out = ContentHashSet::default();
            let mut rows = pin!(c.query_raw(q.as_str(), [a, b]).await?);
            while let Some(row) = rows.next().await {
                let row = row?;
                let text: &str = row.try_get(0)?;
                match text.parse::<ContentHash>() {
                    Ok(h) => {
                        out.insert(h);
                    }
                    Err(_) => return Ok(Err(text.to_owned())),
                }
            }
            Ok(Ok(out))
        });
        let r = r.map_err(self.err(format!(
            "reading hashes in scope {}/{}",
            scope.source_system, scope.entity_type
        )))?;
        r.map_err(|bad| Error::MirrorRow {
            target: self.target.clone(),
            exchange_id: "?".into(),
            reason: format!("content_sha256 {bad:?} is not 64 hex digits"),
        })
    }

    fn read_keys(&mut self, scope: &Scope, keys: &[&str]) -> Result<Vec<(usize, MirrorKeyRow)>> {
        let mut found = Vec::new();
        let q = sql::find_by_natural_keys(&self.table);
        let (a, b) = (scope.source_system.as_str(), scope.entity_type.as_str());
        let rows = self
            .conn
            .run(|c| async move { Ok(c.query(q.as_str(), &[&a, &b, &keys]).await?) })
            .map_err(self.err(format!(
                "looking up natural keys in scope {}/{}",
                scope.source_system, scope.entity_type
            )))?;
        for row in rows {
            let ord: Option<i64> = row.try_get(0).ok();
            let id: Option<String> = row.try_get(1).ok();
            let hash: Option<ContentHash> =
                row.try_get::<_, &str>(2).ok().and_then(|h| h.parse().ok());
            let at: Option<OffsetDateTime> = row.try_get(3).ok();
            let (Some(ord), Some(exchange_id), Some(content_sha256), Some(at)) =
                (ord, id, hash, at)
            else {
                return Err(Error::MirrorRow {
                    target: self.target.clone(),
                    exchange_id: "?".into(),
                    reason: "a natural-key lookup returned an unreadable row".into(),
                });
            };
            if let Ok(i) = usize::try_from(ord - 1) {
                let row = MirrorKeyRow {
                    exchange_id,
                    content_sha256,
                    observed_at_utc: at,
                };
                found.push((i, row));
            }
        }
        Ok(found)
    }

    fn read_export(&mut self, scope: &Scope, sink: RecordSink<'_>) -> Result<u64> {
        let q = sql::export_scope(&self.table);
        let target = self.target.clone();
        let (a, b) = (scope.source_system.as_str(), scope.entity_type.as_str());
        let r = self.conn.run(|c| async move {
            let mut rows = pin!(c.query_raw(q.as_str(), [a, b]).await?);
            let mut n = 0u64;
            while let Some(row) = rows.next().await {
                let row = row?;
                let record = match record_from_row(&row) {
                    Ok(r) => r,
                    Err((exchange_id, reason)) => {
                        return Ok(Err(Error::MirrorRow {
                            target,
                            exchange_id,
                            reason,
                        }));
                    }
                };
                if let Err(e) = sink(record) {
                    return Ok(Err(e));
                }
                n += 1;
            }
            Ok(Ok(n))
        });
        r.map_err(self.err(format!(
            "exporting scope {}/{}",
            scope.source_system, scope.entity_type
        )))?
    }

    fn read_count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        let q = sql::count(&self.table, scope.is_some());
        let n = self
            .conn
            .run(|c| async move {
                let row = match scope {
                    Some(s) => {
                        c.query_one(q.as_str(), &[&s.source_system, &s.entity_type])
                            .await?
                    }
                    None => c.query_one(q.as_str(), &[]).await?,
                };
                Ok(row.try_get::<_, i64>(0)?)
            })
            .map_err(self.err("counting rows"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Rebuild a [`MirrorRecord`] from a row of [`sql::export_scope`]; on failure the
/// row's id (or `?`) and why.
fn record_from_row(
    row: &tokio_postgres::Row,
) -> std::result::Result<MirrorRecord, (String, String)> {
    let id: String = row
        .try_get(0)
        .map_err(|_| ("?".to_owned(), "exchange_id is unreadable".to_owned()))?;
    let fail = |what: &str| (id.clone(), format!("{what} is unreadable"));
    let text = |i: usize, what: &str| row.try_get::<_, String>(i).map_err(|_| fail(what));
    let hash: &str = row.try_get(6).map_err(|_| fail("content_sha256"))?;
    Ok(MirrorRecord {
        exchange_type: text(1, "exchange_type")?,
        source_system: text(2, "source_system")?,
        entity_type: text(3, "entity_type")?,
        natural_key: row
            .try_get::<_, Option<String>>(4)
            .map_err(|_| fail("natural_key"))?,
        observed_at_utc: row.try_get(5).map_err(|_| fail("observed_at_utc"))?,
        content_sha256: hash.parse().map_err(|_| fail("content_sha256"))?,
        payload_json: text(7, "payload_json")?,
        schema_version: i64::from(
            row.try_get::<_, i32>(8)
                .map_err(|_| fail("schema_version"))?,
        ),
        exchange_id: id,
    })
}
