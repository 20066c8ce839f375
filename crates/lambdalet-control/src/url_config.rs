//! What a function URL configuration holds (`AuthType`, `Cors`, `InvokeMode`), its checks,
//! and the in-memory table of every configuration, by function and qualifier and by url id.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use lambdalet_core::LambdaError;
use lambdalet_store::{FunctionUrlRecord, Store, StoreError};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// How callers of a URL are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAuthType {
    /// Anyone who reaches the URL (with a resource-policy permission, as on AWS).
    None,
    /// Requests signed with Signature Version 4 (service `lambda`) by a lambdalet key.
    AwsIam,
}

impl UrlAuthType {
    pub fn parse(s: &str) -> Result<Self, LambdaError> {
        match s {
            "NONE" => Ok(Self::None),
            "AWS_IAM" => Ok(Self::AwsIam),
            other => Err(LambdaError::invalid(format!(
                "1 validation error detected: Value '{other}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_IAM, NONE]"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::AwsIam => "AWS_IAM",
        }
    }
}

/// How a URL returns the function's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    /// The whole response at once (at most 6 MB).
    Buffered,
    /// Streamed as the function writes it.
    ResponseStream,
}

impl InvokeMode {
    pub fn parse(s: &str) -> Result<Self, LambdaError> {
        match s {
            "BUFFERED" => Ok(Self::Buffered),
            "RESPONSE_STREAM" => Ok(Self::ResponseStream),
            other => Err(LambdaError::invalid(format!(
                "1 validation error detected: Value '{other}' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buffered => "BUFFERED",
            Self::ResponseStream => "RESPONSE_STREAM",
        }
    }
}

/// The `Cors` structure, as the API takes and shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Cors {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

/// The most `MaxAge` may be, in seconds.
pub const MAX_CORS_AGE: i64 = 86_400;

impl Cors {
    /// Checks the model's limits, and that every value can go into a response header as it is
    /// (they are sent back in `Access-Control-*` headers).
    pub fn validate(&self) -> Result<(), LambdaError> {
        let list = |what: &str, v: &Option<Vec<String>>, max: usize, min_len: usize, max_len| {
            let v = v.as_deref().unwrap_or_default();
            if v.len() > max {
                return Err(LambdaError::invalid(format!(
                    "Cors.{what} may have at most {max} members (it has {})",
                    v.len()
                )));
            }
            for item in v {
                if item.len() < min_len || item.len() > max_len {
                    return Err(LambdaError::invalid(format!(
                        "each member of Cors.{what} must be {min_len} to {max_len} characters long ({item:?} is not)"
                    )));
                }
                if !item.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                    return Err(LambdaError::invalid(format!(
                        "Cors.{what} member {item:?} must be printable ASCII: it is sent back in a response header"
                    )));
                }
            }
            Ok(())
        };
        list("AllowHeaders", &self.allow_headers, 100, 0, 1024)?;
        list("ExposeHeaders", &self.expose_headers, 100, 0, 1024)?;
        list("AllowOrigins", &self.allow_origins, 100, 1, 253)?;
        list("AllowMethods", &self.allow_methods, 6, 0, 6)?;
        for m in self.allow_methods.as_deref().unwrap_or_default() {
            let known = [
                "*", "GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS",
            ];
            if !known.iter().any(|k| k.eq_ignore_ascii_case(m)) {
                return Err(LambdaError::invalid(format!(
                    "Cors.AllowMethods member {m:?} is not an HTTP method: use GET, PUT, HEAD, POST, PATCH, DELETE or *"
                )));
            }
        }
        if let Some(age) = self.max_age
            && !(0..=MAX_CORS_AGE).contains(&age)
        {
            return Err(LambdaError::invalid(format!(
                "Cors.MaxAge must be 0 to {MAX_CORS_AGE} seconds (got {age})"
            )));
        }
        Ok(())
    }
}

/// A function URL configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUrl {
    pub function: String,
    /// `$LATEST` (the function itself) or an alias name.
    pub qualifier: String,
    /// 32 lowercase letters and digits, random, fixed for the configuration's life.
    pub url_id: String,
    pub auth_type: UrlAuthType,
    pub cors: Option<Cors>,
    pub invoke_mode: InvokeMode,
    pub created_ms: u64,
    pub modified_ms: u64,
}

impl FunctionUrl {
    pub(crate) fn record(&self) -> Result<FunctionUrlRecord, LambdaError> {
        let cors_json = self
            .cors
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| LambdaError::invalid(e.to_string()))?;
        Ok(FunctionUrlRecord {
            function: self.function.clone(),
            qualifier: self.qualifier.clone(),
            url_id: self.url_id.clone(),
            auth_type: self.auth_type.as_str().to_owned(),
            cors_json,
            invoke_mode: self.invoke_mode.as_str().to_owned(),
            created_ms: self.created_ms,
            modified_ms: self.modified_ms,
        })
    }

    fn from_record(r: FunctionUrlRecord) -> Result<Self, StoreError> {
        let corrupt = |e: LambdaError| StoreError::Corrupt(e.message);
        Ok(Self {
            auth_type: UrlAuthType::parse(&r.auth_type).map_err(corrupt)?,
            invoke_mode: InvokeMode::parse(&r.invoke_mode).map_err(corrupt)?,
            cors: r
                .cors_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            function: r.function,
            qualifier: r.qualifier,
            url_id: r.url_id,
            created_ms: r.created_ms,
            modified_ms: r.modified_ms,
        })
    }
}

/// What CreateFunctionUrlConfig and UpdateFunctionUrlConfig carry; for an update, `None`
/// keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UrlInput {
    pub auth_type: Option<String>,
    pub cors: Option<Cors>,
    pub invoke_mode: Option<String>,
}

/// Every URL configuration, and the port of the URL listener (`--url-listen`).
#[derive(Debug, Default)]
pub(crate) struct Urls {
    pub by_target: RwLock<BTreeMap<(String, String), FunctionUrl>>,
    /// url id → (function, qualifier).
    pub by_id: RwLock<HashMap<String, (String, String)>>,
    pub port: OnceLock<u16>,
}

impl Urls {
    /// Every configuration in the store.
    pub(crate) fn load(store: &Store) -> Result<Self, StoreError> {
        let urls = Self::default();
        for r in store.load_function_urls()? {
            let u = FunctionUrl::from_record(r)?;
            urls.put(u);
        }
        Ok(urls)
    }

