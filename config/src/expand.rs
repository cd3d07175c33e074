//! `${...}` value expansion (spec §2).
//!
//! Only scalar string values are expanded, never keys. Each round replaces the innermost,
//! leftmost unescaped reference, so nested references resolve inside-out; rounds repeat until
//! no reference is left, at most [`MAX_ROUNDS`] times per value. `$$` is an escaped `$` and is
//! turned into `$` once expansion is done.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::error::{ConfigError, Loc, Warning};
use crate::yaml::{self, Node, Value, join_index, join_key};

/// Cap on expansion rounds for one value.
pub(crate) const MAX_ROUNDS: usize = 1000;

static SCHEME_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]+$").ok());
static ENV_NAME_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").ok());

fn is_match(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

pub(crate) struct Expander<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<Warning>,
}

/// What a provider returned.
enum Retrieved {
    /// A string, used verbatim.
    Text(String),
    /// A typed value (number, bool, null, list, map) and the text it was parsed from.
    Typed(Node, String),
}

impl Retrieved {
    fn from_text(text: String, loc: &Loc) -> Retrieved {
        let name: Arc<str> = Arc::clone(&loc.file);
        match yaml::parse(&text, &name, Some(loc)) {
            Ok(p) if p.errors.is_empty() => match p.root.value {
                Value::Str(_) => Retrieved::Text(text),
                _ => Retrieved::Typed(p.root, text),
            },
            // Not valid YAML: used verbatim as a string.
            _ => Retrieved::Text(text),
        }
    }
}

/// Finds the innermost, leftmost reference that is not escaped with `$$`.
/// Returns the byte offsets of its `$` and of its closing `}`.
fn find_reference(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut opens: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'$') => i += 2,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                opens.push(i);
                i += 2;
            }
            b'}' => {
                if let Some(open) = opens.pop() {
                    return Some((open, i));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Why a `${...}` reference could not be expanded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExpandError {
    #[error("too many recursive expansions (more than {MAX_ROUNDS})")]
    TooManyRounds,
    #[error(
        "{reference} expands to {found} but is embedded in a larger string; only a whole value can be replaced by a map or a list"
    )]
    EmbeddedCollection { reference: String, found: String },
    #[error("invalid reference {reference}: \"{scheme}\" is not a valid scheme{hint}")]
    InvalidScheme {
        reference: String,
        scheme: String,
        hint: String,
    },
    #[error("{reference}: cannot read file \"{file}\": {source}")]
    File {
        reference: String,
        file: String,
        source: std::io::Error,
    },
    #[error("{reference}: the {scheme} provider is not supported by profcol")]
    Http { reference: String, scheme: String },
    #[error("{reference}: unsupported scheme \"{scheme}\"; supported are env, file and yaml{hint}")]
    UnsupportedScheme {
        reference: String,
        scheme: String,
        hint: String,
    },
    #[error(
        "{reference}: environment variable \"{name}\" has an invalid name; it must match ^[a-zA-Z_][a-zA-Z0-9_]*$"
    )]
    EnvName { reference: String, name: String },
}

