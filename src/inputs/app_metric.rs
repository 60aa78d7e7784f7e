//! `app_metric`: one number the app reports about itself (autoscalebot 3.0's
//! AppDecision), read from a JSON endpoint by JSON pointer (RFC 6901).
//!
//! The app knows things no outside API does (request queue time from
//! `X-Request-Start`, jobs in an in-process queue), so it can serve them as JSON
//! and this input reads one: `GET url`, then `pointer` into the body. A number
//! written as a string (`"42"`) is accepted, since many JSON encoders quote big
//! or decimal numbers; a pointer that finds nothing is `empty`, a value that is
//! not a number is `malformed`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::http_status::{quote, read_body, send_error, status_error};
use super::rest;
use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::fields::{Fields, KeyDoc};
use crate::secrets::SecretRef;

pub(super) const APP_METRIC: InputType = InputType {
    name: "app_metric",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse,
    keys: &[
        KeyDoc::new("url", None, "the app's JSON endpoint (https://)"),
        KeyDoc::new(
            "pointer",
            None,
            "JSON pointer to the number, e.g. \"/queue/time_ms\"",
        ),
        KeyDoc::new(
            "token",
            Some("unset"),
            "reference to a bearer token, \"env:NAME\" or \"ssm:/path\"",
        ),
    ],
    example: "url = \"https://shop-api.example.com/metrics\"\npointer = \"/queue/time_ms\"",
    measure: Measure::Load,
    summary: "a number from the app's own JSON endpoint",
};

/// Validated settings of an `app_metric` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMetricSpec {
    pub url: String,
    /// RFC 6901 pointer to the number, e.g. `/queue/time_ms`.
    pub pointer: String,
    /// Sent as `Authorization: Bearer`, so the endpoint need not be public.
    pub token: Option<SecretRef>,
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let url = rest::read_url(fields, "url");
    let pointer = fields.req_str("pointer").filter(|p| {
        let ok = p.starts_with('/');
        if !ok {
            fields.error(
                "pointer",
                format!("must be a JSON pointer starting with \"/\" (e.g. \"/queue/time_ms\"), found {p:?}"),
            );
        }
        ok
    });
    let has_token = fields.has("token");
    let token = fields
        .opt_str("token")
        .and_then(|t| match SecretRef::parse(&t) {
            Ok(r) => Some(r),
            Err(e) => {
                fields.error("token", e);
                None
            }
        });
    if has_token && token.is_none() {
        return None;
    }
    Some(Box::new(AppMetricSpec {
        url: url?,
        pointer: pointer?,
        token,
    }))
}

impl SourceSpec for AppMetricSpec {
    fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("url", Value::from(self.url.clone())),
            ("pointer", Value::from(self.pointer.clone())),
            (
                "token",
                self.token
                    .as_ref()
                    .map_or(Value::Null, |t| Value::from(t.describe())),
            ),
        ]
    }

    fn host(&self) -> Option<String> {
        super::url_host(&self.url)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let token = match &self.token {
            Some(r) => Some(ctx.secrets.resolve(r).map_err(|e| format!("token: {e}"))?),
            None => None,
        };
        Ok(Arc::new(AppMetricSource {
            http: ctx.http.clone(),
            url: self.url.clone(),
            pointer: self.pointer.clone(),
            token,
        }))
    }
}

/// Adapter: GET the URL, read the number at the pointer.
#[derive(Debug)]
pub struct AppMetricSource {
    http: reqwest::Client,
    url: String,
    pointer: String,
    token: Option<SecretString>,
}

#[async_trait]
impl MetricSource for AppMetricSource {
    async fn fetch(&self, _now: DateTime<Utc>) -> Result<f64, SourceError> {
        let what = format!("app metric {}", self.url);
        let mut request = self
            .http
            .get(&self.url)
            .header("Accept", "application/json");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        let response = request.send().await.map_err(|e| send_error(&what, e))?;
        let status = response.status();
        let body = read_body(&what, response).await?;
        if !status.is_success() {
            // The quote is redacted: some apps echo the credentials they refused.
            return Err(status_error(&what, status, &body));
        }
        let json: Value = serde_json::from_str(&body).map_err(|e| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!("{what}: the body is not JSON ({e}): {}", quote(&body)),
            )
        })?;
        let Some(found) = json.pointer(&self.pointer) else {
            return Err(SourceError::new(
                SourceErrorKind::Empty,
                format!("{what}: nothing at pointer {}", self.pointer),
            ));
        };
        number(found).ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!(
                    "{what}: the value at pointer {} is not a number >= 0, found {}",
                    self.pointer,
                    quote(&found.to_string())
                ),
            )
        })
    }
}

/// A JSON number, or a string holding one, finite and not negative.
fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_numeric_strings_are_values() {
        assert_eq!(number(&json!(42)), Some(42.0));
        assert_eq!(number(&json!(1.5)), Some(1.5));
        assert_eq!(number(&json!("42")), Some(42.0));
    }

    #[test]
    fn anything_else_is_not_a_value() {
        assert_eq!(number(&json!("many")), None);
        assert_eq!(number(&json!(null)), None);
        assert_eq!(number(&json!(true)), None);
        assert_eq!(number(&json!([1])), None);
        assert_eq!(number(&json!(-1)), None);
        assert_eq!(number(&json!("NaN")), None);
    }
}
