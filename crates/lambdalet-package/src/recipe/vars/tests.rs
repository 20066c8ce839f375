//! Every kind of variable, and the text that must be left alone.

use serde_json::json;

use super::*;

fn ctx() -> VarContext {
    let mut deps = BTreeMap::new();
    deps.insert(
        "aws.greengrass.LambdaLauncher".to_string(),
        ComponentVars {
            artifacts_path: "/gg/packages/artifacts/launcher/2.0.0".into(),
            decompressed_path: "/gg/packages/artifacts-unarchived/launcher/2.0.0".into(),
            work_path: "/gg/work/launcher".into(),
            configuration: json!({"port": 9000}),
        },
    );
    VarContext {
        own: ComponentVars {
            artifacts_path: "/gg/a".into(),
            decompressed_path: "/gg/d".into(),
            work_path: "/gg/w".into(),
            configuration: json!({
                "containerMode": "NoContainer",
                "timeoutInSeconds": 3,
                "ratio": 0.5,
                "pinned": true,
                "nothing": null,
                "params": {"EnvironmentVariables": {"A": "1"}, "list": [1, "two"]},
                "a/b": "slash",
                "m~n": "tilde",
                "braces": "{iot:thingName}"
            }),
        },
        deps,
        kernel_root: "/gg".into(),
        thing_name: "edge-7".into(),
    }
}

#[test]
fn table() {
    let table: &[(&str, &str)] = &[
        ("{configuration:/containerMode}", "NoContainer"),
        ("{configuration:/timeoutInSeconds}", "3"),
        ("{configuration:/ratio}", "0.5"),
        ("{configuration:/pinned}", "true"),
        ("{configuration:/nothing}", "null"),
        (
            "{configuration:/params}",
            r#"{"EnvironmentVariables":{"A":"1"},"list":[1,"two"]}"#,
        ),
        ("{configuration:/params/list}", r#"[1,"two"]"#),
        ("{configuration:/params/list/1}", "two"),
        ("{configuration:/params/EnvironmentVariables/A}", "1"),
        ("{configuration:/a~1b} {configuration:/m~0n}", "slash tilde"),
        ("{configuration:/missing}", "{configuration:/missing}"),
        (
            "{configuration:containerMode}",
            "{configuration:containerMode}",
        ),
        ("{configuration:/braces}", "{iot:thingName}"),
        ("{artifacts:path}/run.sh", "/gg/a/run.sh"),
        (
            "{artifacts:decompressedPath}/lambda-artifact",
            "/gg/d/lambda-artifact",
        ),
        ("cd {work:path}", "cd /gg/w"),
        ("{kernel:rootPath}", "/gg"),
        ("{iot:thingName}", "edge-7"),
        (
            "{aws.greengrass.LambdaLauncher:artifacts:path}/lambda-launcher start",
            "/gg/packages/artifacts/launcher/2.0.0/lambda-launcher start",
        ),
        (
            "{aws.greengrass.LambdaLauncher:artifacts:decompressedPath}",
            "/gg/packages/artifacts-unarchived/launcher/2.0.0",
        ),
        (
            "{aws.greengrass.LambdaLauncher:work:path}",
            "/gg/work/launcher",
        ),
        (
            "{aws.greengrass.LambdaLauncher:configuration:/port}",
            "9000",
        ),
        (
            "{aws.greengrass.LambdaLauncher:configuration:/none}",
            "{aws.greengrass.LambdaLauncher:configuration:/none}",
        ),
        (
            "{com.example.NotADep:artifacts:path}",
            "{com.example.NotADep:artifacts:path}",
        ),
        (
            "{aws.greengrass.LambdaLauncher:kernel:rootPath}",
            "{aws.greengrass.LambdaLauncher:kernel:rootPath}",
        ),
        ("{artifacts:Path}", "{artifacts:Path}"),
        ("{unknown}", "{unknown}"),
        (
            "a {iot:thingName} b {kernel:rootPath} c {work:path}",
            "a edge-7 b /gg c /gg/w",
        ),
        ("{{iot:thingName}}", "{edge-7}"),
        ("{ not a var } {", "{ not a var } {"),
        ("}{", "}{"),
        ("x{", "x{"),
        ("{{", "{{"),
        ("{}", "{}"),
        (
            "json: {\"k\": {configuration:/timeoutInSeconds}}",
            "json: {\"k\": 3}",
        ),
        ("no variables at all", "no variables at all"),
        ("", ""),
        ("ünïcode {iot:thingName} ✓", "ünïcode edge-7 ✓"),
    ];
    let ctx = ctx();
    for (text, expected) in table {
        assert_eq!(interpolate(text, &ctx), *expected, "{text}");
    }
}
