//! Parsing of the two connection-string forms `--target` accepts for SQL Server:
//! an `mssql://` (or `sqlserver://`) URL and an ADO.NET / ODBC `key=value;` string.
//!
//! Both parsers are pure and return the settings as `(key, value)` pairs with
//! lowercase keys; [`crate::mssql::SqlServerConfig`] interprets them. Errors
//! ([`ParseError`]) name keys and positions, never values (a value may be a
//! password), nor a piece of text that may be a password cut by an unquoted `;`.
//!
//! This small parser is kept instead of tiberius' `Config::from_ado_string`,
//! whose errors do keep passwords out, for three reasons (pinned by the test
//! `tiberius_ado_parser_is_not_enough`): it refuses any value outside ASCII,
//! where SQL Server logins allow any password; it passes over a setting it does
//! not know, so `Encrpyt=false` would be ignored quietly; and it returns an
//! opaque `tiberius::Config`, from which host, port and user cannot be read
//! back for messages, the 1433 hint and `describe`.

/// Why a connection string or URL cannot be read, without quoting the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A `key=value` string's pair has no `=`. The text is not shown: after a
    /// password holding an unquoted `;`, it is a piece of the password.
    #[error(
        "pair {pair} has no '=' (a value holding ';' must be quoted: {{...}}, '...' or \"...\")"
    )]
    NoEquals {
        /// 1-based pair number.
        pair: usize,
    },
    /// A pair's key is empty (`=x`).
    #[error("pair {pair} has an empty key")]
    EmptyKey {
        /// 1-based pair number.
        pair: usize,
    },
    /// A quoted value has no closing quote.
    #[error("the value of {key:?} opens with {quote} but is never closed")]
    Unclosed {
        /// The key (lowercased).
        key: String,
        /// The opening quote.
        quote: char,
    },
    /// Text between a quoted value's closing quote and the next `;`.
    #[error("the quoted value of {key:?} is followed by text before the next ';'")]
    AfterQuote {
        /// The key (lowercased).
        key: String,
    },
    /// The URL's scheme is not `mssql://` or `sqlserver://`.
    #[error("the URL does not start with mssql:// or sqlserver://")]
    Scheme,
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// The URL's path is more than one database name.
    #[error("the URL path must be one database name")]
    Path,
    /// An IPv6 host's `[` is never closed.
    #[error("an IPv6 host opens [ but never closes it")]
    Ipv6Unclosed,
    /// Text after an IPv6 host's `]` that is not `:port`.
    #[error("unexpected text after the IPv6 host")]
    Ipv6Trailing,
    /// The port is not a number from 1 to 65535. Not shown: a password holding
    /// an unencoded `/` ends the authority early, and its first part becomes
    /// the "port".
    #[error(
        "the port is not a number from 1 to 65535 (a password holding '/', '?' or '@' must be %-encoded)"
    )]
    Port,
    /// A `%` not followed by two hex digits.
    #[error("{what} holds a bad %-escape")]
    Escape {
        /// The part of the URL.
        what: String,
    },
    /// A part that is not UTF-8 once %-decoded.
    #[error("{what} is not UTF-8 after %-decoding")]
    Utf8 {
        /// The part of the URL.
        what: String,
    },
}

