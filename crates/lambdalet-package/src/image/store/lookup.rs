//! Finding stored images: by id, `sha256:` id, id prefix or name, and all of them.

use std::fs;

use super::ImageStore;
use crate::image::digest::is_hex64;
use crate::image::names::{Reference, normalize_name, parse_reference};
use crate::image::record::{self, Record};
use crate::image::{ImageError, LoadedImage};

impl ImageStore {
    /// The image with this id, `sha256:` id, id prefix (at least 12 hex digits) or name.
    pub fn get(&self, id_or_name: &str) -> Result<Option<LoadedImage>, ImageError> {
        let found = match parse_reference(id_or_name)? {
            Reference::Id(id) => record::read(&self.record_path(&id))?,
            Reference::Prefix(prefix) => {
                let all = self.records()?;
                let matches: Vec<&Record> =
                    all.iter().filter(|r| r.id.starts_with(&prefix)).collect();
                match matches.as_slice() {
                    [one] => Some((*one).clone()),
                    [] => self.by_name(&prefix)?,
                    several => {
                        return Err(ImageError::AmbiguousPrefix {
                            prefix,
                            matches: several.iter().map(|r| r.id[..16].to_owned()).collect(),
                        });
                    }
                }
            }
            Reference::Name(name) => self.by_name(&name)?,
        };
        Ok(found.map(|r| {
            let rootfs = self.rootfs_path(&r.id);
            r.into_loaded(rootfs)
        }))
    }

    pub(super) fn by_name(&self, name: &str) -> Result<Option<Record>, ImageError> {
        let wanted = normalize_name(name);
        Ok(self
            .records()?
            .into_iter()
            .find(|r| r.names.iter().any(|n| normalize_name(n) == wanted)))
    }

    /// Every stored image, by id.
    pub fn list(&self) -> Result<Vec<LoadedImage>, ImageError> {
        Ok(self
            .records()?
            .into_iter()
            .map(|r| {
                let rootfs = self.rootfs_path(&r.id);
                r.into_loaded(rootfs)
            })
            .collect())
    }

    /// Every readable record, sorted by id.
    pub(super) fn records(&self) -> Result<Vec<Record>, ImageError> {
        let dir = self.records_dir();
        let mut found = Vec::new();
        for entry in fs::read_dir(&dir).map_err(ImageError::io("list", &dir))? {
            let name = entry.map_err(ImageError::io("list", &dir))?.file_name();
            let id = name.to_str().and_then(|n| n.strip_suffix(".json"));
            if let Some(id) = id.filter(|id| is_hex64(id))
                && let Some(record) = record::read(&self.record_path(id))?
            {
                found.push(record);
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }
}
