//! Loading images end to end, from archives built in memory into a store in a temp dir.

mod build;
mod escapes;
mod formats;
mod layers;
mod store;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::{ImageError, ImageLimits, ImageStore, LoadedImage};
use build::{Archive, Image, oci_layout};

/// A temp dir holding `store/`, the archives, and `outside/`, which hostile symlinks aim at
/// and which must stay empty.
pub(crate) struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: ImageStore,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("outside")).unwrap();
        let store = ImageStore::open(&dir.path().join("store")).unwrap();
        Self { dir, store }
    }

    pub(crate) fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    pub(crate) fn write(&self, archive: &Archive) -> PathBuf {
        archive.write(
            self.dir.path(),
            &format!("{}.tar", crate::atomic::temp_name("archive")),
        )
    }

    pub(crate) fn load(&self, archive: &Archive) -> Result<LoadedImage, ImageError> {
        self.load_with(archive, ImageLimits::default())
    }

    pub(crate) fn load_with(
        &self,
        archive: &Archive,
        limits: ImageLimits,
    ) -> Result<LoadedImage, ImageError> {
        let path = self.write(archive);
        self.store.load(&path, limits, &mut |_| {})
    }

    /// Loads an image of these plain layers from an OCI layout.
    pub(crate) fn layers(&self, tars: Vec<Vec<u8>>) -> Result<LoadedImage, ImageError> {
        let image = Image::plain(tars);
        self.load(&oci_layout(&[(&image, &["test:latest"])]))
    }

    /// Checks that a (failed or not) load left nothing in `tmp/` and nothing outside the store.
    pub(crate) fn assert_contained(&self) {
        let tmp = self.dir.path().join("store/tmp");
        let left: Vec<_> = fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "tmp/ holds {left:?}");
        let outside: Vec<_> = fs::read_dir(self.outside())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(outside.is_empty(), "outside/ holds {outside:?}");
        for entry in fs::read_dir(self.dir.path()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                name == "store" || name == "outside" || name.ends_with(".tar"),
                "a load wrote {name} next to the store"
            );
        }
        for entry in fs::read_dir(self.dir.path().join("store")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                ["rootfs", "images", "tmp"].contains(&name.as_str()),
                "the store holds {name}"
            );
        }
    }
}

/// Everything in a tree: `path → "file <content> <mode>" | "dir <mode>" | "link <target>"`.
pub(crate) fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let what = if meta.file_type().is_symlink() {
                format!("link {}", fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {mode:o}")
            } else {
                format!(
                    "file {} {mode:o}",
                    String::from_utf8_lossy(&fs::read(&path).unwrap())
                )
            };
            out.insert(name, what);
        }
    }
    out
}

/// The names at the top of `tree`, and below `dir/`.
pub(crate) fn listing(tree: &BTreeMap<String, String>) -> Vec<String> {
    tree.keys().cloned().collect()
}

/// Asserts `err` is an unsafe-entry error naming `entry`.
#[track_caller]
pub(crate) fn assert_refused(result: Result<LoadedImage, ImageError>, entry: &str) -> String {
    match result {
        Err(e @ ImageError::UnsafeEntry { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&format!("entry {entry:?}")), "{text}");
            text
        }
        other => panic!("expected entry {entry:?} to be refused, got {other:?}"),
    }
}
