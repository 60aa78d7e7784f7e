//! The Lambda function: built once at cold start, then one call per event.
//!
//! Cold start reads the config (`DYNOPILOT_CONFIG` inline, or the file named
//! by `DYNOPILOT_CONFIG_FILE`), the AWS SDK config from the environment (a test
//! points it at the moto server with `AWS_ENDPOINT_URL`), resolves `ssm:`
//! secrets once, and builds the inputs, the DynamoDB store, the scaler and the
//! notifier. Each invocation then only parses its event and calls the engine.

pub mod events;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::config::{self, Config, StateConfig};
use crate::engine::{Engine, Invocation};
use crate::notify::{ConsoleNotifier, Notifier, SesNotifier};
use crate::secrets::{secret_references, SecretResolver, SsmSecrets};
use crate::store::DynamoDbStateStore;
use crate::wiring::{self, Assembled, Parts, StateBackend};

pub use events::{Command, EventError, Payload};

/// An error with a stable type label, as the Lambda runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    /// `InvalidEvent`, `UnknownFormation` or `StoreUnavailable`.
    pub error_type: &'static str,
    pub message: String,
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type.to_string(),
            error_message: e.message,
        }
    }
}

/// Everything built at cold start.
pub struct Function {
    engine: Engine,
    /// Where the EMF lines go (namespace and dimension names).
    metrics: crate::config::MetricsConfig,
}

/// Read the config text from the environment.
///
/// # Errors
/// When neither variable is set or the file cannot be read.
pub fn config_text() -> Result<String, String> {
    if let Ok(text) = std::env::var("DYNOPILOT_CONFIG") {
        if !text.trim().is_empty() {
            return Ok(text);
        }
    }
    let path = std::env::var("DYNOPILOT_CONFIG_FILE").map_err(|_| {
        "set DYNOPILOT_CONFIG (the TOML config) or DYNOPILOT_CONFIG_FILE (its path)".to_string()
    })?;
    std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read DYNOPILOT_CONFIG_FILE {path}: {e}"))
}

impl Function {
    /// Build everything from the environment (config text, AWS config, secrets).
    ///
    /// # Errors
    /// A message naming what is missing or invalid (never a secret value).
    pub async fn cold_start() -> Result<Self, String> {
        let text = config_text()?;
        let mut config = config::parse(&text).map_err(|e| e.to_string())?;
        if let Ok(namespace) = std::env::var("DYNOPILOT_METRICS_NAMESPACE") {
            if !namespace.trim().is_empty() {
                config.metrics.namespace = namespace;
            }
        }
        let aws = aws_config::load_from_env().await;
        let ssm = aws_sdk_ssm::Client::new(&aws);
        let secrets = SsmSecrets::load(&ssm, &secret_references(&text)).await?;
        let table = std::env::var("DYNOPILOT_TABLE")
            .ok()
            .filter(|t| !t.is_empty())
            .or(match &config.state {
                StateConfig::DynamoDb { table } => Some(table.clone()),
                _ => None,
            });
        let Some(table) = table else {
            return Err("the Lambda function keeps state in DynamoDB: set DYNOPILOT_TABLE or [state] kind = \"dynamodb\" with a table".into());
        };
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let history = Arc::new(crate::history::DynamoDbHistoryStore::new(
            dynamodb.clone(),
            table.clone(),
        ));
        let store = Arc::new(DynamoDbStateStore::new(dynamodb.clone(), table));
        let drain = Arc::new(crate::drain_store::DynamoDbDrainStore::new(
            dynamodb,
            store.table(),
        ));
        let notifier = notifier(&config, &aws);
        let function = Self::build_with_drain(config, &secrets, store, Some(drain), notifier)?;
        Ok(function.with_history(history))
    }

    /// Keep (and read, for `tune`) each formation's per-minute history there.
    #[must_use]
    pub fn with_history(mut self, history: Arc<dyn crate::history::HistoryStore>) -> Self {
        self.engine = self.engine.with_history(history);
        self
    }

