//! `EnvSecrets`: `env:NAME` references from the process environment.

use secrecy::SecretString;

use super::{SecretRef, SecretResolver};

/// Resolves `env:` references from the process environment; refuses `ssm:`
/// (the Lambda entry point resolves those through SSM at cold start).
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

impl SecretResolver for EnvSecrets {
    fn resolve(&self, reference: &SecretRef) -> Result<SecretString, String> {
        match reference {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(SecretString::from(crate::redact::keep(v))),
                _ => Err(format!("environment variable {name} is not set")),
            },
            SecretRef::Ssm(path) => Err(format!(
                "ssm:{path} can only be resolved where SSM is configured"
            )),
        }
    }
}
