//! The writes of [`SqlServerMirror`]: inserts gathered into bulk loads (or sent as
//! parameterized `INSERT`s when a payload is too long for one), batched updates,
//! and the server clock of the audit columns.

use tiberius::{ColumnData, ToSql, TokenRow, Uuid};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::super::client::Param;
use super::super::tsql;
use super::SqlServerMirror;
use crate::error::{BoxError, Error, Result};
use crate::mirror::MirrorRecord;

/// Bulk rows gathered before they are sent anyway (see the module docs).
pub const PENDING_MAX_BYTES: usize = 32 << 20;

/// Rows waiting for one `INSERT BULK` (`R` is a tiberius row; the tests use `()`).
pub(super) struct Pending<R> {
    pub(super) rows: Vec<R>,
    pub(super) first: String,
    pub(super) last: String,
    bytes: usize,
}

impl<R> Default for Pending<R> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            first: String::new(),
            last: String::new(),
            bytes: 0,
        }
    }
}

impl<R> Pending<R> {
    /// Gather the bulk row of record `exchange_id` with a payload of `bytes`;
    /// true when the gathered rows reached [`PENDING_MAX_BYTES`] and must be sent
    /// now. Otherwise they go when the next read, update or commit needs them.
    pub(super) fn add(&mut self, exchange_id: &str, bytes: usize, row: R) -> bool {
        if self.rows.is_empty() {
            exchange_id.clone_into(&mut self.first);
        }
        exchange_id.clone_into(&mut self.last);
        self.bytes += bytes;
        self.rows.push(row);
        self.bytes >= PENDING_MAX_BYTES
    }
}

/// Route one run of inserts: rows whose payload may go by bulk load
/// ([`tsql::insert_path`]) are built by `row` and gathered into `pending`; each time
/// it reaches [`PENDING_MAX_BYTES`] it is taken out as a load to send now. Returns
/// the records for the parameterized `INSERT` and those full loads. What stays in
/// `pending` goes at the next read, update or commit.
pub(super) fn gather<'r, R>(
    pending: &mut Pending<R>,
    records: &[&'r MirrorRecord],
    mut row: impl FnMut(&MirrorRecord) -> Result<R>,
) -> Result<(Vec<&'r MirrorRecord>, Vec<Pending<R>>)> {
    let mut parameterized = Vec::new();
    let mut full = Vec::new();
    for r in records {
        match tsql::insert_path(&r.payload_json) {
            tsql::InsertPath::Bulk => {
                if pending.add(&r.exchange_id, r.payload_json.len(), row(r)?) {
                    full.push(std::mem::take(pending));
                }
            }
            tsql::InsertPath::Parameterized => parameterized.push(*r),
        }
    }
    Ok((parameterized, full))
}

impl SqlServerMirror {
    /// The server clock, read on first use and kept for the command.
    pub(super) fn server_now(&mut self, first: &str) -> Result<PrimitiveDateTime> {
        if let Some(now) = self.server_now {
            return Ok(now);
        }
        let rows = self
            .conn
            .query(tsql::SERVER_TIME, Vec::new())
            .map_err(self.err("reading the server clock"))?;
        let now = rows
            .first()
            .and_then(|r| r.try_get::<PrimitiveDateTime, _>(0).ok().flatten())
            .ok_or_else(|| {
                self.write_error(first, "the server clock is unreadable".into(), None)
            })?;
        self.server_now = Some(now);
        Ok(now)
    }

