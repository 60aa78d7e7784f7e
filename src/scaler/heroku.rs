//! `HerokuScaler`: the Platform API v3 formation endpoints.
//!
//! One `GET /apps/{app}/formation` reads every process type of an app; a change
//! is one `PATCH /apps/{app}/formation/{type}` or, when several process types
//! of the app change, one batch `PATCH /apps/{app}/formation`. Every call costs
//! one token from the account's shared pool (4500, refilled ~75/min), so the
//! engine reads each app once per invocation and writes at most once.
//!
//! Only `quantity` (and `type` in batch items) is sent, and `size` when a
//! formation with a size ladder changes size too: the official CLI still
//! sends `size` strings (the 2025 schema names it `dyno_size`), so the
//! shape the CLI ships is the one used.
//!
//! 429 and 5xx (and connection failures) are retried with jittered exponential
//! backoff while the retry budget lasts; 401/402/403/404/422 never are, since
//! the same request would get the same answer. A 429 with `Retry-After` is
//! waited out exactly when that fits in what is left of the budget, and fails
//! at once (`rate_limited`) when it does not: retrying earlier only spends
//! calls the pool does not have.
//!
//! Every answer's `RateLimit-Remaining` is kept ([`Scaler::call_budget`]), so
//! the engine can pace its formation reads to the account's budget.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{debug, field, warn, Instrument};

use super::{
    AppGeneration, CallBudget, FormationRead, QuantityChange, ScaleError, ScaleErrorKind, Scaler,
};
use crate::body_limit::{self, BodyError, HEROKU_BODY_LIMIT};
use crate::error_text::error_chain;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.heroku.com";
/// The media type that selects API version 3; others get 406.
const ACCEPT: &str = "application/vnd.heroku+json; version=3";
/// The variant the Heroku CLI asks for whenever it needs an app's
/// `generation` (contracts-round2 §15.5): used for that one read.
pub(super) const ACCEPT_SDK: &str = "application/vnd.heroku+json; version=3.sdk";
/// Below this many tokens left in the account's pool, every call warns: other
/// tools sharing the account (CI, dashboards) are about to be throttled too.
pub const LOW_RATE_LIMIT: u64 = 100;
/// Bounds of one request's timeout; inside them it is the budget left.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Heroku Platform API client for formations.
pub struct HerokuScaler {
    http: reqwest::Client,
    base_url: Url,
    /// Exposed only to build the `Authorization` header.
    token: SecretString,
    /// Total time one call may spend retrying 429/5xx.
    retry_budget: Duration,
    /// Delays between attempts (jittered so that several dynopilot functions
    /// on one account do not retry in lockstep).
    backoff: ExponentialBuilder,
    /// The newest `RateLimit-Remaining` seen ([`UNKNOWN`] before any): kept
    /// for the life of the process, so a warm function paces from the start.
    remaining: AtomicU64,
}

/// `remaining` before Heroku said anything.
const UNKNOWN: u64 = u64::MAX;

/// One element of the formation list; everything but these two is ignored
/// (schemas before 2025 lacked `dyno_size`, so stay lenient).
#[derive(Debug, Deserialize)]
struct Formation {
    #[serde(rename = "type")]
    process_type: String,
    quantity: u32,
    /// `"Standard-1X"`; newer answers also carry `dyno_size.name`.
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    dyno_size: Option<DynoSize>,
}

#[derive(Debug, Deserialize)]
struct DynoSize {
    #[serde(default)]
    name: Option<String>,
}

/// `{"id","message"}`, sometimes with more keys.
#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(default)]
    id: String,
    #[serde(default)]
    message: String,
}

/// What one attempt came to.
enum Attempt {
    Done(String),
    Retry(ScaleError),
    /// A 429 that says when to come back (`Retry-After`).
    Later(ScaleError, Duration),
    Fail(ScaleError),
}

