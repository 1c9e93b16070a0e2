//! The reads of [`SqlServerMirror`]: hashes, natural keys, the newest-first export
//! in keyset pages, counts. Each first sends the rows still gathered for a bulk
//! load, so a read inside the transaction sees every write before it.

use tiberius::{ColumnData, Row, Uuid};
use time::PrimitiveDateTime;

use super::super::tsql;
use super::SqlServerMirror;
use super::write::datetime2;
use crate::error::{BoxError, Error, Result};
use crate::hash::{ContentHash, ContentHashSet};
use crate::mirror::server::{RecordSink, ServerRead};
use crate::mirror::{MirrorKeyRow, MirrorRecord, Scope};

impl ServerRead for SqlServerMirror {
    fn readable(&mut self) -> Result<bool> {
        self.flush()?;
        Ok(self.exists)
    }

    fn read_hashes(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        let mut out = ContentHashSet::default();
        let sql = tsql::hashes_in_scope(&self.table);
        let target = self.target.clone();
        self.conn
            .query_each(&sql, Self::scope_params(scope), &mut |row: Row| {
                let text: &str = row.try_get(0)?.unwrap_or("");
                let hash: ContentHash = text.trim().parse()?;
                out.insert(hash);
                Ok(())
            })
            .map_err(|source| Error::Mirror {
                target,
                context: format!(
                    "reading hashes in scope {}/{}",
                    scope.source_system, scope.entity_type
                ),
                source,
            })?;
        Ok(out)
    }

    fn read_keys(&mut self, scope: &Scope, keys: &[&str]) -> Result<Vec<(usize, MirrorKeyRow)>> {
        let mut found = Vec::new();
        for (chunk_no, chunk) in keys.chunks(tsql::KEYS_PER_LOOKUP).enumerate() {
            let sql = tsql::find_by_natural_keys(&self.table, chunk.len());
            let mut params = Self::scope_params(scope);
            params.extend(
                chunk
                    .iter()
                    .map(|k| ColumnData::String(Some((*k).to_owned().into()))),
            );
            let rows = self.conn.query(&sql, params).map_err(self.err(format!(
                "looking up natural keys in scope {}/{}",
                scope.source_system, scope.entity_type
            )))?;
            for row in rows {
                let ord = row.try_get::<i32, _>(0).ok().flatten();
                let id = row.try_get::<Uuid, _>(1).ok().flatten();
                let (Some(ord), Some(id)) = (ord, id) else {
                    return Err(
                        self.row_error("?", "natural-key lookup returned a row without ord or id")
                    );
                };
                let exchange_id = id.to_string();
                let key_row = self.key_row(&row, exchange_id)?;
                if let Ok(ord) = usize::try_from(ord) {
                    found.push((chunk_no * tsql::KEYS_PER_LOOKUP + ord, key_row));
                }
            }
        }
        Ok(found)
    }

    fn read_export(&mut self, scope: &Scope, sink: RecordSink<'_>) -> Result<u64> {
        let target = self.target.clone();
        let page = tsql::EXPORT_PAGE;
        // Rows of one observed_at_utc, ordered by text exchange_id before they go.
        let mut ties = Ties::default();
        let mut after: Option<(PrimitiveDateTime, Uuid)> = None;
        loop {
            let sql = tsql::export_page(&self.table, after.is_some());
            let mut params = Self::scope_params(scope);
            params.push(ColumnData::I32(i32::try_from(page).ok()));
            if let Some((at, id)) = after {
                params.push(datetime2(at));
                params.push(ColumnData::Guid(Some(id)));
            }
            let mut got = 0usize;
            let mut last = None;
            let res = self.conn.query_each(&sql, params, &mut |row: Row| {
                let id = row.try_get::<Uuid, _>(0).ok().flatten();
                let at = row.try_get::<PrimitiveDateTime, _>(5).ok().flatten();
                let record = record_from_row(&row).map_err(|reason| -> BoxError {
                    Box::new(Error::MirrorRow {
                        target: target.clone(),
                        exchange_id: id.map_or_else(|| "?".to_owned(), |u| u.to_string()),
                        reason,
                    })
                })?;
                got += 1;
                last = at.zip(id);
                ties.push(record, sink)
                    .map_err(|e| -> BoxError { Box::new(e) })
            });
            res.map_err(|source| match source.downcast::<Error>() {
                Ok(e) => *e,
                Err(source) => Error::Mirror {
                    target: self.target.clone(),
                    context: format!(
                        "exporting scope {}/{}",
                        scope.source_system, scope.entity_type
                    ),
                    source,
                },
            })?;
            if got < page || last.is_none() {
                break;
            }
            after = last;
        }
        ties.finish(sink)?;
        Ok(ties.sent)
    }

