//! Names, qualifiers and ARNs: how a caller points at a function.
//!
//! The Invoke and management APIs accept a function as a bare name (`hello`), a name with a
//! qualifier (`hello:prod`, `hello:3`), a partial ARN (`123456789012:function:hello`) or a full
//! ARN (`arn:aws:lambda:us-east-1:123456789012:function:hello:prod`). [`FunctionRef::parse`]
//! turns any of them into a validated name and optional qualifier.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;
use crate::limits::{MAX_ALIAS_NAME_LEN, MAX_FUNCTION_NAME_LEN};

/// The region, account and partition lambdalet pretends to live in; they appear in every ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub partition: String,
    pub region: String,
    pub account_id: String,
}

impl Default for AccountInfo {
    fn default() -> Self {
        Self {
            partition: "aws".to_owned(),
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
        }
    }
}

impl AccountInfo {
    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition, self.region, self.account_id, name
        )
    }

    /// The function ARN with `:<qualifier>` appended.
    pub fn qualified_arn(&self, name: &str, qualifier: &str) -> String {
        format!("{}:{}", self.function_arn(name), qualifier)
    }

    /// Checks a region name (`us-east-1`, `eu-central-1`, `local-1`) and account id (12 digits).
    pub fn validate(&self) -> Result<(), LambdaError> {
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 32
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err(LambdaError::invalid(format!(
                "region {:?} is not valid: use lower-case letters, digits and '-', like us-east-1",
                self.region
            )));
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LambdaError::invalid(format!(
                "account id {:?} is not valid: it must be exactly 12 digits",
                self.account_id
            )));
        }
        Ok(())
    }
}

/// A validated bare function name: 1 to 64 of `[a-zA-Z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FunctionName(String);

impl FunctionName {
    pub fn new(name: &str) -> Result<Self, LambdaError> {
        if name.is_empty() || name.len() > MAX_FUNCTION_NAME_LEN {
            return Err(LambdaError::invalid(format!(
                "function name {name:?} must be 1 to {MAX_FUNCTION_NAME_LEN} characters long (it has {})",
                name.len()
            )));
        }
        if let Some(bad) = name.chars().find(|c| !is_name_char(*c)) {
            return Err(LambdaError::invalid(format!(
                "function name {name:?} contains {bad:?}: use only letters, digits, '-' and '_'"
            )));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for FunctionName {
    type Error = LambdaError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<FunctionName> for String {
    fn from(n: FunctionName) -> String {
        n.0
    }
}

impl AsRef<str> for FunctionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Which version of a function: `$LATEST`, a published version number, or an alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Qualifier {
    Latest,
    Version(u64),
    Alias(String),
}

impl Qualifier {
    pub const LATEST: &'static str = "$LATEST";

    pub fn parse(s: &str) -> Result<Self, LambdaError> {
        if s == Self::LATEST {
            return Ok(Self::Latest);
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse::<u64>().map(Self::Version).map_err(|_| {
                LambdaError::invalid(format!("version {s:?} is too large to be a version number"))
            });
        }
        validate_alias_name(s)?;
        Ok(Self::Alias(s.to_owned()))
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str(Self::LATEST),
            Self::Version(v) => write!(f, "{v}"),
            Self::Alias(a) => f.write_str(a),
        }
    }
}

/// Checks an alias name: 1 to 128 of `[a-zA-Z0-9_-]`, not only digits (that would be a version).
pub fn validate_alias_name(s: &str) -> Result<(), LambdaError> {
    if s.is_empty() || s.len() > MAX_ALIAS_NAME_LEN {
        return Err(LambdaError::invalid(format!(
            "alias name {s:?} must be 1 to {MAX_ALIAS_NAME_LEN} characters long"
        )));
    }
    if let Some(bad) = s.chars().find(|c| !is_name_char(*c)) {
        return Err(LambdaError::invalid(format!(
            "qualifier {s:?} contains {bad:?}: use $LATEST, a version number, or an alias name of letters, digits, '-' and '_'"
        )));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LambdaError::invalid(format!(
            "alias name {s:?} cannot be only digits: that would be read as a version number"
        )));
    }
    Ok(())
}

/// A function reference as a caller wrote it: a name and maybe a qualifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: FunctionName,
    pub qualifier: Option<Qualifier>,
}

impl FunctionRef {
    /// Parses `name`, `name:qualifier`, `account:function:name[:qualifier]` or a full ARN.
    pub fn parse(input: &str) -> Result<Self, LambdaError> {
        if input.is_empty() || input.len() > 170 {
            return Err(LambdaError::invalid(format!(
                "function name {input:?} must be 1 to 170 characters long as a name or ARN"
            )));
        }
        let parts: Vec<&str> = input.split(':').collect();
        let (name, qualifier) = match parts.as_slice() {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            [account, "function", name] => {
                check_account(account, input)?;
                (*name, None)
            }
            [account, "function", name, q] => {
                check_account(account, input)?;
                (*name, Some(*q))
            }
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                rest @ ..,
            ] if !rest.is_empty() && rest.len() <= 2 => {
                if partition.is_empty() || region.is_empty() {
                    return Err(bad_arn(input));
                }
                check_account(account, input)?;
                (rest[0], rest.get(1).copied())
            }
            _ => return Err(bad_arn(input)),
        };
        let name = FunctionName::new(name)?;
        let qualifier = qualifier.map(Qualifier::parse).transpose()?;
        Ok(Self { name, qualifier })
    }

