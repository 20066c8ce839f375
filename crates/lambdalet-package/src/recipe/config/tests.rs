//! RESET then MERGE, and the two wire shapes.

use serde_json::json;

use super::*;

fn defaults() -> Value {
    json!({"Message": "hello", "nested": {"k": 1, "j": 2}, "list": [1, 2, 3], "n": null})
}

fn apply(current: Value, merge: Option<Value>, reset: &[&str]) -> Value {
    let update = ConfigUpdate {
        merge,
        reset: reset.iter().map(|s| s.to_string()).collect(),
    };
    apply_config_update(&defaults(), &current, &update).unwrap()
}

#[test]
fn table() {
    let current =
        json!({"Message": "hi", "nested": {"k": 5, "extra": true}, "list": [9], "added": "x"});
    let table = [
        // merge
        (None, vec![], current.clone()),
        (
            Some(json!({"Message": "yo"})),
            vec![],
            json!({"Message": "yo", "nested": {"k": 5, "extra": true}, "list": [9], "added": "x"}),
        ),
        (
            Some(json!({"nested": {"j": 7}})),
            vec![],
            json!({"Message": "hi", "nested": {"k": 5, "extra": true, "j": 7}, "list": [9], "added": "x"}),
        ),
        (
            Some(json!({"list": [4, 5]})),
            vec![],
            json!({"Message": "hi", "nested": {"k": 5, "extra": true}, "list": [4, 5], "added": "x"}),
        ),
        (
            Some(json!({"nested": "flat"})),
            vec![],
            json!({"Message": "hi", "nested": "flat", "list": [9], "added": "x"}),
        ),
        (
            Some(json!({"added": {"deep": 1}})),
            vec![],
            json!({"Message": "hi", "nested": {"k": 5, "extra": true}, "list": [9], "added": {"deep": 1}}),
        ),
        (
            Some(json!({"Message": null})),
            vec![],
            json!({"Message": null, "nested": {"k": 5, "extra": true}, "list": [9], "added": "x"}),
        ),
        (Some(json!({"nested": {}})), vec![], current.clone()),
        // reset a key that has a default, and one that has none
        (
            None,
            vec!["/Message"],
            json!({"Message": "hello", "nested": {"k": 5, "extra": true}, "list": [9], "added": "x"}),
        ),
        (
            None,
            vec!["/added"],
            json!({"Message": "hi", "nested": {"k": 5, "extra": true}, "list": [9]}),
        ),
        (
            None,
            vec!["/nested/extra"],
            json!({"Message": "hi", "nested": {"k": 5}, "list": [9], "added": "x"}),
        ),
        (
            None,
            vec!["/nested"],
            json!({"Message": "hi", "nested": {"k": 1, "j": 2}, "list": [9], "added": "x"}),
        ),
        (
            None,
            vec!["/n"],
            json!({"Message": "hi", "nested": {"k": 5, "extra": true}, "list": [9], "added": "x", "n": null}),
        ),
        (None, vec!["/not/there"], current.clone()),
        // a pointer into an array resets the whole array
        (
            None,
            vec!["/list/0"],
            json!({"Message": "hi", "nested": {"k": 5, "extra": true}, "list": [1, 2, 3], "added": "x"}),
        ),
        // reset everything
        (None, vec![""], defaults()),
        // reset first, then merge
        (
            Some(json!({"Message": "after"})),
            vec!["", "/Message"],
            json!({"Message": "after", "nested": {"k": 1, "j": 2}, "list": [1, 2, 3], "n": null}),
        ),
    ];
    for (merge, reset, expected) in table {
        assert_eq!(
            apply(current.clone(), merge.clone(), &reset),
            expected,
            "merge {merge:?} reset {reset:?}"
        );
    }
}

#[test]
fn reset_recreates_parents_from_defaults() {
    let got = apply(json!({"nested": 4}), None, &["/nested/k"]);
    assert_eq!(got, json!({"nested": {"k": 1}}));
    let got = apply(json!(null), None, &["/Message"]);
    assert_eq!(got, json!({"Message": "hello"}));
}

#[test]
fn cli_shape() {
    let v =
        json!({"com.example.Hello": {"MERGE": {"Message": "hi"}, "RESET": ["/a", ""]}, "b": {}});
    let parsed = parse_cli_config_update(&v).unwrap();
    assert_eq!(
        parsed["com.example.Hello"].merge,
        Some(json!({"Message": "hi"}))
    );
    assert_eq!(
        parsed["com.example.Hello"].reset,
        vec!["/a".to_string(), String::new()]
    );
    assert_eq!(parsed["b"], ConfigUpdate::default());
    assert_eq!(
        parse_cli_config_update(&json!({"c": {"merge": {}}})).unwrap_err(),
        "c: unknown key \"merge\"; an update has \"MERGE\" and \"RESET\" (upper case)"
    );
    assert_eq!(
        parse_cli_config_update(&json!({"c": {"RESET": ["a"]}})).unwrap_err(),
        "c: RESET: expected JSON pointers (\"\" or starting with '/'), got \"a\""
    );
    assert_eq!(
        parse_cli_config_update(&json!({"c": {"MERGE": [1]}})).unwrap_err(),
        "c: MERGE: expected an object, got an array"
    );
    assert!(parse_cli_config_update(&json!([])).is_err());
}

#[test]
fn deployment_shape() {
    let v = json!({"merge": "{\"Message\":\"hi\"}", "reset": ["/x"]});
    let parsed = parse_deployment_config_update(&v).unwrap();
    assert_eq!(parsed.merge, Some(json!({"Message": "hi"})));
    assert_eq!(parsed.reset, vec!["/x".to_string()]);
    let v = json!({"merge": {"a": 1}});
    assert_eq!(
        parse_deployment_config_update(&v).unwrap().merge,
        Some(json!({"a": 1}))
    );
    assert!(
        parse_deployment_config_update(&json!({"merge": "not json"}))
            .unwrap_err()
            .starts_with("merge: expected an object as JSON text: ")
    );
    assert_eq!(
        parse_deployment_config_update(&json!({"merge": "[1]"})).unwrap_err(),
        "merge: expected an object, got an array"
    );
    assert_eq!(
        parse_deployment_config_update(&json!({"MERGE": {}})).unwrap_err(),
        "unknown key \"MERGE\" in configurationUpdate; it has \"merge\" and \"reset\""
    );
}
