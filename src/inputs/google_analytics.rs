//! `google_analytics`: active users right now, from the GA4 Data API's realtime report.
//!
//! Dynosaur read `rt:activeUsers` from the Universal Analytics Real Time API,
//! which stopped serving data with UA itself (July 2023, 360 in July 2024), so
//! this asks GA4: `POST {base}/v1beta/properties/{id}:runRealtimeReport` with
//! `{"metrics":[{"name":"activeUsers"}]}` (last 30 minutes by default).
//!
//! Auth is Google's service-account flow without a Google SDK: an RS256 JWT
//! signed with the key file's private key is exchanged at the key file's
//! `token_uri` for an access token, which is kept until shortly before it
//! expires (judged against the `now` of the poll, never the clock), so a
//! once-a-minute poll asks for a token about once an hour.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::debug;

use super::http_status::{body_error, quote, read_body, send_error, status_error, status_kind};
use super::rest;
use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::body_limit::{self, TOKEN_BODY_LIMIT};
use crate::fields::{Fields, KeyDoc};
use crate::secrets::SecretRef;

pub(super) const GOOGLE_ANALYTICS: InputType = InputType {
    name: "google_analytics",
    per_dyno_key: "users_per_dyno",
    default_per_dyno: Some(100.0),
    parse,
    keys: &[
        KeyDoc::new("property_id", None, "the numeric GA4 property id"),
        KeyDoc::new(
            "credentials",
            None,
            "reference to the service-account key JSON, \"env:NAME\" or \"ssm:/path\"",
        ),
        KeyDoc::new(
            "base_url",
            Some("\"https://analyticsdata.googleapis.com\""),
            "API root (tests and proxies)",
        ),
    ],
    example: "property_id = \"123456789\"\ncredentials = \"ssm:/dynopilot/ga4-key\"",
    measure: Measure::Load,
    summary: "GA4 realtime active users",
};

/// Where the GA4 Data API lives unless `base_url` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://analyticsdata.googleapis.com";

/// The only scope needed: reading reports.
pub const SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";

/// Google refuses assertions that live longer than an hour.
const ASSERTION_LIFETIME: TimeDelta = TimeDelta::seconds(3600);

/// A token is replaced this long before it expires, so a poll never sends one
/// that dies in flight (and a little clock skew with Google does no harm).
const REFRESH_MARGIN: TimeDelta = TimeDelta::seconds(300);

/// When the token endpoint leaves out `expires_in`: Google's usual lifetime.
const DEFAULT_TOKEN_LIFETIME: i64 = 3600;

const GRANT_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

/// Validated settings of a `google_analytics` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleAnalyticsSpec {
    /// The numeric GA4 property id.
    pub property_id: String,
    /// Where the service-account key file's JSON lives.
    pub credentials: SecretRef,
    /// API root without a trailing slash (tests point it at a fake).
    pub base_url: String,
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let property_id = fields.req_str("property_id");
    if let Some(id) = &property_id {
        if !id.chars().all(|c| c.is_ascii_digit()) {
            fields.error(
                "property_id",
                format!(
                    "must be the numeric GA4 property id (Admin > Property details), found {id:?}"
                ),
            );
        }
    }
    let credentials =
        fields
            .req_str("credentials")
            .and_then(|text| match SecretRef::parse(&text) {
                Ok(r) => Some(r),
                Err(e) => {
                    fields.error("credentials", e);
                    None
                }
            });
    let base_url = rest::read_base_url(fields, "base_url", DEFAULT_BASE_URL);
    let property_id = property_id.filter(|id| id.chars().all(|c| c.is_ascii_digit()))?;
    Some(Box::new(GoogleAnalyticsSpec {
        property_id,
        credentials: credentials?,
        base_url: base_url?,
    }))
}

/// The fields of a service-account key file this input uses; the rest is ignored.
#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    /// Only read once, to build the signing key; the string is dropped then.
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    token_uri: String,
}

