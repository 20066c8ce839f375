//! ListTags, TagResource, UntagResource: a function's tags, which CreateFunction's `Tags` set
//! and GetFunction shows.

use std::collections::BTreeMap;

use lambdalet_core::tags::validate_tags;

use crate::control::Control;
use crate::error::ControlError;

impl Control {
    /// ListTags.
    pub fn tags(&self, function: &str) -> Result<BTreeMap<String, String>, ControlError> {
        Ok(self.entry(function)?.tags)
    }

    /// TagResource: adds `tags` (replacing the values of keys the function has).
    pub async fn tag_function(
        &self,
        function: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        let mut all = self.entry(function)?.tags;
        all.extend(tags);
        validate_tags(&all)?;
        self.store_tags(function, all).await
    }

    /// UntagResource: removes the tags of `keys` (keys the function lacks are ignored).
    pub async fn untag_function(
        &self,
        function: &str,
        keys: &[String],
    ) -> Result<(), ControlError> {
        let _w = self.writes.lock().await;
        let mut all = self.entry(function)?.tags;
        let before = all.len();
        all.retain(|k, _| !keys.contains(k));
        if all.len() == before {
            return Ok(());
        }
        self.store_tags(function, all).await
    }

    async fn store_tags(
        &self,
        function: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), ControlError> {
        let (f, t) = (function.to_owned(), tags.clone());
        self.blocking(move |s| s.set_tags(&f, &t)).await?;
        if let Some(e) = self.table.write().get_mut(function) {
            e.tags = tags;
        }
        tracing::info!(function, "function.tagged");
        Ok(())
    }
}
