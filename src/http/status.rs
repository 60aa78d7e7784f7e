//! `GET /status`: the status page ([`crate::status_page`]) behind its own
//! Basic credentials.
//!
//! The credentials are checked before anything else: a request without the
//! right ones gets 401 with `WWW-Authenticate` and reads no state. Every
//! answer carries `Cache-Control: no-store`, so no browser or proxy keeps a
//! copy of the page.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::config::FormationConfig;
use crate::engine;
use crate::history::HistoryStore;
use crate::status_page::{build_view, recorded_extras, render, CONTENT_TYPE};
use crate::store::StateStore;

use super::{basic_auth, Request, Response};

/// The page's handler: its credentials, the formations and where their state is.
pub struct StatusPage {
    credentials: SecretString,
    formations: Vec<FormationConfig>,
    dry_run: bool,
    store: Arc<dyn StateStore>,
    /// Recorded per-minute history for the charts; `None`: the state's window only.
    history: Option<Arc<dyn HistoryStore>>,
}

impl StatusPage {
    /// `credentials` is the resolved `user:password` of `[status_page]`.
    pub fn new(
        credentials: SecretString,
        formations: Vec<FormationConfig>,
        dry_run: bool,
        store: Arc<dyn StateStore>,
    ) -> Self {
        Self {
            credentials,
            formations,
            dry_run,
            store,
            history: None,
        }
    }

    /// Chart the formations' recorded history too.
    #[must_use]
    pub fn with_history(mut self, history: Arc<dyn HistoryStore>) -> Self {
        self.history = Some(history);
        self
    }

    /// Answer `GET /status`: 401 without the right credentials (no state
    /// read), else the page, one state read per formation.
    pub async fn handle(&self, request: &Request, now: DateTime<Utc>) -> Response {
        if let Err(failure) = basic_auth::check(request.header("authorization"), &self.credentials)
        {
            tracing::info!(failure = failure.as_str(), "GET /status: not authenticated");
            return Response::unauthorized().with_header("cache-control", "no-store");
        }
        let statuses = engine::status(&self.formations, self.store.as_ref()).await;
        let extras = match &self.history {
            Some(history) => {
                recorded_extras(&self.formations, history.as_ref(), self.store.as_ref(), now).await
            }
            None => Default::default(),
        };
        let view = build_view(&self.formations, &statuses, &extras, now, self.dry_run);
        Response::new(200, render(&view))
            .with_header("content-type", CONTENT_TYPE)
            .with_header("cache-control", "no-store")
    }
}
