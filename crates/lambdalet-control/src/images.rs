//! Container images: loading an archive into the image store, listing, removing. Functions do
//! not run images yet (`PackageType: Image` comes with the sandbox's part).

use std::path::PathBuf;
use std::sync::Arc;

use lambdalet_core::{ErrorCode, HasErrorCode, LambdaError};
use lambdalet_package::image::{ImageError, ImageLimits, ImageStore, LoadedImage};

use crate::control::Control;
use crate::error::ControlError;

fn lambda(e: ImageError) -> ControlError {
    LambdaError::new(e.error_code(), e.to_string()).into()
}

impl Control {
    /// Where loaded images live (`<data>/images`); called once at start.
    pub fn set_image_store(&self, store: ImageStore) {
        let _ = self.images.set(Arc::new(store));
    }

    fn images(&self) -> Result<Arc<ImageStore>, ControlError> {
        self.images.get().cloned().ok_or_else(|| {
            LambdaError::new(ErrorCode::Service, "this daemon has no image store").into()
        })
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

    /// Loads an archive (`docker save` or OCI layout), naming it `name` when given.
    pub async fn load_image(
        &self,
        archive: PathBuf,
        name: Option<String>,
    ) -> Result<LoadedImage, ControlError> {
        let store = self.images()?;
        tokio::task::spawn_blocking(move || {
            let limits = ImageLimits::default();
            let mut progress = |_| {};
            match name {
                Some(n) => store.load_named(&archive, &n, limits, &mut progress),
                None => store.load(&archive, limits, &mut progress),
            }
        })
        .await?
        .map_err(lambda)
    }

    pub fn list_images(&self) -> Result<Vec<LoadedImage>, ControlError> {
        self.images()?.list().map_err(lambda)
    }

    /// Removes an image by id, prefix or name; false if there is none.
    pub fn remove_image(&self, id: &str) -> Result<bool, ControlError> {
        self.images()?.remove(id).map_err(lambda)
    }
}
