//! The dependency-direction check: which crate may reach which.
//!
//! `cargo metadata --format-version 1` gives the resolved graph; from each workspace
//! package we walk every edge transitively (the package's own dev-dependencies
//! included, since a test build links them) and fail on the first forbidden crate,
//! printing the whole path, e.g. `dashboard-snapshot -> fabric-store -> rusqlite`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::process::Command;

use serde_json::Value;

/// One row of the layer table: what a workspace package may reach.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    /// The workspace package.
    pub package: &'static str,
    /// Workspace packages it may depend on (directly or transitively).
    pub allowed_workspace: &'static [&'static str],
    /// External crates it must never reach.
    pub banned_external: &'static [&'static str],
}

/// Storage crates: only fabric-store wraps SQLite, only exchange-sync wraps tiberius.
const STORAGE: &[&str] = &["rusqlite", "libsqlite3-sys", "tiberius"];

/// What a pure crate never reaches: storage, and the crates that bring files,
/// sockets, threads or an async runtime with them. (Not `tempfile` or `rustix`:
/// proptest, a dev-dependency, keeps its failure file with them.)
const PURE: &[&str] = &[
    "rusqlite",
    "libsqlite3-sys",
    "tiberius",
    "tokio",
    "tokio-postgres",
    "zip",
    "walkdir",
    "crossbeam-channel",
];

/// The table: the allowed arrows, nothing else (docs/architecture.md lists them). Edit here, nowhere else.
pub const LAYERS: &[Layer] = &[
    Layer {
        package: "fabric-core",
        allowed_workspace: &[],
        banned_external: STORAGE,
    },
    Layer {
        package: "fabric-store",
        allowed_workspace: &["fabric-core"],
        banned_external: &["tiberius"],
    },
    Layer {
        package: "exchange-core",
        allowed_workspace: &["fabric-core"],
        banned_external: PURE,
    },
    Layer {
        package: "exchange-sync",
        allowed_workspace: &["fabric-core", "fabric-store", "exchange-core"],
        banned_external: &[],
    },
    Layer {
        package: "dashboard-snapshot",
        allowed_workspace: &["fabric-core"],
        banned_external: STORAGE,
    },
    Layer {
        package: "fabric-cli",
        allowed_workspace: &[
            "fabric-core",
            "fabric-store",
            "exchange-core",
            "exchange-sync",
            "dashboard-snapshot",
            // dev-dependency only: the crash harness's short run is a CLI test
            "xtask",
        ],
        banned_external: &[],
    },
];

/// A forbidden path found in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Package names from the checked package to the forbidden one.
    pub path: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.join(" -> "))
    }
}

/// Why the check failed.
#[derive(Debug)]
pub enum CheckError {
    /// `cargo metadata` could not run or its output was not understood.
    Metadata(String),
    /// Forbidden edges were found.
    Violations(Vec<Violation>),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Metadata(why) => write!(f, "check-layers: cargo metadata: {why}"),
            CheckError::Violations(list) => {
                writeln!(
                    f,
                    "check-layers: {} forbidden dependency path(s):",
                    list.len()
                )?;
                for v in list {
                    writeln!(f, "  {v}")?;
                }
                write!(
                    f,
                    "If the new arrow is intended, change the table in xtask/src/layers.rs (and the layer table in docs/architecture.md)."
                )
            }
        }
    }
}

impl std::error::Error for CheckError {}

