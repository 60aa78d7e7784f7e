//! Input `new_relic`: an APM application's requests per minute, from the REST
//! API v2 metric data endpoint (`HttpDispatcher` / `requests_per_minute`,
//! summarized over the last `period`).
//!
//! The predecessor (Dynosaur) used this same metric with 150 rpm per dyno as
//! its default. Since March 2025 REST API v2 takes only User keys (`NRAK-`),
//! so that is what `api_key` must name. The window comes from the `now` handed
//! to `fetch`, never from the clock, so a replayed invocation asks for the same
//! minutes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use super::rest::{self, fetch_json};
use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::fields::{format_duration, Fields, KeyDoc};
use crate::secrets::SecretRef;

pub(super) const NEW_RELIC: InputType = InputType {
    name: "new_relic",
    per_dyno_key: "rpm_per_dyno",
    default_per_dyno: Some(150.0),
    parse,
    keys: &[
        KeyDoc::new("app_id", None, "the APM application id"),
        KeyDoc::new(
            "api_key",
            None,
            "reference to a User API key, \"env:NAME\" or \"ssm:/path\"",
        ),
        KeyDoc::new("region", Some("\"us\""), "\"us\" or \"eu\""),
        KeyDoc::new(
            "base_url",
            Some("the region's API root"),
            "API root (tests and proxies)",
        ),
        KeyDoc::new(
            "period",
            Some("\"5m\""),
            "the window averaged over (at least 1m)",
        ),
    ],
    example: "app_id = 1234567\napi_key = \"env:NEW_RELIC_API_KEY\"",
    measure: Measure::Load,
    summary: "New Relic APM throughput (requests per minute)",
};

/// The US API host; EU accounts live on their own host and reject US calls.
pub(super) const US_BASE: &str = "https://api.newrelic.com";
pub(super) const EU_BASE: &str = "https://api.eu.newrelic.com";

/// New Relic answers 422 for metric ranges shorter than a minute.
const MIN_PERIOD: TimeDelta = TimeDelta::seconds(60);
const DEFAULT_PERIOD: TimeDelta = TimeDelta::seconds(300);
const METRIC: &str = "HttpDispatcher";
const VALUE: &str = "requests_per_minute";

/// Validated `new_relic` settings.
#[derive(Debug, Clone)]
pub struct NewRelicSpec {
    pub app_id: u64,
    /// Reference to a User key (`NRAK-...`), resolved at build time.
    pub api_key: SecretRef,
    /// API host, from `region` unless `base_url` overrides it.
    pub base_url: String,
    /// The window the rate is averaged over, ending at `now`.
    pub period: TimeDelta,
    /// Per-request timeout: the input's `timeout`.
    pub timeout: Duration,
}

impl SourceSpec for NewRelicSpec {
    fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("app_id", self.app_id.into()),
            ("api_key", self.api_key.describe().into()),
            ("region", region_of(&self.base_url).into()),
            ("base_url", self.base_url.clone().into()),
            ("period", format_duration(self.period).into()),
        ]
    }

    fn host(&self) -> Option<String> {
        super::url_host(&self.base_url)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let api_key = ctx
            .secrets
            .resolve(&self.api_key)
            .map_err(|e| format!("api_key: {e}"))?;
        Ok(Arc::new(NewRelicSource {
            http: ctx.http.clone(),
            url: rest::join(
                &self.base_url,
                &format!("v2/applications/{}/metrics/data.json", self.app_id),
            ),
            app_id: self.app_id,
            api_key,
            period: self.period,
            timeout: self.timeout,
        }))
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }
}