    pub(crate) fn put(&self, u: FunctionUrl) {
        let key = (u.function.clone(), u.qualifier.clone());
        self.by_id.write().insert(u.url_id.clone(), key.clone());
        self.by_target.write().insert(key, u);
    }

    /// Forgets the configuration of `qualifier`, or all of `function`'s with `None`.
    pub(crate) fn forget(&self, function: &str, qualifier: Option<&str>) {
        let mut targets = self.by_target.write();
        let gone: Vec<(String, String)> = targets
            .keys()
            .filter(|(f, q)| f == function && qualifier.is_none_or(|want| want == q))
            .cloned()
            .collect();
        let mut ids = self.by_id.write();
        for key in gone {
            if let Some(u) = targets.remove(&key) {
                ids.remove(&u.url_id);
            }
        }
    }
}

/// A fresh url id: 32 lowercase letters and digits from the system's random source.
pub(crate) fn new_url_id() -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(32);
    while id.len() < 32 {
        for b in uuid::Uuid::new_v4().as_bytes() {
            // 252 = 7 × 36: rejecting the rest keeps every character equally likely.
            if *b < 252 && id.len() < 32 {
                id.push(ALPHABET[usize::from(*b % 36)] as char);
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_ids_are_32_lowercase_alphanumerics_and_differ() {
        let a = new_url_id();
        let b = new_url_id();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn cors_limits_are_aws_and_values_fit_headers() {
        let ok: Cors = serde_json::from_str(
            r#"{"AllowOrigins":["https://example.com"],"AllowMethods":["GET","post","*"],"MaxAge":300,"AllowCredentials":true}"#,
        )
        .expect("parse");
        ok.validate().expect("valid");
        let bad = |json: &str| {
            serde_json::from_str::<Cors>(json)
                .expect("parse")
                .validate()
                .expect_err(json)
        };
        bad(r#"{"MaxAge":86401}"#);
        bad(r#"{"MaxAge":-1}"#);
        bad(r#"{"AllowMethods":["GET","PUT","HEAD","POST","PATCH","DELETE","GET"]}"#);
        bad(r#"{"AllowMethods":["FETCH"]}"#);
        bad(r#"{"AllowOrigins":[""]}"#);
        bad(r#"{"AllowHeaders":["x\r\nset-cookie: a=b"]}"#);
        assert!(serde_json::from_str::<Cors>(r#"{"AllowOrigin":["*"]}"#).is_err());
    }

    #[test]
    fn enums_take_aws_values_only() {
        assert_eq!(
            UrlAuthType::parse("AWS_IAM").expect("ok"),
            UrlAuthType::AwsIam
        );
        assert!(UrlAuthType::parse("none").is_err());
        assert_eq!(
            InvokeMode::parse("RESPONSE_STREAM").expect("ok"),
            InvokeMode::ResponseStream
        );
        assert!(InvokeMode::parse("STREAM").is_err());
    }
}
