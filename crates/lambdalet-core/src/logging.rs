//! A function's `LoggingConfig`: the log format (Text or JSON), the application and system
//! log levels (JSON only) and the log group name, with Lambda's rules.

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;

const APPLICATION_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const SYSTEM_LEVELS: &[&str] = &["DEBUG", "INFO", "WARN"];

/// The stored `LoggingConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingConfig {
    /// `Text` or `JSON`.
    pub log_format: String,
    /// With JSON: the runtime's level (`AWS_LAMBDA_LOG_LEVEL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    /// With JSON: which platform records (START/END/REPORT) are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            log_format: "Text".to_owned(),
            application_log_level: None,
            system_log_level: None,
            log_group: None,
        }
    }
}

/// `LoggingConfig` as CreateFunction and UpdateFunctionConfiguration take it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingPatch {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

fn level(field: &str, v: &str, allowed: &[&str]) -> Result<String, LambdaError> {
    let up = v.to_ascii_uppercase();
    if allowed.contains(&up.as_str()) {
        Ok(up)
    } else {
        Err(LambdaError::invalid(format!(
            "LoggingConfig.{field} {v:?} is not valid: use one of {}",
            allowed.join(", ")
        )))
    }
}

impl LoggingConfig {
    /// This configuration with `p` applied: a JSON format gets levels (INFO unless given), a
    /// Text one has none (setting one is refused).
    pub fn apply(&self, p: &LoggingPatch) -> Result<Self, LambdaError> {
        let log_format = match p.log_format.as_deref() {
            None => self.log_format.clone(),
            Some(f) if f.eq_ignore_ascii_case("json") => "JSON".to_owned(),
            Some(f) if f.eq_ignore_ascii_case("text") => "Text".to_owned(),
            Some(f) => {
                return Err(LambdaError::invalid(format!(
                    "LoggingConfig.LogFormat {f:?} is not valid: use Text or JSON"
                )));
            }
        };
        let json = log_format == "JSON";
        if !json && (p.application_log_level.is_some() || p.system_log_level.is_some()) {
            return Err(LambdaError::invalid(
                "LoggingConfig.ApplicationLogLevel and SystemLogLevel can be set only with LogFormat JSON: add LogFormat=JSON",
            ));
        }
        let pick = |given: &Option<String>, kept: &Option<String>, field, allowed| {
            if !json {
                return Ok(None);
            }
            match given.as_deref().or(kept.as_deref()) {
                Some(v) => level(field, v, allowed).map(Some),
                None => Ok(Some("INFO".to_owned())),
            }
        };
        let application_log_level = pick(
            &p.application_log_level,
            &self.application_log_level,
            "ApplicationLogLevel",
            APPLICATION_LEVELS,
        )?;
        let system_log_level = pick(
            &p.system_log_level,
            &self.system_log_level,
            "SystemLogLevel",
            SYSTEM_LEVELS,
        )?;
        let log_group = match p.log_group.as_deref() {
            None => self.log_group.clone(),
            Some(g) => {
                let ok = (1..=512).contains(&g.len())
                    && g.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
                if !ok {
                    return Err(LambdaError::invalid(format!(
                        "LoggingConfig.LogGroup {g:?} is not valid: 1 to 512 of letters, digits and ._-/#"
                    )));
                }
                Some(g.to_owned())
            }
        };
        Ok(Self {
            log_format,
            application_log_level,
            system_log_level,
            log_group,
        })
    }

    /// JSON log format.
    pub fn json(&self) -> bool {
        self.log_format == "JSON"
    }

    /// The log group: the configured one, or `/aws/lambda/<function>`.
    pub fn group(&self, function: &str) -> String {
        self.log_group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{function}"))
    }

    /// Whether platform records (INFO level) are written: not with SystemLogLevel WARN.
    pub fn platform_records(&self) -> bool {
        self.system_log_level.as_deref() != Some("WARN")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_gets_levels_and_text_refuses_them() {
        let json = LoggingConfig::default()
            .apply(&LoggingPatch {
                log_format: Some("JSON".into()),
                application_log_level: Some("debug".into()),
                ..Default::default()
            })
            .expect("valid");
        assert_eq!(json.application_log_level.as_deref(), Some("DEBUG"));
        assert_eq!(json.system_log_level.as_deref(), Some("INFO"));
        assert!(json.json() && json.platform_records());
        let text = json
            .apply(&LoggingPatch {
                log_format: Some("Text".into()),
                ..Default::default()
            })
            .expect("back to text");
        assert_eq!(text, LoggingConfig::default());
        assert!(
            LoggingConfig::default()
                .apply(&LoggingPatch {
                    system_log_level: Some("WARN".into()),
                    ..Default::default()
                })
                .is_err()
        );
        assert!(
            json.apply(&LoggingPatch {
                system_log_level: Some("TRACE".into()),
                ..Default::default()
            })
            .is_err()
        );
        assert_eq!(
            json.apply(&LoggingPatch {
                log_group: Some("/custom/group".into()),
                ..Default::default()
            })
            .expect("group")
            .group("f"),
            "/custom/group"
        );
    }
}
