//! Reading one recipe object: its keys matched case-insensitively against the names the
//! section accepts (the nucleus parses recipes with Jackson's
//! `ACCEPT_CASE_INSENSITIVE_PROPERTIES`), and the scalar readers every section shares.
//!
//! Unknown keys are refused here. The nucleus itself ignores them (its `RecipeLoader`
//! disables `FAIL_ON_UNKNOWN_PROPERTIES`) and the cloud's recipe schema refuses them only at
//! the top level; we refuse them everywhere a fixed set of keys is defined, because a
//! misspelt `Lifecyle` or `Permision` silently ignored is a component that quietly does
//! the wrong thing on a device nobody is looking at.

use serde_json::{Map, Value};

use super::error::{Checked, Fault, describe, join, quote};

/// An object whose keys were matched against the canonical names of one recipe section.
pub(crate) struct Fields<'a> {
    path: String,
    found: Vec<(&'static str, &'a Value)>,
}

impl<'a> Fields<'a> {
    /// Reads `v` as the section `what` at `path`, which accepts exactly `accepted`.
    pub fn of(v: &'a Value, path: &str, what: &str, accepted: &[&'static str]) -> Checked<Self> {
        let map = object(v, path, what)?;
        let mut found: Vec<(&'static str, &'a str, &'a Value)> = Vec::new();
        for (key, value) in map {
            let Some(name) = canonical(key, accepted) else {
                return Err(Fault::new(
                    path,
                    format!(
                        "unknown key {}; {what} accepts {}",
                        quote(key),
                        accepted.join(", ")
                    ),
                ));
            };
            if let Some((_, first, _)) = found.iter().find(|(n, _, _)| *n == name) {
                return Err(twice(path, first, key));
            }
            found.push((name, key, value));
        }
        Ok(Self {
            path: path.to_string(),
            found: found.into_iter().map(|(n, _, v)| (n, v)).collect(),
        })
    }

    /// The value under the canonical `name`; `None` when absent or `null`, since YAML
    /// writes an empty field (`Lifecycle:`) as `null`.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.found
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_null())
    }

    /// The path of the field `name` in this section.
    pub fn path(&self, name: &str) -> String {
        join(&self.path, name)
    }
}

/// The accepted name `key` stands for, ignoring ASCII case.
pub(crate) fn canonical(key: &str, accepted: &[&'static str]) -> Option<&'static str> {
    accepted
        .iter()
        .copied()
        .find(|name| name.eq_ignore_ascii_case(key))
}

/// The fault for two keys that differ only in case.
pub(crate) fn twice(path: &str, first: &str, second: &str) -> Fault {
    Fault::new(
        path,
        format!(
            "{} and {} name the same key (keys are case-insensitive); keep one",
            quote(first),
            quote(second)
        ),
    )
}

/// `v` as an object, or a fault naming what the section should have been.
pub(crate) fn object<'a>(v: &'a Value, path: &str, what: &str) -> Checked<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| {
        Fault::new(
            path,
            format!("expected {what} (an object), got {}", describe(v)),
        )
    })
}

/// A string field, exactly.
pub(crate) fn string(v: &Value, path: &str) -> Checked<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(Fault::new(
            path,
            format!("expected a string, got {}", describe(other)),
        )),
    }
}

/// A text field: a string, or a number or boolean taken as its text, because YAML turns
/// `Setenv: {PORT: 8080}` or `Run: 42` into numbers the author meant as text.
pub(crate) fn text(v: &Value, path: &str) -> Checked<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(Fault::new(
            path,
            format!("expected a string, got {}", describe(other)),
        )),
    }
}

/// An optional text field of `fields`.
pub(crate) fn optional_text(fields: &Fields<'_>, name: &str) -> Checked<Option<String>> {
    fields
        .get(name)
        .map(|v| text(v, &fields.path(name)))
        .transpose()
}

/// A boolean: `true`/`false`, or those words as a string in any case (Jackson coerces
/// `"true"` too, and the recipe schema allows both).
pub(crate) fn boolean(v: &Value, path: &str) -> Checked<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(Fault::new(
            path,
            format!("expected true or false, got {}", describe(other)),
        )),
    }
}

/// One of `choices` (canonical spellings), matched ignoring ASCII case.
pub(crate) fn choice<'c>(v: &Value, path: &str, choices: &[&'c str]) -> Checked<&'c str> {
    let found = match v {
        Value::String(s) => choices.iter().find(|c| c.eq_ignore_ascii_case(s)),
        _ => None,
    };
    found.copied().ok_or_else(|| {
        Fault::new(
            path,
            format!(
                "expected one of {}, got {}",
                choices.join(", "),
                describe(v)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEYS: &[&str] = &["Script", "Timeout"];

    #[test]
    fn keys_match_in_any_case_and_null_counts_as_absent() {
        let v = json!({"script": "echo", "TIMEOUT": null});
        let f = Fields::of(&v, "Lifecycle.Run", "a step", KEYS).unwrap();
        assert_eq!(f.get("Script"), Some(&json!("echo")));
        assert_eq!(f.get("Timeout"), None);
        assert_eq!(f.path("Script"), "Lifecycle.Run.Script");
    }

    #[test]
    fn unknown_and_doubled_keys_are_refused() {
        let v = json!({"Scrip": "echo"});
        let e = Fields::of(&v, "Run", "a step", KEYS).err().unwrap();
        assert_eq!(
            e.message,
            r#"unknown key "Scrip"; a step accepts Script, Timeout"#
        );
        let v = json!({"Script": "a", "script": "b"});
        let e = Fields::of(&v, "Run", "a step", KEYS).err().unwrap();
        assert_eq!(e.path, "Run");
        assert!(e.message.contains("same key"), "{}", e.message);
    }

    #[test]
    fn scalars() {
        assert_eq!(text(&json!(8080), "p").unwrap(), "8080");
        assert_eq!(text(&json!(true), "p").unwrap(), "true");
        assert!(string(&json!(1), "p").is_err());
        assert!(boolean(&json!("TRUE"), "p").unwrap());
        assert_eq!(
            boolean(&json!("yes"), "p").err().unwrap().message,
            r#"expected true or false, got "yes""#
        );
        assert_eq!(choice(&json!("zip"), "p", &["NONE", "ZIP"]).unwrap(), "ZIP");
    }
}
