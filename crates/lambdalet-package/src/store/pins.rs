//! Pins: the hashes callers have stored and are about to reference, which the store's
//! clean-ups must leave alone.
//!
//! A caller stores a zip, then records (under its own lock) that a function version uses the
//! hash. Between the two, the hash is referenced by nothing the caller could pass to
//! [`super::CodeStore::remove_unreferenced`], and another caller's
//! [`super::CodeStore::discard`] of the same zip could remove it. A pin, taken before the store
//! looks at what exists, closes that gap: removals skip pinned hashes, and take the pin table's
//! lock for the whole check-and-rename, so a pin is either taken before (and the removal skips)
//! or after (and the caller finds nothing, and writes it anew).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How many pins each hash has.
#[derive(Debug, Default)]
pub(crate) struct Pins(Mutex<HashMap<String, usize>>);

impl Pins {
    pub(crate) fn pin(self: &Arc<Self>, hash: &str) -> CodePin {
        *self.lock().entry(hash.to_owned()).or_default() += 1;
        CodePin {
            pins: Arc::clone(self),
            hash: hash.to_owned(),
        }
    }

    /// The table, locked: while the guard lives no pin is taken or dropped.
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        // The table holds plain counts, consistent after any panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps one hash's blob and code directory from being removed while it lives.
#[derive(Debug)]
pub struct CodePin {
    pins: Arc<Pins>,
    hash: String,
}

impl Drop for CodePin {
    fn drop(&mut self) {
        let mut table = self.pins.lock();
        if let Some(n) = table.get_mut(&self.hash) {
            *n -= 1;
            if *n == 0 {
                table.remove(&self.hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_count_and_vanish_with_the_last() {
        let pins = Arc::new(Pins::default());
        let a = pins.pin("h");
        let b = pins.pin("h");
        assert_eq!(pins.lock().get("h"), Some(&2));
        drop(a);
        assert_eq!(pins.lock().get("h"), Some(&1));
        drop(b);
        assert!(pins.lock().is_empty());
    }
}
