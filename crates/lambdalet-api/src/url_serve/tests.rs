use super::*;

fn parts(host: &str, path: &str) -> Parts {
    http::Request::builder()
        .uri(path)
        .header("host", host)
        .body(())
        .expect("request")
        .into_parts()
        .0
}

fn target(id: &str, raw_path: &str) -> Option<Target> {
    Some(Target {
        url_id: id.to_owned(),
        raw_path: raw_path.to_owned(),
    })
}

#[test]
fn routes_by_host_name_then_by_path_prefix() {
    let r = |host: &str, path: &str| route(&parts(host, path), "us-east-1");
    assert_eq!(
        r("ABC.lambda-url.us-east-1.localhost:9003", "/a/b?x=1"),
        Ok(target("abc", "/a/b"))
    );
    assert_eq!(
        r("abc.lambda-url.us-east-1.localhost", "/url/zzz/a"),
        Ok(target("abc", "/url/zzz/a")),
        "a URL host is never routed by its path"
    );
    assert_eq!(
        r("127.0.0.1:9003", "/url/abc/a/b"),
        Ok(target("abc", "/a/b"))
    );
    assert_eq!(r("127.0.0.1:9003", "/url/abc"), Ok(target("abc", "/")));
    assert_eq!(r("127.0.0.1:9003", "/url/abc/"), Ok(target("abc", "/")));
    assert_eq!(r("localhost", "/other"), Ok(None));
    assert!(r("abc.lambda-url.eu-west-1.localhost", "/").is_err());
}

#[test]
fn trace_ids_look_like_x_ray_roots() {
    let t = new_trace_id();
    let parts: Vec<&str> = t.split('-').collect();
    assert_eq!(parts[0], "Root=1");
    assert_eq!((parts[1].len(), parts[2].len()), (8, 24));
}