impl HerokuScaler {
    /// # Errors
    /// When `base_url` is not an absolute http(s) URL.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        token: SecretString,
        retry_budget: Duration,
    ) -> Result<Self, String> {
        let base_url = Url::parse(base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| format!("{base_url:?} is not an http(s) URL"))?;
        Ok(Self {
            http,
            base_url,
            token,
            retry_budget,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(250))
                .with_factor(2.0)
                .with_max_delay(Duration::from_secs(4))
                .without_max_times()
                .with_jitter(),
            remaining: AtomicU64::new(UNKNOWN),
        })
    }

    /// `base_url` + path segments, each percent-encoded.
    pub(super) fn url(&self, segments: &[&str]) -> Result<Url, ScaleError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ScaleError::new(ScaleErrorKind::Other, "scaler.base_url cannot hold a path")
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// One call with retries. `what` says what was asked, for messages.
    pub(super) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<String, ScaleError> {
        self.call_as(method, url, body, what, ACCEPT).await
    }

    /// [`Self::call`] with another `Accept` (a variant of version 3).
    pub(super) async fn call_as(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
        accept: &'static str,
    ) -> Result<String, ScaleError> {
        let span = tracing::info_span!(
            "heroku",
            method = %method,
            path = url.path(),
            rate_limit_remaining = field::Empty,
        );
        async {
            let started = tokio::time::Instant::now();
            let mut delays = self.backoff.build();
            let mut attempts = 0u32;
            loop {
                attempts += 1;
                let left = self.retry_budget.saturating_sub(started.elapsed());
                let timeout = left.clamp(MIN_REQUEST_TIMEOUT, MAX_REQUEST_TIMEOUT);
                let error = match self
                    .attempt(&method, &url, body, what, timeout, accept)
                    .await {
                    Attempt::Done(text) => return Ok(text),
                    Attempt::Fail(e) => return Err(e),
                    Attempt::Retry(e) => e,
                    Attempt::Later(e, wait) => {
                        let left = self.retry_budget.saturating_sub(started.elapsed());
                        if wait >= left {
                            warn!(attempts, retry_after_s = wait.as_secs(), "Heroku asks to come back later than the retry budget allows; not retrying");
                            return Err(later_than_budget(e, wait, self.retry_budget));
                        }
                        warn!(attempts, retry_after_s = wait.as_secs(), "Heroku rate limit: waiting as asked");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                };
                let delay = delays.next().unwrap_or(Duration::MAX);
                if started.elapsed().saturating_add(delay) > self.retry_budget {
                    warn!(attempts, error = %error, "Heroku call failed; retry budget spent");
                    return Err(ScaleError::new(
                        error.kind,
                        format!(
                            "{} (gave up after {attempts} attempt(s) within the {} retry budget)",
                            error.message,
                            humantime::format_duration(self.retry_budget)
                        ),
                    ));
                }
                warn!(attempts, delay_ms = delay.as_millis() as u64, error = %error, "Heroku call failed; retrying");
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        what: &str,
        timeout: Duration,
        accept: &'static str,
    ) -> Attempt {
        // Trimmed: a token stored with a trailing newline is still the token.
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.token.expose_secret().trim())
            .header(reqwest::header::ACCEPT, accept)
            .timeout(timeout);
        if let Some(body) = body {
            // `json` also sets `Content-Type: application/json`.
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            // The request could not even be built (a token with characters no
            // header may hold): the same would happen on every retry.
            Err(e) if e.is_builder() => return Attempt::Fail(ScaleError::new(
                ScaleErrorKind::Unauthorized,
                "the token named by scaler.token holds characters not allowed in an HTTP header",
            )),
            Err(e) => {
                let message = if e.is_timeout() {
                    format!(
                        "Heroku did not answer within {}",
                        crate::domain::duration_text(timeout)
                    )
                } else {
                    format!("cannot reach Heroku: {}", error_chain(&e.without_url()))
                };
                return Attempt::Retry(ScaleError::new(ScaleErrorKind::Unavailable, message));
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        if let Some(remaining) = response
            .headers()
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            tracing::Span::current().record("rate_limit_remaining", remaining);
            self.remaining.store(remaining, Ordering::Relaxed);
            if remaining < LOW_RATE_LIMIT {
                warn!(
                    rate_limit_remaining = remaining,
                    "Heroku API rate limit nearly used up for this account"
                );
            }
        }
        let text = match body_limit::read_text(response, HEROKU_BODY_LIMIT).await {
            Ok(t) => t,
            // Not retried: the same request would get the same answer.
            Err(e @ BodyError::TooLarge { .. }) => {
                return Attempt::Fail(ScaleError::new(
                    ScaleErrorKind::Other,
                    format!("Heroku's answer for {what}: {e}"),
                ))
            }
            Err(BodyError::Read(e)) => {
                return Attempt::Retry(ScaleError::new(
                    ScaleErrorKind::Unavailable,
                    format!(
                        "Heroku answer could not be read: {}",
                        error_chain(&e.without_url())
                    ),
                ))
            }
        };
        debug!(status = status.as_u16(), "Heroku answered");
        if status.is_success() {
            return Attempt::Done(text);
        }
        match classify(status, &text, what) {
            Attempt::Retry(e) if status == StatusCode::TOO_MANY_REQUESTS => {
                self.remaining.store(0, Ordering::Relaxed);
                match retry_after {
                    Some(wait) => Attempt::Later(e, wait),
                    None => Attempt::Retry(e),
                }
            }
            other => other,
        }
    }
}

/// How long a 429 asks to wait: `Retry-After` as delta-seconds, or as an
/// HTTP date measured against the answer's own `Date` (so a skewed local
/// clock does not matter). `None` when absent or unreadable.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let date = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let sent = chrono::DateTime::parse_from_rfc2822(date.trim()).ok()?;
    Some((at - sent).to_std().unwrap_or(Duration::ZERO))
}

/// The error for a 429 whose `Retry-After` lies beyond the retry budget.
fn later_than_budget(e: ScaleError, wait: Duration, budget: Duration) -> ScaleError {
    ScaleError::new(
        ScaleErrorKind::RateLimited,
        format!(
            "{} (Heroku asks to retry after {}, more than is left of the {} retry budget: not retried)",
            e.message,
            humantime::format_duration(wait),
            humantime::format_duration(budget)
        ),
    )
}

/// Heroku's own words: `422 invalid_params: Cannot ...`.
fn heroku_says(status: StatusCode, error: &ApiError, body: &str) -> String {
    if error.id.is_empty() && error.message.is_empty() {
        // Redacted before the cut, which could leave half a token unmatched.
        let excerpt: String = crate::redact::redact(body.trim())
            .chars()
            .take(200)
            .collect();
        return format!("{}: {excerpt}", status.as_u16());
    }
    format!("{} {}: {}", status.as_u16(), error.id, error.message)
}

/// Whether a 422 is about the number of dynos (account or dyno-type limit),
/// e.g. `cannot_run_above_limit` / "Cannot run more than 2 Free size dynos."
fn above_limit(error: &ApiError) -> bool {
    let message = error.message.to_lowercase();
    error.id.contains("limit")
        || message.contains("limit")
        || (message.contains("more than") && message.contains("dyno"))
}

fn classify(status: StatusCode, body: &str, what: &str) -> Attempt {
    let error: ApiError = serde_json::from_str(body).unwrap_or_default();
    let says = heroku_says(status, &error, body);
    let fail = |kind, message: String| Attempt::Fail(ScaleError::new(kind, message));
    match status.as_u16() {
        429 => Attempt::Retry(ScaleError::new(
            ScaleErrorKind::RateLimited,
            format!("Heroku rate limit reached for this account ({says})"),
        )),
        500..=599 => Attempt::Retry(ScaleError::new(
            ScaleErrorKind::Unavailable,
            format!("Heroku is unavailable ({says})"),
        )),
        401 => fail(
            ScaleErrorKind::Unauthorized,
            format!("Heroku refused the API token ({says}); check scaler.token, or create a new token with `heroku authorizations:create`"),
        ),
        402 | 403 => fail(
            ScaleErrorKind::Forbidden,
            format!("Heroku denied access for {what} ({says}); the token's user needs deploy/operate access to the app, and the account must be in good standing"),
        ),
        404 => fail(
            ScaleErrorKind::NotFound,
            format!("Heroku found no such app or process type for {what} ({says})"),
        ),
        422 if above_limit(&error) => fail(
            ScaleErrorKind::Rejected,
            format!("Heroku refused {what}: above your account's dyno limit — ask Heroku support to raise it, or lower `max` ({says})"),
        ),
        422 => fail(
            ScaleErrorKind::Rejected,
            format!("Heroku refused {what} ({says})"),
        ),
        _ => fail(
            ScaleErrorKind::Other,
            format!("Heroku answered an unexpected error for {what} ({says})"),
        ),
    }
}

/// One update's body: integer `quantity`, `size` when it changes, `type` in a batch.
fn update(c: &QuantityChange, with_type: bool) -> Value {
    let mut body = json!({"quantity": c.quantity});
    if with_type {
        body["type"] = json!(c.process_type);
    }
    if let Some(size) = &c.size {
        body["size"] = json!(size);
    }
    body
}

fn quantities(changes: &[QuantityChange]) -> String {
    let list = changes
        .iter()
        .map(|c| match &c.size {
            Some(size) => format!("{}={}:{size}", c.process_type, c.quantity),
            None => format!("{}={}", c.process_type, c.quantity),
        })
        .collect::<Vec<_>>()
        .join(", ");
    match changes {
        [one] => match &one.size {
            Some(size) => format!(
                "quantity {} of size {size} for {}",
                one.quantity, one.process_type
            ),
            None => format!("quantity {} for {}", one.quantity, one.process_type),
        },
        _ => format!("quantities {list}"),
    }
}

#[async_trait]
impl Scaler for HerokuScaler {
    async fn formation(&self, app: &str) -> Result<BTreeMap<String, u32>, ScaleError> {
        Ok(self
            .formation_detail(app)
            .await?
            .into_iter()
            .map(|(t, f)| (t, f.quantity))
            .collect())
    }

    async fn formation_detail(
        &self,
        app: &str,
    ) -> Result<BTreeMap<String, FormationRead>, ScaleError> {
        let url = self.url(&["apps", app, "formation"])?;
        let what = format!("the formation of app {app}");
        let text = self.call(Method::GET, url, None, &what).await?;
        let list: Vec<Formation> = serde_json::from_str(&text).map_err(|e| {
            ScaleError::new(
                ScaleErrorKind::Other,
                format!("Heroku's formation list for app {app} was not understood: {e}"),
            )
        })?;
        Ok(list
            .into_iter()
            .map(|f| {
                let size = f.size.or(f.dyno_size.and_then(|d| d.name));
                (
                    f.process_type,
                    FormationRead {
                        quantity: f.quantity,
                        size,
                    },
                )
            })
            .collect())
    }

    async fn scale(&self, app: &str, changes: &[QuantityChange]) -> Result<(), ScaleError> {
        let what = format!("{} of app {app}", quantities(changes));
        let (url, body) = match changes {
            [] => return Ok(()),
            [one] => (
                self.url(&["apps", app, "formation", &one.process_type])?,
                update(one, false),
            ),
            many => (
                self.url(&["apps", app, "formation"])?,
                json!({"updates": many.iter().map(|c| update(c, true)).collect::<Vec<_>>()}),
            ),
        };
        self.call(Method::PATCH, url, Some(&body), &what).await?;
        Ok(())
    }

    async fn generation(&self, app: &str) -> Result<Option<AppGeneration>, ScaleError> {
        super::app::generation(self, app).await.map(Some)
    }

    fn call_budget(&self) -> Option<CallBudget> {
        let remaining = self.remaining.load(Ordering::Relaxed);
        Some(CallBudget {
            remaining: (remaining != UNKNOWN).then_some(remaining),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(id: &str, message: &str) -> ApiError {
        ApiError {
            id: id.into(),
            message: message.into(),
        }
    }

    #[test]
    fn dyno_limit_refusals_are_recognised() {
        assert!(above_limit(&api_error(
            "cannot_run_above_limit",
            "Cannot run more than 2 Free size dynos."
        )));
        assert!(above_limit(&api_error(
            "invalid_params",
            "Cannot update to more than 1 Hobby size dynos per process type."
        )));
        assert!(!above_limit(&api_error(
            "invalid_params",
            "Cannot use the following dyno types in the same app: Basic and Standard-1X"
        )));
    }

    #[test]
    fn a_single_change_names_its_quantity() {
        let changes = [QuantityChange {
            process_type: "web".into(),
            quantity: 12,
            size: None,
        }];
        assert_eq!(quantities(&changes), "quantity 12 for web");
    }
}
