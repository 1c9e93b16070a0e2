//! The one worker pipeline of the line-at-a-time commands (import, add, verify):
//! a thread reads items, workers turn batches of them into results, and the
//! caller's thread gets the results back in input order.
//!
//! The caller's thread is the one that writes (SQL for import, the pack for
//! add, the in-order checks for verify), so it never waits on reading or
//! parsing unless the workers fall behind. The first error in input order
//! stops everything: the reader, the workers and the caller's loop.
//!
//! The workers run five nice steps below the other threads. On two cores the
//! caller's thread shares the machine with two workers and the reader; import's
//! SQL writer, its bottleneck, then waited for a core about a tenth of the
//! time. Lowered, the workers take what the writer leaves: a 1M-record import
//! took 10.32 s against 10.58 s (medians of three alternated runs from the
//! same page-cache state); `add`, whose threads all wait on the workers, was
//! unchanged (10.26 s both).

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Items per batch handed to a worker.
pub const BATCH: usize = 512;

/// At most this many items are made room for up front ([`expected_items`]):
/// what a wrong guess can cost is bounded (about 220 MB of sets), and a table
/// sized for it is the one a million items reach anyway.
pub const MAX_EXPECTED: u64 = 1_800_000;

/// The items an input of `total_bytes` holds, guessed from a first batch of
/// `items` items in `bytes` bytes, with a quarter more (a pack line is a little
/// longer than its input line, and later items may be shorter), at most
/// [`MAX_EXPECTED`]. The sets that grow with the items are sized with it once:
/// a million-entry set grown by doubling stops its thread for tens of
/// milliseconds at each step, and the pipeline behind it.
pub fn expected_items(total_bytes: u64, bytes: u64, items: u64) -> usize {
    let per_item = (bytes / items.max(1)).max(1);
    let guess = total_bytes / per_item;
    let guess = guess.saturating_add(guess / 4);
    usize::try_from(guess.min(MAX_EXPECTED)).unwrap_or(0)
}

/// Hands values the caller is done with to the worker threads, which drop
/// them. A record's strings were allocated on a worker; freeing them on the
/// caller's thread (the SQL writer, the import's bottleneck) took it past its
/// malloc cache and into the allocating thread's arena lock: about a second of
/// the writer per million records in perf.
pub struct Discard(crossbeam_channel::Sender<Box<dyn Send>>);

impl Discard {
    /// Drop `value` on a worker (or here, when the workers have stopped).
    pub fn drop_later<T: Send + 'static>(&self, value: T) {
        let _ = self.0.send(Box::new(value));
    }
}

/// How much lower the workers run than the threads they feed (nice steps).
const WORKER_NICE: i32 = 5;

/// Lower this thread's priority by [`WORKER_NICE`] (Linux: the nice value is a
/// thread's own). Where that cannot be done, nothing changes.
fn lower_priority() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let tid = rustix::thread::gettid();
        if let Ok(nice) = rustix::process::getpriority_process(Some(tid)) {
            let _ = rustix::process::setpriority_process(Some(tid), nice + WORKER_NICE);
        }
    }
}

/// The workers to use: one per core, at most four.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
}

