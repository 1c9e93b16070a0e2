//! The README's exit-code table against [`super::code`] and [`super::error_code`].

use std::collections::{BTreeMap, BTreeSet};

use super::{BAD_INPUT, INTERRUPTED, PROBLEM, STORAGE, SUCCESS, code, error_code};
use crate::error::CliError;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const README: &str = include_str!("../../../../README.md");

/// One row per exit code: (constant name, `--json` codes).
type Table = BTreeMap<u8, (String, BTreeSet<String>)>;

fn table() -> Result<Table, Box<dyn std::error::Error>> {
    let start = README
        .find("| Exit | Name | When | `--json` error codes |")
        .ok_or("the README has the exit-code table")?;
    let mut rows = BTreeMap::new();
    for line in README[start..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, exit, name, _, codes, _] = cells[..] else {
            return Err(format!("a row of four cells: {line}").into());
        };
        let codes = codes
            .split(',')
            .map(|c| c.trim().trim_matches('`').to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        rows.insert(exit.parse()?, (name.trim_matches('`').to_owned(), codes));
    }
    Ok(rows)
}

fn sqlite(code: i32) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
}

/// One error of every kind the CLI maps.
fn samples() -> Vec<CliError> {
    use fabric_store::Error as S;
    let path = std::path::PathBuf::from("f.db");
    let key = || "k".to_owned();
    let wrong_kind = fabric_core::snapshot::FabricSnapshot::from_json(&serde_json::json!(1))
        .err()
        .map(|source| CliError::from(S::WrongKind { key: key(), source }));
    let mut all = vec![
        CliError::Usage("u".into()),
        CliError::NotFound("n".into()),
        CliError::Input {
            path: path.clone(),
            what: "cannot read",
            source: "x".into(),
        },
        CliError::Output {
            path: path.clone(),
            source: std::io::Error::other("full"),
        },
        S::NoStore { path: path.clone() }.into(),
        S::NotAStore {
            path: path.clone(),
            reason: "r",
        }
        .into(),
        S::MissingTable {
            path: path.clone(),
            table: "jobs",
            version: 2,
        }
        .into(),
        S::Corrupt {
            path: path.clone(),
            detail: "d".into(),
        }
        .into(),
        S::SchemaVersion {
            path: path.clone(),
            expected: 2,
            found: 9,
            hint: "",
        }
        .into(),
        S::DiskFull {
            path: path.clone(),
            source: sqlite(13),
        }
        .into(),
        S::Locked {
            path: path.clone(),
            waited_ms: 1,
            source: sqlite(5),
        }
        .into(),
        S::ReadOnly {
            path: path.clone(),
            source: sqlite(8),
        }
        .into(),
        S::Sqlite {
            path: path.clone(),
            context: "c".into(),
            source: sqlite(1),
        }
        .into(),
        S::InvalidChainKey {
            key: key(),
            reason: "r",
        }
        .into(),
        S::ChainNotFound { key: key() }.into(),
        S::VersionNotFound {
            key: key(),
            version: 2,
            latest: 1,
        }
        .into(),
        S::VersionConflict {
            key: key(),
            expected: 1,
            actual: 2,
        }
        .into(),
        S::VersionDeprecated {
            key: key(),
            version: 1,
        }
        .into(),
        S::DeprecateActive {
            key: key(),
            version: 1,
        }
        .into(),
        S::Integrity {
            key: key(),
            version: 1,
            reason: "r".into(),
        }
        .into(),
        S::VerifyFailed {
            failures: 1,
            first: "k@1".into(),
        }
        .into(),
        CliError::Ndjson {
            path: path.clone(),
            line: 1,
            source: serde_json::from_str::<serde_json::Value>("{").map_or_else(
                |e| e,
                |_| serde_json::Error::io(std::io::Error::other("parsed")),
            ),
        },
        exchange_sync::Error::MissingKey { var: "V".into() }.into(),
        exchange_sync::Error::Interrupted { target: "t".into() }.into(),
        exchange_sync::Error::Store(S::NoStore { path }).into(),
        dashboard_snapshot::Error::Registry("r".into()).into(),
    ];
    all.extend(wrong_kind);
    all
}

/// Every error lands in the README row of its exit code, under its `--json` code,
/// and every code the table lists is one some error gives.
#[test]
fn the_readme_exit_code_table_matches_the_mapping() -> TestResult {
    let rows = table()?;
    let names: BTreeMap<u8, &str> = [
        (SUCCESS, "SUCCESS"),
        (PROBLEM, "PROBLEM"),
        (BAD_INPUT, "BAD_INPUT"),
        (STORAGE, "STORAGE"),
        (INTERRUPTED, "INTERRUPTED"),
    ]
    .into();
    assert_eq!(
        rows.iter()
            .map(|(exit, (name, _))| (*exit, name.as_str()))
            .collect::<BTreeMap<_, _>>(),
        names,
        "the table's exit codes and names are exit.rs's constants"
    );
    let mut seen: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
    for err in samples() {
        let (exit, json) = (code(&err), error_code(&err));
        let (_, codes) = rows.get(&exit).ok_or(format!("no row for exit {exit}"))?;
        assert!(
            codes.contains(json),
            "{err}: code {json} (exit {exit}) is not in the README row for exit {exit}"
        );
        seen.entry(exit).or_default().insert(json.to_owned());
    }
    for (exit, (_, codes)) in &rows {
        for listed in codes {
            // PROBLEM is the generic code of library errors that exit 1 (a blocked
            // export, which needs a whole bundle to build): listed without a sample.
            if listed == "PROBLEM" {
                continue;
            }
            assert!(
                seen.get(exit).is_some_and(|s| s.contains(listed)),
                "the README lists {listed} under exit {exit}, which no error gives"
            );
        }
    }
    Ok(())
}
