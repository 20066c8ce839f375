//! Resource-based policies of functions: what AddPermission adds, in the JSON AWS renders
//! (GetPolicy's document, AddPermission's `Statement`), and which requests a policy allows.
//!
//! A function has one policy per qualifier (none for the function itself, a version, an alias),
//! each a list of `Allow` statements. [`PermissionInput::statement`] turns an AddPermission
//! request into a statement as AWS writes it: a service principal becomes
//! `{"Service": "s3.amazonaws.com"}`, an account `{"AWS": "arn:aws:iam::ACCOUNT:root"}`, `*`
//! stays `"*"`, and `SourceArn`, `SourceAccount`, `PrincipalOrgID`, `EventSourceToken`,
//! `FunctionUrlAuthType` and `InvokedViaFunctionUrl` become conditions. [`Policy::permits`]
//! (in `policy_eval.rs`) answers whether a request is allowed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, LambdaError};

/// The policy language version AWS writes into every function policy.
pub const POLICY_VERSION: &str = "2012-10-17";
/// The largest policy document AWS keeps for one function (20 KB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Who a statement is about, in the three forms AddPermission writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicyPrincipal {
    /// `"*"`: anyone.
    Anyone(String),
    /// `{"Service": "s3.amazonaws.com"}`.
    Service {
        #[serde(rename = "Service")]
        service: String,
    },
    /// `{"AWS": "arn:aws:iam::123456789012:root"}` (an account or an IAM ARN).
    Aws {
        #[serde(rename = "AWS")]
        aws: String,
    },
}

/// One statement of a function policy, its fields in AWS's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Principal")]
    pub principal: PolicyPrincipal,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Resource")]
    pub resource: String,
    /// Operator (`ArnLike`, `StringEquals`, `Bool`) → condition key → value.
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub condition: BTreeMap<String, BTreeMap<String, String>>,
}

impl Statement {
    /// The statement as AddPermission's `Statement` string carries it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a statement is plain strings")
    }
}

/// A function's (or a version's, or an alias's) policy and its revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
    /// Changes on every AddPermission and RemovePermission (`RevisionId`).
    pub revision_id: String,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Id")]
    id: &'static str,
    #[serde(rename = "Statement")]
    statement: &'a [Statement],
}

impl Policy {
    /// GetPolicy's `Policy`: `{"Version":"2012-10-17","Id":"default","Statement":[...]}`.
    pub fn document(&self) -> String {
        document(&self.statements)
    }

    /// The statement of `sid`, if there is one.
    pub fn statement(&self, sid: &str) -> Option<&Statement> {
        self.statements.iter().find(|s| s.sid == sid)
    }
}

/// The policy document of `statements`.
pub fn document(statements: &[Statement]) -> String {
    serde_json::to_string(&Document {
        version: POLICY_VERSION,
        id: "default",
        statement: statements,
    })
    .expect("a policy is plain strings")
}

/// Fails when a policy of `statements` would be larger than AWS keeps.
pub fn check_length(statements: &[Statement]) -> Result<(), LambdaError> {
    let len = document(statements).len();
    if len > MAX_POLICY_BYTES {
        return Err(LambdaError::new(
            ErrorCode::PolicyLengthExceeded,
            format!(
                "The final policy size ({len} bytes) is bigger than the limit ({MAX_POLICY_BYTES} bytes): remove statements with RemovePermission, or grant with wildcards in fewer statements"
            ),
        ));
    }
    Ok(())
}

/// What an AddPermission request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionInput {
    pub statement_id: String,
    pub action: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub invoked_via_function_url: Option<bool>,
}

impl PermissionInput {
    /// Checks the request and writes its statement about `resource` (the function's ARN,
    /// qualified when the policy is a version's or an alias's).
    pub fn statement(&self, resource: &str) -> Result<Statement, LambdaError> {
        check_statement_id(&self.statement_id)?;
        check_action(&self.action)?;
        let mut condition: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut add = |op: &str, key: &str, value: &str| {
            condition
                .entry(op.to_owned())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
        };
        if let Some(arn) = nonempty(&self.source_arn) {
            if !arn.starts_with("arn:") {
                return Err(LambdaError::invalid(format!(
                    "SourceArn {arn:?} is not an ARN: give the resource that invokes the function, like arn:aws:s3:::my-bucket"
                )));
            }
            add("ArnLike", "AWS:SourceArn", arn);
        }
        if let Some(account) = nonempty(&self.source_account) {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(LambdaError::invalid(format!(
                    "SourceAccount {account:?} must be an account id of 12 digits"
                )));
            }
            add("StringEquals", "AWS:SourceAccount", account);
        }
        if let Some(org) = nonempty(&self.principal_org_id) {
            let id = org.strip_prefix("o-").unwrap_or("");
            let valid = (10..=32).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !valid {
                return Err(LambdaError::invalid(format!(
                    "PrincipalOrgID {org:?} must look like o-a1b2c3d4e5 (o- and 10 to 32 lower-case letters or digits)"
                )));
            }
            add("StringEquals", "aws:PrincipalOrgID", org);
        }
        if let Some(token) = nonempty(&self.event_source_token) {
            let valid = token.len() <= 256
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                return Err(LambdaError::invalid(format!(
                    "EventSourceToken {token:?} must be up to 256 letters, digits, '.', '_' or '-'"
                )));
            }
            add("StringEquals", "lambda:EventSourceToken", token);
        }
        if let Some(auth) = nonempty(&self.function_url_auth_type) {
            if auth != "NONE" && auth != "AWS_IAM" {
                return Err(LambdaError::invalid(format!(
                    "FunctionUrlAuthType must be NONE or AWS_IAM (got {auth:?})"
                )));
            }
            add("StringEquals", "lambda:FunctionUrlAuthType", auth);
        }
        if self.invoked_via_function_url == Some(true) {
            add("Bool", "lambda:InvokedViaFunctionUrl", "true");
        }
        Ok(Statement {
            sid: self.statement_id.clone(),
            effect: "Allow".to_owned(),
            principal: principal(&self.principal)?,
            action: self.action.clone(),
            resource: resource.to_owned(),
            condition,
        })
    }
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// A statement id: 1 to 100 letters, digits, `-` or `_`.
pub fn check_statement_id(sid: &str) -> Result<(), LambdaError> {
    let valid = (1..=100).contains(&sid.len())
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(LambdaError::invalid(format!(
            "StatementId {sid:?} must be 1 to 100 letters, digits, '-' or '_'"
        )))
    }
}