    /// Combines the qualifier inside the name with a separate `Qualifier` parameter; they must agree.
    pub fn with_qualifier_param(mut self, param: Option<&str>) -> Result<Self, LambdaError> {
        let Some(param) = param.filter(|p| !p.is_empty()) else {
            return Ok(self);
        };
        let param = Qualifier::parse(param)?;
        match &self.qualifier {
            Some(q) if *q != param => Err(LambdaError::invalid(format!(
                "the derived qualifier from the function name ({q}) does not match the Qualifier parameter ({param}): give it once"
            ))),
            _ => {
                self.qualifier = Some(param);
                Ok(self)
            }
        }
    }
}

fn check_account(account: &str, input: &str) -> Result<(), LambdaError> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(bad_arn(input))
    }
}

fn bad_arn(input: &str) -> LambdaError {
    LambdaError::invalid(format!(
        "{input:?} is not a function name or ARN: use NAME, NAME:QUALIFIER, ACCOUNT:function:NAME or arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]"
    ))
}

/// A fresh request id (UUID v4), as the Lambda service generates for each invocation.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (String, Option<String>) {
        let r = FunctionRef::parse(s).expect("valid reference");
        (r.name.to_string(), r.qualifier.map(|q| q.to_string()))
    }

    #[test]
    fn accepts_every_documented_form() {
        assert_eq!(parse("hello"), ("hello".into(), None));
        assert_eq!(parse("hello:prod"), ("hello".into(), Some("prod".into())));
        assert_eq!(parse("hello:7"), ("hello".into(), Some("7".into())));
        assert_eq!(
            parse("hello:$LATEST"),
            ("hello".into(), Some("$LATEST".into()))
        );
        assert_eq!(parse("123456789012:function:hello"), ("hello".into(), None));
        assert_eq!(
            parse("arn:aws:lambda:us-west-2:123456789012:function:my-function:v1"),
            ("my-function".into(), Some("v1".into()))
        );
    }

    #[test]
    fn rejects_bad_names_with_a_reason() {
        for bad in [
            "",
            "a/b",
            "has space",
            "x:y:z",
            "arn:aws:lambda:r:12:function:x",
            "a:",
        ] {
            assert!(
                FunctionRef::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let long = "a".repeat(65);
        let err = FunctionRef::parse(&long).expect_err("too long");
        assert!(err.message.contains("1 to 64"), "{}", err.message);
    }

    #[test]
    fn qualifier_parameter_must_agree() {
        let r = FunctionRef::parse("hello:prod").expect("valid");
        assert!(r.clone().with_qualifier_param(Some("prod")).is_ok());
        assert!(r.with_qualifier_param(Some("2")).is_err());
        let r = FunctionRef::parse("hello").expect("valid");
        let r = r.with_qualifier_param(Some("3")).expect("valid");
        assert_eq!(r.qualifier, Some(Qualifier::Version(3)));
    }

    #[test]
    fn arns_look_like_aws() {
        let a = AccountInfo::default();
        assert_eq!(
            a.function_arn("f"),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(
            a.qualified_arn("f", "$LATEST"),
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
        );
    }
}