/// Split an ADO.NET / ODBC connection string into `(lowercase key, value)` pairs.
///
/// Pairs are separated by `;`; each pair splits on its first `=`. Keys are trimmed
/// and lowercased (inner spaces kept: `user id`). A value may be quoted with `'...'`,
/// `"..."` (the quote doubled inside) or `{...}` (ODBC: `}}` inside stands for `}`),
/// which protects `;` and keeps spaces; an unquoted value is trimmed. Empty pairs
/// (`;;`, a trailing `;`) are skipped.
pub fn parse_ado(s: &str) -> Result<Vec<(String, String)>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut pair_no = 0;
    while i < chars.len() {
        pair_no += 1;
        // key up to '='
        let key_start = i;
        while i < chars.len() && chars[i] != '=' && chars[i] != ';' {
            i += 1;
        }
        let key: String = chars[key_start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_lowercase();
        if i >= chars.len() || chars[i] == ';' {
            if !key.is_empty() {
                return Err(ParseError::NoEquals { pair: pair_no });
            }
            i += 1;
            continue;
        }
        if key.is_empty() {
            return Err(ParseError::EmptyKey { pair: pair_no });
        }
        i += 1; // '='
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        let mut value = String::new();
        match chars.get(i).copied() {
            Some(q @ ('\'' | '"' | '{')) => {
                let close = if q == '{' { '}' } else { q };
                i += 1;
                loop {
                    match chars.get(i).copied() {
                        None => {
                            return Err(ParseError::Unclosed { key, quote: q });
                        }
                        Some(c) if c == close => {
                            if chars.get(i + 1) == Some(&close) {
                                value.push(close);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(c) => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                while i < chars.len() && chars[i] == ' ' {
                    i += 1;
                }
                if i < chars.len() && chars[i] != ';' {
                    return Err(ParseError::AfterQuote { key });
                }
            }
            _ => {
                while i < chars.len() && chars[i] != ';' {
                    value.push(chars[i]);
                    i += 1;
                }
                value = value.trim().to_owned();
            }
        }
        i += 1; // ';' or end
        out.push((key, value));
    }
    Ok(out)
}

/// Parse `mssql://[user[:password]@]host[:port][/database][?key=value&...]`
/// (scheme `mssql` or `sqlserver`) into the same `(lowercase key, value)` pairs as
/// [`parse_ado`]: `server` (`host` or `host,port`, `host\instance` when the host
/// part is `host%5Cinstance`), `user id`, `password`, `database`, then every query
/// pair with its key lowercased. User, password, database and query values are
/// percent-decoded (UTF-8). An IPv6 host is written in brackets: `[::1]:1433`.
pub fn parse_url(s: &str) -> Result<Vec<(String, String)>, ParseError> {
    let rest = s
        .strip_prefix("mssql://")
        .or_else(|| s.strip_prefix("sqlserver://"))
        .ok_or(ParseError::Scheme)?;
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, p),
        None => (before_query, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut out = Vec::new();
    let (host, port) = split_host_port(hostport)?;
    let host = decode(host, "host")?;
    if host.is_empty() {
        return Err(ParseError::NoHost);
    }
    out.push((
        "server".to_owned(),
        match port {
            Some(p) => format!("{host},{p}"),
            None => host,
        },
    ));
    if let Some(u) = userinfo {
        let (user, pass) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u, None),
        };
        out.push(("user id".to_owned(), decode(user, "user")?));
        if let Some(p) = pass {
            out.push(("password".to_owned(), decode(p, "password")?));
        }
    }
    let path = path.trim_end_matches('/');
    if !path.is_empty() {
        if path.contains('/') {
            return Err(ParseError::Path);
        }
        out.push(("database".to_owned(), decode(path, "database")?));
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(k, "query key")?.to_lowercase();
        let value = decode(v, &format!("the value of {key:?}"))?;
        out.push((key, value));
    }
    Ok(out)
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<u16>), ParseError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or(ParseError::Ipv6Unclosed)?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(ParseError::Ipv6Trailing),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().map_err(|_| ParseError::Port)?),
        None => None,
    };
    Ok((host, port))
}

/// Percent-decode `s` as UTF-8; `what` names the part in errors.
fn decode(s: &str, what: &str) -> Result<String, ParseError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ParseError::Escape {
                    what: what.to_owned(),
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ParseError::Utf8 {
        what: what.to_owned(),
    })
}

