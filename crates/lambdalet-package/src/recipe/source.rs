//! Recipe text to a `serde_json::Value`: JSON or YAML, chosen by the file name, with the
//! line and column of a syntax error. Everything after this works on one value type.

use serde_json::{Map, Number, Value};
use serde_norway::Value as Yaml;

use super::error::{Checked, Fault, describe, index, join, quote};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Yaml,
}

/// `.json` is JSON, `.yaml`/`.yml` YAML (any case); any other name is JSON when the text
/// starts with `{`, else YAML (which also reads most JSON, but with worse messages).
pub(crate) fn detect(file_name: &str, text: &[u8]) -> Format {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => Format::Json,
        Some("yaml" | "yml") => Format::Yaml,
        _ if strip_bom(text).trim_ascii_start().starts_with(b"{") => Format::Json,
        _ => Format::Yaml,
    }
}

fn strip_bom(text: &[u8]) -> &[u8] {
    text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text)
}

/// Parses `text` in `format`.
pub(crate) fn load(format: Format, text: &[u8]) -> Checked<Value> {
    let text = strip_bom(text);
    match format {
        Format::Json => serde_json::from_slice(text).map_err(|e| {
            let message = without_location(&e.to_string());
            Fault::new(
                "",
                format!(
                    "invalid JSON at line {}, column {}: {message}",
                    e.line(),
                    e.column()
                ),
            )
        }),
        Format::Yaml => {
            let mut doc: Yaml = serde_norway::from_slice(text).map_err(yaml_fault)?;
            doc.apply_merge().map_err(yaml_fault)?;
            from_yaml(doc, "")
        }
    }
}

fn yaml_fault(e: serde_norway::Error) -> Fault {
    let message = without_location(&e.to_string());
    let message = match e.location() {
        Some(at) => format!(
            "invalid YAML at line {}, column {}: {message}",
            at.line(),
            at.column()
        ),
        None => format!("invalid YAML: {message}"),
    };
    Fault::new("", message)
}

/// Both parsers end their messages with ` at line L column C`; we say it first instead.
fn without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_string(),
        _ => message.to_string(),
    }
}

/// Converts a YAML value. Mapping keys that YAML reads as numbers or booleans (`0:` in a
/// Lambda recipe's `pubsubTopics`) become their text, as they would in JSON.
fn from_yaml(v: Yaml, path: &str) -> Checked<Value> {
    Ok(match v {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => Value::Number(number(&n, path)?),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| from_yaml(item, &index(path, i)))
                .collect::<Checked<_>>()?,
        ),
        Yaml::Mapping(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => {
                        return Err(Fault::new(
                            path,
                            format!(
                                "expected mapping keys to be text, got {}",
                                yaml_kind(&other)
                            ),
                        ));
                    }
                };
                let value = from_yaml(value, &join(path, &key))?;
                if map.insert(key.clone(), value).is_some() {
                    return Err(Fault::new(
                        path,
                        format!("key {} is given twice", quote(&key)),
                    ));
                }
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => {
            return Err(Fault::new(
                path,
                format!(
                    "expected plain YAML, got the tag {} (tags are not part of a recipe)",
                    tagged.tag
                ),
            ));
        }
    })
}

fn number(n: &serde_norway::Number, path: &str) -> Checked<Number> {
    if let Some(i) = n.as_i64() {
        return Ok(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Ok(u.into());
    }
    n.as_f64()
        .and_then(Number::from_f64)
        .ok_or_else(|| Fault::new(path, format!("expected a finite number, got {n}")))
}

fn yaml_kind(v: &Yaml) -> String {
    match v {
        Yaml::Null => "null".to_string(),
        Yaml::Sequence(_) => "a sequence".to_string(),
        Yaml::Mapping(_) => "a mapping".to_string(),
        Yaml::Tagged(_) => "a tagged value".to_string(),
        Yaml::Bool(b) => describe(&Value::Bool(*b)),
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => quote(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_follows_the_extension_then_the_first_character() {
        assert_eq!(detect("r.JSON", b"a: 1"), Format::Json);
        assert_eq!(detect("r.yml", b"{}"), Format::Yaml);
        assert_eq!(detect("recipe", b"\xEF\xBB\xBF \n{\"a\":1}"), Format::Json);
        assert_eq!(detect("recipe.txt", b"a: 1"), Format::Yaml);
    }

    #[test]
    fn yaml_keys_and_numbers_become_json() {
        let v = load(
            Format::Yaml,
            b"topics:\n  0: {topic: a}\n  true: 1\nn: 1.5\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"topics": {"0": {"topic": "a"}, "true": 1}, "n": 1.5})
        );
    }

    #[test]
    fn yaml_merge_keys_are_applied() {
        let text = b"base: &b {Script: run}\nRun:\n  <<: *b\n  Timeout: 5\n";
        let v = load(Format::Yaml, text).unwrap();
        assert_eq!(v["Run"], json!({"Script": "run", "Timeout": 5}));
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = load(Format::Json, b"{\n  \"a\": 1,\n}").err().unwrap();
        assert!(
            e.message.starts_with("invalid JSON at line 3, column 1: "),
            "{}",
            e.message
        );
        let e = load(Format::Yaml, b"a: 1\nb: [\n").err().unwrap();
        assert!(
            e.message.starts_with("invalid YAML at line "),
            "{}",
            e.message
        );
    }

    #[test]
    fn tags_and_odd_keys_are_refused() {
        let e = load(Format::Yaml, b"a: !Ref x\n").err().unwrap();
        assert_eq!(e.path, "a");
        let e = load(Format::Yaml, b"a:\n  [1]: x\n").err().unwrap();
        assert_eq!(
            e.message,
            "expected mapping keys to be text, got a sequence"
        );
    }
}