impl SourceSpec for GoogleAnalyticsSpec {
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("property_id", self.property_id.clone().into()),
            ("credentials", self.credentials.describe().into()),
            ("base_url", self.base_url.clone().into()),
        ]
    }

    fn host(&self) -> Option<String> {
        super::url_host(&self.base_url)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let what = format!("credentials ({})", self.credentials.describe());
        let json = ctx
            .secrets
            .resolve(&self.credentials)
            .map_err(|e| format!("credentials: {e}"))?;
        // serde's messages can quote the offending value, which may be key
        // material: report only where the JSON went wrong.
        let key: KeyFile = serde_json::from_str(json.expose_secret()).map_err(|e| {
            format!(
                "{what} is not a service-account key file (JSON with client_email, private_key and token_uri): {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            )
        })?;
        let signing_key = EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|_| {
                format!("{what}: private_key is not an RSA private key in PEM form (-----BEGIN PRIVATE KEY-----)")
            })?;
        match reqwest::Url::parse(&key.token_uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(format!(
                    "{what}: token_uri {:?} is not a URL",
                    key.token_uri
                ))
            }
        }
        Ok(Arc::new(GoogleAnalyticsSource {
            http: ctx.http.clone(),
            report_url: format!(
                "{}/v1beta/properties/{}:runRealtimeReport",
                self.base_url, self.property_id
            ),
            property_id: self.property_id.clone(),
            client_email: key.client_email,
            key_id: key.private_key_id,
            token_uri: key.token_uri,
            signing_key,
            token: Mutex::new(None),
        }))
    }
}

/// An access token and when it stops working.
struct CachedToken {
    value: SecretString,
    expires_at: DateTime<Utc>,
}

/// Adapter: GA4 realtime active users, with a cached service-account token.
pub struct GoogleAnalyticsSource {
    http: reqwest::Client,
    report_url: String,
    property_id: String,
    /// The JWT's `iss`.
    client_email: String,
    /// The JWT header's `kid`, so Google picks the right public key at once.
    key_id: Option<String>,
    /// The JWT's `aud` and where it is exchanged.
    token_uri: String,
    signing_key: EncodingKey,
    /// Behind a lock held across the refresh, so concurrent polls of one input
    /// (two formations sharing it) ask for one token, not two.
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for GoogleAnalyticsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAnalyticsSource")
            .field("report_url", &self.report_url)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// The token endpoint's OAuth error, `{"error":"invalid_grant","error_description":...}`.
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Google's API error, `{"error":{"code":403,"message":...,"status":"PERMISSION_DENIED"}}`.
#[derive(Deserialize)]
struct GoogleErrorBody {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct Report {
    /// Left out entirely when nobody is on the site.
    #[serde(default)]
    rows: Option<Vec<Row>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    #[serde(default)]
    metric_values: Vec<MetricValue>,
}

#[derive(Deserialize)]
struct MetricValue {
    /// Numbers come as strings (`"2541"`).
    value: String,
}

impl GoogleAnalyticsSource {
    /// A token valid at `now`: the cached one, or a fresh one.
    async fn access_token(&self, now: DateTime<Utc>) -> Result<SecretString, SourceError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if now < token.expires_at - REFRESH_MARGIN {
                return Ok(token.value.clone());
            }
        }
        let fresh = self.request_token(now).await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    async fn request_token(&self, now: DateTime<Utc>) -> Result<CachedToken, SourceError> {
        let what = format!("GA4 token request to {}", self.token_uri);
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now.timestamp(),
            exp: (now + ASSERTION_LIFETIME).timestamp(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        let assertion = jsonwebtoken::encode(&header, &claims, &self.signing_key).map_err(|e| {
            SourceError::new(
                SourceErrorKind::Setup,
                format!("{what}: cannot sign the JWT: {e}"),
            )
        })?;
        debug!(token_uri = %self.token_uri, "requesting a GA4 access token");
        let response = self
            .http
            .post(&self.token_uri)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("grant_type={GRANT_TYPE}&assertion={assertion}"))
            .send()
            .await
            .map_err(|e| send_error(&what, e))?;
        let status = response.status();
        let body = body_limit::read_text(response, TOKEN_BODY_LIMIT)
            .await
            .map_err(|e| body_error(&what, e))?;
        if !status.is_success() {
            if let Ok(oauth) = serde_json::from_str::<OAuthError>(&body) {
                let kind = match status_kind(status) {
                    SourceErrorKind::RateLimited => SourceErrorKind::RateLimited,
                    SourceErrorKind::Unavailable => SourceErrorKind::Unavailable,
                    // invalid_grant (bad key, clock skew, deleted account) and
                    // invalid_client come as 400 or 401: the credentials are wrong.
                    _ => SourceErrorKind::Unauthorized,
                };
                let description = oauth
                    .error_description
                    .map(|d| format!(": {}", quote(&d)))
                    .unwrap_or_default();
                return Err(SourceError::new(
                    kind,
                    format!("{what}: HTTP {status}: {}{description}", oauth.error),
                ));
            }
            return Err(status_error(&what, status, &body));
        }
        let token: TokenResponse = serde_json::from_str(&body).map_err(|_| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!("{what}: the answer has no access_token"),
            )
        })?;
        let lifetime = token
            .expires_in
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        Ok(CachedToken {
            // Registered: the report API could echo it back in an error body.
            value: SecretString::from(crate::redact::keep(token.access_token)),
            expires_at: now + TimeDelta::seconds(lifetime),
        })
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }
}

