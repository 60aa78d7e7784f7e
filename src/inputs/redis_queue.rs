//! `redis_queue`: how many jobs wait in a Celery or Sidekiq queue in Redis, or
//! (Sidekiq) how old the oldest waiting job is.
//!
//! It reads the queues the way their own libraries do (see the project's notes
//! on job queues in Redis):
//! - Celery (kombu's Redis transport): a queue is a LIST named after it, plus
//!   one LIST per priority step, `q\x06\x163`, `q\x06\x166`, `q\x06\x169`;
//!   the length is the sum of the four `LLEN`s, pipelined, as kombu's `_size`
//!   does. Celery messages carry no enqueue time, so only `length` exists.
//! - Sidekiq: jobs are JSON in the LIST `queue:<name>`, pushed with `LPUSH`, so
//!   the oldest is at index -1. Its `enqueued_at` is float epoch seconds before
//!   Sidekiq 8 and integer epoch milliseconds since; latency is `now` minus it
//!   (0 for an empty queue), the max over the configured queues.
//!
//! `key_prefix` is prepended to every key (kombu's `global_keyprefix`,
//! redis-namespace's `ns:`). A new connection is opened per poll: the Lambda is
//! frozen between invocations, and a connection kept across a freeze is often
//! found dead by the server's idle timeout; one connect a minute costs nothing.
//!
//! The URL holds the password (Heroku's `REDIS_URL`), so it is a secret
//! reference, and the password is scrubbed from every error message.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::http_status::quote;
use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::fields::{Fields, KeyDoc};
use crate::secrets::SecretRef;

pub(super) const REDIS_QUEUE: InputType = InputType {
    name: "redis_queue",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse,
    keys: &[
        KeyDoc::new(
            "url",
            None,
            "reference to the redis:// or rediss:// URL, e.g. \"env:REDIS_URL\"",
        ),
        KeyDoc::new("flavor", None, "\"celery\" or \"sidekiq\""),
        KeyDoc::new(
            "queues",
            Some("[\"celery\"] or [\"default\"] by flavor"),
            "the queues summed (or maxed, for latency)",
        ),
        KeyDoc::new(
            "metric",
            Some("\"length\""),
            "\"length\" (jobs waiting) or \"latency\" (sidekiq: seconds the oldest job waited)",
        ),
        KeyDoc::new(
            "key_prefix",
            Some("\"\""),
            "prefix of the queue keys (a Redis namespace)",
        ),
        KeyDoc::new(
            "tls_insecure",
            Some("false"),
            "skip certificate checks on rediss:// (Heroku Redis is self-signed)",
        ),
    ],
    example: "url = \"env:REDIS_URL\"\nflavor = \"sidekiq\"",
    measure: Measure::Load,
    summary: "Celery or Sidekiq queue length or latency in Redis",
};

/// kombu's `PRIORITY_STEPS` beyond 0, each a LIST of its own.
const CELERY_PRIORITY_STEPS: [u8; 3] = [3, 6, 9];

/// kombu's separator between a queue name and its priority step.
const CELERY_PRIORITY_SEP: &str = "\x06\x16";

/// Which job library wrote the queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFlavor {
    Celery,
    Sidekiq,
}

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMetric {
    /// Jobs waiting, summed over the queues.
    Length,
    /// Seconds the oldest waiting job has waited, the max over the queues (Sidekiq).
    Latency,
}

/// Validated settings of a `redis_queue` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisQueueSpec {
    /// Where the `redis://` / `rediss://` URL lives (it holds the password).
    pub url: SecretRef,
    pub flavor: QueueFlavor,
    pub queues: Vec<String>,
    pub metric: QueueMetric,
    pub key_prefix: String,
    /// Skip certificate checks on `rediss://`: Heroku Redis serves a
    /// self-signed certificate, which no root store trusts.
    pub tls_insecure: bool,
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
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
    let flavor = match fields.req_str("flavor").as_deref() {
        Some("celery") => Some(QueueFlavor::Celery),
        Some("sidekiq") => Some(QueueFlavor::Sidekiq),
        Some(other) => {
            fields.error(
                "flavor",
                format!("unknown queue flavor {other:?} (celery, sidekiq)"),
            );
            None
        }
        None => None,
    };
    let has_queues = fields.has("queues");
    let queues = fields.opt_str_list("queues");
    if let Some(queues) = &queues {
        if queues.is_empty() {
            fields.error("queues", "must name at least one queue");
        }
        for (i, q) in queues.iter().enumerate() {
            if q.is_empty() {
                fields.error(&format!("queues[{i}]"), "must not be empty");
            }
        }
    }
    let queues_ok = queues.as_ref().map_or(!has_queues, |q| {
        !q.is_empty() && q.iter().all(|q| !q.is_empty())
    });
    let metric = match fields.opt_str("metric").as_deref() {
        None | Some("length") => Some(QueueMetric::Length),
        Some("latency") => Some(QueueMetric::Latency),
        Some(other) => {
            fields.error(
                "metric",
                format!("unknown queue metric {other:?} (length, latency)"),
            );
            None
        }
    };
    if flavor == Some(QueueFlavor::Celery) && metric == Some(QueueMetric::Latency) {
        fields.error(
            "metric",
            "latency is only available for sidekiq: Celery messages carry no enqueue time",
        );
        return None;
    }
    let key_prefix = fields.opt_str("key_prefix").unwrap_or_default();
    let tls_insecure = fields.bool_or("tls_insecure", false);
    let flavor = flavor?;
    if !queues_ok {
        return None;
    }
    let queues = queues.unwrap_or_else(|| {
        vec![match flavor {
            QueueFlavor::Celery => "celery".to_string(),
            QueueFlavor::Sidekiq => "default".to_string(),
        }]
    });
    Some(Box::new(RedisQueueSpec {
        url: url?,
        flavor,
        queues,
        metric: metric?,
        key_prefix,
        tls_insecure,
    }))
}