/// Run `cargo metadata` on this workspace and check it.
pub fn check_workspace() -> Result<String, CheckError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            manifest,
        ])
        .output()
        .map_err(|e| CheckError::Metadata(e.to_string()))?;
    if !out.status.success() {
        return Err(CheckError::Metadata(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let metadata: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| CheckError::Metadata(e.to_string()))?;
    let violations = check(&metadata, LAYERS)?;
    if violations.is_empty() {
        Ok(format!(
            "check-layers: ok ({} packages checked against {} rules)",
            LAYERS.len(),
            LAYERS.len()
        ))
    } else {
        Err(CheckError::Violations(violations))
    }
}

/// Check a parsed `cargo metadata` document against `layers`.
pub fn check(metadata: &Value, layers: &[Layer]) -> Result<Vec<Violation>, CheckError> {
    let bad = |what: &str| CheckError::Metadata(format!("missing {what}"));
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    for pkg in metadata["packages"]
        .as_array()
        .ok_or_else(|| bad("packages"))?
    {
        let id = pkg["id"].as_str().ok_or_else(|| bad("package id"))?;
        let name = pkg["name"].as_str().ok_or_else(|| bad("package name"))?;
        names.insert(id, name);
    }
    let workspace: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .ok_or_else(|| bad("workspace_members"))?
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|id| names.get(id).copied())
        .collect();
    // id -> [(dep id, is dev-only edge)]
    let mut edges: BTreeMap<&str, Vec<(&str, bool)>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .ok_or_else(|| bad("resolve.nodes"))?
    {
        let id = node["id"].as_str().ok_or_else(|| bad("node id"))?;
        let mut deps = Vec::new();
        for dep in node["deps"].as_array().into_iter().flatten() {
            let Some(pkg) = dep["pkg"].as_str() else {
                continue;
            };
            let kinds: Vec<&str> = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| k["kind"].as_str().unwrap_or("normal"))
                .collect();
            let dev_only = !kinds.is_empty() && kinds.iter().all(|k| *k == "dev");
            deps.push((pkg, dev_only));
        }
        edges.insert(id, deps);
    }
    let id_of: BTreeMap<&str, &str> = names.iter().map(|(id, n)| (*n, *id)).collect();

    let mut violations = Vec::new();
    for layer in layers {
        let Some(start) = id_of.get(layer.package) else {
            return Err(CheckError::Metadata(format!(
                "layer table names {}, which is not in the workspace",
                layer.package
            )));
        };
        // Breadth-first, remembering the parent of each node for the path.
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([*start]);
        let mut seen = BTreeSet::from([*start]);
        while let Some(id) = queue.pop_front() {
            for (dep, dev_only) in edges.get(id).into_iter().flatten() {
                // Dev-dependencies count only for the package under test itself.
                if *dev_only && id != *start {
                    continue;
                }
                if !seen.insert(dep) {
                    continue;
                }
                parent.insert(dep, id);
                let name = names.get(dep).copied().unwrap_or(dep);
                let forbidden = if workspace.contains(name) {
                    name != layer.package && !layer.allowed_workspace.contains(&name)
                } else {
                    layer.banned_external.contains(&name)
                };
                if forbidden {
                    let mut path = vec![name.to_owned()];
                    let mut cur = *dep;
                    while let Some(p) = parent.get(cur) {
                        path.push(names.get(p).copied().unwrap_or(p).to_owned());
                        cur = p;
                    }
                    path.reverse();
                    violations.push(Violation { path });
                    continue;
                }
                queue.push_back(dep);
            }
        }
    }
    Ok(violations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(id: &str, deps: &[(&str, &str)]) -> Value {
        json!({
            "id": id,
            "deps": deps.iter().map(|(pkg, kind)| json!({
                "pkg": pkg,
                "dep_kinds": [{"kind": if *kind == "normal" { Value::Null } else { json!(kind) }}]
            })).collect::<Vec<_>>()
        })
    }

    fn metadata(nodes: Vec<Value>) -> Value {
        let all = [
            "fabric-core",
            "fabric-store",
            "exchange-sync",
            "dashboard-snapshot",
            "fabric-cli",
            "rusqlite",
            "libsqlite3-sys",
            "tiberius",
            "serde",
            "exchange-core",
            "zip",
        ];
        let ws = &all[..5].iter().chain(&all[9..10]).collect::<Vec<_>>();
        json!({
            "packages": all.iter().map(|n| json!({"id": n, "name": n})).collect::<Vec<_>>(),
            "workspace_members": ws,
            "resolve": {"nodes": nodes},
        })
    }

    fn good_graph() -> Vec<Value> {
        vec![
            node("fabric-core", &[("serde", "normal")]),
            node(
                "fabric-store",
                &[("fabric-core", "normal"), ("rusqlite", "normal")],
            ),
            node("rusqlite", &[("libsqlite3-sys", "normal")]),
            node("libsqlite3-sys", &[]),
            node(
                "exchange-sync",
                &[
                    ("fabric-store", "normal"),
                    ("exchange-core", "normal"),
                    ("tiberius", "normal"),
                ],
            ),
            node("tiberius", &[]),
            node("dashboard-snapshot", &[("fabric-core", "normal")]),
            node(
                "fabric-cli",
                &[
                    ("exchange-sync", "normal"),
                    ("dashboard-snapshot", "normal"),
                ],
            ),
            node("serde", &[]),
            node(
                "exchange-core",
                &[("fabric-core", "normal"), ("serde", "normal")],
            ),
            node("zip", &[]),
        ]
    }

    #[test]
    fn the_real_workspace_passes() -> Result<(), CheckError> {
        check_workspace().map(|_| ())
    }

    #[test]
    fn a_clean_graph_passes() -> Result<(), CheckError> {
        assert_eq!(check(&metadata(good_graph()), LAYERS)?, vec![]);
        Ok(())
    }

    #[test]
    fn a_transitive_storage_edge_fails_with_its_path() -> Result<(), CheckError> {
        let mut graph = good_graph();
        graph[6] = node(
            "dashboard-snapshot",
            &[("fabric-core", "normal"), ("fabric-store", "normal")],
        );
        let found = check(&metadata(graph), LAYERS)?;
        let paths: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(paths, vec!["dashboard-snapshot -> fabric-store"]);
        Ok(())
    }

    #[test]
    fn a_dev_dependency_of_the_package_counts() -> Result<(), CheckError> {
        let mut graph = good_graph();
        graph[0] = node("fabric-core", &[("serde", "normal"), ("rusqlite", "dev")]);
        let found = check(&metadata(graph), LAYERS)?;
        let paths: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(paths, vec!["fabric-core -> rusqlite"]);
        Ok(())
    }

    #[test]
    fn an_external_crate_reached_through_an_allowed_one_fails() -> Result<(), CheckError> {
        let mut graph = good_graph();
        // fabric-core -> serde -> rusqlite: banned even two hops away.
        graph[8] = node("serde", &[("rusqlite", "normal")]);
        let found = check(&metadata(graph), LAYERS)?;
        let paths: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(
            paths.contains(&"fabric-core -> serde -> rusqlite".to_owned()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"dashboard-snapshot -> fabric-core -> serde -> rusqlite".to_owned()),
            "{paths:?}"
        );
        Ok(())
    }

    #[test]
    fn the_pure_exchange_crate_reaches_no_store_and_no_file_crate() -> Result<(), CheckError> {
        let mut graph = good_graph();
        graph[9] = node(
            "exchange-core",
            &[
                ("fabric-core", "normal"),
                ("fabric-store", "normal"),
                ("zip", "dev"),
            ],
        );
        let found = check(&metadata(graph), LAYERS)?;
        let paths: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(
            paths.contains(&"exchange-core -> fabric-store".to_owned()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"exchange-core -> zip".to_owned()),
            "{paths:?}"
        );
        Ok(())
    }
}
