//! Applying layers: whiteouts, replacements, links, special files, modes and limits.

use super::build::{Image, T, layer, oci_layout, zero_bomb};
use super::{Fixture, listing, tree};
use crate::image::{ImageError, ImageLimits};

fn base() -> Vec<u8> {
    layer(&[
        T::Dir("etc/", 0o755),
        T::File("etc/hosts", b"h", 0o644),
        T::File("etc/passwd", b"p", 0o644),
        T::Dir("opt/", 0o755),
        T::Dir("opt/tool/", 0o755),
        T::File("opt/tool/run", b"r", 0o755),
        T::Dir("cache/", 0o755),
        T::File("cache/a", b"a", 0o644),
        T::Dir("cache/sub/", 0o755),
        T::File("cache/sub/b", b"b", 0o644),
    ])
}

#[test]
fn whiteouts_remove_a_file_and_a_whole_directory() {
    let fx = Fixture::new();
    let top = layer(&[
        T::File("etc/.wh.passwd", b"", 0o644),
        T::File(".wh.opt", b"", 0o644),
    ]);
    let loaded = fx.layers(vec![base(), top]).unwrap();
    let t = tree(&loaded.rootfs);
    assert!(t.contains_key("etc/hosts"));
    assert!(!t.contains_key("etc/passwd"));
    assert!(!t.keys().any(|k| k.starts_with("opt")), "{t:?}");
    assert!(!t.keys().any(|k| k.contains(".wh.")), "{t:?}");
}

#[test]
fn an_opaque_whiteout_empties_the_directory_of_lower_children_only() {
    let fx = Fixture::new();
    // The layer's own file comes before the opaque marker: it must survive it.
    let top = layer(&[
        T::Dir("cache/", 0o700),
        T::File("cache/new", b"n", 0o644),
        T::File("cache/.wh..wh..opq", b"", 0o644),
    ]);
    let loaded = fx.layers(vec![base(), top]).unwrap();
    let t = tree(&loaded.rootfs);
    let cache: Vec<_> = listing(&t)
        .into_iter()
        .filter(|k| k.starts_with("cache"))
        .collect();
    assert_eq!(cache, ["cache", "cache/new"]);
    assert_eq!(
        t["cache"], "dir 700",
        "the directory took the new attributes"
    );
}

#[test]
fn a_whiteout_name_cannot_be_a_directory() {
    let fx = Fixture::new();
    let err = fx.layers(vec![layer(&[T::File("a/.wh.b/c", b"", 0o644)])]);
    let text = super::assert_refused(err, "a/.wh.b/c");
    assert!(
        text.contains("inside \"a/.wh.b\", a whiteout name"),
        "{text}"
    );
}

#[test]
fn a_whiteout_does_not_remove_what_its_own_layer_added() {
    let fx = Fixture::new();
    let top = layer(&[
        T::File("etc/passwd", b"new", 0o644),
        T::File("etc/.wh.passwd", b"", 0o644),
    ]);
    let loaded = fx.layers(vec![base(), top]).unwrap();
    assert_eq!(tree(&loaded.rootfs)["etc/passwd"], "file new 644");
}

#[test]
fn a_file_becomes_a_directory_and_back() {
    let fx = Fixture::new();
    let to_dir = layer(&[
        T::Dir("etc/hosts/", 0o755),
        T::File("etc/hosts/x", b"x", 0o644),
    ]);
    let to_file = layer(&[T::File("etc/hosts", b"file again", 0o600)]);
    let loaded = fx.layers(vec![base(), to_dir.clone()]).unwrap();
    assert_eq!(tree(&loaded.rootfs)["etc/hosts/x"], "file x 644");
    let fx = Fixture::new();
    let loaded = fx.layers(vec![base(), to_dir, to_file]).unwrap();
    let t = tree(&loaded.rootfs);
    assert_eq!(t["etc/hosts"], "file file again 600");
    assert!(!t.contains_key("etc/hosts/x"));
}

#[test]
fn symlinks_are_stored_as_they_are() {
    let fx = Fixture::new();
    let l = layer(&[
        T::Dir("usr/bin/", 0o755),
        T::File("usr/bin/python", b"py", 0o755),
        T::Symlink("bin", "usr/bin"),
        T::Symlink("usr/bin/python3", "/usr/bin/python"),
        T::Symlink("dangling", "../../nowhere"),
    ]);
    let loaded = fx.layers(vec![l]).unwrap();
    let t = tree(&loaded.rootfs);
    assert_eq!(t["bin"], "link usr/bin");
    assert_eq!(t["usr/bin/python3"], "link /usr/bin/python");
    assert_eq!(t["dangling"], "link ../../nowhere");
    // A symlink over an existing file replaces it; nothing is followed.
    let over = layer(&[T::Symlink("usr/bin/python", "python3")]);
    let fx = Fixture::new();
    let loaded = fx
        .layers(vec![
            layer(&[T::File("usr/bin/python", b"py", 0o755)]),
            over,
        ])
        .unwrap();
    assert_eq!(tree(&loaded.rootfs)["usr/bin/python"], "link python3");
}

