//! Container images: loading an archive into the image store, listing, removing (not while a
//! function version runs the image; see `image_code.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use lambdalet_core::{ErrorCode, HasErrorCode, LambdaError};
use lambdalet_package::image::{ImageError, ImageStore, LoadedImage, Progress};

use crate::control::Control;
use crate::error::ControlError;

fn lambda(e: ImageError) -> ControlError {
    LambdaError::new(e.error_code(), e.to_string()).into()
}

impl Control {
    fn images(&self) -> Result<Arc<ImageStore>, ControlError> {
        Ok(self.images.clone())
    }

    /// A fresh path for an upload in progress, on the image store's file system.
    pub fn image_upload_path(&self) -> Result<PathBuf, ControlError> {
        let dir = self.images()?.root().join("uploads");
        std::fs::create_dir_all(&dir).map_err(|e| {
            LambdaError::new(
                ErrorCode::Service,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        Ok(dir.join(format!("{}.tar", uuid::Uuid::new_v4())))
    }

    /// Loads an archive (`docker save` or OCI layout), naming it `name` when given, telling
    /// `progress` how far it got.
    pub async fn load_image(
        &self,
        archive: PathBuf,
        name: Option<String>,
        mut progress: Box<dyn FnMut(Progress) + Send>,
    ) -> Result<LoadedImage, ControlError> {
        let store = self.images()?;
        tokio::task::spawn_blocking(move || {
            let limits = store.limits();
            match name {
                Some(n) => store.load_named(&archive, &n, limits, &mut *progress),
                None => store.load(&archive, limits, &mut *progress),
            }
        })
        .await?
        .map_err(lambda)
    }

    /// The most an image may unpack to here (`--max-image-size`).
    pub fn max_image_bytes(&self) -> u64 {
        self.images.limits().max_unpacked_bytes
    }

    pub fn list_images(&self) -> Result<Vec<LoadedImage>, ControlError> {
        self.images()?.list().map_err(lambda)
    }

    /// Removes an image by id, prefix or name; false if there is none. An image some function
    /// version runs is refused, naming the versions.
    pub async fn remove_image(&self, id: &str) -> Result<bool, ControlError> {
        let store = self.images()?;
        let Some(image) = store.get(id).map_err(lambda)? else {
            return Ok(false);
        };
        let _w = self.writes.lock().await;
        self.check_image_unused(&image.id)?;
        let id = image.id.clone();
        tokio::task::spawn_blocking(move || store.remove(&id))
            .await?
            .map_err(lambda)
    }
}