/// Run `read` on a thread of its own: it calls its argument once per item, in
/// input order, and stops at the first `Err` that returns (the pipeline stopped).
/// Items go in batches of [`BATCH`] to the workers, which run `work` on each
/// batch; `each` gets the batches' results on the caller's thread in input
/// order, with a [`Discard`] for values it wants dropped elsewhere. The first
/// error in input order (from `read`, `work` or `each`) is returned.
pub fn map_in_order<L, B, R, W>(
    read: R,
    work: W,
    each: &mut dyn FnMut(B, &Discard) -> Result<()>,
) -> Result<()>
where
    L: Send,
    B: Send,
    R: FnOnce(&mut dyn FnMut(L) -> Result<()>) -> Result<()> + Send,
    W: Fn(Vec<L>) -> Result<B> + Sync,
{
    let workers = workers();
    let (line_tx, line_rx) = crossbeam_channel::bounded::<(u64, Vec<L>)>(workers * 4);
    let (out_tx, out_rx) = crossbeam_channel::bounded::<(u64, Result<B>)>(workers * 4);
    let (trash_tx, trash_rx) = crossbeam_channel::unbounded::<Box<dyn Send>>();
    let discard = Discard(trash_tx);
    std::thread::scope(|s| -> Result<()> {
        let read_out = out_tx.clone();
        s.spawn(move || {
            let stopped = || Error::Internal("the line workers stopped".into());
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(BATCH);
            let res = read(&mut |item| {
                batch.push(item);
                if batch.len() >= BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    line_tx.send((seq, full)).map_err(|_| stopped())?;
                    seq += 1;
                }
                Ok(())
            });
            // The items read before a failed read go first: an error among
            // them comes before the read's in input order.
            if !batch.is_empty() && line_tx.send((seq, batch)).is_ok() {
                seq += 1;
            }
            if let Err(e) = res {
                let _ = read_out.send((seq, Err(e)));
            }
        });
        let work = &work;
        for _ in 0..workers {
            let rx = line_rx.clone();
            let tx = out_tx.clone();
            let trash = trash_rx.clone();
            s.spawn(move || {
                lower_priority();
                for (seq, items) in rx {
                    trash.try_iter().for_each(drop);
                    if tx.send((seq, work(items))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(out_tx);
        drop(line_rx);
        // Reorder by sequence number; stop at the first error (in input order).
        let mut pending: BTreeMap<u64, Result<B>> = BTreeMap::new();
        let mut next = 0u64;
        let mut result = Ok(());
        'recv: for (seq, res) in out_rx.iter() {
            pending.insert(seq, res);
            while let Some(res) = pending.remove(&next) {
                next += 1;
                if let Err(e) = res.and_then(|batch| each(batch, &discard)) {
                    result = Err(e);
                    break 'recv;
                }
            }
        }
        // Dropping the receiver makes the workers and the reader stop.
        drop(out_rx);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workers run below the caller's thread, which writes (import's SQL
    /// writer is its bottleneck): on a full machine it is the one that runs.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn the_workers_run_below_the_callers_thread() -> Result<()> {
        let nice = || rustix::process::getpriority_process(Some(rustix::thread::gettid()));
        let caller = nice().map_err(|e| Error::Internal(e.to_string()))?;
        let mut seen = Vec::new();
        map_in_order(
            |emit| (0..BATCH * 4).try_for_each(emit),
            |_batch: Vec<usize>| nice().map_err(|e| Error::Internal(e.to_string())),
            &mut |worker, _| {
                seen.push(worker);
                Ok(())
            },
        )?;
        assert_eq!(seen.len(), 4);
        // At the top of the range (19) a thread cannot go lower.
        let expected = (caller + WORKER_NICE).min(19);
        assert!(
            seen.iter().all(|&n| n == expected),
            "{seen:?}, caller {caller}"
        );
        Ok(())
    }

    #[test]
    fn the_items_of_an_input_are_guessed_with_a_margin_and_a_cap() {
        // 1,000 items of 100 bytes seen, 1 MB in all: 10,000 and a quarter more.
        assert_eq!(expected_items(1_000_000, 100_000, 1_000), 12_500);
        // Tiny items first in a huge input: the cap, never more.
        assert_eq!(expected_items(u64::MAX, 1, 1), MAX_EXPECTED as usize);
        assert_eq!(expected_items(10 << 30, 10, 1), MAX_EXPECTED as usize);
        // A batch of nothing divides by nothing.
        assert_eq!(expected_items(1_000, 0, 0), 1_250);
    }

    #[test]
    fn results_come_back_in_input_order_and_the_first_error_wins() -> Result<()> {
        let n = BATCH as u64 * 9 + 7;
        let mut seen = Vec::new();
        map_in_order(
            |emit| (0..n).try_for_each(emit),
            |batch: Vec<u64>| Ok(batch.into_iter().map(|i| i * 2).collect::<Vec<_>>()),
            &mut |batch, _| {
                seen.extend(batch);
                Ok(())
            },
        )?;
        assert_eq!(seen, (0..n).map(|i| i * 2).collect::<Vec<_>>());
        // Two failing batches: the earlier one's error is the one returned, and
        // nothing after it reaches the caller.
        let mut last = 0;
        let res = map_in_order(
            |emit| (0..n).try_for_each(emit),
            |batch: Vec<u64>| match batch.first() {
                Some(&i) if i == BATCH as u64 * 3 || i == BATCH as u64 * 5 => {
                    Err(Error::Internal(format!("batch at {i}")))
                }
                _ => Ok(batch),
            },
            &mut |batch: Vec<u64>, _| {
                last = batch.last().copied().unwrap_or(last);
                Ok(())
            },
        );
        match res {
            Err(Error::Internal(m)) => assert_eq!(m, format!("batch at {}", BATCH * 3)),
            other => panic!("expected the first batch's error, got {other:?}"),
        }
        assert_eq!(last, BATCH as u64 * 3 - 1);
        Ok(())
    }
}
