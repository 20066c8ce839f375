//! The master key: 32 random bytes in `<data dir>/master.key` (0600) that seal every access
//! key's secret in `state.db`. Whoever reads both can use every key; whoever has only the
//! database (a backup, a copied file) cannot. Made at the first start.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use lambdalet_auth::MasterKey;

const FILE: &str = "master.key";

/// Reads the master key of `data_dir`, making it if there is none yet.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<MasterKey> {
    let path = data_dir.join(FILE);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut f) => {
            let key = MasterKey::generate();
            f.write_all(&key.to_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "made the master key that seals access keys");
            return Ok(key);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
    let mut f =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let mode = f.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the master key was readable by others: made it 0600");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let mut bytes = Vec::with_capacity(33);
    Read::by_ref(&mut f).take(33).read_to_end(&mut bytes)?;
    let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        bail!(
            "{} is not a lambdalet master key (it must hold exactly 32 bytes, it has {}); restore it from a backup, or move it away to make a new one (every access key then has to be created again)",
            path.display(),
            bytes.len()
        );
    };
    Ok(MasterKey::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path()).expect("create");
        let mode = std::fs::metadata(dir.path().join(FILE))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(dir.path()).expect("read"), first);
        std::fs::write(dir.path().join(FILE), b"short").expect("truncate");
        let err = load_or_create(dir.path()).expect_err("a short file is refused");
        assert!(format!("{err:#}").contains("exactly 32 bytes"), "{err:#}");
    }
}
