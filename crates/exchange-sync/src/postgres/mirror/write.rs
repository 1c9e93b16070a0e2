//! The writes of [`PostgresMirror`]: each run of inserts is one binary `COPY`, each
//! run of updates one `UPDATE ... FROM unnest(...)`, and a refusal names its record.

use std::pin::pin;

use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::super::client::Failure;
use super::super::sql;
use super::{PostgresMirror, is_admin_shutdown};
use crate::error::{BoxError, Error, Result};
use crate::mirror::MirrorRecord;

impl PostgresMirror {
    fn write_failure(&self, f: Failure, records: &[&MirrorRecord], what: String) -> Error {
        match f {
            Failure::Db(e) if e.as_db_error().is_some() && !is_admin_shutdown(&e) => {
                let (record, reason) = match culprit(&e, records) {
                    Some(r) => (Some(r), format!("the server refused it ({what})")),
                    None => (
                        records.first().copied(),
                        format!("{what} refused; the server named no record, this is the first"),
                    ),
                };
                Error::MirrorWrite {
                    target: self.target.clone(),
                    exchange_id: record.map_or_else(String::new, |r| r.exchange_id.clone()),
                    reason,
                    source: Some(Box::new(e)),
                }
            }
            other => self.failure(other, what),
        }
    }

    pub(super) fn insert_run(&mut self, records: &[&MirrorRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            rows.push(CopyRow::of(r).map_err(|reason| Error::MirrorWrite {
                target: self.target.clone(),
                exchange_id: r.exchange_id.clone(),
                reason,
                source: None,
            })?);
        }
        let copy = sql::copy_in(&self.table);
        let n = records.len() as u64;
        let taken = self.conn.run(|c| async move {
            let sink = c.copy_in(copy.as_str()).await?;
            let types = [
                Type::UUID,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TIMESTAMPTZ,
                Type::TEXT,
                Type::BPCHAR,
                Type::TEXT,
                Type::INT4,
            ];
            let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
            for row in &rows {
                w.as_mut()
                    .write(&[
                        &row.id,
                        &row.exchange_type,
                        &row.source_system,
                        &row.entity_type,
                        &row.natural_key,
                        &row.observed_at,
                        &row.observed_at_text,
                        &row.hash,
                        &row.payload,
                        &row.schema_version,
                    ])
                    .await?;
            }
            Ok(w.finish().await?)
        });
        let taken =
            taken.map_err(|f| self.write_failure(f, records, format!("COPY of {n} new rows")))?;
        if taken != n {
            return Err(Error::MirrorWrite {
                target: self.target.clone(),
                exchange_id: records[0].exchange_id.clone(),
                reason: format!("COPY of {n} rows stored {taken}"),
                source: None,
            });
        }
        Ok(())
    }

