//! Shared plumbing of the HTTP inputs: for the JSON APIs (New Relic, Pingdom)
//! send one request, map the answer onto [`SourceErrorKind`] and parse the
//! body; for every HTTP input read its URL, base URL and secrets from the
//! config the same way (same checks, same error texts).
//!
//! Every provider answers errors differently, but the operator needs the same
//! few labels (timeout, unavailable, rate limited, unauthorized, not found,
//! malformed) to know whether to wait or to fix the config; the status mapping
//! is `http_status`'s, shared with every other HTTP input. Messages carry the
//! provider's own error text, redacted: a provider that echoes the request's
//! headers would otherwise quote the key.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::header::HeaderValue;
use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::http_status::{quote, status_kind};
use super::{SourceError, SourceErrorKind};
use crate::body_limit::{self, BodyError, INPUT_BODY_LIMIT};
use crate::error_text::error_chain;
use crate::fields::Fields;
use crate::secrets::SecretRef;

/// Fallback per-request timeout before [`super::SourceSpec::set_timeout`] ran
/// (the config reader always calls it; this matches its default).
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Send `request` with `timeout` and return its body parsed as `T`.
///
/// `service` names the provider in messages ("New Relic"), `error_text` pulls
/// the provider's own error message out of an error body.
///
/// # Errors
/// A [`SourceError`] labelled by status: 401/403 unauthorized, 404 not found,
/// 429 rate limited, 5xx unavailable, other 4xx setup (the request itself is
/// wrong, e.g. a time range too short), a transport timeout timeout, no
/// connection unavailable, a body that is not the expected JSON or larger
/// than [`INPUT_BODY_LIMIT`] malformed.
pub(super) async fn fetch_json<T: DeserializeOwned>(
    request: RequestBuilder,
    timeout: Duration,
    service: &str,
    error_text: fn(&Value) -> Option<String>,
) -> Result<T, SourceError> {
    let response = request.timeout(timeout).send().await.map_err(|e| {
        let e = e.without_url();
        if e.is_timeout() {
            SourceError::new(
                SourceErrorKind::Timeout,
                format!(
                    "{service} did not answer within {}",
                    humantime::format_duration(timeout)
                ),
            )
        } else {
            SourceError::new(
                SourceErrorKind::Unavailable,
                format!("cannot reach {service}: {}", error_chain(&e)),
            )
        }
    })?;
    let status = response.status();
    let body = body_limit::read_text(response, INPUT_BODY_LIMIT)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { .. } => {
                SourceError::new(SourceErrorKind::Malformed, format!("{service}: {e}"))
            }
            BodyError::Read(e) => {
                let e = e.without_url();
                let kind = if e.is_timeout() {
                    SourceErrorKind::Timeout
                } else {
                    SourceErrorKind::Unavailable
                };
                SourceError::new(
                    kind,
                    format!("{service} answer could not be read: {}", error_chain(&e)),
                )
            }
        })?;
    if !status.is_success() {
        let detail = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| error_text(&v))
            .map_or_else(|| excerpt(&body), |text| excerpt(&text));
        let kind = status_kind(status);
        return Err(SourceError::new(
            kind,
            format!("{service} answered {status}: {detail}"),
        ));
    }
    serde_json::from_str(&body).map_err(|e| {
        SourceError::new(
            SourceErrorKind::Malformed,
            format!(
                "{service} answer is not the documented JSON ({e}): {}",
                excerpt(&body)
            ),
        )
    })
}

/// A header value carrying a secret: trimmed (a token pasted into an env var
/// or SSM often ends in a newline) and marked sensitive so that no HTTP-layer
/// debug output prints it. The error names the config key, never the value.
pub(super) fn secret_header(secret: &SecretString, key: &str) -> Result<HeaderValue, SourceError> {
    let mut value = HeaderValue::from_str(secret.expose_secret().trim()).map_err(|_| {
        SourceError::new(
            SourceErrorKind::Setup,
            format!("the secret named by {key} holds characters not allowed in an HTTP header"),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A body quoted for a message (one line, at most 200 characters), or
/// "(empty body)" so that an empty answer is not mistaken for a missing quote.
fn excerpt(body: &str) -> String {
    let quoted = quote(body);
    if quoted.is_empty() {
        "(empty body)".to_string()
    } else {
        quoted
    }
}

/// Join a base URL (no trailing slash) and a path.
pub(super) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Whether `url` is an absolute `http(s)://` URL with a host; else the error
/// text for its config key.
pub(super) fn valid_http_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(format!("must be an http:// or https:// URL, found {url:?}")),
    }
}

/// A required `http(s)://` URL at `key`.
pub(super) fn read_url(fields: &mut Fields, key: &str) -> Option<String> {
    let url = fields.req_str(key)?;
    match valid_http_url(&url) {
        Ok(()) => Some(url),
        Err(e) => {
            fields.error(key, e);
            None
        }
    }
}

/// A required secret reference (`env:NAME` / `ssm:/path`) at `key`.
pub(super) fn read_secret(fields: &mut Fields, key: &str) -> Option<SecretRef> {
    let text = fields.req_str(key)?;
    match SecretRef::parse(&text) {
        Ok(reference) => Some(reference),
        Err(e) => {
            fields.error(key, e);
            None
        }
    }
}

/// A required numeric id (an account, application or check id), written as a
/// whole number or a string of digits.
pub(super) fn read_id(fields: &mut Fields, key: &str) -> Option<u64> {
    if !fields.require(key, "") {
        return None;
    }
    let id = match fields.peek(key) {
        Some(toml::Value::String(_)) => {
            let text = fields.opt_str(key)?;
            text.trim().parse::<u64>().ok()
        }
        _ => {
            let number = fields.opt_number(key)?;
            (number.fract() == 0.0 && (0.0..9.0e15).contains(&number)).then_some(number as u64)
        }
    };
    match id {
        Some(id) if id > 0 => Some(id),
        _ => {
            fields.error(
                key,
                "must be a positive whole number (the id shown in the provider's URL)",
            );
            None
        }
    }
}

/// An optional `http(s)://` root at `key` (`default` when absent), without a
/// trailing slash so that paths can be joined onto it.
pub(super) fn read_base_url(fields: &mut Fields, key: &str, default: &str) -> Option<String> {
    let url = fields.opt_str(key).unwrap_or_else(|| default.to_string());
    match valid_http_url(&url) {
        Ok(()) => Some(url.trim_end_matches('/').to_string()),
        Err(e) => {
            fields.error(key, e);
            None
        }
    }
}

/// An optional `period` (the window averaged over), at least `min`.
pub(super) fn read_period(
    fields: &mut Fields,
    default: TimeDelta,
    min: TimeDelta,
    why: &str,
) -> Option<TimeDelta> {
    let period = fields.duration_or("period", default);
    if period < min {
        fields.error(
            "period",
            format!(
                "must be at least {}s{why}, found {}s",
                min.num_seconds(),
                period.num_seconds()
            ),
        );
        return None;
    }
    Some(period)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_for_messages() {
        let body = "x".repeat(500);
        assert_eq!(excerpt(&body).chars().count(), 201);
        assert_eq!(excerpt("  "), "(empty body)");
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(valid_http_url("http://127.0.0.1:8080").is_ok());
        assert!(valid_http_url("https://api.eu.newrelic.com/").is_ok());
        assert!(valid_http_url("api.newrelic.com").is_err());
        assert!(valid_http_url("ftp://x.example").is_err());
    }
}
