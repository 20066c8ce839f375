//! AddPermission, GetPolicy and RemovePermission: functions' resource-based policies, one per
//! qualifier, and [`Control::permits`], the question other parts of lambdalet ask of them.
//!
//! Who asks: bucket notifications of the S3 endpoint with `--s3-require-permission`
//! (`s3.amazonaws.com`), and the services that invoke on a principal's behalf (docs/security.md,
//! "Resource-based policies").

use std::collections::BTreeMap;

use lambdalet_core::{
    ErrorCode, LambdaError, PermissionInput, Policy, PolicyRequest, Qualifier, Statement,
};
use lambdalet_store::{LATEST, PolicyRecord, UNQUALIFIED};

use crate::control::{Control, new_revision};
use crate::error::ControlError;
use crate::table::FunctionEntry;

/// Policies as stored → by qualifier; an unreadable one is skipped with a warning.
pub(crate) fn load(records: Vec<PolicyRecord>) -> BTreeMap<String, Policy> {
    records
        .into_iter()
        .filter_map(
            |r| match serde_json::from_str::<Vec<Statement>>(&r.statements_json) {
                Ok(statements) => Some((
                    r.qualifier,
                    Policy {
                        statements,
                        revision_id: r.revision_id,
                    },
                )),
                Err(e) => {
                    tracing::warn!(function = %r.function, qualifier = %r.qualifier, "ignoring an unreadable function policy: {e}");
                    None
                }
            },
        )
        .collect()
}

/// The policy of `qualifier` in `policies`, as [`Control::permits`] reads it: a version's or an
/// alias's own, or the function's for none or `$LATEST` (a grant on the function does not reach
/// its published versions and aliases, as on AWS).
pub(crate) fn permits_in(
    policies: &BTreeMap<String, Policy>,
    qualifier: Option<&str>,
    request: &PolicyRequest<'_>,
) -> bool {
    let key = qualifier.filter(|q| *q != LATEST).unwrap_or(UNQUALIFIED);
    policies.get(key).is_some_and(|p| p.permits(request))
}

impl Control {
    /// AddPermission: adds a statement to the policy of `function` (or of one of its versions or
    /// aliases) and returns it.
    pub async fn add_permission(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
        input: PermissionInput,
        revision_id: Option<&str>,
    ) -> Result<Statement, ControlError> {
        let _w = self.writes.lock().await;
        let entry = self.entry(function)?;
        if qualifier.is_some_and(|q| q.to_string() == LATEST) {
            return Err(LambdaError::invalid(format!(
                "Lambda does not keep a policy for version $LATEST: add the permission to the function itself (no Qualifier), which $LATEST and calls without a qualifier use, or to a published version or an alias of {function}"
            ))
            .into());
        }
        let (key, resource) = self.policy_target(&entry, function, qualifier)?;
        let statement = input.statement(&resource)?;
        let current = entry.policies.get(&key);
        check_revision(revision_id, current, target_revision(&entry, &key))?;
        let mut statements = current.map(|p| p.statements.clone()).unwrap_or_default();
        if statements.iter().any(|s| s.sid == statement.sid) {
            return Err(LambdaError::conflict(format!(
                "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement (RemovePermission).",
                statement.sid
            ))
            .into());
        }
        statements.push(statement.clone());
        lambdalet_core::policy::check_length(&statements)?;
        self.store_policy(function, &key, statements).await?;
        tracing::info!(function, qualifier = %key, sid = %statement.sid, "function.permission_added");
        Ok(statement)
    }

    /// GetPolicy: the policy document and its revision.
    pub fn policy(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
    ) -> Result<Policy, ControlError> {
        let entry = self.entry(function)?;
        let (key, resource) = self.policy_target(&entry, function, qualifier)?;
        entry
            .policies
            .get(&key)
            .cloned()
            .ok_or_else(|| no_policy(&resource).into())
    }

