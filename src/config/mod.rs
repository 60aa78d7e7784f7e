//! The TOML config: parsed once at start into validated domain values.
//!
//! Every problem is reported with its field path, all at once (see [`reader`]).
//! Defaults are the constants in [`defaults`]; the README's configuration
//! reference lists the same values.

mod reader;
mod secret;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use chrono_tz::Tz;
use serde_json::json;

use crate::domain::{InputPolicy, Policy, Rule};
use crate::inputs::{input_type, SourceSpec, INPUT_TYPES};

pub use reader::{FieldError, Fields};
pub use secret::{EnvSecrets, SecretRef, SecretResolver};

/// The demo config embedded in the binary: a sine input, file state, dry run.
pub const DEMO_CONFIG: &str = include_str!("../../infra/demo.toml");

/// Default values, in one place.
pub mod defaults {
    use chrono::TimeDelta;

    pub const MIN: u32 = 1;
    pub const SCALE_UP_COOLOFF: TimeDelta = TimeDelta::zero();
    pub const SCALE_DOWN_COOLOFF: TimeDelta = TimeDelta::seconds(300);
    pub const MAX_STEP_DOWN: u32 = 1;
    pub const HYSTERESIS: TimeDelta = TimeDelta::seconds(300);
    pub const FALLBACK_AFTER: TimeDelta = TimeDelta::seconds(600);
    pub const INTERVAL: TimeDelta = TimeDelta::seconds(60);
    pub const TIMEOUT: TimeDelta = TimeDelta::seconds(10);
    pub const FETCH_DEADLINE: TimeDelta = TimeDelta::seconds(25);
    pub const STATE_PATH: &str = ".dynopilot/state.json";
    pub const TIME_ZONE: &str = "UTC";
}

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
    pub formations: Vec<FormationConfig>,
}

/// Where state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateConfig {
    /// One JSON file, written atomically.
    File { path: PathBuf },
    /// In memory, lost at exit (tests, one-off runs).
    Memory,
}

/// What changes dyno counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScalerConfig {
    /// Quantities kept in the state file: a stand-in for Heroku to try policies.
    Local,
}

/// When and where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationConfig {
    /// Mail on every scale (default off: it gets noisy).
    pub on_scale: bool,
    /// Mail when a scale call fails (default on).
    pub on_scale_failed: bool,
    /// Sender address, for mail notifiers.
    pub from: Option<String>,
    /// Recipients, for mail notifiers.
    pub to: Vec<String>,
}

/// One Heroku process type and how to scale it.
#[derive(Debug)]
pub struct FormationConfig {
    /// Unique name used in reports and events; default `app/type`.
    pub name: String,
    pub app: String,
    pub process_type: String,
    pub policy: Policy,
    pub inputs: Vec<InputConfig>,
}

impl FormationConfig {
    /// The state key, `app#type`.
    pub fn key(&self) -> String {
        format!("{}#{}", self.app, self.process_type)
    }
}

/// One input of a formation.
#[derive(Debug)]
pub struct InputConfig {
    pub name: String,
    pub type_name: &'static str,
    pub interval: TimeDelta,
    /// How long one poll may take.
    pub timeout: TimeDelta,
    pub spec: Box<dyn SourceSpec>,
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
    let sink = reader::Sink::default();
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
    let fetch_deadline = top.duration_or("fetch_deadline", defaults::FETCH_DEADLINE);
    if fetch_deadline <= TimeDelta::zero() {
        top.error("fetch_deadline", "must be > 0");
    }
    let state = read_state(top);
    let scaler = read_scaler(top);
    let notifications = read_notifications(top);

