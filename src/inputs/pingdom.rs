//! Input `pingdom`: a check's average response time (ms) over the last
//! `period`, from API 3.1 `GET /summary.average/{checkid}`.
//!
//! `from` is always sent: without it Pingdom averages since epoch 0, a number
//! that no longer moves with load. Both ends come from the `now` handed to
//! `fetch`, never from the clock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use super::rest::{self, fetch_json};
use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::fields::{format_duration, Fields, KeyDoc};
use crate::secrets::SecretRef;

pub(super) const PINGDOM: InputType = InputType {
    name: "pingdom",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse,
    keys: &[
        KeyDoc::new("check_id", None, "the uptime check's id"),
        KeyDoc::new(
            "token",
            None,
            "reference to an API token, \"env:NAME\" or \"ssm:/path\"",
        ),
        KeyDoc::new(
            "base_url",
            Some("\"https://api.pingdom.com/api/3.1\""),
            "API root (tests and proxies)",
        ),
        KeyDoc::new(
            "period",
            Some("\"5m\""),
            "the window averaged over (at least 1m)",
        ),
    ],
    example: "check_id = 85975\ntoken = \"env:PINGDOM_TOKEN\"",
    measure: Measure::ResponseTime,
    summary: "Pingdom check response time (ms)",
};

pub(super) const BASE: &str = "https://api.pingdom.com/api/3.1";
const DEFAULT_PERIOD: TimeDelta = TimeDelta::seconds(300);
/// Pingdom checks run at most once a minute: a shorter window may hold no result.
const MIN_PERIOD: TimeDelta = TimeDelta::seconds(60);

/// Validated `pingdom` settings.
#[derive(Debug, Clone)]
pub struct PingdomSpec {
    pub check_id: u64,
    /// Reference to an API 3.1 token.
    pub token: SecretRef,
    pub base_url: String,
    pub period: TimeDelta,
    pub timeout: Duration,
}

impl SourceSpec for PingdomSpec {
    fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("check_id", self.check_id.into()),
            ("token", self.token.describe().into()),
            ("base_url", self.base_url.clone().into()),
            ("period", format_duration(self.period).into()),
        ]
    }

    fn host(&self) -> Option<String> {
        super::url_host(&self.base_url)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let token = ctx
            .secrets
            .resolve(&self.token)
            .map_err(|e| format!("token: {e}"))?;
        Ok(Arc::new(PingdomSource {
            http: ctx.http.clone(),
            url: rest::join(
                &self.base_url,
                &format!("summary.average/{}", self.check_id),
            ),
            check_id: self.check_id,
            token,
            period: self.period,
            timeout: self.timeout,
        }))
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }
}

/// The adapter: one GET per poll.
pub struct PingdomSource {
    http: reqwest::Client,
    url: String,
    check_id: u64,
    token: SecretString,
    period: TimeDelta,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct Answer {
    summary: Option<Summary>,
}

#[derive(Debug, Deserialize)]
struct Summary {
    responsetime: Option<ResponseTime>,
}

#[derive(Debug, Deserialize)]
struct ResponseTime {
    /// An integer (ms); an array only with `bycountry`/`byprobe`, never sent here.
    avgresponse: Option<Value>,
}

/// `{"error":{"statuscode","statusdesc","errormessage"}}`, attributes optional.
fn error_text(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let desc = error.get("statusdesc").and_then(Value::as_str);
    let message = error.get("errormessage").and_then(Value::as_str);
    match (desc, message) {
        (Some(d), Some(m)) => Some(format!("{d}: {m}")),
        (d, m) => d.or(m).map(str::to_string),
    }
}

#[async_trait]
impl MetricSource for PingdomSource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        let from = (now - self.period).timestamp();
        let bearer = SecretString::from(format!("Bearer {}", self.token.expose_secret().trim()));
        let request = self
            .http
            .get(&self.url)
            .header(
                reqwest::header::AUTHORIZATION,
                rest::secret_header(&bearer, "token")?,
            )
            .query(&[("from", from), ("to", now.timestamp())]);
        let answer: Answer = fetch_json(request, self.timeout, "Pingdom", error_text).await?;
        let average = answer
            .summary
            .and_then(|s| s.responsetime)
            .and_then(|r| r.avgresponse)
            .ok_or_else(|| {
                SourceError::new(
                    SourceErrorKind::Malformed,
                    "Pingdom answer has no summary.responsetime.avgresponse",
                )
            })?;
        let ms = average.as_f64().ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!("Pingdom avgresponse is not a number: {average}"),
            )
        })?;
        // No check ran in the window: Pingdom averages nothing to 0, and a
        // 0 ms response would read as "no load" and scale down.
        if ms <= 0.0 {
            return Err(SourceError::new(
                SourceErrorKind::Empty,
                format!(
                    "Pingdom has no results for check {} in the last {}s (avgresponse 0)",
                    self.check_id,
                    self.period.num_seconds()
                ),
            ));
        }
        Ok(ms)
    }
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let check_id = rest::read_id(fields, "check_id");
    let token = rest::read_secret(fields, "token");
    let base_url = rest::read_base_url(fields, "base_url", BASE);
    let period = rest::read_period(
        fields,
        DEFAULT_PERIOD,
        MIN_PERIOD,
        " (Pingdom checks run at most once a minute)",
    );
    Some(Box::new(PingdomSpec {
        check_id: check_id?,
        token: token?,
        base_url: base_url?,
        period: period?,
        timeout: rest::DEFAULT_TIMEOUT,
    }))
}