/// `target` with any password replaced by `***`, for messages. A URL loses the
/// password of its user info and any `password`/`pwd` query value; a key=value
/// string loses the values of `password`/`pwd`. Anything that cannot be parsed
/// is shown as `<connection string>`: never risk printing a secret.
pub fn redact(target: &str) -> String {
    if target.starts_with("mssql://") || target.starts_with("sqlserver://") {
        let (scheme, rest) = target.split_at(target.find("://").map_or(0, |i| i + 3));
        // The user info ends at the LAST '@' anywhere: an unencoded '/', '?' or '@'
        // inside a password must not move the cut (over-redacting is fine).
        let (userinfo, after) = match rest.rfind('@') {
            Some(at) => rest.split_at(at),
            None => ("", rest),
        };
        let mut out = scheme.to_owned();
        match userinfo.split_once(':') {
            Some((user, _)) => {
                out.push_str(user);
                out.push_str(":***");
            }
            None => out.push_str(userinfo),
        }
        match after.split_once('?') {
            Some((hostpath, q)) => {
                out.push_str(hostpath);
                let pairs: Vec<String> = q
                    .split('&')
                    .map(|p| match p.split_once('=') {
                        Some((k, _)) if is_secret_key(&k.to_lowercase()) => format!("{k}=***"),
                        _ => p.to_owned(),
                    })
                    .collect();
                out.push('?');
                out.push_str(&pairs.join("&"));
            }
            None => out.push_str(after),
        }
        return out;
    }
    match parse_ado(target) {
        Ok(pairs) => pairs
            .iter()
            .map(|(k, v)| {
                if is_secret_key(k) {
                    format!("{k}=***")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(";"),
        Err(_) => "<connection string>".to_owned(),
    }
}

/// Keys whose values are secrets.
pub fn is_secret_key(key: &str) -> bool {
    matches!(key, "password" | "pwd")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn ado_quoting_rules() -> Result<(), ParseError> {
        assert_eq!(
            parse_ado(" Server = h ;;User ID=u; Password=\"a\"\"b;c\" ;Database={x}}y};")?,
            pairs(&[
                ("server", "h"),
                ("user id", "u"),
                ("password", "a\"b;c"),
                ("database", "x}y")
            ])
        );
        assert_eq!(parse_ado("pwd=a=b==")?, pairs(&[("pwd", "a=b==")]));
        assert_eq!(parse_ado("")?, Vec::new());
        Ok(())
    }

    #[test]
    fn ado_errors_never_quote_values() {
        for bad in ["Server", "=x", "pwd='secret", "pwd='secret'tail"] {
            let result = parse_ado(bad);
            assert!(
                result
                    .as_ref()
                    .is_err_and(|e| !format!("{e} {e:?}").contains("secret")),
                "{bad:?}: {result:?}"
            );
        }
    }

    #[test]
    fn redact_cuts_at_the_last_at_sign() {
        for t in [
            "mssql://u:se/cr?et@h:1/db",
            "mssql://u:secret@h/db?password=secret",
            "sqlserver://u:sec@ret@h",
        ] {
            let r = redact(t);
            assert!(
                !r.contains("sec") && !r.contains("ret@h:1/db?"),
                "{t} -> {r}"
            );
            assert!(
                r.starts_with("mssql://u:***") || r.starts_with("sqlserver://u:***"),
                "{r}"
            );
        }
        assert_eq!(redact("mssql://h:1/db"), "mssql://h:1/db");
        assert_eq!(redact("mssql://u@h/db"), "mssql://u@h/db");
    }

    #[test]
    fn url_parts() -> Result<(), ParseError> {
        assert_eq!(
            parse_url("sqlserver://u%20x:p%3Aw@h:1/d%2Fb?Encrypt=no&x")?,
            pairs(&[
                ("server", "h,1"),
                ("user id", "u x"),
                ("password", "p:w"),
                ("database", "d/b"),
                ("encrypt", "no"),
                ("x", "")
            ])
        );
        assert!(parse_url("mssql:///db").is_err());
        assert!(parse_url("mssql://h/a/b").is_err());
        assert!(parse_url("mssql://h/%zz").is_err());
        Ok(())
    }
}