    /// RemovePermission.
    pub async fn remove_permission(
        &self,
        function: &str,
        qualifier: Option<&Qualifier>,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        let entry = self.entry(function)?;
        let (key, resource) = self.policy_target(&entry, function, qualifier)?;
        let current = entry
            .policies
            .get(&key)
            .ok_or_else(|| no_policy(&resource))?;
        check_revision(revision_id, Some(current), target_revision(&entry, &key))?;
        if current.statement(sid).is_none() {
            let sids: Vec<&str> = current.statements.iter().map(|s| s.sid.as_str()).collect();
            return Err(LambdaError::not_found(format!(
                "Statement {sid} is not found in resource policy of {resource}; its statements: {}",
                sids.join(", ")
            ))
            .into());
        }
        let statements = current
            .statements
            .iter()
            .filter(|s| s.sid != sid)
            .cloned()
            .collect();
        self.store_policy(function, &key, statements).await?;
        tracing::info!(function, qualifier = %key, sid, "function.permission_removed");
        Ok(())
    }

    /// Whether the policy of `function` (of its version or alias `qualifier`, if given) lets
    /// the service `principal_service` (`s3.amazonaws.com`; `*` for an anonymous caller) do
    /// `action` (`lambda:InvokeFunction`) on behalf of `source_arn`. The source account is
    /// this daemon's: every bucket here is its. False for an unknown function or without a
    /// policy.
    pub fn permits(
        &self,
        function: &str,
        qualifier: Option<&str>,
        principal_service: &str,
        action: &str,
        source_arn: Option<&str>,
    ) -> bool {
        let request = PolicyRequest {
            source_account: Some(self.account.account_id.as_str()),
            ..PolicyRequest::service(principal_service, action, source_arn)
        };
        self.permits_request(function, qualifier, &request)
    }

    /// [`Self::permits`] with every context key given (a function URL's
    /// `lambda:FunctionUrlAuthType`, `lambda:InvokedViaFunctionUrl`).
    pub fn permits_request(
        &self,
        function: &str,
        qualifier: Option<&str>,
        request: &PolicyRequest<'_>,
    ) -> bool {
        self.table
            .read()
            .get(function)
            .is_some_and(|e| permits_in(&e.policies, qualifier, request))
    }

    /// The key of the policy a qualifier names and the ARN its statements are about; the
    /// version or alias must exist.
    fn policy_target(
        &self,
        entry: &FunctionEntry,
        function: &str,
        qualifier: Option<&Qualifier>,
    ) -> Result<(String, String), ControlError> {
        let Some(q) = qualifier.filter(|q| q.to_string() != LATEST) else {
            return Ok((UNQUALIFIED.to_owned(), self.account.function_arn(function)));
        };
        let q = q.to_string();
        if entry.version(&q).is_none() && !entry.aliases.contains_key(&q) {
            return Err(LambdaError::not_found(format!(
                "Function not found: {}; give a published version or an alias of {function}, or no Qualifier for the function itself",
                self.account.qualified_arn(function, &q)
            ))
            .into());
        }
        let resource = self.account.qualified_arn(function, &q);
        Ok((q, resource))
    }

    /// Stores `statements` as the policy of `key` with a new revision (removes it when empty).
    async fn store_policy(
        &self,
        function: &str,
        key: &str,
        statements: Vec<Statement>,
    ) -> Result<(), ControlError> {
        let json = serde_json::to_string(&statements)
            .map_err(|e| LambdaError::new(ErrorCode::Service, e.to_string()))?;
        let record = PolicyRecord {
            function: function.to_owned(),
            qualifier: key.to_owned(),
            statements_json: json,
            revision_id: new_revision(),
        };
        let policy = Policy {
            statements,
            revision_id: record.revision_id.clone(),
        };
        let empty = policy.statements.is_empty();
        self.blocking(move |s| {
            if empty {
                s.delete_policy(&record.function, &record.qualifier)
                    .map(drop)
            } else {
                s.put_policy(&record)
            }
        })
        .await?;
        if let Some(e) = self.table.write().get_mut(function) {
            if empty {
                e.policies.remove(key);
            } else {
                e.policies.insert(key.to_owned(), policy);
            }
        }
        Ok(())
    }
}

fn no_policy(resource: &str) -> LambdaError {
    LambdaError::not_found(format!(
        "The resource you requested does not exist: {resource} has no resource-based policy; add a statement with AddPermission"
    ))
}