    pub(super) fn update_run(&mut self, updates: &[(&str, &MirrorRecord)]) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let records: Vec<&MirrorRecord> = updates.iter().map(|(_, r)| *r).collect();
        let mut cols = UpdateColumns::default();
        for (old, r) in updates {
            let schema_version =
                i32::try_from(r.schema_version).map_err(|_| Error::MirrorWrite {
                    target: self.target.clone(),
                    exchange_id: r.exchange_id.clone(),
                    reason: format!(
                        "schema_version {} does not fit an integer",
                        r.schema_version
                    ),
                    source: None,
                })?;
            cols.old_id.push((*old).to_owned());
            cols.exchange_id.push(r.exchange_id.clone());
            cols.exchange_type.push(r.exchange_type.clone());
            cols.source_system.push(r.source_system.clone());
            cols.entity_type.push(r.entity_type.clone());
            cols.natural_key
                .push(r.natural_key.clone().filter(|k| !k.is_empty()));
            cols.observed_at.push(r.observed_at_utc);
            cols.observed_at_text.push(observed_at_text(r));
            cols.hash.push(r.content_sha256.to_hex());
            cols.payload.push(r.payload_json.clone());
            cols.schema_version.push(schema_version);
        }
        let statement = sql::update_batch(&self.table);
        let cols_ref = &cols;
        let touched = self.conn.run(|c| async move {
            let rows = c
                .query(
                    statement.as_str(),
                    &[
                        &cols_ref.old_id,
                        &cols_ref.exchange_id,
                        &cols_ref.exchange_type,
                        &cols_ref.source_system,
                        &cols_ref.entity_type,
                        &cols_ref.natural_key,
                        &cols_ref.observed_at,
                        &cols_ref.observed_at_text,
                        &cols_ref.hash,
                        &cols_ref.payload,
                        &cols_ref.schema_version,
                    ],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(row.try_get::<_, String>(0)?);
            }
            Ok(out)
        });
        let n = updates.len();
        let touched =
            touched.map_err(|f| self.write_failure(f, &records, format!("UPDATE of {n} rows")))?;
        if touched.len() != n {
            let set: std::collections::HashSet<&str> = touched.iter().map(String::as_str).collect();
            let missing = updates
                .iter()
                .find(|(old, _)| !set.contains(old))
                .map_or("", |(old, _)| *old);
            return Err(Error::MirrorWrite {
                target: self.target.clone(),
                exchange_id: missing.to_owned(),
                reason: format!(
                    "no row has this exchange_id (the UPDATE touched {} of {n} rows)",
                    touched.len()
                ),
                source: None,
            });
        }
        Ok(())
    }
}

/// The arrays of one batched UPDATE, one per column.
#[derive(Default)]
struct UpdateColumns {
    old_id: Vec<String>,
    exchange_id: Vec<String>,
    exchange_type: Vec<String>,
    source_system: Vec<String>,
    entity_type: Vec<String>,
    natural_key: Vec<Option<String>>,
    observed_at: Vec<OffsetDateTime>,
    observed_at_text: Vec<String>,
    hash: Vec<String>,
    payload: Vec<String>,
    schema_version: Vec<i32>,
}

/// One row of a binary COPY, borrowing the record's text.
struct CopyRow<'a> {
    id: Uuid,
    exchange_type: &'a str,
    source_system: &'a str,
    entity_type: &'a str,
    natural_key: Option<&'a str>,
    observed_at: OffsetDateTime,
    observed_at_text: String,
    hash: String,
    payload: &'a str,
    schema_version: i32,
}

impl<'a> CopyRow<'a> {
    fn of(r: &'a MirrorRecord) -> std::result::Result<Self, String> {
        Ok(Self {
            id: Uuid::parse(&r.exchange_id).ok_or("exchange_id is not a UUID")?,
            exchange_type: &r.exchange_type,
            source_system: &r.source_system,
            entity_type: &r.entity_type,
            natural_key: r.natural_key.as_deref().filter(|k| !k.is_empty()),
            observed_at: r.observed_at_utc,
            observed_at_text: observed_at_text(r),
            hash: r.content_sha256.to_hex(),
            payload: &r.payload_json,
            schema_version: i32::try_from(r.schema_version).map_err(|_| {
                format!(
                    "schema_version {} does not fit an integer",
                    r.schema_version
                )
            })?,
        })
    }
}

/// A UUID's 16 bytes, written as PostgreSQL's binary `uuid`.
#[derive(Debug)]
struct Uuid([u8; 16]);

impl Uuid {
    /// `8-4-4-4-12` hex, either case.
    fn parse(s: &str) -> Option<Self> {
        let groups: Vec<&str> = s.split('-').collect();
        if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
            return None;
        }
        let mut out = [0u8; 16];
        hex::decode_to_slice(groups.concat(), &mut out).ok()?;
        Some(Self(out))
    }
}

