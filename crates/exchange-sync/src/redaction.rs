//! Scrubbing secrets from requests and responses before they are hashed,
//! with labels only for real replacements, sorted; the caller
//! hashes the redacted content).

use regex::{Regex, RegexSet};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::manifest::RedactionPolicy;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// The built-in sensitive header names (used when no enabled policy gives a list).
pub const BUILTIN_HEADERS: [&str; 10] = [
    "authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "bearer",
    "x-access-token",
    "x-secret",
    "x-csrf-token",
];

/// The five built-in payload patterns, applied in this order (case-insensitive).
pub const BUILTIN_PATTERNS: [&str; 5] = [
    r#"["']?(?:api[_-]?key|apikey)["']?\s*[:=]\s*["']?([a-zA-Z0-9_-]{16,})["']?"#,
    r#"["']?bearer\s+([a-zA-Z0-9_.-]+)["']?"#,
    r"eyJ[a-zA-Z0-9_-]+\.eyJ[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]+",
    r"(?:AKIA|ABIA|ACCA|ASIA)[A-Z0-9]{16}",
    r#"["']?(?:secret|password|passwd|pwd)["']?\s*[:=]\s*["']?([^\s"']{8,})["']?"#,
];

const URL_PARAMS: &str =
    "api_key|apikey|key|token|secret|password|passwd|pwd|auth|bearer|access_token|refresh_token";

/// A compiled redactor.
#[derive(Debug, Clone)]
pub struct Redactor {
    headers: Vec<String>,
    patterns: Vec<Regex>,
    /// All patterns at once: one pass tells whether a string needs any of them.
    any: RegexSet,
    url: Regex,
}

/// The redacted request/response and the labels of what was really replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    /// The request after redaction.
    pub request: Value,
    /// The response after redaction.
    pub response: Value,
    /// Sorted labels among `request_headers`, `request_secrets`, `response_secrets`.
    pub labels: Vec<String>,
}

impl Redactor {
    /// Build from a header list (`None`: the built-in list; entries compared
    /// lowercased) and custom patterns. `manifest` names the file for errors.
    pub fn new(
        headers: Option<&[String]>,
        custom: &[String],
        manifest: &std::path::Path,
    ) -> Result<Self> {
        let headers = match headers {
            Some(h) => h.iter().map(|s| s.to_lowercase()).collect(),
            None => BUILTIN_HEADERS.iter().map(|s| (*s).to_owned()).collect(),
        };
        let mut patterns = Vec::new();
        for p in BUILTIN_PATTERNS
            .iter()
            .map(|s| (*s).to_owned())
            .chain(custom.iter().cloned())
        {
            let re = Regex::new(&format!("(?i){p}")).map_err(|source| Error::Pattern {
                path: manifest.to_path_buf(),
                pattern: p.clone(),
                source,
            })?;
            patterns.push(re);
        }
        let url =
            Regex::new(&format!(r"(?i)([?&])({URL_PARAMS})=([^&\s]+)")).map_err(|source| {
                Error::Pattern {
                    path: manifest.to_path_buf(),
                    pattern: URL_PARAMS.into(),
                    source,
                }
            })?;
        let any =
            RegexSet::new(patterns.iter().map(Regex::as_str)).map_err(|source| Error::Pattern {
                path: manifest.to_path_buf(),
                pattern: "(all patterns)".into(),
                source,
            })?;
        Ok(Redactor {
            headers,
            patterns,
            any,
            url,
        })
    }

    /// The redactor a manifest's policy asks for: its header list when the policy is
    /// enabled, else the built-in list; its custom patterns always.
    pub fn for_policy(policy: &RedactionPolicy, manifest: &std::path::Path) -> Result<Self> {
        let headers = policy
            .enabled
            .then_some(policy.headers_to_redact.as_slice());
        Self::new(headers, &policy.patterns, manifest)
    }

    /// Redact a request and a response.
    pub fn redact(&self, request: &Value, response: &Value) -> Redacted {
        let mut labels = Vec::new();
        let mut request = request.clone();
        let mut response = response.clone();
        if non_empty(&request) {
            let (mut headers_hit, mut secrets_hit) = (false, false);
            if let Value::Object(map) = &mut request {
                for (key, value) in map.iter_mut() {
                    let lower = key.to_lowercase();
                    match (lower.as_str(), value) {
                        ("headers", Value::Object(h)) => {
                            for (name, v) in h.iter_mut() {
                                if self.headers.contains(&name.to_lowercase())
                                    && *v != Value::String(REDACTED.into())
                                {
                                    *v = Value::String(REDACTED.into());
                                    headers_hit = true;
                                }
                            }
                        }
                        ("url" | "uri", Value::String(s)) => {
                            let new = self
                                .url
                                .replace_all(s, format!("${{1}}${{2}}={REDACTED}").as_str());
                            if new != *s {
                                *s = new.into_owned();
                                secrets_hit = true;
                            }
                        }
                        (_, v) => secrets_hit |= self.scan(v),
                    }
                }
            } else {
                secrets_hit |= self.scan(&mut request);
            }
            if headers_hit {
                labels.push("request_headers".to_owned());
            }
            if secrets_hit {
                labels.push("request_secrets".to_owned());
            }
        }
        if non_empty(&response) && self.scan(&mut response) {
            labels.push("response_secrets".to_owned());
        }
        labels.sort();
        Redacted {
            request,
            response,
            labels,
        }
    }

    /// Pattern-scan string values recursively; true when something changed.
    fn scan(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) => {
                if !self.any.is_match(s) {
                    return false;
                }
                let mut changed = false;
                for re in &self.patterns {
                    if re.is_match(s) {
                        let new = re.replace_all(s, REDACTED);
                        if new != *s {
                            *s = new.into_owned();
                            changed = true;
                        }
                    }
                }
                changed
            }
            Value::Array(items) => items.iter_mut().fold(false, |acc, v| self.scan(v) | acc),
            Value::Object(map) => map.values_mut().fold(false, |acc, v| self.scan(v) | acc),
            _ => false,
        }
    }
}

/// Python truthiness of a JSON value (non-empty).
fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(n) => n.as_str().parse::<f64>().is_ok_and(|x| x != 0.0),
    }
}