    let mut formations = Vec::new();
    let has_formations = top.has("formations");
    match top.tables("formations") {
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
                let formation = read_formation(&mut f);
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
    Some(Config {
        dry_run,
        time_zone: time_zone?,
        fetch_deadline,
        state: state?,
        scaler: scaler?,
        notifications: notifications?,
        formations,
    })
}

fn read_time_zone(top: &mut Fields) -> Option<Tz> {
    let name = top
        .opt_str("time_zone")
        .unwrap_or_else(|| defaults::TIME_ZONE.to_string());
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

fn read_state(top: &mut Fields) -> Option<StateConfig> {
    let present = top.has("state");
    let Some(mut t) = top.opt_table("state") else {
        if present {
            return None;
        }
        return Some(StateConfig::File {
            path: PathBuf::from(defaults::STATE_PATH),
        });
    };
    let kind = t.opt_str("kind").unwrap_or_else(|| "file".to_string());
    let state = match kind.as_str() {
        "file" => Some(StateConfig::File {
            path: PathBuf::from(
                t.opt_str("path")
                    .unwrap_or_else(|| defaults::STATE_PATH.to_string()),
            ),
        }),
        "memory" => Some(StateConfig::Memory),
        other => {
            t.error(
                "kind",
                format!("unknown state kind {other:?} (file, memory)"),
            );
            None
        }
    };
    t.finish();
    state
}

fn read_scaler(top: &mut Fields) -> Option<ScalerConfig> {
    let present = top.has("scaler");
    let Some(mut t) = top.opt_table("scaler") else {
        return (!present).then_some(ScalerConfig::Local);
    };
    let kind = t.opt_str("kind").unwrap_or_else(|| "local".to_string());
    let scaler = match kind.as_str() {
        "local" => Some(ScalerConfig::Local),
        other => {
            t.error("kind", format!("unknown scaler kind {other:?} (local)"));
            None
        }
    };
    t.finish();
    scaler
}

fn read_notifications(top: &mut Fields) -> Option<NotificationConfig> {
    let default = NotificationConfig {
        on_scale: false,
        on_scale_failed: true,
        from: None,
        to: Vec::new(),
    };
    let present = top.has("notifications");
    let Some(mut t) = top.opt_table("notifications") else {
        return (!present).then_some(default);
    };
    let config = NotificationConfig {
        on_scale: t.bool_or("on_scale", default.on_scale),
        on_scale_failed: t.bool_or("on_scale_failed", default.on_scale_failed),
        from: t.opt_str("from"),
        to: t.opt_str_list("to").unwrap_or_default(),
    };
    for (i, to) in config.to.iter().enumerate() {
        if !to.contains('@') {
            t.error(
                &format!("to[{i}]"),
                format!("{to:?} is not an email address"),
            );
        }
    }
    if let Some(from) = &config.from {
        if !from.contains('@') {
            t.error("from", format!("{from:?} is not an email address"));
        }
    }
    t.finish();
    Some(config)
}

/// Heroku app names: `^[a-z][a-z0-9-]{1,28}[a-z0-9]$`, or an app UUID.
fn valid_app(name: &str) -> bool {
    let b = name.as_bytes();
    let is_name = (3..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    let is_uuid = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (*c == b'-') && (*c == b'-' || c.is_ascii_hexdigit())
        });
    is_name || is_uuid
}

/// Heroku process types: `^[-\w]{1,128}$`.
fn valid_process_type(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn read_formation(f: &mut Fields) -> Option<FormationConfig> {
    let app = f.req_str("app");
    if let Some(app) = &app {
        if !valid_app(app) {
            f.error("app", format!("{app:?} is not a Heroku app name (lowercase letters, digits and dashes, 3-30 chars) or app id"));
        }
    }
    let process_type = f.req_str("type");
    if let Some(t) = &process_type {
        if !valid_process_type(t) {
            f.error(
                "type",
                format!("{t:?} is not a process type (letters, digits, _ and -)"),
            );
        }
    }
    let name = f.opt_str("name");
    let min = f.opt_count("min").unwrap_or(defaults::MIN);
    let has_max = f.has("max");
    let max = f.opt_count("max");
    if !has_max {
        f.error(
            "max",
            "is required (the most dynos you are willing to pay for)",
        );
    }
    if let Some(max) = max {
        if min > max {
            f.error(
                "min",
                format!("min ({min}) must not be greater than max ({max})"),
            );
        }
    }
    let scale_up_cooloff = f.duration_or("scale_up_cooloff", defaults::SCALE_UP_COOLOFF);
    let scale_down_cooloff = f.duration_or("scale_down_cooloff", defaults::SCALE_DOWN_COOLOFF);
    let max_step_up = read_step(f, "max_step_up", None);
    let max_step_down = read_step(f, "max_step_down", Some(defaults::MAX_STEP_DOWN));
    let hysteresis = f.duration_or("hysteresis", defaults::HYSTERESIS);
    let fallback_after = f.duration_or("fallback_after", defaults::FALLBACK_AFTER);
    let fallback = f.opt_count("fallback");
    if let (Some(fallback), Some(max)) = (fallback, max) {
        if fallback < min || fallback > max {
            f.error(
                "fallback",
                format!("must be within min..max ({min}..{max}), found {fallback}"),
            );
        }
    }

    let mut inputs = Vec::new();
    let has_inputs = f.has("inputs");
    match f.tables("inputs") {
        None if !has_inputs => f.error("inputs", "at least one [[formations.inputs]] is required"),
        None => {}
        Some(tables) if tables.is_empty() => {
            f.error("inputs", "at least one [[formations.inputs]] is required")
        }
        Some(tables) => {
            let mut names = BTreeSet::new();
            for mut t in tables {
                let input = read_input(&mut t);
                if let Some((input, _)) = &input {
                    if !names.insert(input.name.clone()) {
                        t.error("name", format!("duplicate input name {:?}", input.name));
                    }
                }
                t.finish();
                inputs.extend(input);
            }
        }
    }

    let app = app?;
    let process_type = process_type?;
    let (input_policies, input_configs): (Vec<_>, Vec<_>) = inputs
        .into_iter()
        .map(|(config, rule)| {
            (
                InputPolicy {
                    name: config.name.clone(),
                    interval: config.interval,
                    rule,
                },
                config,
            )
        })
        .unzip();
    Some(FormationConfig {
        name: name.unwrap_or_else(|| format!("{app}/{process_type}")),
        app,
        process_type,
        policy: Policy {
            min,
            max: max?,
            scale_up_cooloff,
            scale_down_cooloff,
            max_step_up: max_step_up?,
            max_step_down: max_step_down?,
            hysteresis,
            fallback_after,
            fallback,
            inputs: input_policies,
        },
        inputs: input_configs,
    })
}

/// A step limit: a count >= 1, or `"unlimited"`. `None` when invalid.
fn read_step(f: &mut Fields, key: &str, default: Option<u32>) -> Option<Option<u32>> {
    if f.has(key) {
        // Accept the word "unlimited" explicitly, since 0 would freeze the formation.
        if let Some(word) = peek_str(f, key) {
            if word == "unlimited" {
                let _ = f.opt_str(key);
                return Some(None);
            }
        }
    }
    let present = f.has(key);
    match f.opt_count(key) {
        Some(0) => {
            f.error(key, "must be >= 1 (or \"unlimited\"); 0 would never scale");
            None
        }
        Some(n) => Some(Some(n)),
        None if present => None,
        None => Some(default),
    }
}

fn peek_str(f: &Fields, key: &str) -> Option<String> {
    f.peek(key).and_then(|v| v.as_str().map(str::to_string))
}

fn read_input(t: &mut Fields) -> Option<(InputConfig, Rule)> {
    let name = t.req_str("name");
    let type_name = t.req_str("type");
    let interval = t.duration_or("interval", defaults::INTERVAL);
    if interval <= TimeDelta::zero() {
        t.error("interval", "must be > 0");
    }
    let timeout = t.duration_or("timeout", defaults::TIMEOUT);
    if timeout <= TimeDelta::zero() {
        t.error("timeout", "must be > 0");
    }
    let rule_name = t.opt_str("rule").unwrap_or_else(|| "capacity".to_string());
    let kind = type_name.as_deref().and_then(|n| {
        let found = input_type(n);
        if found.is_none() {
            let known: Vec<&str> = INPUT_TYPES.iter().map(|t| t.name).collect();
            t.error(
                "type",
                format!("unknown input type {n:?} (known: {})", known.join(", ")),
            );
        }
        found
    });
    let kind = kind?;
    let rule = match rule_name.as_str() {
        "capacity" => {
            let present = t.has(kind.per_dyno_key);
            let per_dyno = t.opt_positive(kind.per_dyno_key);
            let per_dyno = if present {
                per_dyno
            } else {
                kind.default_per_dyno
            };
            if per_dyno.is_none() && !present {
                t.error(
                    kind.per_dyno_key,
                    "is required: the load one dyno can serve",
                );
            }
            per_dyno.map(|per_dyno| Rule::Capacity { per_dyno })
        }
        other => {
            t.error("rule", format!("unknown rule {other:?} (capacity)"));
            None
        }
    };
    let spec = (kind.parse)(t);
    if let Some(spec) = &spec {
        if let Err((key, message)) = spec.check_timeout(timeout) {
            t.error(key, message);
        }
    }
    Some((
        InputConfig {
            name: name?,
            type_name: kind.name,
            interval,
            timeout,
            spec: spec?,
        },
        rule?,
    ))
}

impl Config {
    /// A normalized view with every default filled in, for `check-config`.
    /// Holds secret references, never secret values.
    pub fn describe(&self) -> serde_json::Value {
        let secs = |d: TimeDelta| d.num_seconds();
        json!({
            "dry_run": self.dry_run,
            "time_zone": self.time_zone.name(),
            "fetch_deadline_s": secs(self.fetch_deadline),
            "state": match &self.state {
                StateConfig::File { path } => json!({"kind": "file", "path": path.display().to_string()}),
                StateConfig::Memory => json!({"kind": "memory"}),
            },
            "scaler": match &self.scaler { ScalerConfig::Local => json!({"kind": "local"}) },
            "notifications": {
                "on_scale": self.notifications.on_scale,
                "on_scale_failed": self.notifications.on_scale_failed,
                "from": self.notifications.from,
                "to": self.notifications.to,
            },
            "formations": self.formations.iter().map(|f| {
                let p = &f.policy;
                json!({
                    "name": f.name, "app": f.app, "type": f.process_type,
                    "min": p.min, "max": p.max,
                    "scale_up_cooloff_s": secs(p.scale_up_cooloff),
                    "scale_down_cooloff_s": secs(p.scale_down_cooloff),
                    "max_step_up": p.max_step_up.map_or(json!("unlimited"), |s| json!(s)),
                    "max_step_down": p.max_step_down.map_or(json!("unlimited"), |s| json!(s)),
                    "hysteresis_s": secs(p.hysteresis),
                    "fallback_after_s": secs(p.fallback_after),
                    "fallback": p.fallback,
                    "inputs": f.inputs.iter().zip(&p.inputs).map(|(i, ip)| json!({
                        "name": i.name, "type": i.type_name,
                        "interval_s": secs(i.interval), "timeout_s": secs(i.timeout),
                        "rule": match &ip.rule { Rule::Capacity { per_dyno } => json!({"capacity": {"per_dyno": per_dyno}}) },
                        "settings": format!("{:?}", i.spec),
                    })).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
        })
    }
}
