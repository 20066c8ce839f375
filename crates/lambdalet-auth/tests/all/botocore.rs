//! Requests signed by botocore (the AWS CLI's and boto3's signer), with a key from
//! `new_access_key`, must verify; changed ones must be refused with AWS's error.
//! Skipped, saying so, where python3 or botocore is missing.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use lambdalet_auth::{AuthError, Request, Service, credential, new_access_key, presign, verify};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// One request as botocore would send it.
struct Case {
    name: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Case {
    fn check(
        &self,
        secret: &str,
        service: Service,
        now: OffsetDateTime,
    ) -> Result<lambdalet_auth::Verified, AuthError> {
        self.check_with(&self.headers, &self.body, secret, service, now)
    }

    fn check_with(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        secret: &str,
        service: Service,
        now: OffsetDateTime,
    ) -> Result<lambdalet_auth::Verified, AuthError> {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body_sha256 = hex::encode(Sha256::digest(body));
        let req = Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body_sha256: &body_sha256,
        };
        let cred = credential(&req)?;
        verify(&req, &cred, secret, service, now)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
    }

    /// The time botocore signed at.
    fn signed_at(&self) -> OffsetDateTime {
        let stamp = self
            .header("X-Amz-Date")
            .or_else(|| self.param("X-Amz-Date"))
            .expect("a date");
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        time::PrimitiveDateTime::parse(stamp, fmt)
            .expect("basic ISO 8601")
            .assume_utc()
    }
}

/// Runs the Python signer; `None` (after printing why) where it cannot run.
fn botocore_cases(key_id: &str, secret: &str) -> Option<Vec<Case>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/botocore_sign.py");
    let output = match Command::new("python3")
        .arg(&script)
        .env("LAMBDALET_TEST_KEY_ID", key_id)
        .env("LAMBDALET_TEST_SECRET", secret)
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            println!("skipped: python3 cannot be run ({e})");
            return None;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "botocore_sign.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    if stdout.starts_with("skipped:") {
        println!("{}", stdout.trim());
        return None;
    }
    let json: serde_json::Value =
        serde_json::from_str(&stdout).expect("botocore_sign.py prints JSON");
    let cases = json["cases"].as_array().expect("cases");
    Some(
        cases
            .iter()
            .map(|c| {
                let url = c["url"].as_str().expect("url");
                let target = &url[url.find("://").map(|i| i + 3).expect("scheme")..];
                let target = &target[target.find('/').expect("a path")..];
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let headers = c["headers"].as_array().expect("headers").iter().map(|h| {
                    (
                        h[0].as_str().expect("name").to_owned(),
                        h[1].as_str().expect("value").to_owned(),
                    )
                });
                Case {
                    name: c["name"].as_str().expect("name").to_owned(),
                    method: c["method"].as_str().expect("method").to_owned(),
                    path: path.to_owned(),
                    query: query.to_owned(),
                    headers: headers.collect(),
                    body: base64::engine::general_purpose::STANDARD
                        .decode(c["body_b64"].as_str().expect("body"))
                        .expect("base64"),
                }
            })
            .collect(),
    )
}

#[test]
fn botocore_signatures_verify_and_changes_are_refused() {
    let (key_id, secret) = new_access_key();
    let Some(cases) = botocore_cases(&key_id, &secret) else {
        return;
    };
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sigv4-invoke",
            "sigv4-invoke-token",
            "client-invoke",
            "presign-lambda",
            "presign-s3"
        ]
    );
    for case in cases
        .iter()
        .filter(|c| !c.query.contains("X-Amz-Algorithm"))
    {
        let name = &case.name;
        let at = case.signed_at();
        let v = case
            .check(&secret, Service::Lambda, at)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (
                v.access_key_id.as_str(),
                v.region.as_str(),
                v.service.as_str()
            ),
            (key_id.as_str(), "us-east-1", "lambda")
        );
        assert!(v.payload_signed, "{name}");
        assert_eq!(
            v.session_token.as_deref(),
            case.header("X-Amz-Security-Token"),
            "{name}"
        );
        assert!(
            case.path.contains("arn%3Aaws%3Alambda"),
            "{name}: {}",
            case.path
        );
        assert_eq!(case.query, "Qualifier=%24LATEST", "{name}");

        let mut body = case.body.clone();
        body[10] ^= 0x01;
        assert_eq!(
            case.check_with(&case.headers, &body, &secret, Service::Lambda, at),
            Err(AuthError::SignatureMismatch),
            "{name}: body"
        );
        for changed in ["Host", "Content-Type"] {
            if case.header(changed).is_none() {
                continue;
            }
            let headers: Vec<(String, String)> = case
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.clone(),
                        if n.eq_ignore_ascii_case(changed) {
                            format!("{v}x")
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect();
            assert_eq!(
                case.check_with(&headers, &case.body, &secret, Service::Lambda, at),
                Err(AuthError::SignatureMismatch),
                "{name}: {changed}"
            );
        }
        let (_, other_secret) = new_access_key();
        assert_eq!(
            case.check(&other_secret, Service::Lambda, at),
            Err(AuthError::SignatureMismatch),
            "{name}: secret"
        );
        let stale = case.check(&secret, Service::Lambda, at + Duration::minutes(20));
        assert!(
            matches!(stale, Err(AuthError::Expired { .. })),
            "{name}: {stale:?}"
        );
        assert_eq!(
            stale.as_ref().map_err(AuthError::error_type).err(),
            Some("InvalidSignatureException")
        );
        // S3's rules sign the path once: botocore's Lambda signature does not verify.
        assert_eq!(
            case.check(&secret, Service::S3, at),
            Err(AuthError::SignatureMismatch),
            "{name}: S3 rules"
        );
    }
}

#[test]
fn botocore_presigned_urls_verify_and_presign_agrees() {
    let (key_id, secret) = new_access_key();
    let Some(cases) = botocore_cases(&key_id, &secret) else {
        return;
    };
    for (name, service, scope) in [
        ("presign-lambda", Service::Lambda, "lambda"),
        ("presign-s3", Service::S3, "s3"),
    ] {
        let case = cases.iter().find(|c| c.name == name).expect(name);
        let at = case.signed_at();
        let v = case
            .check(&secret, service, at)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.service, scope);
        assert_eq!(v.payload_signed, service == Service::Lambda, "{name}");
        assert!(
            case.check(&secret, service, at + Duration::seconds(600))
                .is_ok(),
            "{name}: last second"
        );
        let late = case.check(&secret, service, at + Duration::minutes(20));
        assert!(
            matches!(late, Err(AuthError::PresignedExpired { .. })),
            "{name}: {late:?}"
        );
        assert_eq!(
            case.check(&"x".repeat(40), service, at),
            Err(AuthError::SignatureMismatch),
            "{name}"
        );

        // presign() with botocore's inputs makes botocore's signature.
        let host = case.header("Host").expect("host");
        let ours = presign(
            "GET",
            host,
            &case.path,
            &key_id,
            &secret,
            "us-east-1",
            scope,
            at,
            600,
        );
        let theirs = case.param("X-Amz-Signature").expect("signature");
        assert!(
            ours.ends_with(&format!("X-Amz-Signature={theirs}")),
            "{name}: {ours} vs {}",
            case.query
        );
        // And what presign() makes, verify() accepts.
        let mine = Case {
            name: case.name.clone(),
            method: "GET".into(),
            path: case.path.clone(),
            query: ours,
            headers: case.headers.clone(),
            body: Vec::new(),
        };
        assert!(
            mine.check(&secret, service, at).is_ok(),
            "{name}: own presign"
        );
    }
}