    fn read_count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        let sql = tsql::count(&self.table, scope.is_some());
        let params = scope.map(Self::scope_params).unwrap_or_default();
        let rows = self
            .conn
            .query(&sql, params)
            .map_err(self.err("counting rows"))?;
        // Never a quiet 0: a count that cannot be read is an error.
        let n = rows
            .first()
            .and_then(|r| r.try_get::<i64, _>(0).ok().flatten())
            .and_then(|n| u64::try_from(n).ok());
        n.ok_or_else(|| self.err("counting rows")("COUNT_BIG(*) gave no count".into()))
    }
}

impl SqlServerMirror {
    fn key_row(&self, row: &Row, exchange_id: String) -> Result<MirrorKeyRow> {
        let hash = row
            .try_get::<&str, _>(2)
            .ok()
            .flatten()
            .and_then(|h| h.trim().parse::<ContentHash>().ok());
        let at = row.try_get::<PrimitiveDateTime, _>(3).ok().flatten();
        match (hash, at) {
            (Some(content_sha256), Some(at)) => Ok(MirrorKeyRow {
                exchange_id,
                content_sha256,
                observed_at_utc: at.assume_utc(),
            }),
            _ => Err(self.row_error(
                &exchange_id,
                "content_sha256 or observed_at_utc is unreadable",
            )),
        }
    }

    pub(super) fn row_error(&self, exchange_id: &str, reason: impl Into<String>) -> Error {
        Error::MirrorRow {
            target: self.target.clone(),
            exchange_id: exchange_id.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The rows of one `observed_at_utc`, held until the time changes and then sent
/// in text order of `exchange_id`.
#[derive(Default)]
pub(super) struct Ties {
    group: Vec<MirrorRecord>,
    pub(super) sent: u64,
}

impl Ties {
    pub(super) fn push(
        &mut self,
        r: MirrorRecord,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<()> {
        if self
            .group
            .first()
            .is_some_and(|g| g.observed_at_utc != r.observed_at_utc)
        {
            self.finish(sink)?;
        }
        self.group.push(r);
        Ok(())
    }

    pub(super) fn finish(
        &mut self,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<()> {
        self.group
            .sort_unstable_by(|a, b| a.exchange_id.cmp(&b.exchange_id));
        for r in self.group.drain(..) {
            sink(r)?;
            self.sent += 1;
        }
        Ok(())
    }
}

/// Rebuild a [`MirrorRecord`] from a row of [`tsql::export_page`].
fn record_from_row(row: &Row) -> std::result::Result<MirrorRecord, String> {
    let text = |i: usize, name: &str| -> std::result::Result<Option<String>, String> {
        row.try_get::<&str, _>(i)
            .map(|v| v.map(str::to_owned))
            .map_err(|_| format!("{name} is not text"))
    };
    let required = |i: usize, name: &str| -> std::result::Result<String, String> {
        text(i, name)?.ok_or_else(|| format!("{name} is NULL"))
    };
    let id = row
        .try_get::<Uuid, _>(0)
        .ok()
        .flatten()
        .ok_or("exchange_id is not a UUID")?;
    let at = row
        .try_get::<PrimitiveDateTime, _>(5)
        .ok()
        .flatten()
        .ok_or("observed_at_utc is not a DATETIME2")?;
    let hash = required(6, "content_sha256")?;
    Ok(MirrorRecord {
        exchange_id: id.to_string(),
        exchange_type: required(1, "exchange_type")?,
        source_system: required(2, "source_system")?,
        entity_type: required(3, "entity_type")?,
        natural_key: text(4, "natural_key")?,
        observed_at_utc: at.assume_utc(),
        content_sha256: hash
            .trim()
            .parse()
            .map_err(|_| "content_sha256 is not 64 hex".to_owned())?,
        payload_json: required(7, "payload_json")?,
        schema_version: i64::from(
            row.try_get::<i32, _>(8)
                .ok()
                .flatten()
                .ok_or("schema_version is not an INT")?,
        ),
    })
}
