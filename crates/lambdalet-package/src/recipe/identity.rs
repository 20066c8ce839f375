//! What identifies a component: its name, its version and, for a Lambda component, the
//! function it was made from. Checked as strictly as the cloud checks them, so a recipe
//! that works here also publishes.

use super::error::{Checked, Fault, quote};

/// Limits from CC `ComponentRecipe`: names up to 128 characters, versions up to 64 with
/// no number above 999999.
const NAME_MAX: usize = 128;
const VERSION_MAX: usize = 64;
const VERSION_NUMBER_MAX: u64 = 999_999;

/// A component name: 1 to 128 of `A-Z a-z 0-9 - _ .`.
pub(crate) fn check_name(name: &str, path: &str) -> Checked<()> {
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)));
    let problem = if name.is_empty() {
        "expected a component name, got an empty string".to_string()
    } else if name.chars().count() > NAME_MAX {
        format!(
            "expected at most {NAME_MAX} characters, got {}",
            name.chars().count()
        )
    } else if let Some(c) = bad {
        format!(
            "expected only letters, digits, '-', '_' and '.', got {} (with {c:?})",
            quote(name)
        )
    } else {
        return Ok(());
    };
    Err(Fault::new(path, problem))
}

/// A strict semantic version (`1.0.0`, `2.1.0-rc.1+build.5`, semver.org's grammar) that
/// `nodejs_semver` parses too. That parser also takes loose forms (`v1.0.0`, `=1.0.0`,
/// `01.0.0`), which we refuse so the version written is the version every tool reads.
pub(crate) fn check_version(version: &str, path: &str) -> Checked<()> {
    let problem = match nodejs_semver::Version::parse(version) {
        _ if version.len() > VERSION_MAX => {
            format!(
                "expected at most {VERSION_MAX} characters, got {}",
                version.len()
            )
        }
        Ok(v) if strict_semver(version) => {
            if [v.major(), v.minor(), v.patch()]
                .iter()
                .all(|&n| n <= VERSION_NUMBER_MAX)
            {
                return Ok(());
            }
            format!(
                "expected version numbers of at most {VERSION_NUMBER_MAX}, got {}",
                quote(version)
            )
        }
        _ => format!(
            "expected a semantic version MAJOR.MINOR.PATCH such as 1.0.0, got {}",
            quote(version)
        ),
    };
    Err(Fault::new(path, problem))
}

/// semver.org: `N.N.N`, then optionally `-` and dot-separated pre-release identifiers,
/// then optionally `+` and dot-separated build identifiers; numbers without leading zeros.
fn strict_semver(version: &str) -> bool {
    let (rest, build) = match version.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let number = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers.iter().all(|n| number(n))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|i| ident(i) && (number(i) || !i.bytes().all(|b| b.is_ascii_digit())))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

/// `ComponentSource` names the Lambda function a Lambda component was made from.
pub(crate) fn check_source(arn: &str) -> Checked<()> {
    let parts: Vec<&str> = arn.splitn(4, ':').collect();
    if parts.len() == 4 && parts[0] == "arn" && parts[1].starts_with("aws") && parts[2] == "lambda"
    {
        return Ok(());
    }
    Err(Fault::new(
        "ComponentSource",
        format!(
            "expected a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION), got {}",
            quote(arn)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_must_be_strict_semver() {
        for ok in [
            "1.0.0",
            "0.0.1",
            "2.1.0-rc.1",
            "1.0.0-alpha+build.5",
            "999999.0.0",
        ] {
            assert_eq!(check_version(ok, "V"), Ok(()), "{ok}");
        }
        for bad in [
            "1.0",
            "1",
            "v1.0.0",
            "=1.0.0",
            " 1.0.0",
            "1.0.0 ",
            "01.0.0",
            "1.0.0.0",
            "latest",
            "1000000.0.0",
            "",
            "1.0.0-01",
            "1.0.0-",
            "1.0.0+",
        ] {
            assert!(check_version(bad, "V").is_err(), "{bad}");
        }
        let long = format!("1.0.0-{}", "a".repeat(60));
        assert_eq!(
            check_version(&long, "V").unwrap_err().message,
            "expected at most 64 characters, got 66"
        );
    }

    #[test]
    fn names() {
        assert_eq!(check_name("com.example.Hello_World-2", "N"), Ok(()));
        assert_eq!(
            check_name("com example", "N").unwrap_err().message,
            "expected only letters, digits, '-', '_' and '.', got \"com example\" (with ' ')"
        );
        assert_eq!(
            check_name("", "N").unwrap_err().message,
            "expected a component name, got an empty string"
        );
        assert_eq!(
            check_name(&"a".repeat(129), "N").unwrap_err().message,
            "expected at most 128 characters, got 129"
        );
    }

    #[test]
    fn lambda_arns() {
        assert_eq!(
            check_source("arn:aws:lambda:eu-west-1:123456789012:function:f:3"),
            Ok(())
        );
        assert_eq!(
            check_source("arn:aws-cn:lambda:cn-north-1:1:function:f:1"),
            Ok(())
        );
        assert!(check_source("arn:aws:s3:::bucket").is_err());
        assert!(check_source("my-function").is_err());
    }
}