#[async_trait]
impl MetricSource for GoogleAnalyticsSource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        let token = self.access_token(now).await?;
        let what = format!("GA4 realtime report of property {}", self.property_id);
        let response = self
            .http
            .post(&self.report_url)
            .bearer_auth(token.expose_secret())
            .json(&serde_json::json!({"metrics": [{"name": "activeUsers"}]}))
            .send()
            .await
            .map_err(|e| send_error(&what, e))?;
        let status = response.status();
        let body = read_body(&what, response).await?;
        if !status.is_success() {
            if status.as_u16() == 401 {
                // Revoked or otherwise dead: the next poll asks for a new one.
                self.forget_token().await;
            }
            return Err(google_error(&what, status, &body));
        }
        let report: Report = serde_json::from_str(&body).map_err(|e| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!("{what}: not a report ({e}): {}", quote(&body)),
            )
        })?;
        let Some(rows) = report.rows else {
            // GA4 leaves `rows` out when there is no data: nobody is on the site.
            return Ok(0.0);
        };
        let mut users = 0.0;
        for row in rows {
            let Some(value) = row.metric_values.first() else {
                return Err(SourceError::new(
                    SourceErrorKind::Malformed,
                    format!("{what}: a row has no metricValues"),
                ));
            };
            match value.value.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => users += v,
                _ => {
                    return Err(SourceError::new(
                        SourceErrorKind::Malformed,
                        format!("{what}: activeUsers {:?} is not a count", value.value),
                    ))
                }
            }
        }
        Ok(users)
    }
}

/// A Google API error body's status wins over the HTTP code where it is clearer.
fn google_error(what: &str, status: reqwest::StatusCode, body: &str) -> SourceError {
    let Ok(GoogleErrorBody { error }) = serde_json::from_str::<GoogleErrorBody>(body) else {
        return status_error(what, status, body);
    };
    let kind = match error.status.as_str() {
        "RESOURCE_EXHAUSTED" => SourceErrorKind::RateLimited,
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => SourceErrorKind::Unauthorized,
        "NOT_FOUND" => SourceErrorKind::NotFound,
        "UNAVAILABLE" | "INTERNAL" => SourceErrorKind::Unavailable,
        "DEADLINE_EXCEEDED" => SourceErrorKind::Timeout,
        _ => status_kind(status),
    };
    SourceError::new(
        kind,
        format!(
            "{what}: HTTP {status}: {}: {}",
            error.status,
            quote(&error.message)
        ),
    )
}
