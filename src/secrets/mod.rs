//! Port `SecretResolver`: secrets by reference. The config names where a secret
//! lives, never the secret.
//!
//! `env:NAME` reads an environment variable ([`EnvSecrets`]), `ssm:/path` an SSM
//! SecureString read once at cold start ([`SsmSecrets`]); [`MemorySecrets`] is
//! the fake for tests. The resolved value is a [`secrecy::SecretString`], whose
//! `Debug` prints `[REDACTED]`, so a secret cannot reach a log, a report or a
//! mail through formatting by accident.

mod env;
mod memory;
mod ssm;

use secrecy::SecretString;

pub use env::EnvSecrets;
pub use memory::MemorySecrets;
pub use ssm::SsmSecrets;

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

/// Every secret reference written anywhere in a config text (strings that
/// parse as `env:`/`ssm:` references), so they can be fetched before the
/// inputs are built.
pub fn secret_references(text: &str) -> Vec<SecretRef> {
    fn walk(value: &toml::Value, out: &mut Vec<SecretRef>) {
        match value {
            toml::Value::String(s) if s.starts_with("ssm:") || s.starts_with("env:") => {
                if let Ok(r) = SecretRef::parse(s) {
                    out.push(r);
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            toml::Value::Table(t) => t.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(table) = text.parse::<toml::Table>() {
        table.values().for_each(|v| walk(v, &mut out));
    }
    out
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
