//! The SQL Server mirror's own tests: request plans, bulk batching, tie order,
//! lock answers, a commit after a failed load.

use std::time::Duration;

use tiberius::TokenRow;

use super::read::Ties;
use super::write::{PENDING_MAX_BYTES, Pending, gather};
use super::*;
use crate::mirror::MirrorRecord;

fn row(id: &str, micros: i64) -> Result<MirrorRecord> {
    Ok(MirrorRecord {
        exchange_id: id.to_owned(),
        exchange_type: "http".into(),
        source_system: "s".into(),
        entity_type: "e".into(),
        natural_key: None,
        observed_at_utc: time::macros::datetime!(2024-01-15 10:00 UTC)
            + time::Duration::microseconds(micros),
        content_sha256: "0"
            .repeat(64)
            .parse()
            .map_err(|_| Error::Internal("hash".into()))?,
        payload_json: "{}".into(),
        schema_version: 1,
    })
}

/// Rows come from the server newest first, ties in `UNIQUEIDENTIFIER` order
/// (which compares the last six bytes first); they leave ordered by text
/// `exchange_id` within each time, as the SQLite backend gives them.
#[test]
fn ties_leave_in_text_order() -> Result<()> {
    let server_order = [
        row("ffffffff-0000-4000-8000-000000000001", 5)?,
        row("00000000-0000-4000-8000-000000000002", 5)?,
        row("bbbbbbbb-0000-4000-8000-000000000003", 5)?,
        row("cccccccc-0000-4000-8000-000000000001", 3)?,
        row("aaaaaaaa-0000-4000-8000-000000000002", 3)?,
        row("11111111-0000-4000-8000-000000000009", 1)?,
    ];
    let mut ties = Ties::default();
    let mut out = Vec::new();
    let mut sink = |r: MirrorRecord| -> Result<()> {
        out.push(r.exchange_id);
        Ok(())
    };
    for r in server_order {
        ties.push(r, &mut sink)?;
    }
    ties.finish(&mut sink)?;
    assert_eq!(ties.sent, 6);
    assert_eq!(
        out,
        [
            "00000000-0000-4000-8000-000000000002",
            "bbbbbbbb-0000-4000-8000-000000000003",
            "ffffffff-0000-4000-8000-000000000001",
            "aaaaaaaa-0000-4000-8000-000000000002",
            "cccccccc-0000-4000-8000-000000000001",
            "11111111-0000-4000-8000-000000000009",
        ]
    );
    Ok(())
}

fn lake() -> Result<TableName> {
    TableName::new("lake", "RawExchangeRecord")
}

