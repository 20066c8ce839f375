//! The secret token each function's sandboxes get (`SVCUID`, `AWS_CONTAINER_AUTHORIZATION_TOKEN`)
//! and present to lambdalet's Greengrass IPC socket and Greengrass V1 endpoint, which map it
//! back to the function. Tokens live in memory only: every daemon start issues new ones, and
//! sandboxes never outlive the daemon.

use std::collections::HashMap;
use std::sync::RwLock;

/// Function name ↔ token.
#[derive(Debug, Default)]
pub struct Tokens {
    inner: RwLock<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    by_function: HashMap<String, String>,
    by_token: HashMap<String, String>,
}

impl Tokens {
    /// The token of `function`, issued on first use.
    pub fn token_for(&self, function: &str) -> String {
        if let Some(t) = self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_function
            .get(function)
        {
            return t.clone();
        }
        let mut maps = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = maps.by_function.get(function) {
            return t.clone();
        }
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        maps.by_function.insert(function.to_owned(), token.clone());
        maps.by_token.insert(token.clone(), function.to_owned());
        token
    }

    /// The function a token belongs to.
    pub fn function_of(&self, token: &str) -> Option<String> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_token
            .get(token)
            .cloned()
    }

    /// Forgets a deleted function's token.
    pub fn revoke(&self, function: &str) {
        let mut maps = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = maps.by_function.remove(function) {
            maps.by_token.remove(&t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_distinct_and_revocable() {
        let t = Tokens::default();
        let a = t.token_for("a");
        assert_eq!(t.token_for("a"), a);
        assert_ne!(t.token_for("b"), a);
        assert_eq!(t.function_of(&a).as_deref(), Some("a"));
        t.revoke("a");
        assert_eq!(t.function_of(&a), None);
        assert_eq!(a.len(), 64);
    }
}
