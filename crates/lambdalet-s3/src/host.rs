//! Which bucket a request names: path-style (`http://127.0.0.1:9002/bucket/key`) or
//! virtual-hosted-style (`http://bucket.localhost:9002/key`, or under `--s3-domain`).

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// Virtual-hosted-style requests under these domains; anything else is path-style.
#[derive(Debug, Clone)]
pub struct Domains(Vec<String>);

impl Domains {
    /// `localhost` always, plus `extra` (the `--s3-domain`), lower-cased.
    pub fn new(extra: Option<&str>) -> Self {
        let mut all = vec!["localhost".to_owned()];
        if let Some(d) = extra.filter(|d| !d.is_empty()) {
            all.push(d.trim_end_matches('.').to_ascii_lowercase());
        }
        Self(all)
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host);
        for d in &self.0 {
            if name.eq_ignore_ascii_case(d) {
                return Ok(VirtualHost::new(host));
            }
            let lower = name.to_ascii_lowercase();
            if let Some(bucket) = lower
                .strip_suffix(d.as_str())
                .and_then(|b| b.strip_suffix('.'))
                .filter(|b| !b.is_empty())
            {
                return Ok(VirtualHost::new(host).with_bucket(bucket.to_owned()));
            }
        }
        // An IP address or any other name: path-style.
        Ok(VirtualHost::new(host))
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(d: &Domains, host: &str) -> Option<String> {
        d.parse_host_header(host)
            .expect("parses")
            .bucket()
            .map(str::to_owned)
    }

    #[test]
    fn path_style_for_addresses_virtual_hosted_under_the_domains() {
        let d = Domains::new(Some("s3.example.org"));
        assert_eq!(bucket(&d, "127.0.0.1:9002"), None);
        assert_eq!(bucket(&d, "[::1]:9002"), None);
        assert_eq!(bucket(&d, "localhost:9002"), None);
        assert_eq!(
            bucket(&d, "uploads.localhost:9002").as_deref(),
            Some("uploads")
        );
        assert_eq!(
            bucket(&d, "my.bucket.s3.example.org").as_deref(),
            Some("my.bucket")
        );
        assert_eq!(bucket(&d, "s3.example.org"), None);
        assert_eq!(bucket(&d, "other.host:9002"), None);
    }
}
