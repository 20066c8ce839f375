//! Artifacts on disk, content-addressed: each file a deployment brings is stored once by its
//! SHA-256, whatever component and version refer to it, and zips are unpacked once.
//!
//! Layout under `<data>/components/`:
//! - `blobs/<sha256hex>`: the bytes, read-only;
//! - `archives/`: a [`CodeStore`] holding each `Unarchive: ZIP` artifact unpacked once, with
//!   the zip-slip, symlink and size guards of function code;
//! - `packages/artifacts/<component>/<version>/<file>`: hard links to the blobs, the
//!   component's `{artifacts:path}` (Greengrass's layout, under `packages/` as on a device);
//! - `packages/artifacts-unarchived/<component>/<version>/<archive name minus extension>`:
//!   symbolic links to the unpacked trees, under the component's `{artifacts:decompressedPath}`;
//! - `work/<component>/`: its `{work:path}`; `logs/<component>.log`: its output;
//! - `tmp/`: uploads in progress, cleared at start.
//!
//! A hard link shares its inode's mode, so an artifact two components ask different
//! permissions of gets the wider of the two (Greengrass would give each its own copy).

use std::collections::HashSet;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lambdalet_package::CodeStore;

use crate::error::DeployError;

/// Largest artifact lambdalet takes (one upload).
pub const MAX_ARTIFACT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The artifacts of every deployed component.
#[derive(Debug)]
pub struct ArtifactStore {
    root: PathBuf,
    archives: CodeStore,
    /// Where lambdalet's S3 endpoint keeps its buckets (`<data>/s3`), for `s3://` artifacts.
    object_store: Option<PathBuf>,
}

/// Where a component version's artifacts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPaths {
    /// `{artifacts:path}`.
    pub path: PathBuf,
    /// `{artifacts:decompressedPath}`.
    pub decompressed: PathBuf,
}

impl ArtifactStore {
    /// Opens (creating) the store under `root` (`<data>/components`), clearing unfinished uploads.
    pub fn open(root: &Path) -> Result<Self, DeployError> {
        for d in ["blobs", "packages", "work", "logs", "tmp"] {
            let dir = root.join(d);
            fs::create_dir_all(&dir).map_err(|e| DeployError::io("create", &dir, e))?;
        }
        let tmp = root.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(|e| DeployError::io("list", &tmp, e))? {
            let path = entry.map_err(|e| DeployError::io("list", &tmp, e))?.path();
            let _ = fs::remove_file(&path);
        }
        let archives = CodeStore::open(&root.join("archives"))
            .map_err(|e| DeployError::Artifact(e.to_string()))?;
        Ok(Self {
            root: root.to_owned(),
            archives,
            object_store: None,
        })
    }

    /// Lets `s3://BUCKET/KEY` artifacts come from the buckets under `dir`.
    pub fn with_object_store(mut self, dir: Option<PathBuf>) -> Self {
        self.object_store = dir;
        self
    }

