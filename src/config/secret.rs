//! Secrets by reference: the config names where a secret lives, never the secret.
//!
//! `env:NAME` reads an environment variable (and `ssm:/path` an SSM SecureString,
//! resolved by the Lambda entry point). The resolved value is a
//! [`secrecy::SecretString`], whose `Debug` prints `[REDACTED]`, so a secret
//! cannot reach a log, a report or a mail through formatting by accident.

use secrecy::SecretString;

/// Where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the process.
    Env(String),
    /// An SSM parameter path (SecureString), e.g. `/dynopilot/heroku-token`.
    Ssm(String),
}

impl SecretRef {
    /// Parse `env:NAME` or `ssm:/path`; anything else is refused so that no one
    /// pastes a token into a config file that ends up in a repository.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if ok {
                return Ok(Self::Env(name.to_string()));
            }
            return Err("env: must be followed by a variable name like HEROKU_API_TOKEN".into());
        }
        if let Some(path) = text.strip_prefix("ssm:") {
            if path.starts_with('/') && path.len() > 1 && !path.contains(char::is_whitespace) {
                return Ok(Self::Ssm(path.to_string()));
            }
            return Err("ssm: must be followed by a parameter path like /dynopilot/token".into());
        }
        Err("must be a reference, \"env:NAME\" or \"ssm:/path\" (secrets are never written in the config itself)".into())
    }

    /// The reference as written, safe to print.
    pub fn describe(&self) -> String {
        match self {
            Self::Env(n) => format!("env:{n}"),
            Self::Ssm(p) => format!("ssm:{p}"),
        }
    }
}

/// Turns references into secret values.
pub trait SecretResolver: Send + Sync {
    /// # Errors
    /// A message naming the reference (never the value) when it cannot be resolved.
    fn resolve(&self, reference: &SecretRef) -> Result<SecretString, String>;
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn parses_env_and_ssm_references() {
        assert_eq!(
            SecretRef::parse("env:HEROKU_API_TOKEN"),
            Ok(SecretRef::Env("HEROKU_API_TOKEN".into()))
        );
        assert_eq!(
            SecretRef::parse("ssm:/dynopilot/token"),
            Ok(SecretRef::Ssm("/dynopilot/token".into()))
        );
    }

    #[test]
    fn refuses_a_literal_secret() {
        let err = SecretRef::parse("01234567-89ab-cdef").unwrap_err();
        assert!(err.contains("reference"), "{err}");
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("ssm:relative").is_err());
    }

    #[test]
    fn resolved_secret_never_prints() {
        std::env::set_var("DYNOPILOT_TEST_SECRET_PRINT", "hunter2-token");
        let secret = EnvSecrets
            .resolve(&SecretRef::Env("DYNOPILOT_TEST_SECRET_PRINT".into()))
            .unwrap();
        assert_eq!(secret.expose_secret(), "hunter2-token");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
