//! The policy of an ingest batch, decided before anything is read: which files
//! and in what order, and what a bad file does to the batch.
//!
//! Pure: the caller walks the folders and hands in what it found; the store's
//! `ingest` runs the batch under this policy.
//!
//! ```
//! use std::path::{Path, PathBuf};
//! use fabric_core::ingest::batch::{BadFile, BatchPolicy, sort_found};
//!
//! let root = Path::new("results");
//! let mut found = vec![root.join("b/1.json"), root.join("a.json"), root.join("a/2.json")];
//! sort_found(root, &mut found);
//! assert_eq!(found, [root.join("a/2.json"), root.join("a.json"), root.join("b/1.json")]);
//! assert_eq!(BatchPolicy { keep_going: true }.on_bad_file(), BadFile::Reject);
//! ```

use std::path::{Path, PathBuf};

/// What a batch does with a file that cannot be read or is not a valid job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadFile {
    /// Stop: nothing of the batch is written (the default).
    Abort,
    /// Leave the file out, report it, and store the others (`--keep-going`).
    Reject,
}

/// How an ingest batch runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Store the valid files and report the bad ones instead of aborting.
    pub keep_going: bool,
}

impl BatchPolicy {
    /// The decision for a bad file.
    pub fn on_bad_file(self) -> BadFile {
        if self.keep_going {
            BadFile::Reject
        } else {
            BadFile::Abort
        }
    }
}

/// Whether a file found under a folder belongs to the batch: a `*.json` file.
pub fn is_job_file(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "json")
}

/// Put the files found under the folder `root` in batch order: by their path
/// relative to `root`, compared component by component, each by code point (so
/// `a/2.json` comes before `a.json`, whose first component `a.json` sorts after
/// `a`). Explicit files keep the order they were given in; only a folder's
/// findings are sorted.
pub fn sort_found(root: &Path, found: &mut Vec<PathBuf>) {
    let mut keyed: Vec<(Vec<String>, PathBuf)> = found
        .drain(..)
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            (key, p)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    found.extend(keyed.into_iter().map(|(_, p)| p));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Components compare one by one: a folder's files come before a sibling
    /// file whose name starts with the folder's name; code points, not locale.
    #[test]
    fn found_files_sort_by_components_by_code_point() {
        let root = Path::new("/r");
        let mut found: Vec<PathBuf> = ["a.json", "B.json", "a/z.json", "a/b/c.json", "é.json"]
            .iter()
            .map(|p| root.join(p))
            .collect();
        sort_found(root, &mut found);
        let rel: Vec<String> = found
            .iter()
            .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
            .collect();
        assert_eq!(
            rel,
            ["B.json", "a/b/c.json", "a/z.json", "a.json", "é.json"]
        );
    }

    #[test]
    fn the_bad_file_policy_follows_keep_going() {
        assert_eq!(BatchPolicy::default().on_bad_file(), BadFile::Abort);
        assert_eq!(
            BatchPolicy { keep_going: true }.on_bad_file(),
            BadFile::Reject
        );
        assert!(is_job_file(Path::new("x/y.json")));
        assert!(!is_job_file(Path::new("x/y.json.bak")));
    }
}
