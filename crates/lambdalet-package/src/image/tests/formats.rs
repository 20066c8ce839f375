//! The archive formats: the same image saved three ways, compression, several images,
//! digests that do not match.

use super::build::{Archive, Image, T, docker25_save, layer, legacy_save, oci_layout, zstd};
use super::{Fixture, tree};
use crate::image::{ImageError, Progress};

fn two_layers() -> Vec<Vec<u8>> {
    vec![
        layer(&[
            T::Dir("usr/", 0o755),
            T::Dir("usr/bin/", 0o755),
            T::File("usr/bin/env", b"#!env", 0o755),
            T::Symlink("bin", "usr/bin"),
            T::Dir("var/task/", 0o755),
            T::File("var/task/app.py", b"v1", 0o644),
        ]),
        layer(&[
            T::File("var/task/app.py", b"v2", 0o644),
            T::File("lambda-entrypoint.sh", b"#!/bin/sh", 0o755),
        ]),
    ]
}

#[test]
fn legacy_docker_save_and_oci_layout_give_the_same_image() {
    let image = Image::plain(two_layers());
    let fx = Fixture::new();
    let legacy = fx.load(&legacy_save(&[(&image, &["app:1"])])).unwrap();
    let other = Fixture::new();
    let oci = other
        .load(&oci_layout(&[(&Image::gzipped(two_layers()), &["app:1"])]))
        .unwrap();
    let third = Fixture::new();
    let v25 = third.load(&docker25_save(&image, &["app:1"])).unwrap();
    assert_eq!(legacy.id, image.id());
    assert_eq!(oci.id, legacy.id);
    assert_eq!(v25.id, legacy.id);
    let expected = tree(&legacy.rootfs);
    assert_eq!(tree(&oci.rootfs), expected);
    assert_eq!(tree(&v25.rootfs), expected);
    assert_eq!(expected["var/task/app.py"], "file v2 644");
    assert_eq!(expected["bin"], "link usr/bin");
    assert_eq!(legacy.names, ["app:1"]);
    assert_eq!(v25.names, ["app:1"]);
    assert_eq!((legacy.layers, legacy.size_bytes), (2, 5 + 2 + 9));
    for fx in [&fx, &other, &third] {
        fx.assert_contained();
    }
}

#[test]
fn entrypoint_cmd_workdir_and_env_are_parsed() {
    let fx = Fixture::new();
    let loaded = fx.layers(two_layers()).unwrap();
    let c = &loaded.config;
    assert_eq!(c.entrypoint, ["/lambda-entrypoint.sh"]);
    assert_eq!(c.cmd, ["app.handler"]);
    assert_eq!(c.working_dir.as_deref(), Some("/var/task"));
    assert_eq!(
        c.env[1],
        ("LAMBDA_TASK_ROOT".to_owned(), "/var/task".to_owned())
    );
    assert_eq!(c.os.as_deref(), Some("linux"));
}

#[test]
fn zstd_layers_are_read() {
    let tars = two_layers();
    let mut image = Image::plain(tars.clone());
    image.blobs = tars.iter().map(|t| zstd(t)).collect();
    image.media_types = vec!["application/vnd.oci.image.layer.v1.tar+zstd"; 2];
    let fx = Fixture::new();
    let loaded = fx.load(&oci_layout(&[(&image, &["z:1"])])).unwrap();
    assert_eq!(loaded.id, Image::plain(tars).id());
    assert_eq!(tree(&loaded.rootfs)["var/task/app.py"], "file v2 644");
}

#[test]
fn progress_reports_layers_and_bytes() {
    let image = Image::gzipped(two_layers());
    let fx = Fixture::new();
    let path = fx.write(&oci_layout(&[(&image, &["p:1"])]));
    let mut seen = Vec::new();
    fx.store
        .load(&path, Default::default(), &mut |p| seen.push(p))
        .unwrap();
    let total: u64 = image.blobs.iter().map(|b| b.len() as u64).sum();
    assert_eq!(seen.first(), Some(&Progress::Reading { done: 0, total }));
    assert!(seen.contains(&Progress::Layer {
        index: 2,
        count: 2,
        bytes: image.blobs[1].len() as u64
    }));
    assert!(seen.contains(&Progress::Reading { done: total, total }));
    assert_eq!(seen.last(), Some(&Progress::Done));
}

#[test]
fn an_archive_with_several_images_needs_a_name() {
    let a = Image::plain(two_layers());
    let mut b = Image::plain(vec![layer(&[T::File("b", b"b", 0o644)])]);
    b.cmd = vec!["other.handler"];
    let archive = legacy_save(&[(&a, &["a:1"]), (&b, &["b:1", "b:latest"])]);
    let fx = Fixture::new();
    let err = fx.load(&archive).unwrap_err();
    assert!(
        matches!(&err, ImageError::SeveralImages { names } if names == &["a:1", "b:1"]),
        "{err}"
    );
    assert!(
        err.to_string().contains("load one of them by name"),
        "{err}"
    );
    let path = fx.write(&archive);
    let loaded = fx
        .store
        .load_named(&path, "b", Default::default(), &mut |_| {})
        .unwrap();
    assert_eq!(loaded.id, b.id());
    assert_eq!(loaded.names, ["b:1", "b:latest"]);
    let err = fx
        .store
        .load_named(&path, "c:1", Default::default(), &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, ImageError::NameNotInArchive { .. }), "{err}");
}