    /// Send the gathered bulk rows, if any, as one `INSERT BULK`.
    pub(super) fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.load(pending)
    }

    /// Send `pending` as one `INSERT BULK` (nothing when it is empty).
    pub(super) fn load(&mut self, pending: Pending<TokenRow<'static>>) -> Result<()> {
        let Pending {
            rows, first, last, ..
        } = pending;
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len();
        let table = self.table.quoted();
        let taken = self
            .conn
            .bulk_insert(&table, &tsql::INSERT_COLUMNS, rows)
            .map_err(|source| Error::Mirror {
                target: self.target.clone(),
                // The server does not say which row it refused.
                context: format!(
                    "bulk insert of {n} rows (records {first} .. {last}) refused; \
                     `fabric exchange check` lists records that break a column limit"
                ),
                source,
            })?;
        if taken != n as u64 {
            return Err(self.write_error(
                &first,
                format!("bulk insert of {n} rows (records {first} .. {last}) stored {taken}"),
                None,
            ));
        }
        Ok(())
    }

    /// Send planned `requests` in order. On a failure, whatever they opened is
    pub(super) fn write_error(
        &self,
        exchange_id: &str,
        reason: String,
        source: Option<BoxError>,
    ) -> Error {
        Error::MirrorWrite {
            target: self.target.clone(),
            exchange_id: exchange_id.to_owned(),
            reason,
            source,
        }
    }

    pub(super) fn insert_run(&mut self, records: &[&MirrorRecord]) -> Result<()> {
        let Some(first) = records.first() else {
            return Ok(());
        };
        let now = self.server_now(&first.exchange_id)?;
        let mut pending = std::mem::take(&mut self.pending);
        let gathered = gather(&mut pending, records, |r| self.bulk_row(r, now));
        self.pending = pending;
        let (parameterized, full) = gathered?;
        for load in full {
            self.load(load)?;
        }
        for chunk in parameterized.chunks(tsql::INSERTS_PER_REQUEST) {
            let sql = tsql::insert_rows(&self.table, chunk.len());
            let mut params = Vec::with_capacity(chunk.len() * tsql::PARAMS_PER_INSERT);
            for r in chunk {
                params.extend(self.record_values(r)?);
                params.push(datetime2(now));
            }
            let first = chunk.first().map_or("", |r| r.exchange_id.as_str());
            self.conn.execute(&sql, params).map_err(|source| {
                self.write_error(
                    first,
                    format!(
                        "insert of {} rows with payloads over {} characters (starting with this one) refused",
                        chunk.len(),
                        tsql::BULK_PAYLOAD_MAX
                    ),
                    Some(source),
                )
            })?;
        }
        Ok(())
    }

    pub(super) fn bulk_row(
        &self,
        r: &MirrorRecord,
        now: PrimitiveDateTime,
    ) -> Result<TokenRow<'static>> {
        let mut row = TokenRow::with_capacity(tsql::INSERT_COLUMNS.len());
        for value in self.record_values(r)? {
            row.push(value);
        }
        row.push(datetime2(now));
        row.push(datetime2(now));
        Ok(row)
    }

    /// The nine data columns of `r`, in table order.
    pub(super) fn record_values(&self, r: &MirrorRecord) -> Result<Vec<Param>> {
        let id = parse_uuid(&r.exchange_id).ok_or_else(|| {
            self.write_error(&r.exchange_id, "exchange_id is not a UUID".into(), None)
        })?;
        let schema_version = i32::try_from(r.schema_version).map_err(|_| {
            self.write_error(
                &r.exchange_id,
                format!("schema_version {} does not fit an INT", r.schema_version),
                None,
            )
        })?;
        let observed = to_utc_primitive(r.observed_at_utc).ok_or_else(|| {
            self.write_error(
                &r.exchange_id,
                "observed_at_utc is past year 9999 in UTC".into(),
                None,
            )
        })?;
        Ok(vec![
            ColumnData::Guid(Some(id)),
            ColumnData::String(Some(r.exchange_type.clone().into())),
            ColumnData::String(Some(r.source_system.clone().into())),
            ColumnData::String(Some(r.entity_type.clone().into())),
            ColumnData::String(
                r.natural_key
                    .clone()
                    .filter(|k| !k.is_empty())
                    .map(Into::into),
            ),
            datetime2(observed),
            ColumnData::String(Some(r.content_sha256.to_hex().into())),
            ColumnData::String(Some(r.payload_json.clone().into())),
            ColumnData::I32(Some(schema_version)),
        ])
    }

    pub(super) fn update_run(&mut self, updates: &[(&str, &MirrorRecord)]) -> Result<()> {
        // An update may address a row still waiting in the bulk buffer.
        self.flush()?;
        for chunk in updates.chunks(tsql::UPDATES_PER_REQUEST) {
            let sql = tsql::update_batch(&self.table, chunk.len());
            let mut params = Vec::with_capacity(chunk.len() * tsql::PARAMS_PER_UPDATE);
            for (old_id, record) in chunk {
                params.extend(self.record_values(record)?);
                let old = parse_uuid(old_id).ok_or_else(|| {
                    self.write_error(
                        old_id,
                        "the row to update has no UUID exchange_id".into(),
                        None,
                    )
                })?;
                params.push(ColumnData::Guid(Some(old)));
            }
            let first = chunk.first().map_or("", |(id, _)| *id);
            let counts = self.conn.execute(&sql, params).map_err(|source| {
                self.write_error(
                    first,
                    format!(
                        "update of {} rows (starting with this one) refused",
                        chunk.len()
                    ),
                    Some(source),
                )
            })?;
            for (i, (old_id, _)) in chunk.iter().enumerate() {
                match counts.get(i) {
                    Some(1) => {}
                    Some(0) => {
                        return Err(self.write_error(
                            old_id,
                            "no row has this exchange_id".into(),
                            None,
                        ));
                    }
                    other => {
                        return Err(self.write_error(
                            old_id,
                            format!("the update touched {other:?} rows instead of one"),
                            None,
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

pub(super) fn parse_uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

/// `t` in UTC, without its offset; `None` past the years `time` holds.
fn to_utc_primitive(t: OffsetDateTime) -> Option<PrimitiveDateTime> {
    let t = t.checked_to_offset(UtcOffset::UTC)?;
    Some(PrimitiveDateTime::new(t.date(), t.time()))
}

/// `t` as a `DATETIME2` parameter (tiberius' `time` mapping, owned).
pub(super) fn datetime2(t: PrimitiveDateTime) -> Param {
    match t.to_sql() {
        ColumnData::DateTime2(v) => ColumnData::DateTime2(v),
        // tiberius maps PrimitiveDateTime to DATETIME2 (tds73); nothing else occurs.
        _ => ColumnData::DateTime2(None),
    }
}
