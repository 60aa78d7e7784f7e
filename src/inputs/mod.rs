//! Port `MetricSource`: where load comes from. One file per input type, one registry.
//!
//! Adding an input type touches this folder only: write a module with a
//! [`SourceSpec`] (its validated settings) and a [`MetricSource`] (the adapter)
//! and its [`InputType`] row (name, keys, parse, what the simulator feeds it),
//! and add that row to [`INPUT_TYPES`]. The config reader, `check-config`, the
//! docs test and the simulator all go through the registry.

mod app_metric;
mod demo;
mod google_analytics;
mod heroku_drain;
mod http_probe;
mod http_status;
mod new_relic;
mod new_relic_nrql;
mod pingdom;
mod redis_info;
mod redis_queue;
mod replay;
mod rest;
mod scripted;
mod usage;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::fields::{Fields, KeyDoc};
use crate::secrets::SecretResolver;

pub use app_metric::{AppMetricSource, AppMetricSpec};
pub use demo::{ConstantSource, SineSource};
pub use google_analytics::{GoogleAnalyticsSource, GoogleAnalyticsSpec};
pub use heroku_drain::{last_complete_minute, DrainMetric, DrainSource, DrainSpec};
pub use http_probe::{HttpProbeSource, HttpProbeSpec};
pub use new_relic::{NewRelicSource, NewRelicSpec};
pub use new_relic_nrql::{NrqlSource, NrqlSpec};
pub use pingdom::{PingdomSource, PingdomSpec};
pub use redis_info::{
    parse_info, RedisInfoSource, RedisInfoSpec, CONNECTIONS, MEMORY_MB, REDIS_INFO_KEYS,
};
pub use redis_queue::{QueueFlavor, QueueMetric, RedisQueueSource, RedisQueueSpec};
pub use replay::{ReplaySource, ReplaySpec};
pub use scripted::ScriptedSource;
pub use usage::{FixedUsage, MetricUsage, Usage, UsageSource};

/// Stable labels for why a poll failed. Reported, and stored as missing data:
/// a failed poll is never read as zero load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceErrorKind {
    /// No answer within the input's timeout or the invocation's deadline.
    Timeout,
    /// The service answered 5xx or could not be reached.
    Unavailable,
    /// The service answered 429.
    RateLimited,
    /// 401/403: the credentials are wrong or lack access.
    Unauthorized,
    /// 404 or an equivalent "no such thing".
    NotFound,
    /// The body did not have the documented shape.
    Malformed,
    /// The answer was well-formed but held no value.
    Empty,
    /// The source could not be set up (bad secret, bad URL).
    Setup,
}

impl SourceErrorKind {
    /// The label as stored and reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::Malformed => "malformed",
            Self::Empty => "empty",
            Self::Setup => "setup",
        }
    }
}

/// A failed poll. The message never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}", kind = .kind.as_str())]
pub struct SourceError {
    pub kind: SourceErrorKind,
    pub message: String,
}

impl SourceError {
    /// `message` is redacted ([`crate::redact`]): whatever part of it came
    /// from a provider, no secret the process holds survives.
    pub fn new(kind: SourceErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: crate::redact::redact(&message.into()),
        }
    }
}

/// Port: one input's current value.
///
/// Contract: `fetch` returns the value measured for `now` in the input's unit
/// (requests per minute, users, ms, jobs), finite and not negative; it does not
/// retry beyond what fits in a few seconds (the engine applies the timeout and
/// the invocation deadline); on failure it says why with a [`SourceErrorKind`].
#[async_trait]
pub trait MetricSource: Send + Sync {
    /// # Errors
    /// A [`SourceError`] when no trustworthy value could be read.
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError>;
}

/// What building a source may need from the outside world.
pub struct BuildContext<'a> {
    /// Resolves `env:`/`ssm:` references into secret values.
    pub secrets: &'a dyn SecretResolver,
    /// One HTTP client shared by every HTTP input: built once at cold start so
    /// connection pools and TLS sessions are reused across inputs and invocations.
    pub http: &'a reqwest::Client,
    /// The log-drain aggregates (`heroku_router*` inputs), where the caller
    /// has them: beside the state (file, memory, DynamoDB).
    pub drain: Option<Arc<dyn crate::drain_store::DrainStore>>,
    /// The formation the input belongs to: app and process type.
    pub formation: Option<(&'a str, &'a str)>,
}

/// An input type's validated settings, able to build its adapter.
pub trait SourceSpec: Debug + Send + Sync {
    /// # Errors
    /// A message (naming no secret) when the adapter cannot be built, e.g. a
    /// secret reference that does not resolve.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String>;

    /// Hands over the input's `timeout` once its keys are read, so an HTTP
    /// adapter bounds each request by it itself: a request dropped by the
    /// engine's timeout says only "timeout", one that times out in reqwest can
    /// say where it hung. Specs that make no requests keep the default no-op.
    fn set_timeout(&mut self, _timeout: std::time::Duration) {}
    /// Checks settings against the input's `timeout` (read by the common part of
    /// the config, after the type's own keys): `Err((key, message))` names the
    /// type's key at fault. Most types have nothing to check.
    fn check_timeout(&self, _timeout: TimeDelta) -> Result<(), (&'static str, String)> {
        Ok(())
    }

    /// Its own keys as a user writes them, every default filled in, in the
    /// order of its registry row's `keys` (`check-config`). Secrets appear as
    /// their references, never as values.
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)>;

    /// The host the input asks (`api.newrelic.com`), for messages such as an
    /// engine timeout. Only the host: a URL's path or query may hold a key.
    fn host(&self) -> Option<String> {
        None
    }
}

/// What an input type measures, for the simulator: it feeds load inputs the
/// trace and response-time inputs the modelled response time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Load (requests, users, jobs): read from the trace.
    Load,
    /// Response time in ms: read from the capacity model.
    ResponseTime,
}

/// The host of an http(s) URL, for [`SourceSpec::host`].
pub(crate) fn url_host(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
}

/// One entry of the input registry.
pub struct InputType {
    /// The config's `type` value.
    pub name: &'static str,
    /// Config key of the capacity rule's load per dyno, e.g. `rpm_per_dyno`.
    pub per_dyno_key: &'static str,
    /// Its default, where the predecessors had one.
    pub default_per_dyno: Option<f64>,
    /// Reads the type's own keys (the common ones are taken already).
    pub parse: fn(&mut Fields) -> Option<Box<dyn SourceSpec>>,
    /// Its own keys, for the docs (checked against [`SourceSpec::settings`]).
    pub keys: &'static [KeyDoc],
    /// Its required keys with sample values (TOML lines), for the docs and
    /// the docs test.
    pub example: &'static str,
    /// What the simulator feeds it.
    pub measure: Measure,
    /// One line for the docs.
    pub summary: &'static str,
}

/// The registry, keyed on the config's `type`.
pub const INPUT_TYPES: &[InputType] = &[
    demo::SINE,
    demo::CONSTANT,
    new_relic::NEW_RELIC,
    new_relic_nrql::NEW_RELIC_NRQL,
    pingdom::PINGDOM,
    google_analytics::GOOGLE_ANALYTICS,
    http_probe::HTTP_PROBE,
    app_metric::APP_METRIC,
    redis_queue::REDIS_QUEUE,
    heroku_drain::HEROKU_ROUTER,
    heroku_drain::HEROKU_ROUTER_TIME,
    replay::REPLAY,
];

/// Look an input type up by name.
pub fn input_type(name: &str) -> Option<&'static InputType> {
    INPUT_TYPES.iter().find(|t| t.name == name)
}
