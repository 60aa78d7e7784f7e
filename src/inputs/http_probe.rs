//! `http_probe`: how long the app takes to answer a heartbeat URL, in ms
//! (autoscalebot's input).
//!
//! A timeout or a 5xx is not a failure here but the worst possible sample: the
//! value is `probe_timeout` in ms. A site too busy to answer is exactly what a
//! slow-response rule must scale up for, and autoscalebot did the same.
//! A refused connection or a DNS failure is different: nothing was measured
//! (the URL or the network is wrong, or the app is down for reasons more dynos
//! do not fix), so it is an `unavailable` failure, which holds the formation
//! (missing data never lowers the target) instead of pushing it to `max`.
//!
//! The elapsed time is measured with [`std::time::Instant`]: that is the
//! measurement itself, not a decision clock, which still comes from `now`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderName;
use tracing::debug;

use super::http_status::{body_error, status_error};
use super::rest;
use super::{BuildContext, InputType, Measure, MetricSource, SourceError, SourceSpec};
use crate::body_limit::{self, BodyError, INPUT_BODY_LIMIT};
use crate::fields::{format_duration, Fields, KeyDoc};

pub(super) const HTTP_PROBE: InputType = InputType {
    name: "http_probe",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse,
    keys: &[
        KeyDoc::new("url", None, "the page to time (https://)"),
        KeyDoc::new(
            "probe_timeout",
            Some("\"5s\""),
            "after this the probe reports this many ms",
        ),
        KeyDoc::new(
            "service_header",
            Some("unset"),
            "a response header with the app's own service time in ms",
        ),
    ],
    example: "url = \"https://shop-api.example.com/health\"",
    measure: Measure::ResponseTime,
    summary: "the response time of one HTTP GET (ms)",
};

/// autoscalebot's default: a heartbeat slower than this is as bad as none.
pub const DEFAULT_PROBE_TIMEOUT: TimeDelta = TimeDelta::seconds(5);

/// Validated settings of an `http_probe` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbeSpec {
    pub url: String,
    /// After this the probe stops waiting and reports this many ms.
    pub probe_timeout: TimeDelta,
    /// A response header carrying the app's own service time in ms (e.g.
    /// `X-Service-Time`), used instead of the measured time when numeric: it
    /// leaves out the network between the probe and Heroku.
    pub service_header: Option<String>,
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let url = rest::read_url(fields, "url");
    let probe_timeout = fields.duration_or("probe_timeout", DEFAULT_PROBE_TIMEOUT);
    let probe_timeout_ok = probe_timeout > TimeDelta::zero();
    if !probe_timeout_ok {
        fields.error("probe_timeout", "must be > 0");
    }
    let service_header = fields.opt_str("service_header");
    let header_ok = service_header
        .as_deref()
        .is_none_or(|h| HeaderName::from_bytes(h.as_bytes()).is_ok());
    if !header_ok {
        fields.error(
            "service_header",
            format!(
                "{:?} is not an HTTP header name",
                service_header.as_deref().unwrap_or("")
            ),
        );
    }
    if !probe_timeout_ok || !header_ok {
        return None;
    }
    Some(Box::new(HttpProbeSpec {
        url: url?,
        probe_timeout,
        service_header,
    }))
}

impl SourceSpec for HttpProbeSpec {
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("url", self.url.clone().into()),
            ("probe_timeout", format_duration(self.probe_timeout).into()),
            ("service_header", self.service_header.clone().into()),
        ]
    }

    fn host(&self) -> Option<String> {
        super::url_host(&self.url)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let probe_timeout = self
            .probe_timeout
            .to_std()
            .map_err(|_| "probe_timeout must be > 0".to_string())?;
        let service_header = match &self.service_header {
            Some(h) => Some(
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| format!("service_header {h:?} is not an HTTP header name"))?,
            ),
            None => None,
        };
        Ok(Arc::new(HttpProbeSource {
            http: ctx.http.clone(),
            url: self.url.clone(),
            probe_timeout,
            service_header,
        }))
    }

    /// The engine cuts a poll off at the input's `timeout` and records a
    /// failure; the probe must give up first so that slowness is a sample.
    fn check_timeout(&self, timeout: TimeDelta) -> Result<(), (&'static str, String)> {
        if self.probe_timeout < timeout {
            return Ok(());
        }
        Err((
            "probe_timeout",
            format!(
                "must be shorter than the input's timeout ({}), found {}: a slow answer must count as slow, not as missing",
                humantime::format_duration(timeout.to_std().unwrap_or_default()),
                humantime::format_duration(self.probe_timeout.to_std().unwrap_or_default()),
            ),
        ))
    }
}

/// Adapter: times a GET of the heartbeat URL.
#[derive(Debug)]
pub struct HttpProbeSource {
    http: reqwest::Client,
    url: String,
    probe_timeout: Duration,
    service_header: Option<HeaderName>,
}

impl HttpProbeSource {
    fn too_slow(&self) -> f64 {
        self.probe_timeout.as_secs_f64() * 1000.0
    }
}

#[async_trait]
impl MetricSource for HttpProbeSource {
    async fn fetch(&self, _now: DateTime<Utc>) -> Result<f64, SourceError> {
        let what = format!("probe of {}", self.url);
        let started = Instant::now();
        let probe = async {
            let response = self
                .http
                .get(&self.url)
                .send()
                .await
                .map_err(BodyError::Read)?;
            let status = response.status();
            let header = self
                .service_header
                .as_ref()
                .and_then(|name| response.headers().get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            // The whole answer counts, as it does for the app's users (up to
            // the cap every input's answer has).
            let body = body_limit::read_text(response, INPUT_BODY_LIMIT).await?;
            Ok::<_, BodyError>((status, header, body))
        };
        let (status, header, body) = match tokio::time::timeout(self.probe_timeout, probe).await {
            Err(_) => {
                debug!(url = %self.url, "probe timed out: counting as too slow");
                return Ok(self.too_slow());
            }
            Ok(Err(BodyError::Read(e))) if e.is_timeout() => return Ok(self.too_slow()),
            Ok(Err(e)) => return Err(body_error(&what, e)),
            Ok(Ok(answer)) => answer,
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            debug!(url = %self.url, %status, "probe got a server error: counting as too slow");
            return Ok(self.too_slow());
        }
        if status.is_client_error() {
            // A 4xx heartbeat is a configuration problem, not a speed.
            return Err(status_error(&what, status, &body));
        }
        Ok(header
            .as_deref()
            .and_then(service_time_ms)
            .unwrap_or(elapsed_ms))
    }
}

/// A service time header value in ms: `"123"`, `"123ms"`, `"12.5 ms"`.
pub(crate) fn service_time_ms(value: &str) -> Option<f64> {
    let v = value.trim();
    let number = v.strip_suffix("ms").unwrap_or(v).trim();
    number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_time_accepts_plain_and_ms_suffixed_numbers() {
        assert_eq!(service_time_ms("123"), Some(123.0));
        assert_eq!(service_time_ms("123ms"), Some(123.0));
        assert_eq!(service_time_ms(" 12.5 ms "), Some(12.5));
    }

    #[test]
    fn service_time_refuses_what_is_not_a_duration_in_ms() {
        assert_eq!(service_time_ms("fast"), None);
        assert_eq!(service_time_ms("-3"), None);
        assert_eq!(service_time_ms("3s"), None);
        assert_eq!(service_time_ms(""), None);
    }
}
