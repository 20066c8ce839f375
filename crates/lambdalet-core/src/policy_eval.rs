//! Whether a function policy allows a request: the part of IAM's evaluation that AddPermission's
//! statements need. A statement allows a request when its principal, its action and every one
//! of its conditions match; a policy allows it when one of its statements does (they are all
//! `Allow`). A condition on a key the request does not carry does not match, as in IAM.

use crate::policy::{Policy, PolicyPrincipal, Statement};

/// What a caller asks to do, with the context keys conditions are written against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRequest<'a> {
    /// A service principal (`s3.amazonaws.com`), an account id or IAM ARN, or `*` for an
    /// anonymous caller (a function URL with `AuthType` `NONE`).
    pub principal: &'a str,
    /// `lambda:InvokeFunction`, `lambda:InvokeFunctionUrl`, ...
    pub action: &'a str,
    /// `AWS:SourceArn`: the resource on whose behalf a service calls (a bucket's ARN).
    pub source_arn: Option<&'a str>,
    /// `AWS:SourceAccount`: the account that owns that resource.
    pub source_account: Option<&'a str>,
    /// `lambda:FunctionUrlAuthType` of the function URL called, for `lambda:InvokeFunctionUrl`.
    pub function_url_auth_type: Option<&'a str>,
    /// `lambda:InvokedViaFunctionUrl`.
    pub invoked_via_function_url: bool,
}

impl<'a> PolicyRequest<'a> {
    /// A service invoking on behalf of `source_arn` (no other context keys).
    pub fn service(principal: &'a str, action: &'a str, source_arn: Option<&'a str>) -> Self {
        Self {
            principal,
            action,
            source_arn,
            source_account: None,
            function_url_auth_type: None,
            invoked_via_function_url: false,
        }
    }
}

impl Policy {
    /// Whether some statement allows `request`.
    pub fn permits(&self, request: &PolicyRequest<'_>) -> bool {
        self.statements.iter().any(|s| s.allows(request))
    }
}

impl Statement {
    /// Whether this statement allows `request`.
    pub fn allows(&self, r: &PolicyRequest<'_>) -> bool {
        self.effect == "Allow"
            && principal_matches(&self.principal, r.principal)
            && action_matches(&self.action, r.action)
            && self
                .condition
                .iter()
                .all(|(op, keys)| keys.iter().all(|(k, v)| condition_matches(op, k, v, r)))
    }
}

fn principal_matches(p: &PolicyPrincipal, who: &str) -> bool {
    match p {
        PolicyPrincipal::Anyone(s) => s == "*",
        PolicyPrincipal::Service { service } => service.eq_ignore_ascii_case(who),
        PolicyPrincipal::Aws { aws } => {
            let who = if who.len() == 12 && who.bytes().all(|b| b.is_ascii_digit()) {
                format!("arn:aws:iam::{who}:root")
            } else {
                who.to_owned()
            };
            // An account's root stands for every identity of the account.
            let account_of = |arn: &str| arn.split(':').nth(4).map(str::to_owned);
            aws == &who
                || (aws.ends_with(":root")
                    && who.starts_with("arn:")
                    && account_of(aws).is_some_and(|a| !a.is_empty())
                    && account_of(aws) == account_of(&who))
        }
    }
}

/// IAM actions compare without regard to case; AddPermission allows `*` and `lambda:*`.
fn action_matches(granted: &str, asked: &str) -> bool {
    let lambda_action = asked
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("lambda:"));
    granted == "*"
        || (granted.eq_ignore_ascii_case("lambda:*") && lambda_action)
        || granted.eq_ignore_ascii_case(asked)
}

fn condition_matches(op: &str, key: &str, value: &str, r: &PolicyRequest<'_>) -> bool {
    // Condition keys compare without regard to case, values (but Bool's) with it.
    let key = key.to_ascii_lowercase();
    let given = match key.as_str() {
        "aws:sourcearn" => r.source_arn,
        "aws:sourceaccount" => r.source_account,
        "lambda:functionurlauthtype" => r.function_url_auth_type,
        "lambda:invokedviafunctionurl" => Some(if r.invoked_via_function_url {
            "true"
        } else {
            "false"
        }),
        // aws:PrincipalOrgID, lambda:EventSourceToken: there are no organizations or Alexa
        // skills here, so no request carries them.
        _ => None,
    };
    let Some(given) = given else {
        return false;
    };
    match op {
        "ArnLike" | "ArnEquals" | "StringLike" => wildcard_match(value, given),
        "StringEquals" => value == given,
        "StringEqualsIgnoreCase" => value.eq_ignore_ascii_case(given),
        "Bool" => value.eq_ignore_ascii_case(given),
        _ => false,
    }
}