impl Expander<'_> {
    /// Expands every string value in the tree.
    pub fn expand_tree(&mut self, node: &mut Node, path: &str) {
        match &mut node.value {
            Value::Str(s) if s.contains('$') => {
                let text = std::mem::take(s);
                let loc = node.loc.clone();
                let mut rounds = 0;
                match self.expand_string(text.clone(), &loc, path, &mut rounds) {
                    Ok(new) => *node = new,
                    Err(e) => {
                        self.errors.push(ConfigError::at(path, &loc, e.to_string()));
                        node.value = Value::Str(text);
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.expand_tree(item, &join_index(path, i));
                }
            }
            Value::Map(entries) => {
                for e in entries.iter_mut() {
                    let p = join_key(path, &e.key);
                    self.expand_tree(&mut e.value, &p);
                }
            }
            _ => {}
        }
    }

    /// Expands one string value; the result may be typed when the whole value was a reference.
    fn expand_string(
        &mut self,
        mut cur: String,
        loc: &Loc,
        path: &str,
        rounds: &mut usize,
    ) -> Result<Node, ExpandError> {
        loop {
            let Some((start, end)) = find_reference(&cur) else {
                return Ok(Node::new(loc.clone(), Value::Str(cur.replace("$$", "$"))));
            };
            if *rounds >= MAX_ROUNDS {
                return Err(ExpandError::TooManyRounds);
            }
            *rounds += 1;
            let reference = &cur[start..=end];
            let retrieved = self.retrieve(reference, loc, path)?;
            let whole = start == 0 && end + 1 == cur.len();
            if whole {
                match retrieved {
                    Retrieved::Text(text) => cur = text,
                    Retrieved::Typed(mut node, original) => {
                        match node.value {
                            Value::Seq(_) | Value::Map(_) => {
                                self.expand_nested(&mut node, path, rounds)
                            }
                            _ => node.original = Some(original),
                        }
                        return Ok(node);
                    }
                }
            } else {
                let text = match retrieved {
                    Retrieved::Text(text) => text,
                    Retrieved::Typed(node, original) => match node.value {
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(ExpandError::EmbeddedCollection {
                                reference: reference.to_owned(),
                                found: node.describe().to_owned(),
                            });
                        }
                        _ => original,
                    },
                };
                cur = format!("{}{}{}", &cur[..start], text, &cur[end + 1..]);
            }
        }
    }

    /// Expands the strings inside a list or map that came out of a whole-value reference,
    /// sharing the round budget of the value it replaced.
    fn expand_nested(&mut self, node: &mut Node, path: &str, rounds: &mut usize) {
        match &mut node.value {
            Value::Str(s) if s.contains('$') => {
                let text = std::mem::take(s);
                let loc = node.loc.clone();
                match self.expand_string(text.clone(), &loc, path, rounds) {
                    Ok(new) => *node = new,
                    Err(e) => {
                        self.errors.push(ConfigError::at(path, &loc, e.to_string()));
                        node.value = Value::Str(text);
                    }
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.expand_nested(item, &join_index(path, i), rounds);
                }
            }
            Value::Map(entries) => {
                for e in entries.iter_mut() {
                    let p = join_key(path, &e.key);
                    self.expand_nested(&mut e.value, &p, rounds);
                }
            }
            _ => {}
        }
    }

    /// Resolves one `${...}` reference (without nested references left in it).
    fn retrieve(
        &mut self,
        reference: &str,
        loc: &Loc,
        path: &str,
    ) -> Result<Retrieved, ExpandError> {
        let inner = &reference[2..reference.len() - 1];
        let (scheme, opaque) = match inner.split_once(':') {
            Some((scheme, opaque)) => (scheme, opaque),
            // No scheme: the default scheme is env.
            None => ("env", inner),
        };
        // `${VAR:-default}` parses as scheme "VAR": point at the env form.
        let hint = match opaque.strip_prefix('-') {
            Some(default) if is_match(&ENV_NAME_RE, scheme) => format!(
                "; to give an environment variable a default, write ${{env:{scheme}:-{default}}}"
            ),
            _ => String::new(),
        };
        if !is_match(&SCHEME_RE, scheme) {
            return Err(ExpandError::InvalidScheme {
                reference: reference.to_owned(),
                scheme: scheme.to_owned(),
                hint,
            });
        }
        match scheme {
            "env" => self.env_var(reference, opaque, loc, path),
            "file" => match std::fs::read_to_string(opaque) {
                Ok(text) => Ok(Retrieved::from_text(text, loc)),
                Err(source) => Err(ExpandError::File {
                    reference: reference.to_owned(),
                    file: opaque.to_owned(),
                    source,
                }),
            },
            "yaml" => Ok(Retrieved::from_text(opaque.to_string(), loc)),
            "http" | "https" => Err(ExpandError::Http {
                reference: reference.to_owned(),
                scheme: scheme.to_owned(),
            }),
            _ => Err(ExpandError::UnsupportedScheme {
                reference: reference.to_owned(),
                scheme: scheme.to_owned(),
                hint,
            }),
        }
    }

    fn env_var(
        &mut self,
        reference: &str,
        opaque: &str,
        loc: &Loc,
        path: &str,
    ) -> Result<Retrieved, ExpandError> {
        let (name, default) = match opaque.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (opaque, None),
        };
        if !is_match(&ENV_NAME_RE, name) {
            return Err(ExpandError::EnvName {
                reference: reference.to_owned(),
                name: name.to_owned(),
            });
        }
        let text = match (self.env)(name) {
            Some(v) => {
                if v.is_empty() {
                    tracing::info!(
                        variable = name,
                        "configuration references empty environment variable"
                    );
                }
                v
            }
            None => match default {
                Some(d) => d.to_string(),
                None => {
                    self.warnings.push(Warning::at(
                        path,
                        Some(loc),
                        format!("configuration references unset environment variable \"{name}\""),
                    ));
                    String::new()
                }
            },
        };
        Ok(Retrieved::from_text(text, loc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_innermost_leftmost_unescaped_reference() {
        assert_eq!(find_reference("${env:A}"), Some((0, 7)));
        assert_eq!(find_reference("x${env:${env:B}}"), Some((7, 14)));
        assert_eq!(find_reference("$${env:A}"), None);
        assert_eq!(find_reference("$$${env:A}"), Some((2, 9)));
        assert_eq!(find_reference("$A and ${A"), None);
        assert_eq!(find_reference("} ${A}"), Some((2, 5)));
    }
}
