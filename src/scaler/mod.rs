//! Port `Scaler`: reads and changes dyno counts of a platform.
//!
//! Shaped after the Heroku Platform API: one read returns every process type of
//! an app (`GET /apps/{app}/formation`), one write changes several at once (the
//! batch `PATCH`). The platform's count is the truth: a manual `heroku
//! ps:scale` shows up as the current count and is decided from, not fought.

mod addons;
mod app;
mod heroku;
mod local;
mod memory;
mod simulated;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;

pub use addons::{AddonInfo, AddonPlans, AddonRef, MemoryAddons, PlanCall};
pub use heroku::{HerokuScaler, DEFAULT_BASE_URL as HEROKU_BASE_URL, LOW_RATE_LIMIT};
pub use local::LocalScaler;
pub use memory::{MemoryScaler, ScaleCall};
pub use simulated::SimulatedScaler;

/// One process type's new count, and its new dyno size when that changes
/// too (count and size go in one update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuantityChange {
    pub process_type: String,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

/// One process type as read: its count and, where the platform says, its
/// dyno size (as the platform names it, e.g. `Standard-1X`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormationRead {
    pub quantity: u32,
    pub size: Option<String>,
}

/// An app's generation as the platform answered it (contracts-round2 §15.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "as", content = "name")]
pub enum AppGeneration {
    /// The name given, as a string (`"fir"`) or as an object's `name`
    /// (`{"id": …, "name": "cedar"}`).
    Named(String),
    /// The answer has no `generation` (or `null`).
    Unreported,
}

/// Stable labels for scale failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleErrorKind {
    /// Token missing, invalid or expired (401).
    Unauthorized,
    /// No access, or the account or app is suspended (402/403).
    Forbidden,
    /// No such app or process type (404).
    NotFound,
    /// The platform refused the change, e.g. above the account's dyno limit (422).
    Rejected,
    /// Rate limit exhausted (429) after the retries that fit.
    RateLimited,
    /// 5xx or unreachable after the retries that fit.
    Unavailable,
    /// Injected by a test, or anything else.
    Other,
}

impl ScaleErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Rejected => "rejected",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Other => "other",
        }
    }
}

/// A failed read or scale. The message never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}", kind = .kind.as_str())]
pub struct ScaleError {
    pub kind: ScaleErrorKind,
    pub message: String,
}

impl ScaleError {
    /// `message` is redacted ([`crate::redact`]): Heroku's error bodies are
    /// quoted in it.
    pub fn new(kind: ScaleErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: crate::redact::redact(&message.into()),
        }
    }
}

/// A platform's budget of API calls, as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    /// Calls left in the account's pool (Heroku's `RateLimit-Remaining`);
    /// `None` until the platform has said.
    pub remaining: Option<u64>,
}

/// Port: a platform's dyno counts.
///
/// Contract: `formation` returns the current count of every process type of
/// `app`; `scale` sets the given counts in one request and either all of them
/// take effect or it fails. Neither retries beyond what fits in a few seconds.
#[async_trait]
pub trait Scaler: Send + Sync {
    /// # Errors
    /// A [`ScaleError`] when the counts cannot be read.
    async fn formation(&self, app: &str) -> Result<BTreeMap<String, u32>, ScaleError>;

    /// Like [`Self::formation`], with each process type's dyno size where
    /// the platform reports one (the default: none, from `formation`).
    ///
    /// # Errors
    /// A [`ScaleError`] when the formation cannot be read.
    async fn formation_detail(
        &self,
        app: &str,
    ) -> Result<BTreeMap<String, FormationRead>, ScaleError> {
        Ok(self
            .formation(app)
            .await?
            .into_iter()
            .map(|(t, quantity)| {
                (
                    t,
                    FormationRead {
                        quantity,
                        size: None,
                    },
                )
            })
            .collect())
    }

    /// # Errors
    /// A [`ScaleError`] when the change was not made.
    async fn scale(&self, app: &str, changes: &[QuantityChange]) -> Result<(), ScaleError>;

    /// The app's generation, read for formations with a size ladder (Heroku:
    /// `GET /apps/{app}`). `Ok(None)`, the default: the platform has no
    /// generations, so there is nothing to check sizes against.
    ///
    /// # Errors
    /// A [`ScaleError`] when the app cannot be read.
    async fn generation(&self, app: &str) -> Result<Option<AppGeneration>, ScaleError> {
        let _ = app;
        Ok(None)
    }

    /// The platform's API call budget, when calls are rationed: then the
    /// engine paces its reads to it ([`crate::engine::pacing`]). `None` (the
    /// default): reads are free, every run reads every app.
    fn call_budget(&self) -> Option<CallBudget> {
        None
    }
}
