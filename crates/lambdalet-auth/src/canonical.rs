//! The pieces of a SigV4 canonical request: URI encoding, the canonical path, the
//! canonical query string and the canonical header block.
//!
//! What is signed is a canonical form of the request, so two requests that mean the
//! same thing sign the same. Everything here is a pure function of strings; it must not
//! decide whether a request is acceptable (that is `sigv4`'s job) and must not panic
//! on any input, since every byte of it comes from the network.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

/// Everything but SigV4's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`NOT_UNRESERVED`], but keeps `/` (path segments stay apart).
const NOT_UNRESERVED_OR_SLASH: &AsciiSet = &NOT_UNRESERVED.remove(b'/');

/// URI-encodes every byte but the unreserved ones, with upper-case hex (`%3A`).
pub(crate) fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, NOT_UNRESERVED).to_string()
}

/// The canonical path.
///
/// `double_encode` is the rule of every service but S3: the path as received (already
/// percent-encoded once by the client) is normalized (dot segments and empty segments
/// removed, as RFC 3986 and the SigV4 test suite do) and URI-encoded once more, so
/// `/functions/a%3Ab` is signed as `/functions/a%253Ab`. S3 signs the path as sent.
pub(crate) fn canonical_path(path: &str, double_encode: bool) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    if !double_encode {
        return path.to_owned();
    }
    percent_encode(normalize_path(path).as_bytes(), NOT_UNRESERVED_OR_SLASH).to_string()
}

/// Removes `.`, `..` and empty segments, keeping a leading and a trailing slash (the
/// same rule as botocore's `normalize_url_path`).
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The query string's parameters as (name, value), percent-decoded, in the order
/// received. Empty `&&` pieces are skipped; `a` without `=` has the value "".
pub(crate) fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// Percent-decodes, keeping invalid UTF-8 as U+FFFD (such a request can only fail to
/// verify) and `+` as a literal `+` (SigV4 encodes spaces as `%20`).
fn decode(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// The canonical query string: every parameter but those `skip` names, each name and
/// value decoded then URI-encoded, sorted by name and then by value.
pub(crate) fn canonical_query(query: &str, skip: &[&str]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = percent_decode_str(name).collect::<Vec<u8>>();
            if skip.iter().any(|s| s.as_bytes() == name.as_slice()) {
                return None;
            }
            let value = percent_decode_str(value).collect::<Vec<u8>>();
            Some((uri_encode(&name), uri_encode(&value)))
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Trims a header value and turns every run of whitespace inside it into one space.
pub(crate) fn trim_all(value: &str) -> String {
    value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical header block: one `name:value\n` line per signed header, in the
/// order of `signed` (which the caller has checked is sorted). Repeated headers are
/// joined with `,` in the order received; a signed header the request lacks is "".
pub(crate) fn canonical_headers(headers: &[(&str, &str)], signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        out.push_str(name);
        out.push(':');
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_all(v))
            .collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_but_unreserved() {
        assert_eq!(uri_encode(b"a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(uri_encode(b"a b/c:d$e+f=g"), "a%20b%2Fc%3Ad%24e%2Bf%3Dg");
        assert_eq!(uri_encode("ሴ".as_bytes()), "%E1%88%B4");
    }

    #[test]
    fn lambda_paths_are_encoded_twice() {
        assert_eq!(
            canonical_path("/2015-03-31/functions/my%3Afn/invocations", true),
            "/2015-03-31/functions/my%253Afn/invocations"
        );
        assert_eq!(
            canonical_path("/2015-03-31/functions/my%3Afn/invocations", false),
            "/2015-03-31/functions/my%3Afn/invocations"
        );
        assert_eq!(canonical_path("", true), "/");
        assert_eq!(canonical_path("", false), "/");
    }

    #[test]
    fn normalizes_like_botocore() {
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("//example//"), "/example/");
        assert_eq!(normalize_path("/./"), "/");
        assert_eq!(normalize_path("/example/.."), "/");
        assert_eq!(normalize_path("/example1/example2/../.."), "/");
        assert_eq!(normalize_path("/../../x"), "/x");
        assert_eq!(normalize_path("/a/./b/../c/"), "/a/c/");
        assert_eq!(normalize_path("/a/b"), "/a/b");
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(canonical_query("", &[]), "");
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", &[]),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(canonical_query("b=2&a=2&a=1", &[]), "a=1&a=2&b=2");
        assert_eq!(
            canonical_query("Qualifier=$LATEST", &[]),
            "Qualifier=%24LATEST"
        );
        assert_eq!(
            canonical_query("Qualifier=%24LATEST", &[]),
            "Qualifier=%24LATEST"
        );
        assert_eq!(canonical_query("a+b=c d", &[]), "a%2Bb=c%20d");
        assert_eq!(canonical_query("flag&x=", &[]), "flag=&x=");
        assert_eq!(canonical_query("&&x=1&", &[]), "x=1");
        assert_eq!(canonical_query("%zz=%", &[]), "%25zz=%25");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&a=1", &["X-Amz-Signature"]),
            "a=1"
        );
    }

    #[test]
    fn params_are_decoded() {
        assert_eq!(
            query_params("X-Amz-Credential=AKID%2F20150830&flag"),
            vec![
                ("X-Amz-Credential".to_owned(), "AKID/20150830".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        assert_eq!(trim_all("  \"a   b \t c\"  "), "\"a b c\"");
        let headers = [
            ("Host", "example.com"),
            ("My-Header1", "value4"),
            ("my-header1", " value1 "),
            ("Unsigned", "x"),
        ];
        let signed = [
            "host".to_owned(),
            "my-header1".to_owned(),
            "x-absent".to_owned(),
        ];
        assert_eq!(
            canonical_headers(&headers, &signed),
            "host:example.com\nmy-header1:value4,value1\nx-absent:\n"
        );
    }
}