/// The adapter: one GET per poll.
pub struct NewRelicSource {
    http: reqwest::Client,
    url: String,
    app_id: u64,
    api_key: SecretString,
    period: TimeDelta,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct Answer {
    metric_data: Option<MetricData>,
}

#[derive(Debug, Deserialize)]
struct MetricData {
    #[serde(default)]
    metrics_not_found: Vec<String>,
    #[serde(default)]
    metrics: Vec<Metric>,
}

#[derive(Debug, Deserialize)]
struct Metric {
    name: String,
    #[serde(default)]
    timeslices: Vec<Timeslice>,
}

#[derive(Debug, Deserialize)]
struct Timeslice {
    /// A free map keyed by the requested value names.
    #[serde(default)]
    values: serde_json::Map<String, Value>,
}

/// REST v2 errors look like `{"error":{"title":"..."}}` (shape not verified:
/// fall back to the raw body).
fn error_text(body: &Value) -> Option<String> {
    body.pointer("/error/title")
        .or_else(|| body.pointer("/error/message"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl NewRelicSource {
    fn rpm(&self, answer: Answer) -> Result<f64, SourceError> {
        let data = answer.metric_data.ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::Malformed,
                "New Relic answer has no metric_data",
            )
        })?;
        if data.metrics_not_found.iter().any(|m| m == METRIC) {
            return Err(SourceError::new(
                SourceErrorKind::Empty,
                format!("New Relic has no {METRIC} metric for application {} (is it a web app reporting to APM?)", self.app_id),
            ));
        }
        let slice = data
            .metrics
            .iter()
            .find(|m| m.name == METRIC)
            .and_then(|m| m.timeslices.first())
            .ok_or_else(|| {
                SourceError::new(
                    SourceErrorKind::Empty,
                    format!(
                        "New Relic returned no {METRIC} timeslice for application {}",
                        self.app_id
                    ),
                )
            })?;
        match slice.values.get(VALUE) {
            Some(v) => v.as_f64().ok_or_else(|| {
                SourceError::new(
                    SourceErrorKind::Malformed,
                    format!("New Relic {VALUE} is not a number: {v}"),
                )
            }),
            None => Err(SourceError::new(
                SourceErrorKind::Malformed,
                format!("New Relic timeslice has no {VALUE} value"),
            )),
        }
    }
}

#[async_trait]
impl MetricSource for NewRelicSource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        let request = self
            .http
            .get(&self.url)
            .header("X-Api-Key", rest::secret_header(&self.api_key, "api_key")?)
            .query(&[
                ("names[]", METRIC),
                ("values[]", VALUE),
                ("from", &timestamp(now - self.period)),
                ("to", &timestamp(now)),
                ("summarize", "true"),
            ]);
        let answer = fetch_json(request, self.timeout, "New Relic", error_text).await?;
        self.rpm(answer)
    }
}

/// The region whose API root `base_url` is (`us` for any other root).
pub(super) fn region_of(base_url: &str) -> &'static str {
    if base_url == EU_BASE {
        "eu"
    } else {
        "us"
    }
}

/// `region` (us | eu) and the `base_url` override, shared with `new_relic_nrql`.
pub(super) fn read_region_base(fields: &mut Fields) -> Option<String> {
    let region = fields.opt_str("region").unwrap_or_else(|| "us".to_string());
    let default = match region.as_str() {
        "us" => Some(US_BASE),
        "eu" => Some(EU_BASE),
        other => {
            fields.error(
                "region",
                format!("unknown New Relic region {other:?} (us, eu)"),
            );
            None
        }
    };
    let base = rest::read_base_url(fields, "base_url", default.unwrap_or(US_BASE));
    default.and(base)
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let app_id = rest::read_id(fields, "app_id");
    let api_key = rest::read_secret(fields, "api_key");
    let base_url = read_region_base(fields);
    let period = rest::read_period(
        fields,
        DEFAULT_PERIOD,
        MIN_PERIOD,
        " (New Relic refuses shorter ranges)",
    );
    Some(Box::new(NewRelicSpec {
        app_id: app_id?,
        api_key: api_key?,
        base_url: base_url?,
        period: period?,
        timeout: rest::DEFAULT_TIMEOUT,
    }))
}