    /// Stores the object `bucket/key` of lambdalet's S3 endpoint as an artifact; returns its
    /// hash.
    pub fn put_from_object_store(&self, bucket: &str, key: &str) -> Result<String, String> {
        let Some(root) = &self.object_store else {
            return Err(
                "s3:// artifacts come from lambdalet's S3 endpoint, which is off (--s3-listen off); put the file in the artifact directory and use greengrass:NAME".to_owned(),
            );
        };
        let unsafe_part = |p: &str| p.is_empty() || p == "." || p == ".." || p.contains('\0');
        if bucket.contains('/') || unsafe_part(bucket) || key.split('/').any(unsafe_part) {
            return Err(format!(
                "s3://{bucket}/{key} is not an object lambdalet can read"
            ));
        }
        let path = root.join(bucket).join(key);
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "no object s3://{bucket}/{key} in lambdalet's S3 endpoint: upload it first (aws --endpoint-url http://127.0.0.1:9002 s3 cp FILE s3://{bucket}/{key})"
            ),
            _ => format!("cannot read s3://{bucket}/{key}: {e}"),
        })?;
        let sha = lambdalet_package::sha256(&bytes).0;
        self.put(&sha, &bytes).map_err(|e| e.to_string())?;
        Ok(sha)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob(&self, sha256_hex: &str) -> PathBuf {
        self.root.join("blobs").join(sha256_hex)
    }

    /// Whether the blob with this hash is stored.
    pub fn has(&self, sha256_hex: &str) -> bool {
        is_hash(sha256_hex) && self.blob(sha256_hex).is_file()
    }

    /// The stored bytes of a blob.
    pub fn read(&self, sha256_hex: &str) -> Result<Vec<u8>, DeployError> {
        let p = self.blob(sha256_hex);
        fs::read(&p).map_err(|e| DeployError::io("read", &p, e))
    }

    /// Stores `bytes`, which the caller says hash to `sha256_hex`; refuses them if they do not.
    /// Storing what is there already is a no-op.
    pub fn put(&self, sha256_hex: &str, bytes: &[u8]) -> Result<(), DeployError> {
        if !is_hash(sha256_hex) {
            return Err(DeployError::Invalid(format!(
                "{sha256_hex:?} is not a SHA-256 digest: give 64 lower-case hex digits"
            )));
        }
        if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
            return Err(DeployError::Invalid(format!(
                "the artifact has {} bytes, more than the {MAX_ARTIFACT_BYTES} lambdalet takes",
                bytes.len()
            )));
        }
        let actual = lambdalet_package::sha256(bytes).0;
        if actual != sha256_hex {
            return Err(DeployError::Invalid(format!(
                "the upload's SHA-256 is {actual}, not {sha256_hex} as its address says: the file changed while it was sent, send it again"
            )));
        }
        let blob = self.blob(sha256_hex);
        if blob.is_file() {
            return Ok(());
        }
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{sha256_hex}.{}", uuid::Uuid::new_v4()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.set_permissions(fs::Permissions::from_mode(0o444))?;
            f.sync_all()?;
            fs::rename(&tmp, &blob)?;
            fs::File::open(self.root.join("blobs"))?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            DeployError::io("store", &blob, e)
        })
    }

    /// Unpacks a stored zip (once per hash) and returns the tree.
    pub fn unpacked(&self, sha256_hex: &str) -> Result<PathBuf, DeployError> {
        let dir = self.archives.code_dir(sha256_hex);
        if dir.is_dir() {
            return Ok(dir);
        }
        let bytes = self.read(sha256_hex)?;
        let stored = self
            .archives
            .put_zip(&bytes)
            .map_err(|e| DeployError::Artifact(format!("cannot unpack: {e}")))?;
        Ok(stored.dir)
    }

    /// Lays a component version's artifacts out as Greengrass does: each `(file name, hash,
    /// mode, unarchive)` linked under `{artifacts:path}`, and each zip unpacked under
    /// `{artifacts:decompressedPath}/<name minus extension>`.
    pub fn lay_out(
        &self,
        component: &str,
        version: &str,
        files: &[LaidOut],
    ) -> Result<ArtifactPaths, DeployError> {
        let paths = self.paths(component, version);
        for d in [&paths.path, &paths.decompressed] {
            fs::create_dir_all(d).map_err(|e| DeployError::io("create", d, e))?;
        }
        for f in files {
            let blob = self.blob(&f.sha256_hex);
            widen_mode(&blob, f.mode)?;
            let link = paths.path.join(&f.file_name);
            let _ = fs::remove_file(&link);
            fs::hard_link(&blob, &link).map_err(|e| DeployError::io("link", &link, e))?;
            if let Some(dir_name) = &f.unarchive_to {
                let tree = self.unpacked(&f.sha256_hex)?;
                apply_tree_mode(&tree, f.mode)?;
                let link = paths.decompressed.join(dir_name);
                let _ = fs::remove_file(&link);
                std::os::unix::fs::symlink(&tree, &link)
                    .map_err(|e| DeployError::io("link", &link, e))?;
            }
        }
        Ok(paths)
    }

    /// Where a component version's artifacts go.
    pub fn paths(&self, component: &str, version: &str) -> ArtifactPaths {
        let p = self.root.join("packages");
        ArtifactPaths {
            path: p.join("artifacts").join(component).join(version),
            decompressed: p.join("artifacts-unarchived").join(component).join(version),
        }
    }

    /// `{work:path}` of a component, created owner-only.
    pub fn work_dir(&self, component: &str) -> Result<PathBuf, DeployError> {
        let d = self.root.join("work").join(component);
        fs::create_dir_all(&d).map_err(|e| DeployError::io("create", &d, e))?;
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700))
            .map_err(|e| DeployError::io("chmod", &d, e))?;
        Ok(d)
    }

    /// The component's log file.
    pub fn log_file(&self, component: &str) -> PathBuf {
        self.root.join("logs").join(format!("{component}.log"))
    }

    /// Removes a component version's laid-out artifacts (the blobs stay until [`Self::collect`]).
    pub fn remove_layout(&self, component: &str, version: &str) {
        let p = self.paths(component, version);
        let _ = fs::remove_dir_all(&p.path);
        let _ = fs::remove_dir_all(&p.decompressed);
    }

    /// Deletes blobs and unpacked trees no stored recipe refers to.
    pub fn collect(&self, keep: &HashSet<String>) -> Result<usize, DeployError> {
        let dir = self.root.join("blobs");
        let mut removed = 0;
        for entry in fs::read_dir(&dir).map_err(|e| DeployError::io("list", &dir, e))? {
            let entry = entry.map_err(|e| DeployError::io("list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_hash(&name) && !keep.contains(&name) {
                let _ = fs::remove_file(entry.path());
                removed += 1;
            }
        }
        self.archives
            .remove_unreferenced(keep)
            .map_err(|e| DeployError::Artifact(e.to_string()))?;
        Ok(removed)
    }
}

