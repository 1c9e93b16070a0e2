//! The help pages: every command has examples that parse, fixed values are
//! enforced, global options have their own heading.

use clap::Command;

use clap::builder::PossibleValue;

use super::{EXAMPLES, NOT_APPLICABLE, fixed_values};

/// Every command of the tree with its path (`""` for the root), auto-generated
/// `help` subcommands left out.
fn walk(cmd: &Command, path: &str, out: &mut Vec<(String, Command)>) {
    out.push((path.to_owned(), cmd.clone()));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        let p = if path.is_empty() {
            sub.get_name().to_owned()
        } else {
            format!("{path} {}", sub.get_name())
        };
        walk(sub, &p, out);
    }
}

fn find<'a>(cmd: &'a Command, path: &str) -> Option<&'a Command> {
    path.split_whitespace()
        .try_fold(cmd, |c, name| c.find_subcommand(name))
}

/// Split an example line like a shell would (quotes, no expansion), stopping at a
/// redirection or pipe.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    let end = out
        .iter()
        .position(|w| matches!(w.as_str(), ">" | "<" | "|" | "&&"))
        .unwrap_or(out.len());
    out.truncate(end);
    out
}

#[test]
fn the_tree_is_consistent() {
    crate::cli().debug_assert();
}

#[test]
fn every_command_has_examples() {
    let mut all = Vec::new();
    walk(&crate::cli(), "", &mut all);
    assert!(all.len() > 30, "only {} commands found", all.len());
    let missing: Vec<String> = all
        .iter()
        .filter(|(_, c)| {
            let text = c
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            let examples = text
                .lines()
                .filter(|l| l.trim_start().starts_with("fabric "))
                .count();
            !text.starts_with("Examples:") || examples == 0
        })
        .map(|(p, _)| format!("`fabric {p}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "commands without examples (add a row to EXAMPLES in src/help.rs): {}",
        missing.join(", ")
    );
}

#[test]
fn every_example_parses() {
    let mut checked = 0;
    for (path, text) in EXAMPLES {
        for line in text.lines().filter(|l| l.starts_with("fabric ")) {
            let argv = words(line);
            let matches = match crate::cli().try_get_matches_from(&argv) {
                Ok(m) => m,
                Err(e) => panic!("example of `fabric {path}` does not parse: {line}\n{e}"),
            };
            let mut names = Vec::new();
            let mut m = &matches;
            while let Some((name, sub)) = m.subcommand() {
                names.push(name);
                m = sub;
            }
            let used = names.join(" ");
            let under = path.is_empty() || used == *path || used.starts_with(&format!("{path} "));
            assert!(
                under,
                "example of `fabric {path}` runs `fabric {used}`: {line}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2 * EXAMPLES.len() - 10,
        "only {checked} examples checked"
    );
}

#[test]
fn every_table_row_names_something_that_exists() {
    let cli = crate::cli();
    for (path, _) in EXAMPLES {
        assert!(
            find(&cli, path).is_some(),
            "EXAMPLES names no command: `fabric {path}`"
        );
    }
    for (path, id, values, _) in fixed_values() {
        let cmd = find(&cli, path).unwrap_or_else(|| panic!("no command `fabric {path}`"));
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_id() == id)
            .unwrap_or_else(|| panic!("`fabric {path}` has no --{id}"));
        let offered: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        let names: Vec<&str> = values.iter().map(PossibleValue::get_name).collect();
        assert_eq!(offered, names, "`fabric {path} --{id}` offers other values");
    }
    for (path, id) in NOT_APPLICABLE {
        let cmd = find(&cli, path).unwrap_or_else(|| panic!("no command `fabric {path}`"));
        assert!(
            cmd.get_arguments()
                .any(|a| a.get_id() == *id && a.is_hide_set())
        );
    }
}

#[test]
fn a_wrong_fixed_value_is_refused_with_the_list() {
    let cases = [
        (
            "exchange sync --manifest m --conflict newest",
            "prefer_newest",
        ),
        ("exchange sync --manifest m --direction up", "json_to_sql"),
        ("jobs --status done", "FAILED"),
        (
            "dashboard export --bundle b --out o.zip --profile x",
            "instructor_strict",
        ),
        ("report --format yaml", "json"),
    ];
    for (args, listed) in cases {
        let argv: Vec<&str> = std::iter::once("fabric").chain(args.split(' ')).collect();
        let err = crate::cli().try_get_matches_from(&argv).err();
        let err = err.unwrap_or_else(|| panic!("accepted: {argv:?}"));
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue, "{argv:?}");
        assert!(err.to_string().contains(listed), "{argv:?}: {err}");
    }
}

#[test]
fn global_options_have_their_own_heading() {
    let mut cli = crate::cli();
    cli.build();
    let jobs = cli
        .find_subcommand_mut("jobs")
        .map(|c| c.render_help().to_string());
    let help = jobs.unwrap_or_default();
    let global = help
        .find("Global options:")
        .unwrap_or_else(|| panic!("no heading:\n{help}"));
    for flag in ["--db <PATH>", "--json", "--quiet", "--verbose"] {
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"));
        assert!(at > global, "{flag} is not under Global options:\n{help}");
    }
    let own = help.find("--status").unwrap_or(usize::MAX);
    assert!(
        own < global,
        "the command's own options come first:\n{help}"
    );
}

#[test]
fn import_does_not_list_direction() {
    let mut cli = crate::cli();
    cli.build();
    let import = cli
        .find_subcommand_mut("exchange")
        .and_then(|c| c.find_subcommand_mut("import"))
        .map(|c| c.render_long_help().to_string())
        .unwrap_or_default();
    assert!(import.contains("--conflict"), "{import}");
    assert!(!import.contains("--direction"), "{import}");
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(
        words(r#"fabric --db "$PWD/x y.db" diff 'a b' c > out"#),
        ["fabric", "--db", "$PWD/x y.db", "diff", "a b", "c"]
    );
}