impl SourceSpec for RedisQueueSpec {
    fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("url", self.url.describe().into()),
            (
                "flavor",
                match self.flavor {
                    QueueFlavor::Celery => "celery",
                    QueueFlavor::Sidekiq => "sidekiq",
                }
                .into(),
            ),
            ("queues", self.queues.clone().into()),
            (
                "metric",
                match self.metric {
                    QueueMetric::Length => "length",
                    QueueMetric::Latency => "latency",
                }
                .into(),
            ),
            ("key_prefix", self.key_prefix.clone().into()),
            ("tls_insecure", self.tls_insecure.into()),
        ]
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let RedisClient {
            client,
            password,
            reference,
        } = redis_client(&self.url, self.tls_insecure, ctx)?;
        Ok(Arc::new(RedisQueueSource {
            client,
            password,
            reference,
            flavor: self.flavor,
            metric: self.metric,
            queues: self.queues.clone(),
            key_prefix: self.key_prefix.clone(),
        }))
    }
}

/// A Redis client for a URL held as a secret reference, shared by the Redis
/// inputs (`redis_queue`, `redis_info`).
pub(super) struct RedisClient {
    pub client: redis::Client,
    /// Only to scrub it from error messages.
    pub password: Option<SecretString>,
    /// The secret reference, printed instead of the URL.
    pub reference: String,
}

/// # Errors
/// A message naming the reference (never the URL) when it does not resolve
/// or is not a `redis://`/`rediss://` URL.
pub(super) fn redis_client(
    url: &SecretRef,
    tls_insecure: bool,
    ctx: &BuildContext<'_>,
) -> Result<RedisClient, String> {
    let reference = url.describe();
    let secret = ctx.secrets.resolve(url).map_err(|e| format!("url: {e}"))?;
    // The parser's messages may quote the URL, password and all: say only what is wrong.
    let mut info: ConnectionInfo = secret
        .expose_secret()
        .into_connection_info()
        .map_err(|_| format!("url: the value of {reference} is not a redis:// or rediss:// URL"))?;
    match &mut info.addr {
        ConnectionAddr::TcpTls { insecure, .. } => *insecure = tls_insecure,
        ConnectionAddr::Tcp(..) => {}
        _ => {
            return Err(format!(
                "url: the value of {reference} is not a redis:// or rediss:// URL"
            ))
        }
    }
    let password = info
        .redis
        .password
        .clone()
        .filter(|p| !p.is_empty())
        .map(SecretString::from);
    // rustls needs one process-wide crypto provider; with more than one
    // compiled in (the AWS SDK brings its own) it would refuse to pick, so
    // name ring, the one reqwest uses. Already installed is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = redis::Client::open(info)
        .map_err(|_| format!("url: cannot use the Redis URL from {reference}"))?;
    Ok(RedisClient {
        client,
        password,
        reference,
    })
}

/// Adapter: reads queue lengths or the oldest job over one Redis connection.
pub struct RedisQueueSource {
    client: redis::Client,
    /// Only to scrub it from error messages.
    password: Option<SecretString>,
    /// The secret reference, printed instead of the URL.
    reference: String,
    flavor: QueueFlavor,
    metric: QueueMetric,
    queues: Vec<String>,
    key_prefix: String,
}

impl std::fmt::Debug for RedisQueueSource {
    // `redis::Client`'s own Debug prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueueSource")
            .field("url", &self.reference)
            .field("flavor", &self.flavor)
            .field("metric", &self.metric)
            .field("queues", &self.queues)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisQueueSource {
    /// The LISTs whose lengths add up to the measured length.
    fn length_keys(&self) -> Vec<String> {
        let p = &self.key_prefix;
        match self.flavor {
            QueueFlavor::Celery => self
                .queues
                .iter()
                .flat_map(|q| {
                    std::iter::once(format!("{p}{q}")).chain(
                        CELERY_PRIORITY_STEPS
                            .iter()
                            .map(move |step| format!("{p}{q}{CELERY_PRIORITY_SEP}{step}")),
                    )
                })
                .collect(),
            QueueFlavor::Sidekiq => self.queues.iter().map(|q| sidekiq_key(p, q)).collect(),
        }
    }

    /// A Redis error as a [`SourceError`], with the password scrubbed.
    fn error(&self, doing: &str, e: &RedisError) -> SourceError {
        redis_error(&self.reference, self.password.as_ref(), doing, e)
    }

    async fn length(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
    ) -> Result<f64, SourceError> {
        let keys = self.length_keys();
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("LLEN").arg(key);
        }
        let lengths: Vec<u64> = pipe
            .query_async(conn)
            .await
            .map_err(|e| self.error("LLEN", &e))?;
        Ok(lengths.iter().map(|&n| n as f64).sum())
    }