/// IAM's wildcards: `*` for any run of characters, `?` for one.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PermissionInput;

    const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

    fn policy(inputs: Vec<PermissionInput>) -> Policy {
        Policy {
            statements: inputs
                .iter()
                .map(|i| i.statement(FN).expect("valid"))
                .collect(),
            revision_id: "r".to_owned(),
        }
    }

    fn grant(sid: &str, principal: &str, action: &str) -> PermissionInput {
        PermissionInput {
            statement_id: sid.to_owned(),
            action: action.to_owned(),
            principal: principal.to_owned(),
            ..PermissionInput::default()
        }
    }

    #[test]
    fn a_service_grant_allows_that_service_and_action_only() {
        let p = policy(vec![grant(
            "s3",
            "s3.amazonaws.com",
            "lambda:InvokeFunction",
        )]);
        let s3 = PolicyRequest::service("s3.amazonaws.com", "lambda:InvokeFunction", None);
        assert!(p.permits(&s3));
        assert!(p.permits(&PolicyRequest {
            action: "lambda:invokefunction",
            ..s3
        }));
        assert!(!p.permits(&PolicyRequest {
            principal: "sns.amazonaws.com",
            ..s3
        }));
        assert!(!p.permits(&PolicyRequest {
            action: "lambda:GetFunction",
            ..s3
        }));
        assert!(
            !Policy {
                statements: vec![],
                revision_id: String::new()
            }
            .permits(&s3)
        );
    }

    #[test]
    fn source_arn_conditions_take_wildcards_and_need_the_key() {
        let mut g = grant("s3", "s3.amazonaws.com", "lambda:InvokeFunction");
        g.source_arn = Some("arn:aws:s3:::uploads-*".to_owned());
        let p = policy(vec![g]);
        let ask = |arn| PolicyRequest::service("s3.amazonaws.com", "lambda:InvokeFunction", arn);
        assert!(p.permits(&ask(Some("arn:aws:s3:::uploads-2024"))));
        assert!(!p.permits(&ask(Some("arn:aws:s3:::other"))));
        assert!(!p.permits(&ask(None)), "a missing key does not match");
    }

    #[test]
    fn source_account_conditions_compare_exactly() {
        let mut g = grant("s3", "s3.amazonaws.com", "lambda:InvokeFunction");
        g.source_account = Some("000000000000".to_owned());
        let p = policy(vec![g]);
        let mut r = PolicyRequest::service("s3.amazonaws.com", "lambda:InvokeFunction", None);
        assert!(!p.permits(&r));
        r.source_account = Some("000000000000");
        assert!(p.permits(&r));
        r.source_account = Some("111111111111");
        assert!(!p.permits(&r));
    }

    #[test]
    fn function_url_grants_follow_the_auth_type() {
        let mut g = grant("url", "*", "lambda:InvokeFunctionUrl");
        g.function_url_auth_type = Some("NONE".to_owned());
        let p = policy(vec![g]);
        let mut r = PolicyRequest::service("*", "lambda:InvokeFunctionUrl", None);
        assert!(!p.permits(&r), "no auth type in the request");
        r.function_url_auth_type = Some("NONE");
        assert!(p.permits(&r));
        r.function_url_auth_type = Some("AWS_IAM");
        assert!(!p.permits(&r));
        r.function_url_auth_type = Some("NONE");
        assert!(!p.permits(&PolicyRequest {
            action: "lambda:InvokeFunction",
            ..r
        }));

        let mut via = grant("via", "*", "lambda:InvokeFunction");
        via.invoked_via_function_url = Some(true);
        let p = policy(vec![via]);
        let mut r = PolicyRequest::service("*", "lambda:InvokeFunction", None);
        assert!(!p.permits(&r));
        r.invoked_via_function_url = true;
        assert!(p.permits(&r));
    }

    #[test]
    fn wildcards_in_principal_and_action() {
        let p = policy(vec![grant("all", "*", "lambda:*")]);
        assert!(p.permits(&PolicyRequest::service(
            "events.amazonaws.com",
            "lambda:InvokeFunction",
            None
        )));
        assert!(!p.permits(&PolicyRequest::service(
            "events.amazonaws.com",
            "s3:GetObject",
            None
        )));
        let p = policy(vec![grant("acct", "123456789012", "*")]);
        assert!(p.permits(&PolicyRequest::service(
            "123456789012",
            "lambda:InvokeFunction",
            None
        )));
        assert!(p.permits(&PolicyRequest::service(
            "arn:aws:iam::123456789012:role/x",
            "lambda:InvokeFunction",
            None
        )));
        assert!(!p.permits(&PolicyRequest::service(
            "s3.amazonaws.com",
            "lambda:InvokeFunction",
            None
        )));
        assert!(!p.permits(&PolicyRequest::service(
            "210987654321",
            "lambda:InvokeFunction",
            None
        )));
    }

    #[test]
    fn conditions_on_keys_no_request_carries_never_match() {
        let mut g = grant("org", "*", "lambda:InvokeFunction");
        g.principal_org_id = Some("o-abcdefghij".to_owned());
        let p = policy(vec![g]);
        assert!(!p.permits(&PolicyRequest::service("*", "lambda:InvokeFunction", None)));
    }

    #[test]
    fn iam_wildcards() {
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("arn:*:s3:::b", "arn:aws:s3:::b"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match("*b*", "aaabaaa"));
    }
}