    /// Build from parts (tests use this with their own store and notifier).
    ///
    /// # Errors
    /// When an input or the scaler cannot be built.
    pub fn build(
        config: Config,
        secrets: &dyn SecretResolver,
        store: Arc<dyn crate::store::StateStore>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Self, String> {
        Self::build_with_drain(config, secrets, store, None, notifier)
    }

    /// [`Self::build`] with the log-drain aggregates the drain inputs read.
    ///
    /// # Errors
    /// As [`Self::build`].
    pub fn build_with_drain(
        config: Config,
        secrets: &dyn SecretResolver,
        store: Arc<dyn crate::store::StateStore>,
        drain: Option<Arc<dyn crate::drain_store::DrainStore>>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Self, String> {
        let Assembled { engine, metrics } = wiring::assemble(
            config,
            Parts {
                secrets,
                state: StateBackend::Other(store),
                notifier,
                drain,
            },
        )?;
        Ok(Self { engine, metrics })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Handle one event.
    ///
    /// # Errors
    /// [`HandlerError`] for an invalid event, an unknown formation, or a store
    /// that cannot be reached for `status`/`pause`/`resume`. Problems during a
    /// run are in the returned report instead.
    pub async fn handle(
        &self,
        event: &Value,
        request_id: &str,
        deadline_ms: u64,
    ) -> Result<Value, HandlerError> {
        self.handle_at(event, request_id, deadline_ms, Utc::now())
            .await
    }

    /// [`Self::handle`] for a payload as the runtime delivers it: one that is
    /// not JSON is an `InvalidEvent` like any other bad event.
    ///
    /// # Errors
    /// As for [`Self::handle`].
    pub async fn handle_payload(
        &self,
        payload: &Payload,
        request_id: &str,
        deadline_ms: u64,
    ) -> Result<Value, HandlerError> {
        match payload {
            Payload::Json(event) => self.handle(event, request_id, deadline_ms).await,
            Payload::NotJson(why) => Err(HandlerError {
                error_type: "InvalidEvent",
                message: format!("invalid event: the event is not JSON ({why})"),
            }),
        }
    }

    /// [`Self::handle`] with the clock read by the caller (tests pass a fixed one).
    ///
    /// # Errors
    /// As for [`Self::handle`].
    pub async fn handle_at(
        &self,
        event: &Value,
        request_id: &str,
        deadline_ms: u64,
        clock: DateTime<Utc>,
    ) -> Result<Value, HandlerError> {
        let command = events::parse(event).map_err(|e| HandlerError {
            error_type: "InvalidEvent",
            message: e.to_string(),
        })?;
        let clock = clock.trunc_subsecs(0);
        // Measured against the clock of this process (the deadline is epoch
        // ms), then held as a monotonic instant for the engine's cuts.
        let deadline = remaining(deadline_ms, Utc::now().timestamp_millis())
            .map(|left| tokio::time::Instant::now() + left);
        let value = match command {
            Command::Scheduled { id, time } => {
                // The event's `time` only within a few minutes of the clock:
                // see `engine::event_now` for why a late event runs at the clock.
                let (now, clock_note) = crate::engine::event_now(time, clock);
                if let Some(note) = &clock_note {
                    tracing::warn!(
                        reason = note.reason,
                        offset_s = note.offset_s,
                        "{}",
                        note.note
                    );
                }
                let invocation = Invocation {
                    now,
                    event_id: Some(id.unwrap_or_else(|| request_id.to_string())),
                    dry_run: false,
                    formations: None,
                    deadline,
                    clock: clock_note,
                    now_checked: true,
                };
                self.run(&invocation).await
            }
            Command::Evaluate {
                dry_run,
                formations,
            } => {
                let invocation = Invocation {
                    now: clock,
                    event_id: Some(request_id.to_string()),
                    dry_run,
                    formations,
                    deadline,
                    clock: None,
                    now_checked: true,
                };
                self.run(&invocation).await
            }
            Command::Status => {
                let mut status = json!({ "formations": self.engine.status().await });
                let addons = self.engine.addon_status().await;
                if !addons.is_empty() {
                    status["addons"] = json!(addons);
                }
                status
            }
            // `formation` may name an add-on (`app/addon-name`) too.
            Command::Pause { formation, minutes } => {
                let until = clock + TimeDelta::minutes(minutes as i64);
                if self.engine.is_addon(&formation) {
                    json!({ "paused": self.engine.set_addon_pause(&formation, Some(until)).await.map_err(control_error)? })
                } else {
                    json!({ "paused": self.engine.set_pause(&formation, Some(until)).await.map_err(control_error)? })
                }
            }
            Command::Resume { formation } => {
                if self.engine.is_addon(&formation) {
                    json!({ "resumed": self.engine.set_addon_pause(&formation, None).await.map_err(control_error)? })
                } else {
                    json!({ "resumed": self.engine.set_pause(&formation, None).await.map_err(control_error)? })
                }
            }
            Command::Tune => {
                let report = self.engine.tune(clock, deadline).await;
                for f in &report.formations {
                    tracing::info!(formation = %f.name, outcome = f.outcome, parameters = f.parameters.source, "tune");
                }
                serde_json::to_value(&report).unwrap_or_else(
                    |e| json!({ "error": format!("cannot encode the report: {e}") }),
                )
            }
        };
        Ok(value)
    }

    async fn run(&self, invocation: &Invocation) -> Value {
        let report = self.engine.invoke(invocation).await;
        // CloudWatch turns these stdout lines into metrics (Embedded Metric
        // Format): free dashboards and alarms, no PutMetricData permission.
        for line in crate::metrics::emf_lines(&report, &self.metrics) {
            println!("{line}");
        }
        for f in &report.formations {
            tracing::info!(
                formation = %f.name,
                outcome = f.outcome.as_str(),
                current = f.current,
                target = f.target,
                reason = f.reason.as_ref().map_or("-", |r| r.code.as_str()),
                "formation"
            );
        }
        serde_json::to_value(&report)
            .unwrap_or_else(|e| json!({ "error": format!("cannot encode the report: {e}") }))
    }
}

fn control_error(e: crate::engine::ControlError) -> HandlerError {
    match e {
        crate::engine::ControlError::UnknownFormation(_) => HandlerError {
            error_type: "UnknownFormation",
            message: e.to_string(),
        },
        crate::engine::ControlError::Store(_) => HandlerError {
            error_type: "StoreUnavailable",
            message: e.to_string(),
        },
    }
}

/// Time left before the Lambda deadline; the engine shares it out so that
/// state is saved before the function is killed. `None` (only the config's
/// timeouts apply) when the deadline is not a plausible epoch time: `cargo
/// lambda watch` sends `600000`, and no function runs longer than 15 minutes.
pub fn remaining(deadline_ms: u64, now_ms: i64) -> Option<Duration> {
    let remaining = i64::try_from(deadline_ms).ok()? - now_ms;
    if remaining <= 0 || remaining > 15 * 60 * 1000 {
        return None;
    }
    Some(Duration::from_millis(remaining as u64))
}

/// SES when a sender and recipients are configured (the environment's
/// `DYNOPILOT_SES_FROM`/`DYNOPILOT_SES_TO` override the config), else the log.
fn notifier(config: &Config, aws: &aws_config::SdkConfig) -> Arc<dyn Notifier> {
    let from = std::env::var("DYNOPILOT_SES_FROM")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| config.notifications.from.clone());
    let to: Vec<String> = match std::env::var("DYNOPILOT_SES_TO") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => config.notifications.to.clone(),
    };
    match from {
        Some(from) if !to.is_empty() => {
            Arc::new(SesNotifier::new(aws_sdk_sesv2::Client::new(aws), from, to))
        }
        _ => Arc::new(ConsoleNotifier),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulators_bogus_deadline_falls_back_to_the_config() {
        assert_eq!(remaining(600_000, 1_760_000_000_000), None);
    }

    #[test]
    fn a_real_deadline_gives_the_time_left() {
        let now = 1_760_000_000_000;
        assert_eq!(
            remaining((now + 30_000) as u64, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(remaining((now - 1) as u64, now), None);
    }
}
