//! The TOML config: parsed once at start into validated domain values.
//!
//! Every problem is reported with its field path, all at once (the leaf walker
//! [`crate::fields`]). One file per concern, each owning its reader, its
//! defaults, its documented keys and its `describe`:
//! - this file: the top level (`dry_run`, `time_zone`, `fetch_deadline`);
//! - [`formation`] reads `[[formations]]` and their inputs (rules and input
//!   types come from their registries, [`crate::domain::RULES`] and
//!   [`crate::inputs::INPUT_TYPES`]);
//! - [`notifications`] reads `[notifications]`;
//! - [`drains`] reads `[[drains]]` (Heroku log drains per app);
//! - [`platform`] reads `[state]`, `[scaler]`, `[metrics]` and `[heartbeat]`;
//! - [`reference`] makes the docs' key tables from the keys of all of them.

pub mod addons;
pub mod drains;
pub mod formation;
pub mod notifications;
pub mod platform;
pub mod reference;
pub mod sizes;
pub mod status_page;

use std::collections::BTreeSet;
use std::path::Path;

use chrono::TimeDelta;
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::fields::{format_duration, KeyDoc};

pub use crate::fields::{FieldError, Fields};
pub use crate::secrets::{
    secret_references, EnvSecrets, MemorySecrets, SecretRef, SecretResolver, SsmSecrets,
};
pub use addons::{AddonConfig, AddonInputConfig, AddonInputKind};
pub use drains::DrainConfig;
pub use formation::{FormationConfig, InputConfig};
pub use notifications::NotificationConfig;
pub use platform::{
    HeartbeatConfig, HeartbeatMethod, HeartbeatUrl, MetricsConfig, ScalerConfig, StateConfig,
};
pub use status_page::StatusPageConfig;

/// The demo config embedded in the binary: a sine input, file state, dry run.
pub const DEMO_CONFIG: &str = include_str!("../../infra/demo.toml");

pub const FETCH_DEADLINE: TimeDelta = TimeDelta::seconds(25);
/// Longest fetch deadline: a Lambda invocation lasts at most 15 minutes.
pub const MAX_FETCH_DEADLINE: TimeDelta = TimeDelta::seconds(14 * 60);
pub const TIME_ZONE: &str = "UTC";

/// Top-level keys, for the docs (checked against [`Config::describe`]).
pub const KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "dry_run",
        Some("false"),
        "decide and report, never change a formation",
    ),
    KeyDoc::new(
        "time_zone",
        Some("\"UTC\""),
        "default IANA zone of schedules",
    ),
    KeyDoc::new(
        "fetch_deadline",
        Some("\"25s\""),
        "every input of a run must answer within this (at most 14m; on Lambda also cut to leave time before the deadline for Heroku and saving)",
    ),
];

/// The whole validated config.
#[derive(Debug)]
pub struct Config {
    /// Decide and report, but never change a formation.
    pub dry_run: bool,
    /// Default time zone for schedules.
    pub time_zone: Tz,
    /// All inputs of an invocation must answer within this; a source still busy
    /// then counts as timed out, so one slow API cannot eat the Lambda's budget.
    pub fetch_deadline: TimeDelta,
    pub state: StateConfig,
    pub scaler: ScalerConfig,
    pub notifications: NotificationConfig,
    pub metrics: MetricsConfig,
    /// The dead-man's switch, when configured.
    pub heartbeat: Option<HeartbeatConfig>,
    pub formations: Vec<FormationConfig>,
    /// Heroku log drains received by `dynopilot-http` (`[[drains]]`).
    pub drains: Vec<DrainConfig>,
    /// Add-ons whose plan follows their use (`[[addons]]`).
    pub addons: Vec<AddonConfig>,
    /// `GET /status`'s credentials (`[status_page]`); `None`: no page served.
    pub status_page: Option<StatusPageConfig>,
}

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {message}")]
    Read { path: String, message: String },
    #[error("config is not valid TOML: {0}")]
    Syntax(String),
    #[error("config has {} problem(s):\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FieldError>),
}

impl ConfigError {
    /// The field errors, if that is the kind of error.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid(errors) => errors,
            _ => &[],
        }
    }
}

/// Read and validate a config file.
///
/// # Errors
/// [`ConfigError`] with every problem found.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse(&text)
}

/// Validate a config text.
///
/// # Errors
/// [`ConfigError`] with every problem found.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
    let sink = crate::fields::Sink::default();
    let mut top = Fields::root(table, sink.clone());
    let config = read_config(&mut top);
    top.finish();
    let errors = sink.take();
    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ if errors.is_empty() => Err(ConfigError::Invalid(vec![FieldError {
            path: "(top level)".into(),
            message: "config is incomplete".into(),
        }])),
        _ => Err(ConfigError::Invalid(errors)),
    }
}