impl ToSql for Uuid {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

/// The record's own spelling of `observed_at_utc`, read from its payload (the
/// envelope's top-level field); the fixed microsecond text if it cannot be found.
///
/// Fast path: the last `"observed_at_utc":` in the line (the writer puts the field
/// after `request` and `response`, where a nested key of that name could sit), taken
/// only if its text parses to the record's own instant; else the whole line is
/// parsed.
fn observed_at_text(r: &MirrorRecord) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        observed_at_utc: Option<std::borrow::Cow<'a, str>>,
    }
    let fast = r
        .payload_json
        .rfind("\"observed_at_utc\":")
        .and_then(|i| r.payload_json.get(i + "\"observed_at_utc\":".len()..))
        .and_then(|rest| rest.trim_start().strip_prefix('"'))
        .and_then(|rest| rest.split_once('"'))
        .map(|(text, _)| text)
        .filter(|text| {
            !text.contains('\\')
                && crate::timestamp::parse(text).map(crate::timestamp::truncate_micros)
                    == Some(r.observed_at_utc)
        });
    if let Some(text) = fast {
        return text.to_owned();
    }
    serde_json::from_str::<Envelope<'_>>(&r.payload_json)
        .ok()
        .and_then(|e| e.observed_at_utc)
        .map_or_else(|| r.observed_at_text(), std::borrow::Cow::into_owned)
}

/// The record of the server's complaint: the one whose hash, id or natural key the
/// error's `DETAIL` quotes (`Key (column)=(value) already exists.`).
fn culprit<'r>(
    e: &tokio_postgres::Error,
    records: &[&'r MirrorRecord],
) -> Option<&'r MirrorRecord> {
    let detail = e.as_db_error()?.detail()?;
    let rest = detail.strip_prefix("Key (")?;
    let (columns, rest) = rest.split_once(")=(")?;
    let value = rest.rsplit_once(')')?.0;
    records.iter().copied().find(|r| match columns {
        "content_sha256" => r.content_sha256.to_hex() == value,
        "exchange_id" => r.exchange_id.eq_ignore_ascii_case(value),
        "source_system, entity_type, natural_key" => r
            .natural_key
            .as_deref()
            .is_some_and(|k| value == format!("{}, {}, {k}", r.source_system, r.entity_type)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::ContentHash;

    fn rec(payload: &str) -> MirrorRecord {
        MirrorRecord {
            exchange_id: "00000000-0000-4000-8000-000000000001".into(),
            exchange_type: "http".into(),
            source_system: "s".into(),
            entity_type: "e".into(),
            natural_key: None,
            observed_at_utc: time::macros::datetime!(2024-01-15 10:00:00.123456 UTC),
            content_sha256: ContentHash([1; 32]),
            payload_json: payload.into(),
            schema_version: 1,
        }
    }

    #[test]
    fn the_original_time_text_is_found_and_checked() {
        let top = "2024-01-15T10:00:00.1234567Z";
        // A nested key of the same name before the envelope's own field.
        let r = rec(&format!(
            "{{\"response\": {{\"observed_at_utc\": \"1999-01-01\"}}, \"observed_at_utc\": \"{top}\"}}"
        ));
        assert_eq!(observed_at_text(&r), top);
        // A nested key after it, naming another time: the full parse decides.
        let r = rec(&format!(
            "{{\"observed_at_utc\": \"{top}\", \"tags\": {{\"observed_at_utc\": \"1999-01-01\"}}}}"
        ));
        assert_eq!(observed_at_text(&r), top);
        // No such field: the fixed text of the instant.
        assert_eq!(observed_at_text(&rec("{}")), "2024-01-15T10:00:00.123456Z");
    }

    #[test]
    fn uuids_parse_in_either_case_and_nothing_else() {
        assert!(Uuid::parse("00000000-0000-4000-8000-00000000ABCD").is_some());
        for bad in [
            "",
            "0000000-00000-4000-8000-000000000000",
            "zzzzzzzz-0000-4000-8000-000000000000",
        ] {
            assert!(Uuid::parse(bad).is_none(), "{bad}");
        }
    }
}
