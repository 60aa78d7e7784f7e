//! `SsmSecrets`: `ssm:/path` references read from SSM Parameter Store.
//!
//! Read once at cold start (GetParameter with decryption, one call per
//! reference) and kept in memory for the life of the Lambda environment:
//! a scheduled function that called SSM every minute per secret would pay
//! for it in latency and in SSM's request throttling.

use std::collections::BTreeMap;

use crate::error_text::sdk_message;
use aws_sdk_ssm::Client;
use secrecy::SecretString;

use super::{EnvSecrets, SecretRef, SecretResolver};

/// `ssm:` values fetched at start, `env:` values from the environment.
#[derive(Default)]
pub struct SsmSecrets {
    values: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for SsmSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsmSecrets")
            .field("paths", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SsmSecrets {
    /// Fetch every `ssm:` reference among `references`.
    ///
    /// # Errors
    /// The first parameter that cannot be read, named by its path (never its value).
    pub async fn load(client: &Client, references: &[SecretRef]) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for reference in references {
            let SecretRef::Ssm(path) = reference else {
                continue;
            };
            if values.contains_key(path) {
                continue;
            }
            let out = client
                .get_parameter()
                .name(path)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| format!("cannot read SSM parameter {path}: {}", sdk_message(&e)))?;
            let value = out
                .parameter
                .and_then(|p| p.value)
                .ok_or_else(|| format!("SSM parameter {path} has no value"))?;
            crate::body_limit::check_ssm_value(path, &value)?;
            values.insert(path.clone(), SecretString::from(crate::redact::keep(value)));
        }
        Ok(Self { values })
    }
}

impl SecretResolver for SsmSecrets {
    fn resolve(&self, reference: &SecretRef) -> Result<SecretString, String> {
        match reference {
            SecretRef::Ssm(path) => self
                .values
                .get(path)
                .cloned()
                .ok_or_else(|| format!("ssm:{path} was not loaded at start")),
            SecretRef::Env(_) => EnvSecrets.resolve(reference),
        }
    }
}