#[test]
fn hard_links_inside_the_tree_work() {
    let fx = Fixture::new();
    let l = layer(&[
        T::Hard("etc/hosts2", "etc/hosts"),
        T::Hard("passwd", "/etc/passwd"),
    ]);
    let loaded = fx.layers(vec![base(), l]).unwrap();
    let t = tree(&loaded.rootfs);
    assert_eq!(t["etc/hosts2"], "file h 644");
    assert_eq!(t["passwd"], "file p 644");
    let err = fx.layers(vec![base(), layer(&[T::Hard("x", "etc/missing")])]);
    super::assert_refused(err, "x");
}

#[test]
fn device_nodes_and_fifos_are_skipped_and_counted() {
    let fx = Fixture::new();
    let l = layer(&[
        T::Char("dev/null"),
        T::Fifo("run/fifo"),
        T::Char("etc/hosts"),
    ]);
    let loaded = fx.layers(vec![base(), l]).unwrap();
    assert_eq!(loaded.skipped_special_files, 3);
    let t = tree(&loaded.rootfs);
    assert!(!t.contains_key("dev/null") && !t.contains_key("run/fifo"));
    assert!(
        !t.contains_key("etc/hosts"),
        "what a skipped entry replaces is gone"
    );
    assert_eq!(t["dev"], "dir 755");
}

#[test]
fn modes_are_kept_without_setuid_and_read_only_dirs_still_fill() {
    let fx = Fixture::new();
    let l = layer(&[
        T::File("usr/bin/su", b"su", 0o4755),
        T::File("usr/bin/wall", b"w", 0o2755),
        T::Dir("tmp/", 0o1777),
        T::Dir("ro/", 0o555),
        T::File("ro/f", b"f", 0o444),
    ]);
    let later = layer(&[T::File("ro/g", b"g", 0o400)]);
    let loaded = fx.layers(vec![l, later]).unwrap();
    let t = tree(&loaded.rootfs);
    assert_eq!(t["usr/bin/su"], "file su 755");
    assert_eq!(t["usr/bin/wall"], "file w 755");
    assert_eq!(t["tmp"], "dir 1777");
    assert_eq!(t["ro"], "dir 555");
    assert_eq!(t["ro/g"], "file g 400");
    assert_eq!(t["usr"], "dir 755", "implicit parents are 0755");
    // A store can remove what it stored, read-only directories and all.
    assert!(fx.store.remove(&loaded.id).unwrap());
    assert!(!loaded.rootfs.exists());
}

#[test]
fn the_size_limit_stops_a_layer_that_inflates() {
    let fx = Fixture::new();
    let bomb = zero_bomb(64 << 20);
    assert!(
        bomb.len() < 1 << 20,
        "the compressed layer is small: {}",
        bomb.len()
    );
    let mut image = Image::gzipped(vec![]);
    image.blobs = vec![bomb];
    image.tars = vec![Vec::new()];
    image.media_types = vec!["application/vnd.oci.image.layer.v1.tar+gzip"];
    let limits = ImageLimits {
        max_unpacked_bytes: 4 << 20,
        max_entries: 100,
    };
    let err = fx
        .load_with(&oci_layout(&[(&image, &["bomb:1"])]), limits)
        .unwrap_err();
    assert!(
        matches!(err, ImageError::TooLarge { limit } if limit == 4 << 20),
        "{err}"
    );
    assert!(
        err.to_string().contains("raise max_unpacked_bytes"),
        "{err}"
    );
    fx.assert_contained();
}

#[test]
fn the_entry_limit_counts_every_layer() {
    let fx = Fixture::new();
    let limits = ImageLimits {
        max_unpacked_bytes: 1 << 20,
        max_entries: 12,
    };
    let image = Image::plain(vec![
        base(),
        layer(&[
            T::File("a", b"", 0o644),
            T::File("b", b"", 0o644),
            T::File("c", b"", 0o644),
        ]),
    ]);
    let err = fx
        .load_with(&oci_layout(&[(&image, &["many:1"])]), limits)
        .unwrap_err();
    assert!(
        matches!(err, ImageError::TooManyEntries { limit: 12 }),
        "{err}"
    );
    fx.assert_contained();
}
