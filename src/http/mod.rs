//! The HTTP entry point (`dynopilot-http`, a Lambda Function URL): requests
//! dispatched by method and path to their handlers.
//!
//! Routes:
//! - `POST /drain`: a Heroku HTTPS log drain ([`drain`]), Basic credentials
//!   and the drain token per app, per-minute aggregates stored.
//! - `GET /status`: the status page ([`status`]), its own Basic credentials.
//!
//! The handlers see a plain [`Request`] (method, path, lowercase headers, the
//! body as bytes, base64 already decoded by the runtime) and answer a plain
//! [`Response`], so they are tested without the runtime; the binary converts
//! to and from `lambda_http`. A route is added with one arm in [`Router::handle`].

pub mod basic_auth;
pub mod drain;
pub mod status;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderMap, Method};

pub use drain::{DrainApp, DrainReceiver, DRAIN_BODY_LIMIT};
pub use status::StatusPage;

/// One request as the handlers see it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path without the query string, e.g. `/drain`.
    pub path: String,
    pub headers: HeaderMap,
    /// The body, decoded (Function URLs deliver binary bodies base64-encoded).
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value as bytes (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name).map(|v| v.as_bytes())
    }

    /// A header's value as text, when it is visible ASCII.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Plain text (the drain's answers are read by no one: kept short).
    pub body: String,
}

impl Response {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 401 with the Basic challenge.
    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized\n").with_header("www-authenticate", basic_auth::challenge())
    }
}

/// Every route's handler, built at cold start.
#[derive(Default)]
pub struct Router {
    /// `POST /drain`; `None` when the config has no `[[drains]]` (404).
    pub drain: Option<Arc<DrainReceiver>>,
    /// `GET /status`; `None` when the config has no `[status_page]` (404).
    pub status: Option<Arc<StatusPage>>,
}

impl Router {
    /// Answer one request; `now` is the clock the caller read.
    pub async fn handle(&self, request: Request, now: DateTime<Utc>) -> Response {
        match (request.path.as_str(), &request.method) {
            ("/drain", &Method::POST) => match &self.drain {
                Some(drain) => drain.handle(&request, now).await,
                None => Response::new(404, "no [[drains]] configured\n"),
            },
            ("/drain", _) => {
                Response::new(405, "method not allowed\n").with_header("allow", "POST")
            }
            ("/status", &Method::GET) => match &self.status {
                Some(page) => page.handle(&request, now).await,
                None => Response::new(404, "no [status_page] configured\n"),
            },
            ("/status", _) => {
                Response::new(405, "method not allowed\n").with_header("allow", "GET")
            }
            _ => Response::new(404, "not found\n"),
        }
    }
}

/// Build the router from the environment, as the Lambda's cold start does:
/// the config (`DYNOPILOT_CONFIG` or `DYNOPILOT_CONFIG_FILE`, as the
/// scheduled function reads it), the drains' and the status page's
/// credentials (only those: this function may read no other secret), the
/// table (`DYNOPILOT_TABLE` or `[state] table`).
///
/// # Errors
/// A message naming what is missing (never a secret value).
pub async fn cold_start() -> Result<Router, String> {
    use crate::config::{self, StateConfig};
    use crate::secrets::{SecretResolver, SsmSecrets};

    let text = crate::lambda::config_text()?;
    let mut config = config::parse(&text).map_err(|e| e.to_string())?;
    if let Ok(namespace) = std::env::var("DYNOPILOT_METRICS_NAMESPACE") {
        if !namespace.trim().is_empty() {
            config.metrics.namespace = namespace;
        }
    }
    if config.drains.is_empty() {
        tracing::warn!("no [[drains]] configured: POST /drain answers 404");
    }
    if config.status_page.is_none() {
        tracing::warn!("no [status_page] configured: GET /status answers 404");
    }
    if config.drains.is_empty() && config.status_page.is_none() {
        return Ok(Router::default());
    }
    let aws = aws_config::load_from_env().await;
    // Only the drains' and the page's credentials: this function reads no other secret.
    let mut references: Vec<_> = config
        .drains
        .iter()
        .map(|d| d.credentials.clone())
        .collect();
    references.extend(config.status_page.iter().map(|p| p.credentials.clone()));
    let secrets = SsmSecrets::load(&aws_sdk_ssm::Client::new(&aws), &references).await?;
    let table = std::env::var("DYNOPILOT_TABLE")
        .ok()
        .filter(|t| !t.is_empty())
        .or(match &config.state {
            StateConfig::DynamoDb { table } => Some(table.clone()),
            _ => None,
        })
        .ok_or("the drain receiver and the status page use DynamoDB: set DYNOPILOT_TABLE")?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let drain = if config.drains.is_empty() {
        None
    } else {
        let store = Arc::new(crate::drain_store::DynamoDbDrainStore::new(
            dynamodb.clone(),
            table.clone(),
        ));
        let apps = drain_apps(&config.drains, &secrets)?;
        Some(Arc::new(DrainReceiver::new(
            apps,
            store,
            Some(config.metrics.clone()),
        )))
    };
    let status = match &config.status_page {
        None => None,
        Some(page) => {
            let credentials = secrets
                .resolve(&page.credentials)
                .map_err(|e| format!("status_page.credentials: {e}"))?;
            let history = Arc::new(crate::history::DynamoDbHistoryStore::new(
                dynamodb.clone(),
                table.clone(),
            ));
            let store = Arc::new(crate::store::DynamoDbStateStore::new(dynamodb, table));
            Some(Arc::new(
                StatusPage::new(
                    credentials,
                    config.formations.clone(),
                    config.dry_run,
                    store,
                )
                .with_history(history),
            ))
        }
    };
    Ok(Router { drain, status })
}

/// The configured drains with their credentials resolved.
///
/// # Errors
/// The first reference that does not resolve, by its field path.
pub fn drain_apps(
    drains: &[crate::config::DrainConfig],
    secrets: &dyn crate::secrets::SecretResolver,
) -> Result<Vec<DrainApp>, String> {
    drains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let credentials = secrets
                .resolve(&d.credentials)
                .map_err(|e| format!("drains[{i}].credentials: {e}"))?;
            Ok(DrainApp {
                app: d.app.clone(),
                token: d.token.clone(),
                credentials,
                retention: d.retention,
            })
        })
        .collect()
}