fn check_action(action: &str) -> Result<(), LambdaError> {
    let valid = action == "*"
        || action.strip_prefix("lambda:").is_some_and(|op| {
            op == "*" || (!op.is_empty() && op.bytes().all(|b| b.is_ascii_alphabetic()))
        });
    if valid {
        Ok(())
    } else {
        Err(LambdaError::invalid(format!(
            "Action {action:?} must be lambda:OPERATION (like lambda:InvokeFunction), lambda:* or *"
        )))
    }
}

/// How AddPermission writes its `Principal`.
fn principal(p: &str) -> Result<PolicyPrincipal, LambdaError> {
    if p == "*" {
        return Ok(PolicyPrincipal::Anyone("*".to_owned()));
    }
    if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(PolicyPrincipal::Aws {
            aws: format!("arn:aws:iam::{p}:root"),
        });
    }
    if p.starts_with("arn:") {
        return Ok(PolicyPrincipal::Aws { aws: p.to_owned() });
    }
    let service = p.contains('.')
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b));
    if service {
        return Ok(PolicyPrincipal::Service {
            service: p.to_owned(),
        });
    }
    Err(LambdaError::invalid(format!(
        "Principal {p:?} is not a service (like s3.amazonaws.com), an account id, an IAM ARN or *"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

    fn input(sid: &str, principal: &str) -> PermissionInput {
        PermissionInput {
            statement_id: sid.to_owned(),
            action: "lambda:InvokeFunction".to_owned(),
            principal: principal.to_owned(),
            ..PermissionInput::default()
        }
    }

    #[test]
    fn statements_are_written_as_aws_writes_them() {
        let mut s3 = input("s3", "s3.amazonaws.com");
        s3.source_arn = Some("arn:aws:s3:::my-bucket".to_owned());
        s3.source_account = Some("123456789012".to_owned());
        assert_eq!(
            s3.statement(FN).expect("valid").to_json(),
            r#"{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}"#
        );
        let account = input("acct", "123456789012").statement(FN).expect("valid");
        assert_eq!(
            account.principal,
            PolicyPrincipal::Aws {
                aws: "arn:aws:iam::123456789012:root".to_owned()
            }
        );
        let mut url = input("url", "*");
        url.action = "lambda:InvokeFunctionUrl".to_owned();
        url.function_url_auth_type = Some("NONE".to_owned());
        let json = url
            .statement(&format!("{FN}:live"))
            .expect("valid")
            .to_json();
        assert!(json.contains(r#""Principal":"*""#), "{json}");
        assert!(
            json.contains(r#""Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""Resource":"arn:aws:lambda:us-east-1:000000000000:function:f:live""#)
        );
    }

    #[test]
    fn a_policy_document_has_version_id_and_statements() {
        let s = input("a", "*").statement(FN).expect("valid");
        let p = Policy {
            statements: vec![s],
            revision_id: "r".to_owned(),
        };
        let doc: serde_json::Value = serde_json::from_str(&p.document()).expect("json");
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(doc["Id"], "default");
        assert_eq!(doc["Statement"][0]["Sid"], "a");
        assert!(doc["Statement"][0].get("Condition").is_none());
        let back: Statement =
            serde_json::from_value(doc["Statement"][0].clone()).expect("reads back");
        assert_eq!(back, p.statements[0]);
    }

    #[test]
    fn bad_requests_name_the_field() {
        for (field, i) in [
            ("StatementId", input("has space", "*")),
            ("StatementId", input(&"x".repeat(101), "*")),
            ("Principal", input("p", "not a principal")),
            ("Action", {
                let mut i = input("a", "*");
                i.action = "s3:GetObject".to_owned();
                i
            }),
            ("SourceAccount", {
                let mut i = input("a", "*");
                i.source_account = Some("12".to_owned());
                i
            }),
            ("FunctionUrlAuthType", {
                let mut i = input("a", "*");
                i.function_url_auth_type = Some("OPEN".to_owned());
                i
            }),
            ("SourceArn", {
                let mut i = input("a", "*");
                i.source_arn = Some("my-bucket".to_owned());
                i
            }),
        ] {
            let e = i.statement(FN).expect_err(field);
            assert!(e.message.contains(field), "{field}: {}", e.message);
        }
    }

    #[test]
    fn a_policy_over_20_kb_is_refused() {
        let one = input("s", "*").statement(FN).expect("valid");
        let many: Vec<Statement> = (0..200)
            .map(|i| Statement {
                sid: format!("s{i}"),
                ..one.clone()
            })
            .collect();
        let e = check_length(&many).expect_err("too long");
        assert_eq!(e.code, ErrorCode::PolicyLengthExceeded);
        assert!(check_length(&many[..10]).is_ok());
    }
}