/// One artifact to lay out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaidOut {
    pub file_name: String,
    pub sha256_hex: String,
    /// The recipe's `Permission` as file mode bits.
    pub mode: u32,
    /// For `Unarchive: ZIP`: the directory name under the decompressed path.
    pub unarchive_to: Option<String>,
}

/// Gives `path` at least the permission bits in `mode` (the file stays read-only).
fn widen_mode(path: &Path, mode: u32) -> Result<(), DeployError> {
    let m = fs::metadata(path).map_err(|e| DeployError::io("stat", path, e))?;
    let current = m.permissions().mode() & 0o7777;
    let wanted = (current | mode) & 0o555;
    if wanted != current {
        fs::set_permissions(path, fs::Permissions::from_mode(wanted))
            .map_err(|e| DeployError::io("chmod", path, e))?;
    }
    Ok(())
}

/// Greengrass's rule for unarchived trees: every directory rwxr-xr-x, every file the recipe's
/// permission (widened, as for blobs).
fn apply_tree_mode(tree: &Path, mode: u32) -> Result<(), DeployError> {
    let mut stack = vec![tree.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| DeployError::io("list", &dir, e))? {
            let entry = entry.map_err(|e| DeployError::io("list", &dir, e))?;
            let t = entry
                .file_type()
                .map_err(|e| DeployError::io("stat", &entry.path(), e))?;
            if t.is_dir() {
                stack.push(entry.path());
            } else if t.is_file() {
                widen_mode(&entry.path(), mode)?;
            }
        }
    }
    Ok(())
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        lambdalet_package::sha256(bytes).0
    }

    #[test]
    fn stores_once_and_refuses_a_wrong_hash() {
        let dir = tempfile::tempdir().unwrap();
        let s = ArtifactStore::open(dir.path()).unwrap();
        let h = sha(b"hello");
        s.put(&h, b"hello").unwrap();
        s.put(&h, b"hello").unwrap();
        assert!(s.has(&h));
        let err = s.put(&sha(b"other"), b"hello").unwrap_err().to_string();
        assert!(err.contains("send it again"), "{err}");
        assert!(s.put("../x", b"hello").is_err());
    }

    #[test]
    fn the_same_artifact_in_two_versions_is_one_inode() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let s = ArtifactStore::open(dir.path()).unwrap();
        let h = sha(b"#!/bin/sh\necho hi\n");
        s.put(&h, b"#!/bin/sh\necho hi\n").unwrap();
        let file = |mode| LaidOut {
            file_name: "run.sh".into(),
            sha256_hex: h.clone(),
            mode,
            unarchive_to: None,
        };
        let a = s.lay_out("c", "1.0.0", &[file(0o400)]).unwrap();
        let b = s.lay_out("c", "2.0.0", &[file(0o500)]).unwrap();
        let ma = fs::metadata(a.path.join("run.sh")).unwrap();
        let mb = fs::metadata(b.path.join("run.sh")).unwrap();
        assert_eq!(ma.ino(), mb.ino());
        assert_eq!(mb.mode() & 0o777, 0o544, "the wider of the two, read-only");
        // Nothing refers to it any more: collected.
        s.remove_layout("c", "1.0.0");
        s.remove_layout("c", "2.0.0");
        assert_eq!(s.collect(&HashSet::new()).unwrap(), 1);
        assert!(!s.has(&h));
    }
}
