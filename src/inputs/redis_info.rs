//! `redis_info`: an add-on input reading Redis `INFO memory` and `INFO clients`.
//!
//! Dimensions: `memory_mb` from `used_memory` (bytes / 1048576: "mb" as Redis
//! itself reads it, `maxmemory 25mb` = 26214400) and `connections` from
//! `connected_clients`. `maxmemory` and `maxclients` are limits only when the
//! server reports them non-zero (`maxmemory:0` means "no limit"); whether a
//! hosted Redis reports its plan's limits there is not documented, so the
//! ladder's capacities stay the reference and a reported limit only ever
//! lowers the current plan's (see [`crate::domain::decide_plan`]).
//!
//! `INFO` is `field:value` lines under `# Section` headers; unknown fields are
//! skipped, as the Redis docs ask. A new connection per poll, as `redis_queue`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;

use super::redis_queue::{redis_client, redis_error, RedisClient};
use super::usage::{Usage, UsageSource};
use super::{BuildContext, SourceError, SourceErrorKind};
use crate::fields::{Fields, KeyDoc};
use crate::secrets::SecretRef;

/// The dimensions it measures.
pub const MEMORY_MB: &str = "memory_mb";
pub const CONNECTIONS: &str = "connections";

/// Bytes per "mb", as Redis counts them.
const MB: f64 = 1024.0 * 1024.0;

/// Its keys (besides the common `name`, `type`, `interval`, `timeout`).
pub const REDIS_INFO_KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "url",
        None,
        "reference to the redis:// or rediss:// URL, e.g. \"env:REDIS_URL\"",
    ),
    KeyDoc::new(
        "tls_insecure",
        Some("false"),
        "skip certificate checks on rediss:// (Heroku Key-Value Store is self-signed)",
    ),
];

/// Validated settings of a `redis_info` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisInfoSpec {
    pub url: SecretRef,
    pub tls_insecure: bool,
}

impl RedisInfoSpec {
    /// Reads its keys.
    pub fn parse(fields: &mut Fields) -> Option<Self> {
        let url = fields
            .req_str("url")
            .and_then(|text| match SecretRef::parse(&text) {
                Ok(r) => Some(r),
                Err(e) => {
                    fields.error(
                        "url",
                        format!("{e}; the Redis URL holds its password, e.g. \"env:REDIS_URL\""),
                    );
                    None
                }
            });
        let tls_insecure = fields.bool_or("tls_insecure", false);
        Some(Self {
            url: url?,
            tls_insecure,
        })
    }

    pub fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("url", self.url.describe().into()),
            ("tls_insecure", self.tls_insecure.into()),
        ]
    }

    /// # Errors
    /// As for `redis_queue`: an unresolvable reference or a bad URL, named by
    /// its reference.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn UsageSource>, String> {
        let RedisClient {
            client,
            password,
            reference,
        } = redis_client(&self.url, self.tls_insecure, ctx)?;
        Ok(Arc::new(RedisInfoSource {
            client,
            password,
            reference,
        }))
    }
}

/// Adapter: one `INFO memory` + `INFO clients` per poll.
pub struct RedisInfoSource {
    client: redis::Client,
    password: Option<SecretString>,
    reference: String,
}

impl std::fmt::Debug for RedisInfoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisInfoSource")
            .field("url", &self.reference)
            .finish_non_exhaustive()
    }
}

/// `field:value` pairs of an `INFO` answer (section headers and blank lines skipped).
fn fields(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .collect()
}

/// The reading from `INFO memory` and `INFO clients` texts.
///
/// # Errors
/// A message naming the field that is absent or not a number.
pub fn parse_info(memory: &str, clients: &str) -> Result<Usage, String> {
    let memory = fields(memory);
    let clients = fields(clients);
    let number = |map: &BTreeMap<&str, &str>, key: &str| -> Result<Option<f64>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(|n| Some(n as f64))
                .map_err(|_| format!("INFO field {key} is not a whole number: {v:?}")),
        }
    };
    let used = number(&memory, "used_memory")?.ok_or("INFO memory has no used_memory field")?;
    let connected = number(&clients, "connected_clients")?
        .ok_or("INFO clients has no connected_clients field")?;
    let mut usage = Usage::default();
    usage.values.insert(MEMORY_MB.into(), used / MB);
    usage.values.insert(CONNECTIONS.into(), connected);
    // Never assume a limit: only one reported, and non-zero (0 = none).
    if let Some(max) = number(&memory, "maxmemory")?.filter(|m| *m > 0.0) {
        usage.limits.insert(MEMORY_MB.into(), max / MB);
    }
    if let Some(max) = number(&clients, "maxclients")?.filter(|m| *m > 0.0) {
        usage.limits.insert(CONNECTIONS.into(), max);
    }
    Ok(usage)
}

#[async_trait]
impl UsageSource for RedisInfoSource {
    fn dimensions(&self) -> Vec<String> {
        vec![MEMORY_MB.into(), CONNECTIONS.into()]
    }

    async fn usage(&self, _now: DateTime<Utc>) -> Result<Usage, SourceError> {
        let error = |doing: &str, e: &redis::RedisError| {
            redis_error(&self.reference, self.password.as_ref(), doing, e)
        };
        let mut conn = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| error("connect", &e))?;
        let (memory, clients): (String, String) = redis::pipe()
            .cmd("INFO")
            .arg("memory")
            .cmd("INFO")
            .arg("clients")
            .query_async(&mut conn)
            .await
            .map_err(|e| error("INFO", &e))?;
        parse_info(&memory, &clients).map_err(|m| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!("Redis at {}: {m}", self.reference),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_read_and_zero_limits_are_no_limits() {
        let memory = "# Memory\r\nused_memory:52428800\r\nused_memory_human:50.00M\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n";
        let clients = "# Clients\r\nconnected_clients:7\r\nmaxclients:0\r\n";
        let u = parse_info(memory, clients).unwrap();
        assert_eq!(u.values[MEMORY_MB], 50.0);
        assert_eq!(u.values[CONNECTIONS], 7.0);
        assert!(u.limits.is_empty());
        let u = parse_info(
            "used_memory:1\r\nmaxmemory:26214400\r\n",
            "connected_clients:1\r\nmaxclients:20\r\n",
        )
        .unwrap();
        assert_eq!(u.limits[MEMORY_MB], 25.0);
        assert_eq!(u.limits[CONNECTIONS], 20.0);
    }

    #[test]
    fn a_missing_or_garbled_field_is_named() {
        assert!(parse_info("maxmemory:0", "connected_clients:1")
            .unwrap_err()
            .contains("used_memory"));
        assert!(parse_info("used_memory:lots", "connected_clients:1")
            .unwrap_err()
            .contains("used_memory"));
    }
}