/// The `RevisionId` of what a policy key names: the function's (`$LATEST`'s), a version's or an
/// alias's.
fn target_revision<'a>(entry: &'a FunctionEntry, key: &str) -> Option<&'a str> {
    if key == UNQUALIFIED {
        return Some(&entry.latest.record.revision_id);
    }
    entry
        .aliases
        .get(key)
        .map(|a| a.revision_id.as_str())
        .or_else(|| entry.version(key).map(|v| v.record.revision_id.as_str()))
}

/// Fails unless the caller's `RevisionId` (if any) is the policy's (GetPolicy's), or the
/// current one of the function, version or alias the policy is about, which AWS also takes
/// (there a policy's revision is its function's).
fn check_revision(
    given: Option<&str>,
    current: Option<&Policy>,
    target: Option<&str>,
) -> Result<(), ControlError> {
    match given.filter(|g| !g.is_empty()) {
        Some(g) if current.is_none_or(|p| p.revision_id != g) && target != Some(g) => Err(LambdaError::new(
            ErrorCode::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
        )
        .into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policies(grants: &[(&str, &str, &str)]) -> BTreeMap<String, Policy> {
        let mut out: BTreeMap<String, Policy> = BTreeMap::new();
        for (qualifier, sid, principal) in grants {
            let input = PermissionInput {
                statement_id: (*sid).to_owned(),
                action: "lambda:InvokeFunction".to_owned(),
                principal: (*principal).to_owned(),
                ..PermissionInput::default()
            };
            let s = input
                .statement("arn:aws:lambda:r:000000000000:function:f")
                .expect("valid");
            out.entry((*qualifier).to_owned())
                .or_insert_with(|| Policy {
                    statements: vec![],
                    revision_id: "r".to_owned(),
                })
                .statements
                .push(s);
        }
        out
    }

    #[test]
    fn a_grant_applies_to_the_qualifier_it_was_made_on_only() {
        let p = policies(&[
            ("", "s3", "s3.amazonaws.com"),
            ("live", "ev", "events.amazonaws.com"),
        ]);
        let s3 = PolicyRequest::service("s3.amazonaws.com", "lambda:InvokeFunction", None);
        let events = PolicyRequest::service("events.amazonaws.com", "lambda:InvokeFunction", None);
        assert!(permits_in(&p, None, &s3));
        assert!(!permits_in(&p, Some("live"), &s3));
        assert!(permits_in(&p, Some("live"), &events));
        assert!(!permits_in(&p, None, &events));
        assert!(!permits_in(&p, Some("1"), &s3));
        assert!(
            permits_in(&p, Some("$LATEST"), &s3),
            "$LATEST is the function's"
        );
        assert!(!permits_in(&BTreeMap::new(), None, &s3));
    }

    #[test]
    fn revision_guards() {
        let p = Policy {
            statements: vec![],
            revision_id: "abc".to_owned(),
        };
        assert!(check_revision(None, None, None).is_ok());
        assert!(check_revision(Some(""), Some(&p), None).is_ok());
        assert!(check_revision(Some("abc"), Some(&p), Some("fn")).is_ok());
        assert!(
            check_revision(Some("fn"), Some(&p), Some("fn")).is_ok(),
            "the function's"
        );
        assert!(
            check_revision(Some("fn"), None, Some("fn")).is_ok(),
            "before any policy"
        );
        let e = check_revision(Some("old"), Some(&p), Some("fn")).expect_err("stale");
        assert!(
            matches!(e, ControlError::Lambda(ref l) if l.code == ErrorCode::PreconditionFailed)
        );
        assert!(
            check_revision(Some("abc"), None, Some("fn")).is_err(),
            "no policy has no revision"
        );
    }

    #[test]
    fn stored_policies_load_and_bad_ones_are_skipped() {
        let good =
            serde_json::to_string(&policies(&[("", "a", "*")])[""].statements).expect("json");
        let loaded = load(vec![
            PolicyRecord {
                function: "f".into(),
                qualifier: "".into(),
                statements_json: good,
                revision_id: "r1".into(),
            },
            PolicyRecord {
                function: "f".into(),
                qualifier: "live".into(),
                statements_json: "{not json".into(),
                revision_id: "r2".into(),
            },
        ]);
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[""].revision_id, "r1");
        assert_eq!(loaded[""].statements[0].sid, "a");
    }
}
