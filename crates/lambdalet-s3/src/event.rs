//! The S3 event JSON a function receives, field for field as Lambda delivers it.

use serde_json::{Value, json};

/// One change to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, ...
    pub event_name: String,
    pub bucket: String,
    pub key: String,
    /// Created objects only.
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub sequencer: String,
    /// When the request finished, ms since the epoch.
    pub time_ms: u64,
    pub region: String,
    /// `AWS:<access key id>` of the caller, or `anonymous`.
    pub principal: String,
    pub source_ip: String,
    pub request_id: String,
    pub host_id: String,
    /// The notification's `Id`.
    pub configuration_id: String,
    /// The bucket owner (the account lambdalet pretends to be).
    pub owner: String,
}

/// `{"Records": [..]}` with this one record.
pub fn event_json(r: &Record) -> Value {
    let mut object = json!({
        "key": encode_key(&r.key),
        "sequencer": r.sequencer,
    });
    if let Some(size) = r.size {
        object["size"] = json!(size);
    }
    if let Some(etag) = &r.etag {
        object["eTag"] = json!(etag);
    }
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": r.region,
        "eventTime": lambdalet_core::timefmt::rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(r.time_ms)
        ),
        "eventName": r.event_name,
        "userIdentity": {"principalId": r.principal},
        "requestParameters": {"sourceIPAddress": r.source_ip},
        "responseElements": {"x-amz-request-id": r.request_id, "x-amz-id-2": r.host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": r.configuration_id,
            "bucket": {
                "name": r.bucket,
                "ownerIdentity": {"principalId": r.owner},
                "arn": format!("arn:aws:s3:::{}", r.bucket),
            },
            "object": object,
        }
    }]})
}

/// An object key as S3 puts it in events: `application/x-www-form-urlencoded`, so a space
/// is `+` and reserved bytes are percent-encoded; `/` stays.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_encoded() {
        assert_eq!(encode_key("red flower.jpg"), "red+flower.jpg");
        assert_eq!(encode_key("a@b"), "a%40b");
        assert_eq!(encode_key("uploads/ü+1.png"), "uploads/%C3%BC%2B1.png");
    }

    #[test]
    fn the_record_has_aws_s_fields() {
        let r = Record {
            event_name: "ObjectCreated:Put".into(),
            bucket: "my-bucket".into(),
            key: "HappyFace.jpg".into(),
            size: Some(1024),
            etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            sequencer: "0A1B2C3D4E5F678901".into(),
            time_ms: 1_567_539_447_192,
            region: "us-east-2".into(),
            principal: "AWS:LKIAEXAMPLE".into(),
            source_ip: "127.0.0.1".into(),
            request_id: "C3D13FE58DE4C810".into(),
            host_id: "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD".into(),
            configuration_id: "testConfigRule".into(),
            owner: "000000000000".into(),
        };
        let v = event_json(&r);
        let rec = &v["Records"][0];
        assert_eq!(rec["eventVersion"], "2.1");
        assert_eq!(rec["eventSource"], "aws:s3");
        assert_eq!(rec["eventTime"], "2019-09-03T19:37:27.192Z");
        assert_eq!(rec["s3"]["bucket"]["arn"], "arn:aws:s3:::my-bucket");
        assert_eq!(rec["s3"]["object"]["size"], 1024);
        let keys: Vec<&str> = rec
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "awsRegion",
            "eventName",
            "eventSource",
            "eventTime",
            "eventVersion",
            "requestParameters",
            "responseElements",
            "s3",
            "userIdentity",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
    }
}
