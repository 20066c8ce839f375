//! Artifact fields: defaults, digests, permissions and name collisions.

use serde_json::json;

use super::*;

const SHA256_OF_EMPTY: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

fn one(v: serde_json::Value) -> Checked<Artifact> {
    parse_artifacts(Some(&json!([v])), "Manifests[0].Artifacts").map(|mut a| a.remove(0))
}

fn fault(v: serde_json::Value) -> (String, String) {
    let e = one(v).err().unwrap();
    (e.path, e.message)
}

#[test]
fn defaults_and_case_insensitive_values() {
    let a = one(json!({"uri": "greengrass:a.zip", "unarchive": "zip", "permission": {"read": "all", "EXECUTE": "Owner"}})).unwrap();
    assert_eq!(a.unarchive, Unarchive::Zip);
    assert_eq!(
        a.permission,
        Permission {
            read: Access::All,
            execute: Access::Owner
        }
    );
    assert_eq!((a.digest, a.algorithm), (None, None));
    let b = one(json!({"Uri": "greengrass:b"})).unwrap();
    assert_eq!(b.permission, Permission::default());
    assert_eq!(b.unarchive, Unarchive::None);
}

#[test]
fn digest_defaults_to_sha256_and_must_have_the_right_length() {
    let a = one(json!({"Uri": "greengrass:a", "Digest": SHA256_OF_EMPTY})).unwrap();
    assert_eq!(a.algorithm, Some(DigestAlgorithm::Sha256));
    let sha512 = DigestAlgorithm::Sha512.digest_base64(b"");
    let a = one(json!({"Uri": "greengrass:a", "Digest": sha512, "Algorithm": "sha512"})).unwrap();
    assert_eq!(a.algorithm, Some(DigestAlgorithm::Sha512));
    assert_eq!(
        fault(json!({"Uri": "greengrass:a", "Digest": SHA256_OF_EMPTY, "Algorithm": "SHA-384"})),
        (
            "Manifests[0].Artifacts[0].Digest".into(),
            format!(
                "expected base64 of a 48-byte SHA-384 digest, got \"{SHA256_OF_EMPTY}\" (44 characters)"
            )
        )
    );
    assert_eq!(
        fault(json!({"Uri": "greengrass:a", "Digest": "abc"})).1,
        "expected base64 of a 32-byte SHA-256 digest, got \"abc\" (3 characters)"
    );
    assert_eq!(
        fault(json!({"Uri": "greengrass:a", "Algorithm": "MD5"})),
        (
            "Manifests[0].Artifacts[0].Algorithm".into(),
            "unknown digest algorithm \"MD5\"; accepted: SHA-256, SHA-384, SHA-512".into()
        )
    );
}

#[test]
fn digest_base64_matches_known_values() {
    assert_eq!(DigestAlgorithm::Sha256.digest_base64(b""), SHA256_OF_EMPTY);
    assert_eq!(DigestAlgorithm::Sha384.digest_base64(b"").len(), 64);
    assert_eq!(
        DigestAlgorithm::parse("Sha-512"),
        Some(DigestAlgorithm::Sha512)
    );
    assert_eq!(DigestAlgorithm::parse("SHA-1"), None);
}

#[test]
fn file_modes() {
    use Access::*;
    let table = [
        (Owner, None, 0o400),
        (None, None, 0o400),
        (All, None, 0o444),
        (Owner, Owner, 0o500),
        (All, Owner, 0o544),
        (Owner, All, 0o555),
        (None, All, 0o555),
    ];
    for (read, execute, mode) in table {
        assert_eq!(
            Permission { read, execute }.file_mode(),
            mode,
            "{read:?}/{execute:?}"
        );
    }
}

#[test]
fn names_and_unpack_directories_must_not_collide() {
    let dup = json!([{"Uri": "greengrass:a.zip"}, {"Uri": "s3://bucket/x/a.zip"}]);
    let e = parse_artifacts(Some(&dup), "Manifests[0].Artifacts")
        .err()
        .unwrap();
    assert_eq!(e.path, "Manifests[0].Artifacts[1].Uri");
    assert_eq!(
        e.message,
        "file name \"a.zip\" is already used by Manifests[0].Artifacts[0]; artifacts of one manifest need distinct file names"
    );
    let dirs = json!([{"Uri": "greengrass:m.zip", "Unarchive": "ZIP"}, {"Uri": "greengrass:m.jar", "Unarchive": "ZIP"}]);
    let e = parse_artifacts(Some(&dirs), "A").err().unwrap();
    assert_eq!(e.path, "A[1].Unarchive");
    let ok = json!([{"Uri": "greengrass:m.zip", "Unarchive": "ZIP"}, {"Uri": "greengrass:m.jar"}]);
    assert_eq!(parse_artifacts(Some(&ok), "A").unwrap().len(), 2);
}

#[test]
fn unarchived_dir_name_drops_the_last_extension() {
    for (uri, dir) in [
        ("greengrass:lambda-artifact.zip", "lambda-artifact"),
        ("greengrass:a.tar.zip", "a.tar"),
        ("greengrass:plain", "plain"),
        ("greengrass:.zip", ".zip"),
    ] {
        let a = one(json!({"Uri": uri})).unwrap();
        assert_eq!(a.unarchived_dir_name(), dir);
    }
}

#[test]
fn bad_values_name_their_field() {
    let table = [
        (
            json!({"Uri": "greengrass:a", "Unarchive": "TAR"}),
            "Manifests[0].Artifacts[0].Unarchive",
            "expected one of NONE, ZIP, got \"TAR\"",
        ),
        (
            json!({"Uri": "greengrass:a", "Permission": {"Read": "WRITE"}}),
            "Manifests[0].Artifacts[0].Permission.Read",
            "expected one of NONE, OWNER, ALL, got \"WRITE\"",
        ),
        (
            json!({"Uri": "greengrass:a", "Permission": {"Write": "ALL"}}),
            "Manifests[0].Artifacts[0].Permission",
            "unknown key \"Write\"; a permission accepts Read, Execute",
        ),
        (
            json!({"Digest": "x"}),
            "Manifests[0].Artifacts[0].Uri",
            "missing, expected the artifact's URI (greengrass:NAME, s3://bucket/key, https://…, file:PATH)",
        ),
        (
            json!({"Uri": 5}),
            "Manifests[0].Artifacts[0].Uri",
            "expected a string, got 5",
        ),
    ];
    for (v, path, message) in table {
        assert_eq!(
            fault(v.clone()),
            (path.to_string(), message.to_string()),
            "{v}"
        );
    }
}
