//! Reading the model's input files (YAML and CSV) with errors that name the file, the
//! line and the key, as the project promises for every bad input.

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with an input file. `Display` reads like a compiler diagnostic:
/// `models/aws/ec2.yaml:12: throttling.buckets.AttachNetworkInterface.refill_per_s: must be ≥ 0`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct InputError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": ")?;
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl InputError {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        InputError {
            file: file.into(),
            line: None,
            key: None,
            message: message.into(),
        }
    }

    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// An error about `key` (a dotted path) in a YAML document whose text is `text`;
    /// the line is found by walking the document's indentation.
    pub fn for_yaml_key(file: &Path, text: &str, key: &str, message: impl Into<String>) -> Self {
        InputError {
            file: file.to_path_buf(),
            line: locate_yaml_key(text, key),
            key: Some(key.to_string()),
            message: message.into(),
        }
    }
}

/// Where the data came from: a path, or the model embedded in the binary.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))
}

/// Parses YAML into `T`, turning serde's errors (unknown key, wrong type, unknown
/// variant) into an `InputError` with the line and, where serde names one, the key.
pub fn parse_yaml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, InputError> {
    if text.trim().is_empty() {
        return Err(InputError::new(file, "the file is empty"));
    }
    serde_yaml_ng::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        let message = e.to_string();
        // serde_yaml appends " at line L column C"; the line is reported separately.
        let message = match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        let key = message
            .split_once(": ")
            .filter(|(path, _)| !path.contains(' '))
            .map(|(path, _)| path.to_string());
        let message = match &key {
            Some(k) => message[k.len() + 2..].to_string(),
            None => message,
        };
        // A custom error from a field's own parser (a Go duration, a rate) is reported at
        // the enclosing map; the value it quotes finds the field itself.
        let (line, key) = match refine_to_quoted_value(text, key.as_deref(), &message) {
            Some((l, k)) => (Some(l), Some(k)),
            None => (line, key),
        };
        InputError {
            file: file.to_path_buf(),
            line,
            key,
            message,
        }
    })
}

/// For an error at map `key` whose message quotes a value (`invalid duration "abc"`), the
/// line and dotted key of the one direct field of that map holding exactly that value.
fn refine_to_quoted_value(text: &str, key: Option<&str>, message: &str) -> Option<(usize, String)> {
    let quoted = message.split('"').nth(1).filter(|q| !q.is_empty())?;
    let start = match key {
        Some(k) => locate_yaml_key(text, k)?,
        None => 0,
    };
    let lines: Vec<&str> = text.lines().collect();
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let (base, from) = match key {
        Some(_) => (Some(indent_of(lines[start - 1])), start),
        None => (None, 0),
    };
    let mut hits = Vec::new();
    for (i, raw) in lines.iter().enumerate().skip(from) {
        let line = raw.split(" #").next().unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if base.is_some_and(|b| indent_of(line) <= b) {
            break;
        }
        if let Some((k, v)) = trimmed.split_once(':') {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            if v == quoted {
                let field = k.trim().trim_matches('"').trim_matches('\'');
                hits.push((i + 1, field.to_string()));
            }
        }
    }
    match hits.as_slice() {
        [(line, field)] => Some((
            *line,
            match key {
                Some(k) => format!("{k}.{field}"),
                None => field.clone(),
            },
        )),
        _ => None,
    }
}

/// The 1-based line of a dotted key path (`a.b.c`, list items as `a[2].b`) in a YAML
/// block document, or `None` when it cannot be found (flow style, anchors…).
pub fn locate_yaml_key(text: &str, dotted: &str) -> Option<usize> {
    let segments: Vec<&str> = dotted
        .split('.')
        .map(|s| s.split('[').next().unwrap_or(s))
        .filter(|s| !s.is_empty())
        .collect();
    let mut min_indent: isize = -1;
    let mut seg = 0;
    let mut found = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut indent = (line.len() - trimmed.len()) as isize;
        let body = match trimmed.strip_prefix("- ") {
            Some(rest) => {
                indent += 2;
                rest
            }
            None => trimmed,
        };
        if indent <= min_indent && seg > 0 {
            // Left the block of the last matched segment without finding the next one.
            if found.is_some() {
                break;
            }
        }
        let Some((k, _)) = body.split_once(':') else {
            continue;
        };
        let k = k.trim().trim_matches('"').trim_matches('\'');
        if seg < segments.len() && indent > min_indent && k == segments[seg] {
            found = Some(i + 1);
            min_indent = indent;
            seg += 1;
            if seg == segments.len() {
                return found;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys() {
        let text = "a:\n  b: 1\n  c:\n    d: 2\n# note\ne:\n  - name: x\n    v: 3\n";
        assert_eq!(locate_yaml_key(text, "a.b"), Some(2));
        assert_eq!(locate_yaml_key(text, "a.c.d"), Some(4));
        assert_eq!(locate_yaml_key(text, "e[0].v"), Some(8));
    }

    #[test]
    fn yaml_errors_name_line_and_key() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: u32,
        }
        let e = parse_yaml::<S>(Path::new("f.yaml"), "a: 1\nb: 2\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("unknown field `b`"), "{e}");
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Env {
            env: Inner,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            period: crate::controller::profile::GoDuration,
            timeout: crate::controller::profile::GoDuration,
        }
        let e = parse_yaml::<Env>(
            Path::new("p.yaml"),
            "# c\nenv:\n  period: 5m\n  timeout: abc   # T\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4), "{e}");
        assert_eq!(e.key.as_deref(), Some("env.timeout"), "{e}");
        let e = parse_yaml::<S>(Path::new("f.yaml"), "a: x\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(
            e.to_string().starts_with("f.yaml:1: a: invalid type"),
            "{e}"
        );
    }
}
