//! Records the git commit the binary is built from, for `fabric version --verbose`.
//!
//! Outside a git checkout (a source tarball, a crates.io build) the commit is
//! simply absent; the build never fails for it.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=FABRIC_BUILD_COMMIT");
    let commit = std::env::var("FABRIC_BUILD_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    if let Some(commit) = commit {
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
        let suffix = if dirty { "-modified" } else { "" };
        println!("cargo:rustc-env=FABRIC_BUILD_COMMIT={commit}{suffix}");
    }
    // Rebuild when HEAD moves (a commit, a checkout) or the branch it names does.
    for path in ["HEAD", "index"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={p}");
    }
}
