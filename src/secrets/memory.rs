//! `MemorySecrets`: the fake resolver for tests, a map from reference to value.

use std::collections::BTreeMap;

use secrecy::SecretString;

use super::{SecretRef, SecretResolver};

/// Resolves exactly the references it was given; anything else is an error
/// naming the reference, as a real resolver's would be.
#[derive(Default, Clone)]
pub struct MemorySecrets {
    values: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for MemorySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySecrets")
            .field("references", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MemorySecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a value for a reference written as in the config (`env:NAME`, `ssm:/path`).
    #[must_use]
    pub fn with(mut self, reference: &str, value: &str) -> Self {
        self.values
            .insert(reference.to_string(), SecretString::from(value.to_string()));
        self
    }
}

impl SecretResolver for MemorySecrets {
    fn resolve(&self, reference: &SecretRef) -> Result<SecretString, String> {
        self.values
            .get(&reference.describe())
            .cloned()
            .ok_or_else(|| format!("{} is not set", reference.describe()))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn resolves_only_what_it_was_given() {
        let secrets = MemorySecrets::new().with("ssm:/dynopilot/token", "t0ken");
        let found = secrets
            .resolve(&SecretRef::Ssm("/dynopilot/token".into()))
            .map(|s| s.expose_secret().to_string());
        assert_eq!(found, Ok("t0ken".to_string()));
        assert_eq!(
            secrets
                .resolve(&SecretRef::Env("OTHER".into()))
                .map(|s| s.expose_secret().to_string()),
            Err("env:OTHER is not set".to_string())
        );
        assert!(!format!("{secrets:?}").contains("t0ken"));
    }
}