    async fn latency(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        now: DateTime<Utc>,
    ) -> Result<f64, SourceError> {
        let keys: Vec<String> = self
            .queues
            .iter()
            .map(|q| sidekiq_key(&self.key_prefix, q))
            .collect();
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.cmd("LINDEX").arg(key).arg(-1);
        }
        let oldest: Vec<Option<Vec<u8>>> = pipe
            .query_async(conn)
            .await
            .map_err(|e| self.error("LINDEX", &e))?;
        let mut latency: f64 = 0.0;
        for (key, job) in keys.iter().zip(oldest) {
            let Some(job) = job else { continue };
            let enqueued = enqueued_at_ms(&job).ok_or_else(|| {
                SourceError::new(
                    SourceErrorKind::Malformed,
                    format!(
                        "Redis at {}: the oldest job in {} has no enqueued_at or created_at epoch time: {}",
                        self.reference,
                        key.escape_debug(),
                        quote(&String::from_utf8_lossy(&job))
                    ),
                )
            })?;
            let age = (now.timestamp_millis() as f64 - enqueued) / 1000.0;
            latency = latency.max(age);
        }
        Ok(latency)
    }
}

/// A Redis error as a [`SourceError`], with the password scrubbed.
pub(super) fn redis_error(
    reference: &str,
    password: Option<&SecretString>,
    doing: &str,
    e: &RedisError,
) -> SourceError {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let code = e.code().unwrap_or_default();
    let kind = if e.kind() == ErrorKind::AuthenticationFailed
        || matches!(code, "WRONGPASS" | "NOAUTH" | "NOPERM")
        || lower.contains("wrongpass")
        || lower.contains("noauth")
    {
        SourceErrorKind::Unauthorized
    } else if e.kind() == ErrorKind::TypeError || code == "WRONGTYPE" || lower.contains("wrongtype")
    {
        SourceErrorKind::Malformed
    } else if e.is_timeout() {
        SourceErrorKind::Timeout
    } else if lower.contains("certificate") {
        SourceErrorKind::Setup
    } else {
        SourceErrorKind::Unavailable
    };
    let hint = match kind {
        SourceErrorKind::Setup => {
            " (Heroku Redis serves a self-signed certificate: set tls_insecure = true)"
        }
        SourceErrorKind::Malformed => " (a key of the queue is not a list)",
        _ => "",
    };
    let mut message = format!("Redis at {}: {doing}: {text}{hint}", reference);
    if let Some(password) = password {
        message = message.replace(password.expose_secret(), "[REDACTED]");
    }
    SourceError::new(kind, message)
}

fn sidekiq_key(prefix: &str, queue: &str) -> String {
    format!("{prefix}queue:{queue}")
}

/// A Sidekiq job's enqueue time in epoch ms, as Sidekiq's own `Queue#latency`
/// reads it: `enqueued_at || created_at`, a float in seconds (before 8.0) or
/// an integer in milliseconds (8.0 and later).
fn enqueued_at_ms(job: &[u8]) -> Option<f64> {
    let job: Value = serde_json::from_slice(job).ok()?;
    let at = job
        .get("enqueued_at")
        .filter(|v| !v.is_null())
        .or_else(|| job.get("created_at"))?;
    let Value::Number(n) = at else { return None };
    let ms = if n.is_f64() {
        n.as_f64()? * 1000.0
    } else {
        n.as_f64()?
    };
    ms.is_finite().then_some(ms)
}

#[async_trait]
impl MetricSource for RedisQueueSource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        let mut conn = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| self.error("connect", &e))?;
        match self.metric {
            QueueMetric::Length => self.length(&mut conn).await,
            QueueMetric::Latency => self.latency(&mut conn, now).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidekiq_float_enqueued_at_is_seconds_and_integer_is_ms() {
        assert_eq!(
            enqueued_at_ms(br#"{"enqueued_at":1700000000.5}"#),
            Some(1_700_000_000_500.0)
        );
        assert_eq!(
            enqueued_at_ms(br#"{"enqueued_at":1700000000500}"#),
            Some(1_700_000_000_500.0)
        );
    }

    #[test]
    fn sidekiq_falls_back_to_created_at() {
        assert_eq!(
            enqueued_at_ms(br#"{"created_at":1700000000.0}"#),
            Some(1_700_000_000_000.0)
        );
        assert_eq!(enqueued_at_ms(br#"{"class":"X"}"#), None);
        assert_eq!(enqueued_at_ms(b"not json"), None);
    }
}
