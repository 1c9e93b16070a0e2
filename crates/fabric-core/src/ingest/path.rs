//! `clip_id`: a hash of the lexically normalised absolute source path.

use crate::json::sha256_hex;

/// First 16 lower-case hex characters of SHA-256 over [`normalize_path`]`(source_path, cwd)`.
///
/// ```
/// use fabric_core::ingest::clip_id;
/// assert_eq!(
///     clip_id("/srv/ingest/../ingest/incoming/A.mov", "/"),
///     clip_id("/srv/ingest/incoming/A.mov", "/tmp"),
/// );
/// ```
pub fn clip_id(source_path: &str, cwd: &str) -> String {
    let mut hex = sha256_hex(normalize_path(source_path, cwd).as_bytes());
    hex.truncate(16);
    hex
}

/// Make `path` absolute (joined to `cwd` when relative) and normalise it purely
/// lexically, in POSIX form: repeated `/` collapse (a leading `//` stays, a leading
/// `///` or more becomes `/`), `.` segments drop, `..` removes the previous segment
/// (never above the root), a trailing `/` drops. No filesystem access.
///
/// ```
/// use fabric_core::ingest::normalize_path;
/// assert_eq!(normalize_path("a/./b//../c/", "/work"), "/work/a/c");
/// assert_eq!(normalize_path("/../x", "/"), "/x");
/// assert_eq!(normalize_path("//net/share/../x", "/"), "//net/x");
/// ```
pub fn normalize_path(path: &str, cwd: &str) -> String {
    let joined;
    let full = if path.starts_with('/') {
        path
    } else {
        joined = if cwd.ends_with('/') {
            format!("{cwd}{path}")
        } else {
            format!("{cwd}/{path}")
        };
        joined.as_str()
    };
    // POSIX: exactly two leading slashes are kept, one or three-plus become one.
    let root = if full.starts_with("//") && !full.starts_with("///") {
        "//"
    } else if full.starts_with('/') {
        "/"
    } else {
        // Only when `cwd` itself is relative: stay relative.
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in full.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if root.is_empty() && parts.last().is_none_or(|p| *p == "..") {
                    parts.push("..");
                } else {
                    parts.pop();
                }
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(full.len());
    out.push_str(root);
    out.push_str(&parts.join("/"));
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_posix_normpath() {
        for (path, cwd, expected) in [
            (
                "/srv/ingest/../ingest/incoming/A.mov",
                "/",
                "/srv/ingest/incoming/A.mov",
            ),
            ("A.mov", "/work/dir", "/work/dir/A.mov"),
            ("A.mov", "/work/dir/", "/work/dir/A.mov"),
            ("../A.mov", "/work/dir", "/work/A.mov"),
            ("/a//b///c/", "/", "/a/b/c"),
            ("/a/./b/.", "/", "/a/b"),
            ("/..", "/", "/"),
            ("/../../a", "/", "/a"),
            ("//a/b", "/", "//a/b"),
            ("//..", "/", "//"),
            ("///a/b", "/", "/a/b"),
            ("/", "/", "/"),
            ("./x/../", "/w", "/w"),
        ] {
            assert_eq!(normalize_path(path, cwd), expected, "{path} in {cwd}");
        }
    }

    #[test]
    fn clip_id_is_16_hex_of_sha256() {
        let id = clip_id("/srv/ingest/incoming/A.mov", "/");
        assert_eq!(id, sha256_hex(b"/srv/ingest/incoming/A.mov")[..16]);
        assert_eq!(id.len(), 16);
    }
}
