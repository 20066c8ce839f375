//! The one error a recipe can produce, the internal form the parsers pass around before
//! they know which file to blame, and the small helpers that keep messages uniform.

use std::fmt;

use lambdalet_core::{ErrorCode, HasErrorCode};
use serde_json::Value;

/// Why a recipe was refused: the file (or `name@version` once the recipe is parsed), the
/// field path in the recipe's canonical names (`Manifests[0].Artifacts[0].Digest`), and
/// what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeError {
    pub file: String,
    pub path: String,
    pub message: String,
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

impl std::error::Error for RecipeError {}

/// A recipe is caller input, so every problem with it is the caller's to fix.
impl HasErrorCode for RecipeError {
    fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidParameterValue
    }
}

/// A problem at a field path. The walkers return this; the public entry points add the
/// file name (or the component's `name@version`) and turn it into a [`RecipeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub path: String,
    pub message: String,
}

impl Fault {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn in_file(self, file: &str) -> RecipeError {
        RecipeError {
            file: file.to_string(),
            path: self.path,
            message: self.message,
        }
    }
}

pub(crate) type Checked<T> = Result<T, Fault>;

/// `path.key`, or just `key` at the top level.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Longest piece of user text quoted back in a message; recipes are caller input and a
/// message should stay one readable line.
const QUOTE_MAX: usize = 80;

/// A string as messages quote it: `"abc"`, cut after [`QUOTE_MAX`] characters.
pub(crate) fn quote(s: &str) -> String {
    if s.chars().count() <= QUOTE_MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(QUOTE_MAX).collect();
        format!("{head:?}…")
    }
}

/// How a found value is named in messages: `"abc"`, `42`, `true`, `null`, `an array`,
/// `an object`.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(a) if a.is_empty() => "an empty array".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_leaves_out_an_empty_path() {
        let with = Fault::new("ComponentName", "missing").in_file("r.yaml");
        assert_eq!(with.to_string(), "r.yaml: ComponentName: missing");
        let without = Fault::new("", "not a recipe").in_file("r.yaml");
        assert_eq!(without.to_string(), "r.yaml: not a recipe");
    }

    #[test]
    fn describe_names_each_kind_of_value() {
        assert_eq!(describe(&json!(null)), "null");
        assert_eq!(describe(&json!(3)), "3");
        assert_eq!(describe(&json!("a\"b")), r#""a\"b""#);
        assert_eq!(describe(&json!([])), "an empty array");
        assert_eq!(describe(&json!([1])), "an array");
        assert_eq!(describe(&json!({})), "an object");
        let long = "x".repeat(100);
        assert_eq!(quote(&long), format!("{:?}…", "x".repeat(80)));
    }
}