/// The requests as text, one per paragraph (transaction-manager requests by
/// name: tiberius sends them as TDS requests, not as T-SQL).
fn render(requests: &[Request]) -> String {
    requests
        .iter()
        .map(|r| match r {
            Request::Begin => "-- BEGIN TRANSACTION (TDS request)".to_owned(),
            Request::Create { object, sql } => format!("-- create {object}\n{sql}"),
            Request::Commit => "-- COMMIT (TDS request)".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// `begin` on a table that was missing at connect: it asks which objects are
/// missing, creates them in a transaction of their own (guarded, as
/// `schema --apply` does), then opens the command's transaction. The exact
/// sequence is pinned.
#[test]
fn begin_creates_a_missing_table_first() -> Result<()> {
    let t = lake()?;
    let all: Vec<String> = tsql::schema_objects(&t)
        .into_iter()
        .map(|o| o.name)
        .collect();
    let plan = begin_requests(&t, &all);
    assert_eq!(plan.first(), Some(&Request::Begin));
    assert_eq!(plan.last(), Some(&Request::Begin));
    assert_eq!(plan.iter().filter(|r| **r == Request::Commit).count(), 1);
    insta::assert_snapshot!(
        "begin_on_a_missing_table",
        format!(
            "-- which objects are missing (asked only when the table was missing at connect)\n{}\n\n{}",
            tsql::missing_query(&t),
            render(&plan)
        )
    );
    // A table that exists: only the command's transaction.
    assert_eq!(begin_requests(&t, &[]), [Request::Begin]);
    // Only what is missing is created (an index dropped by hand, say).
    let last = all
        .last()
        .cloned()
        .ok_or(Error::Internal("no objects".into()))?;
    let some = begin_requests(&t, std::slice::from_ref(&last));
    assert!(matches!(
        some.as_slice(),
        [Request::Begin, Request::Create { object, .. }, Request::Commit, Request::Begin] if *object == last
    ));
    Ok(())
}

/// A mirror call, as the batching sees it.
enum Call {
    /// An insert run: the payload length (ASCII characters) of each record.
    Insert(Vec<usize>),
    /// An update run, a read of the scope, or the commit: gathered rows go first.
    Flush,
}

/// What a sequence of calls costs in round trips through the mirror's own
/// routing ([`gather`], [`Pending::add`]): the clock is read once per command,
/// and every bulk load is one metadata query plus one `INSERT BULK`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Trips {
    clock_reads: usize,
    bulk_loads: usize,
    metadata_queries: usize,
    parameterized_requests: usize,
}

impl Trips {
    /// The expected cost: one metadata query per bulk load, always.
    fn of(clock_reads: usize, bulk_loads: usize, parameterized_requests: usize) -> Self {
        Self {
            clock_reads,
            bulk_loads,
            metadata_queries: bulk_loads,
            parameterized_requests,
        }
    }
}

fn trips(calls: &[Call]) -> Result<Trips> {
    let mut t = Trips::default();
    let mut clock = None;
    let mut pending = Pending::<usize>::default();
    let load = |p: Pending<usize>, t: &mut Trips| {
        if !p.rows.is_empty() {
            t.metadata_queries += 1;
            t.bulk_loads += 1;
        }
    };
    let mut n = 0usize;
    for call in calls {
        match call {
            Call::Insert(sizes) => {
                let records = sizes
                    .iter()
                    .map(|&len| {
                        n += 1;
                        let mut r = row(&format!("00000000-0000-4000-8000-{n:012x}"), 0)?;
                        r.payload_json = "x".repeat(len);
                        Ok(r)
                    })
                    .collect::<Result<Vec<_>>>()?;
                if records.is_empty() {
                    continue;
                }
                if clock.is_none() {
                    clock = Some(());
                    t.clock_reads += 1;
                }
                let refs: Vec<&MirrorRecord> = records.iter().collect();
                let (parameterized, full) =
                    gather(&mut pending, &refs, |r| Ok(r.payload_json.len()))?;
                for p in full {
                    load(p, &mut t);
                }
                t.parameterized_requests += parameterized.len().div_ceil(tsql::INSERTS_PER_REQUEST);
            }
            Call::Flush => load(std::mem::take(&mut pending), &mut t),
        }
    }
    Ok(t)
}

/// Defect "three round trips per batch": many small batches before one commit
/// are one clock read and one bulk load (one metadata query), not three per
/// batch; a read between batches sends what was gathered; 32 MiB sends early;
/// long payloads never enter a bulk load.
#[test]
fn bulk_rows_are_gathered_per_boundary() -> Result<()> {
    let batch = || Call::Insert(vec![100; 512]);
    // 20 batches of 512 small rows, then commit.
    let mut calls: Vec<Call> = (0..20).map(|_| batch()).collect();
    calls.push(Call::Flush);
    assert_eq!(trips(&calls)?, Trips::of(1, 1, 0));
    // A read (or update) between batches: one load per boundary with rows.
    let calls = [
        batch(),
        Call::Flush,
        Call::Flush,
        batch(),
        batch(),
        Call::Flush,
    ];
    assert_eq!(trips(&calls)?, Trips::of(1, 2, 0));
    // 3,000-character rows: 32 MiB is 11,185 of them, so 12,000 rows make one
    // load at the threshold and one at the commit.
    let big = 3_000;
    assert!(PENDING_MAX_BYTES / big < 12_000);
    let mut calls: Vec<Call> = (0..24).map(|_| Call::Insert(vec![big; 500])).collect();
    calls.push(Call::Flush);
    assert_eq!(trips(&calls)?, Trips::of(1, 2, 0));
    // Payloads over 4,000 characters go by parameterized INSERT (200 a request).
    let calls = [
        Call::Insert(vec![tsql::BULK_PAYLOAD_MAX + 1; 201]),
        Call::Insert(vec![tsql::BULK_PAYLOAD_MAX; 3]),
        Call::Flush,
    ];
    assert_eq!(trips(&calls)?, Trips::of(1, 1, 2));
    // Nothing written: no clock read, no load.
    assert_eq!(
        trips(&[Call::Insert(Vec::new()), Call::Flush])?,
        Trips::default()
    );
    Ok(())
}

/// The first and last record of each load are the ones its error names.
#[test]
fn a_full_load_names_its_own_records() -> Result<()> {
    // Rows of the longest bulk payload: `fill` of them reach 32 MiB.
    let fill = PENDING_MAX_BYTES.div_ceil(tsql::BULK_PAYLOAD_MAX);
    let id = |i: usize| format!("00000000-0000-4000-8000-{i:012x}");
    let mut records = Vec::new();
    for i in 1..=fill + 1 {
        let mut r = row(&id(i), 0)?;
        r.payload_json = "x".repeat(tsql::BULK_PAYLOAD_MAX);
        records.push(r);
    }
    let refs: Vec<&MirrorRecord> = records.iter().collect();
    let mut pending = Pending::<()>::default();
    let (parameterized, full) = gather(&mut pending, &refs, |_| Ok(()))?;
    assert!(
        parameterized.is_empty(),
        "{} rows were not bulk",
        parameterized.len()
    );
    let loads: Vec<(String, String, usize)> = full
        .into_iter()
        .map(|p| (p.first, p.last, p.rows.len()))
        .collect();
    assert_eq!(loads, [(id(1), id(fill), fill)]);
    assert_eq!(
        (pending.first, pending.last, pending.rows.len()),
        (id(fill + 1), id(fill + 1), 1)
    );
    Ok(())
}

fn scope() -> Scope {
    Scope {
        source_system: "crm".into(),
        entity_type: "order".into(),
    }
}

/// Any lock mode but `Exclusive` (`NoLock` after the wait ran out, was
/// cancelled or lost a deadlock) is "scope busy", exit 3, naming the scope
/// and the wait; no answer is a failure of the statement; `Exclusive` goes on.
#[test]
fn a_lock_not_granted_is_scope_busy() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let target = "mssql://fabric@db:1433/Holocron ([lake].[RawExchangeRecord])";
    let wait = Duration::from_secs(29);
    assert!(lock_outcome(Some(tsql::LOCK_GRANTED), target, &scope(), wait).is_ok());
    for mode in ["NoLock", "Shared", "Update", ""] {
        let err = lock_outcome(Some(mode), target, &scope(), wait)
            .err()
            .ok_or("a lock not granted went on")?;
        assert!(matches!(err, Error::ScopeBusy { .. }), "{mode}: {err:?}");
        assert_eq!(err.class(), fabric_core::ErrorClass::Storage, "{mode}");
    }
    let busy = lock_outcome(Some("NoLock"), target, &scope(), wait)
        .err()
        .ok_or("granted")?;
    insta::assert_snapshot!("scope_busy_message", busy.to_string());
    let none = lock_outcome(None, target, &scope(), wait)
        .err()
        .ok_or("no answer went on")?;
    assert!(matches!(none, Error::Mirror { .. }), "{none:?}");
    assert!(
        none.to_string().contains("locking scope crm/order"),
        "{none}"
    );
    Ok(())
}

/// A bulk load that failed closed its connection: the commit that sends it
/// reports the load's own failure (never "rolling back" or "committing"),
/// and a rollback afterwards succeeds without a request (a closed connection
/// sends nothing).
#[test]
fn commit_after_a_failed_load_reports_the_load()
-> std::result::Result<(), Box<dyn std::error::Error>> {
    let conn = Connection::closed()?;
    let mut mirror = SqlServerMirror {
        conn,
        table: lake()?,
        target: "mssql://db:1433/x ([lake].[RawExchangeRecord])".into(),
        exists: true,
        server_now: None,
        pending: Pending::default(),
        lock_timeout: Duration::from_secs(1),
    };
    let _ = mirror
        .pending
        .add("00000000-0000-4000-8000-000000000001", 2, TokenRow::new());
    let _ = mirror
        .pending
        .add("00000000-0000-4000-8000-000000000002", 2, TokenRow::new());
    let tx: Box<dyn MirrorTransaction + '_> = Box::new(ServerTx::assume_open(&mut mirror, scope()));
    let err = tx.commit().err().ok_or("the commit succeeded")?;
    let text = err.to_string();
    assert!(
        text.contains("bulk insert of 2 rows (records 00000000-0000-4000-8000-000000000001 .. 00000000-0000-4000-8000-000000000002)"),
        "{text}"
    );
    let Error::Mirror { source, .. } = &err else {
        return Err(format!("not the load's error: {err:?}").into());
    };
    assert!(
        source
            .downcast_ref::<super::super::client::Closed>()
            .is_some(),
        "{source}"
    );
    assert!(mirror.tx_rollback().is_ok());
    Ok(())
}