#[test]
fn a_layer_that_does_not_match_its_digest_is_refused() {
    let image = Image::plain(two_layers());
    let digest = crate::image::digest::sha256_hex(&image.blobs[1]);
    let mut archive = Archive::new();
    // Same manifest and config, same size, but one byte of the second layer's data changed.
    for (name, bytes) in oci_layout(&[(&image, &["x:1"])]).members() {
        let mut bytes = bytes.clone();
        if name.ends_with(&digest) {
            let at = bytes.windows(2).position(|w| w == b"v2").unwrap();
            bytes[at + 1] = b'3';
        }
        archive.add(name, bytes);
    }
    let fx = Fixture::new();
    let err = fx.load(&archive).unwrap_err();
    assert!(
        matches!(&err, ImageError::DigestMismatch { expected, .. } if *expected == digest),
        "{err}"
    );
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
    fx.assert_contained();
    assert!(fx.store.list().unwrap().is_empty());
}

#[test]
fn a_legacy_layer_that_does_not_match_the_config_is_refused() {
    let image = Image::plain(two_layers());
    let mut archive = Archive::new();
    for (name, bytes) in legacy_save(&[(&image, &["x:1"])]).members() {
        let layer_two = bytes == &image.tars[1];
        archive.add(
            name,
            if layer_two {
                layer(&[T::File("evil", b"!", 0o755)])
            } else {
                bytes.clone()
            },
        );
    }
    let fx = Fixture::new();
    let err = fx.load(&archive).unwrap_err();
    assert!(
        matches!(err, ImageError::DiffIdMismatch { layer: 2, .. }),
        "{err}"
    );
    fx.assert_contained();
}

#[test]
fn a_compressed_archive_is_refused_with_advice() {
    let fx = Fixture::new();
    let path = fx.dir.path().join("image.tar.gz");
    std::fs::write(&path, super::build::gzip(b"whatever")).unwrap();
    let err = fx
        .store
        .load(&path, Default::default(), &mut |_| {})
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("gzip-compressed: decompress it first"),
        "{err}"
    );
    let path = fx.dir.path().join("junk.tar");
    std::fs::write(&path, b"this is not a tar file at all").unwrap();
    let err = fx
        .store
        .load(&path, Default::default(), &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, ImageError::NotAnArchive { .. }), "{err}");
}

#[test]
fn giant_tar_headers_are_refused_before_they_are_buffered() {
    let fx = Fixture::new();
    let path = fx.dir.path().join("pax.tar");
    std::fs::write(&path, super::build::giant_pax("manifest.json", 8 << 20)).unwrap();
    let err = fx
        .store
        .load(&path, Default::default(), &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, ImageError::NotAnArchive { .. }), "{err}");
    let err = fx
        .layers(vec![super::build::giant_pax("f", 20 << 20)])
        .unwrap_err();
    assert!(
        matches!(err, ImageError::CorruptLayer { layer: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("more than 16 MiB of tar headers"),
        "{err}"
    );
    fx.assert_contained();
}

#[test]
fn a_multi_platform_index_yields_this_machines_image() {
    use crate::image::digest::sha256_hex;
    use serde_json::json;
    let native = Image::gzipped(two_layers());
    let mut archive = oci_layout(&[(&native, &[])]);
    let manifest = native.manifest();
    let descriptor = |blob: &[u8], platform: serde_json::Value| {
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(blob)),
            "size": blob.len(),
            "platform": platform,
        })
    };
    let arch = crate::image::oci::host_architecture();
    let foreign = if arch == "s390x" { "riscv64" } else { "s390x" };
    let mut attestation = descriptor(b"{}", json!({ "os": "unknown", "architecture": "unknown" }));
    attestation["annotations"] = json!({ "vnd.docker.reference.type": "attestation-manifest" });
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            // Listed first, and its blob is not in the archive: skipped.
            descriptor(b"not saved", json!({ "os": "linux", "architecture": foreign })),
            descriptor(&manifest, json!({ "os": "linux", "architecture": arch })),
            attestation,
        ],
    }))
    .unwrap();
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{}", sha256_hex(&nested)),
            "size": nested.len(),
            "annotations": { "io.containerd.image.name": "docker.io/library/multi:1" },
        }],
    });
    archive.blob(nested);
    let mut replaced = Archive::new();
    for (name, bytes) in archive.members() {
        let bytes = if name == "index.json" {
            serde_json::to_vec(&index).unwrap()
        } else {
            bytes.clone()
        };
        replaced.add(name, bytes);
    }
    let fx = Fixture::new();
    let loaded = fx.load(&replaced).unwrap();
    assert_eq!(loaded.id, native.id());
    assert_eq!(loaded.names, ["docker.io/library/multi:1"]);
    assert_eq!(fx.store.get("multi:1").unwrap().unwrap().id, native.id());
}
