//! JSON as the daemon sent it. serde_json's `Value` sorts an object's keys; a [`Doc`] keeps them
//! in the order they came, so `--output json` prints a function's configuration with
//! `FunctionName` first, as the API writes it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

/// A JSON value whose objects keep their keys' order.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Doc {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Doc>),
    Object(Vec<(String, Doc)>),
}

/// What a missing key or index reads as.
static NULL: Doc = Doc::Null;

impl Doc {
    /// Parses JSON text.
    pub fn parse(bytes: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(bytes)
    }

    /// An object of these fields, in this order.
    pub fn object<K: Into<String>>(fields: impl IntoIterator<Item = (K, Doc)>) -> Self {
        Doc::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value of `key` (`Null` when absent or not an object), as `Value`'s `v["key"]`.
    pub fn get(&self, key: &str) -> &Doc {
        match self {
            Doc::Object(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    /// The value at a dotted path, `Sdk.Version`.
    pub fn path(&self, path: &str) -> &Doc {
        path.split('.').fold(self, |d, key| d.get(key))
    }

    /// An array's items (none for anything else).
    pub fn items(&self) -> &[Doc] {
        match self {
            Doc::Array(items) => items,
            _ => &[],
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Doc::String(s) => Some(s),
            _ => None,
        }
    }

    /// The same JSON as a `Value` (keys sorted), for code that reads fields.
    pub fn value(&self) -> Value {
        match self {
            Doc::Null => Value::Null,
            Doc::Bool(b) => Value::Bool(*b),
            Doc::Number(n) => Value::Number(n.clone()),
            Doc::String(s) => Value::String(s.clone()),
            Doc::Array(items) => Value::Array(items.iter().map(Doc::value).collect()),
            Doc::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.value())).collect())
            }
        }
    }

    /// Indented JSON, two spaces, as `serde_json::to_string_pretty` writes it.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Doc always serializes")
    }

    /// JSON on one line.
    pub fn compact(&self) -> String {
        serde_json::to_string(self).expect("a Doc always serializes")
    }
}

impl From<Value> for Doc {
    fn from(v: Value) -> Self {
        match v {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Bool(b),
            Value::Number(n) => Doc::Number(n),
            Value::String(s) => Doc::String(s),
            Value::Array(items) => Doc::Array(items.into_iter().map(Doc::from).collect()),
            Value::Object(fields) => {
                Doc::Object(fields.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

impl From<&str> for Doc {
    fn from(s: &str) -> Self {
        Doc::String(s.to_owned())
    }
}

impl std::ops::Index<&str> for Doc {
    type Output = Doc;

    fn index(&self, key: &str) -> &Doc {
        self.get(key)
    }
}

impl Serialize for Doc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Null => s.serialize_unit(),
            Doc::Bool(b) => s.serialize_bool(*b),
            Doc::Number(n) => n.serialize(s),
            Doc::String(v) => s.serialize_str(v),
            Doc::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Doc::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_unit<E>(self) -> Result<Doc, E> {
        Ok(Doc::Null)
    }

    fn visit_none<E>(self) -> Result<Doc, E> {
        Ok(Doc::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Doc, E> {
        Ok(Doc::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Doc, E> {
        Ok(Doc::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Doc, E> {
        Ok(Doc::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Doc, E> {
        Ok(Number::from_f64(n).map_or(Doc::Null, Doc::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Doc, E> {
        Ok(Doc::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Doc, E> {
        Ok(Doc::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Doc::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut fields: Vec<(String, Doc)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Doc>()? {
            // A repeated key: the last one wins, as with `Value`.
            match fields.iter_mut().find(|(key, _)| *key == k) {
                Some(field) => field.1 = v,
                None => fields.push((k, v)),
            }
        }
        Ok(Doc::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::Doc;

    #[test]
    fn keys_keep_their_order_and_values_read_as_with_value() {
        let text = br#"{"b": 1, "a": {"z": [true, null, 1.5], "y": "s"}, "c": -2}"#;
        let d = Doc::parse(text).expect("JSON");
        assert_eq!(
            d.compact(),
            r#"{"b":1,"a":{"z":[true,null,1.5],"y":"s"},"c":-2}"#
        );
        assert_eq!(d.path("a.y").as_str(), Some("s"));
        assert_eq!(d["missing"]["deeper"], Doc::Null);
        assert_eq!(d["a"]["z"].items().len(), 3);
        let v: serde_json::Value = serde_json::from_slice(text).expect("JSON");
        assert_eq!(d.value(), v);
        assert_eq!(
            Doc::parse(br#"{"k":[1,{}],"e":[]}"#)
                .expect("JSON")
                .pretty(),
            "{\n  \"k\": [\n    1,\n    {}\n  ],\n  \"e\": []\n}"
        );
    }
}
