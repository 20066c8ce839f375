//! Function tags: the limits AWS puts on them (CreateFunction's `Tags`, TagResource,
//! UntagResource) and the ARN the tags API names a function by.

use std::collections::BTreeMap;

use crate::error::LambdaError;
use crate::ids::FunctionRef;

/// Most tags one function may carry.
pub const MAX_TAGS: usize = 50;
/// Longest tag key, in characters.
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// Checks a function's whole set of tags (after a TagResource merged its new ones in).
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    if tags.len() > MAX_TAGS {
        return Err(LambdaError::invalid(format!(
            "Number of tags exceeds resource tag limit: a function has at most {MAX_TAGS} tags (this would be {}); remove some with UntagResource",
            tags.len()
        )));
    }
    for (key, value) in tags {
        validate_tag_key(key)?;
        let len = value.chars().count();
        if len > MAX_TAG_VALUE_LEN {
            return Err(LambdaError::invalid(format!(
                "the value of tag {key:?} is {len} characters long; a tag value has at most {MAX_TAG_VALUE_LEN}"
            )));
        }
    }
    Ok(())
}

/// Checks one tag key: 1 to 128 characters, not in the `aws:` namespace AWS keeps for itself.
pub fn validate_tag_key(key: &str) -> Result<(), LambdaError> {
    let len = key.chars().count();
    if len == 0 || len > MAX_TAG_KEY_LEN {
        return Err(LambdaError::invalid(format!(
            "tag key {key:?} is {len} characters long; a tag key has 1 to {MAX_TAG_KEY_LEN}"
        )));
    }
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
        return Err(LambdaError::invalid(format!(
            "tag key {key:?} starts with \"aws:\", a prefix reserved for AWS's own tags: choose another key"
        )));
    }
    Ok(())
}

/// The function a tags API path names: a full, unqualified function ARN, as AWS requires.
pub fn tagged_function(resource: &str) -> Result<FunctionRef, LambdaError> {
    if !resource.starts_with("arn:") {
        return Err(LambdaError::invalid(format!(
            "{resource:?} is not a function ARN: the tags API takes arn:aws:lambda:REGION:ACCOUNT:function:NAME (GetFunction shows it as FunctionArn)"
        )));
    }
    let r = FunctionRef::parse(resource)?;
    if r.qualifier.is_some() {
        return Err(LambdaError::invalid(
            "Tags on function aliases and versions are not supported. Please specify a function ARN (without the :VERSION or :ALIAS suffix).",
        ));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tags_within_aws_limits_pass() {
        assert!(validate_tags(&tags(&[("team", "edge"), ("empty", "")])).is_ok());
        let k = "k".repeat(MAX_TAG_KEY_LEN);
        let v = "é".repeat(MAX_TAG_VALUE_LEN);
        assert!(validate_tags(&tags(&[(&k, &v)])).is_ok());
        let fifty: BTreeMap<String, String> = (0..MAX_TAGS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert!(validate_tags(&fifty).is_ok());
    }

    #[test]
    fn tags_beyond_aws_limits_are_refused_with_the_limit() {
        let many: BTreeMap<String, String> = (0..=MAX_TAGS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        let e = validate_tags(&many).expect_err("51 tags");
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(e.message.contains("at most 50") && e.message.contains("51"));
        let long_key = "k".repeat(MAX_TAG_KEY_LEN + 1);
        assert!(validate_tags(&tags(&[(&long_key, "")])).is_err());
        assert!(validate_tags(&tags(&[("", "v")])).is_err());
        let long_value = "v".repeat(MAX_TAG_VALUE_LEN + 1);
        let e = validate_tags(&tags(&[("k", &long_value)])).expect_err("long value");
        assert!(e.message.contains("at most 256"));
        assert!(
            validate_tag_key("aw\u{e9}x").is_ok(),
            "a multi-byte character at the prefix"
        );
        for reserved in ["aws:cloudformation:stack-name", "AWS:x"] {
            let e = validate_tag_key(reserved).expect_err(reserved);
            assert!(e.message.contains("reserved"), "{}", e.message);
        }
    }

    #[test]
    fn the_tags_api_takes_an_unqualified_function_arn() {
        let arn = "arn:aws:lambda:us-east-1:000000000000:function:hello";
        assert_eq!(tagged_function(arn).expect("arn").name.as_str(), "hello");
        let e = tagged_function(&format!("{arn}:prod")).expect_err("alias");
        assert!(
            e.message
                .starts_with("Tags on function aliases and versions")
        );
        assert!(tagged_function(&format!("{arn}:$LATEST")).is_err());
        let e = tagged_function("hello").expect_err("a bare name");
        assert!(e.message.contains("not a function ARN"));
        assert!(tagged_function("arn:aws:s3:::bucket").is_err());
    }
}
