//! The short crash-safety run: a few SIGKILLs per command of `xtask::crash::COMMANDS`
//! on a small corpus (the long run is `cargo xtask crash`).

/// Every command survives a few kills at seeded random moments: the store passes
/// its integrity check, holds the whole batch or none of it, no stray file is
/// left, and the re-run gives the uninterrupted result.
#[test]
fn killed_commands_leave_whole_batches_and_rerun_to_the_same_result()
-> Result<(), Box<dyn std::error::Error>> {
    let work = tempfile::tempdir()?;
    let opts = xtask::crash::Options {
        fabric: assert_cmd::cargo::cargo_bin("fabric"),
        vectors: crate::common::vectors(),
        work: work.path().to_path_buf(),
        kills: 3,
        seed: 11,
        jobs: 300,
        records: 600,
        only: Vec::new(),
    };
    let outcomes = xtask::crash::run(&opts)?;
    // The table's commands, then the two-writer scenario.
    assert_eq!(outcomes.len(), xtask::crash::COMMANDS.len() + 1);
    for outcome in &outcomes {
        assert_eq!(outcome.kills, 3, "{outcome}");
        assert!(
            outcome.failures.is_empty(),
            "{outcome}: {:?}",
            outcome.failures
        );
        assert_eq!(outcome.lost_records, 0, "{outcome}");
        assert_eq!(
            // "between": a command of several batches (sync: pack export, then
            // the mirror commit) killed after one whole batch and before another.
            outcome.left_before
                + outcome.left_after
                + outcome.left_between
                + outcome.finished_first,
            outcome.kills,
            "{outcome}"
        );
    }
    Ok(())
}