fn read_config(top: &mut Fields) -> Option<Config> {
    let dry_run = top.bool_or("dry_run", false);
    let time_zone = read_time_zone(top);
    // Formations still get checked when the global zone is wrong (reported once).
    let default_tz = time_zone.unwrap_or(Tz::UTC);
    let fetch_deadline = top.duration_within(
        "fetch_deadline",
        FETCH_DEADLINE,
        MAX_FETCH_DEADLINE,
        "a Lambda invocation lasts at most 15 minutes",
    );
    if fetch_deadline <= TimeDelta::zero() {
        top.error("fetch_deadline", "must be > 0");
    }
    let state = platform::read_state(top);
    let scaler = platform::read_scaler(top);
    let notifications = notifications::read(top);
    let metrics = platform::read_metrics(top);
    let heartbeat = platform::read_heartbeat(top);
    let drains = drains::read(top);
    let status_page = status_page::read(top, drains.as_deref());

    let addons = addons::read_all(top);
    let mut formations = Vec::new();
    let has_formations = top.has("formations");
    match top.tables("formations") {
        // A config may manage add-ons only.
        None if !has_formations && !addons.is_empty() => {}
        None if !has_formations => {
            top.error("formations", "at least one [[formations]] is required")
        }
        None => {}
        Some(tables) if tables.is_empty() => {
            top.error("formations", "at least one [[formations]] is required")
        }
        Some(tables) => {
            let mut names = BTreeSet::new();
            let mut pairs = BTreeSet::new();
            for mut f in tables {
                let formation = formation::read_formation(&mut f, default_tz);
                if let Some(formation) = &formation {
                    if !names.insert(formation.name.clone()) {
                        f.error(
                            "name",
                            format!("duplicate formation name {:?}", formation.name),
                        );
                    }
                    if !pairs.insert(formation.key()) {
                        f.error(
                            "type",
                            format!(
                                "formation {} {} is configured twice",
                                formation.app, formation.process_type
                            ),
                        );
                    }
                }
                f.finish();
                formations.extend(formation);
            }
        }
    }
    for (i, message) in sizes::check_apps(&formations) {
        top.error(&format!("formations[{i}].sizes"), message);
    }
    // `status`/`pause`/`resume` address formations and add-ons by name.
    for (i, a) in addons.iter().enumerate() {
        if formations.iter().any(|f| f.name == a.name) {
            top.error(
                &format!("addons[{i}].name"),
                format!(
                    "{:?} is also a formation's name: pause and resume address both by name",
                    a.name
                ),
            );
        }
    }
    Some(Config {
        dry_run,
        time_zone: time_zone?,
        fetch_deadline,
        state: state?,
        scaler: scaler?,
        notifications: notifications?,
        metrics: metrics?,
        heartbeat: heartbeat?,
        formations,
        drains: drains?,
        addons,
        status_page: status_page?,
    })
}

fn read_time_zone(top: &mut Fields) -> Option<Tz> {
    let name = top
        .opt_str("time_zone")
        .unwrap_or_else(|| TIME_ZONE.to_string());
    match name.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            top.error(
                "time_zone",
                format!("unknown IANA time zone {name:?} (e.g. \"Europe/Berlin\")"),
            );
            None
        }
    }
}

impl Config {
    /// The config as a user writes it, every default filled in (`check-config`).
    /// Holds secret references, never secret values.
    pub fn describe(&self) -> Value {
        let mut out = json!({
            "dry_run": self.dry_run,
            "time_zone": self.time_zone.name(),
            "fetch_deadline": format_duration(self.fetch_deadline),
            "state": self.state.describe(),
            "scaler": self.scaler.describe(),
            "notifications": self.notifications.describe(),
            "metrics": self.metrics.describe(),
            "heartbeat": self.heartbeat.as_ref().map(HeartbeatConfig::describe),
            "formations": self.formations.iter().map(FormationConfig::describe).collect::<Vec<_>>(),
            "drains": self.drains.iter().map(DrainConfig::describe).collect::<Vec<_>>(),
            "status_page": self.status_page.as_ref().map(StatusPageConfig::describe),
        });
        // Only when there are add-ons: a formations-only config reads as before.
        if !self.addons.is_empty() {
            out["addons"] = self.addons.iter().map(AddonConfig::describe).collect();
        }
        out
    }
}
