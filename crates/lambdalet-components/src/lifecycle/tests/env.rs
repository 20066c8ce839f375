//! What a step sees: its environment (and nothing of the daemon's) and its user.

use std::collections::BTreeMap;

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Variables `/bin/sh` itself may add to what it was given.
const SHELL_ADDS: [&str; 4] = ["PWD", "OLDPWD", "SHLVL", "_"];

#[tokio::test]
async fn a_step_sees_exactly_the_plans_environment_in_order_of_precedence() {
    // The test process's environment (cargo sets CARGO_* for tests) stands for the
    // daemon's: none of it may reach a step.
    let inherited: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| {
            !["PATH", "HOME", "LANG"].contains(&k.as_str()) && !SHELL_ADDS.contains(&k.as_str())
        })
        .collect();
    assert!(
        !inherited.is_empty(),
        "the test process has no variable of its own to leak"
    );

    let mut fx = Fixture::new();
    fx.plan.env = map(&[
        ("SVCUID", "secret-ish"),
        ("A", "lambdalet"),
        ("B", "lambdalet"),
        ("C", "lambdalet"),
    ]);
    fx.plan.setenv = map(&[
        ("A", "lifecycle"),
        ("B", "lifecycle"),
        ("LANG", "en_US.UTF-8"),
    ]);
    fx.plan.install = Some(Step {
        setenv: map(&[("A", "step")]),
        ..Step::script("env > env.txt")
    });
    fx.runner().install().await.unwrap();

    let text = std::fs::read_to_string(fx.work("env.txt")).unwrap();
    let mut seen: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for var in SHELL_ADDS {
        seen.remove(var);
    }
    let home = fx.plan.work_dir.to_str().unwrap();
    let want = map(&[
        ("A", "step"),
        ("B", "lifecycle"),
        ("C", "lambdalet"),
        ("SVCUID", "secret-ish"),
        ("LANG", "en_US.UTF-8"),
        ("HOME", home),
        ("PATH", crate::lifecycle::BASE_PATH),
    ]);
    assert_eq!(seen, want);
    for var in &inherited {
        assert!(
            !text.contains(&format!("{var}=")),
            "{var} leaked into the step"
        );
    }
}

#[tokio::test]
async fn a_step_setenv_path_decides_what_onpath_finds() {
    use std::os::unix::fs::PermissionsExt;
    let mut fx = Fixture::new();
    let bin = fx.plan.work_dir.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("mytool"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(bin.join("mytool"), std::fs::Permissions::from_mode(0o755)).unwrap();
    fx.plan.install = Some(Step {
        skipif: Some(crate::lifecycle::SkipIf::OnPath("mytool".into())),
        ..Step::script("touch ran-without-path")
    });
    fx.runner().install().await.unwrap();
    assert!(fx.work("ran-without-path").exists());

    fx.plan.version = "2".into();
    fx.plan.setenv = map(&[("PATH", &format!("/usr/bin:/bin:{}", bin.display()))]);
    fx.plan.install = Some(Step {
        skipif: Some(crate::lifecycle::SkipIf::OnPath("mytool".into())),
        ..Step::script("touch ran-with-path")
    });
    fx.runner().install().await.unwrap();
    assert!(!fx.work("ran-with-path").exists());
}

#[tokio::test]
async fn steps_run_as_the_plans_user_unless_they_require_privilege() {
    let mut fx = Fixture::new();
    fx.plan.user = Some((65534, 65534));
    fx.plan.install = step("id -u > uid; id -g > gid; id -G > groups");
    fx.plan.bootstrap = Some(Step {
        requires_privilege: true,
        ..Step::script("id -u > privileged-uid")
    });
    let runner = fx.runner();
    let result = runner.install().await;
    if crate::lifecycle::sys::effective_ids().0 != 0 {
        let err = result.unwrap_err();
        assert!(err.contains("not root"), "{err}");
        return;
    }
    result.unwrap();
    let read = |name: &str| {
        std::fs::read_to_string(fx.work(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(read("uid"), "65534");
    assert_eq!(read("gid"), "65534");
    assert_eq!(read("groups"), "65534");
    assert_eq!(read("privileged-uid"), "0");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&fx.plan.work_dir).unwrap().uid(), 65534);
}
