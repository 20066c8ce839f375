//! The store: one copy per image, lookups by id, prefix and tag, removal, races.

use std::fs;

use super::build::{Image, T, layer, legacy_save, oci_layout};
use super::{Fixture, tree};
use crate::image::{ImageError, ImageStore};

fn image(content: &'static [u8]) -> Image {
    Image::plain(vec![layer(&[T::File("f", content, 0o644)])])
}

fn rootfs_count(fx: &Fixture) -> usize {
    fs::read_dir(fx.dir.path().join("store/rootfs"))
        .unwrap()
        .count()
}

#[test]
fn loading_an_image_twice_stores_it_once_and_keeps_both_tags() {
    let fx = Fixture::new();
    let img = image(b"one");
    let first = fx.load(&legacy_save(&[(&img, &["app:1"])])).unwrap();
    let second = fx.load(&oci_layout(&[(&img, &["app:stable"])])).unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(first.rootfs, second.rootfs);
    assert_eq!(second.names, ["app:1", "app:stable"]);
    assert_eq!(rootfs_count(&fx), 1);
    assert_eq!(fx.store.list().unwrap(), [second]);
    fx.assert_contained();
}

#[test]
fn images_are_found_by_id_prefix_and_name() {
    let fx = Fixture::new();
    let loaded = fx
        .load(&legacy_save(&[(
            &image(b"x"),
            &["docker.io/library/app:1"],
        )]))
        .unwrap();
    let id = loaded.id.clone();
    for reference in [
        id.clone(),
        format!("sha256:{id}"),
        id[..12].to_owned(),
        format!("sha256:{}", &id[..20]),
        "app:1".to_owned(),
        "docker.io/library/app:1".to_owned(),
    ] {
        assert_eq!(
            fx.store.get(&reference).unwrap().as_ref(),
            Some(&loaded),
            "{reference}"
        );
    }
    assert_eq!(fx.store.get("app:2").unwrap(), None);
    assert_eq!(fx.store.get(&"0".repeat(64)).unwrap(), None);
    assert!(matches!(
        fx.store.get("sha256:12"),
        Err(ImageError::InvalidReference { .. })
    ));
}

#[test]
fn a_tag_moves_to_the_image_loaded_last() {
    let fx = Fixture::new();
    let old = fx
        .load(&legacy_save(&[(&image(b"old"), &["app:latest", "app:1"])]))
        .unwrap();
    let new = fx
        .load(&legacy_save(&[(&image(b"new"), &["app:latest"])]))
        .unwrap();
    assert_eq!(fx.store.get("app").unwrap().unwrap().id, new.id);
    assert_eq!(fx.store.get(&old.id).unwrap().unwrap().names, ["app:1"]);
}

#[test]
fn remove_deletes_the_record_and_the_tree() {
    let fx = Fixture::new();
    let loaded = fx
        .load(&legacy_save(&[(&image(b"x"), &["gone:1"])]))
        .unwrap();
    assert!(fx.store.remove("gone:1").unwrap());
    assert!(!loaded.rootfs.exists());
    assert_eq!(fx.store.get(&loaded.id).unwrap(), None);
    assert!(fx.store.list().unwrap().is_empty());
    assert!(!fx.store.remove(&loaded.id).unwrap());
    fx.assert_contained();
}

#[test]
fn concurrent_loads_of_one_image_agree() {
    let fx = Fixture::new();
    let img = Image::gzipped(vec![
        layer(&[T::File("f", &[7; 100_000], 0o644)]),
        layer(&[T::Dir("d/", 0o755)]),
    ]);
    let path = fx.write(&oci_layout(&[(&img, &["race:1"])]));
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| fx.store.load(&path, Default::default(), &mut |_| {})))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert!(
        results
            .iter()
            .all(|r| r.id == img.id() && r.rootfs == results[0].rootfs)
    );
    assert_eq!(rootfs_count(&fx), 1);
    assert_eq!(fx.store.list().unwrap().len(), 1);
    assert_eq!(
        tree(&results[0].rootfs)["f"].len(),
        "file  644".len() + 100_000
    );
    fx.assert_contained();
}

#[test]
fn open_clears_leftovers_of_an_interrupted_load() {
    let fx = Fixture::new();
    let tmp = fx.dir.path().join("store/tmp");
    fs::create_dir_all(tmp.join("half/ro")).unwrap();
    fs::write(tmp.join("half/ro/f"), b"x").unwrap();
    let store = ImageStore::open(&fx.dir.path().join("store")).unwrap();
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    assert!(store.list().unwrap().is_empty());
}
