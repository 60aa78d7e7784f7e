//! The TOML config: parsed once at start into validated domain values.
//!
//! Every problem is reported with its field path, all at once (see [`reader`]).
//! Defaults are the constants in [`defaults`]; the README's configuration
//! reference lists the same values.

mod reader;
mod secret;
mod ssm;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use chrono_tz::Tz;
use serde_json::json;

use crate::domain::{
    first_conflict, hhmm, parse_hhmm, AverageRule, Bound, ConsecutiveRule, InputPolicy, Per,
    Policy, Rule, Schedule, ScheduleEntry, TargetRule, TrendRule, TREND_MIN_SAMPLES,
};
use crate::inputs::{input_type, InputType, SourceSpec, INPUT_TYPES};

pub use reader::{FieldError, Fields};
pub use secret::{EnvSecrets, SecretRef, SecretResolver};
pub use ssm::{secret_references, SsmSecrets};

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

    /// An input's decision rule when it names none (Dynosaur's).
    pub const RULE: &str = "capacity";
    /// `consecutive`: slow samples in a row before adding dynos (autoscalebot).
    pub const FAILS_TO_SCALE_UP: u32 = 3;
    /// `consecutive`: fast samples in a row before removing dynos (autoscalebot).
    pub const PASSES_TO_SCALE_DOWN: u32 = 5;
    /// `consecutive`, `average`, `trend`: dynos added or removed per decision.
    pub const INCREMENT: u32 = 1;
    /// `average`: how many of the newest samples are averaged (autoscalebot 3.0).
    pub const AVERAGE_SAMPLES: u32 = 3;
    /// `trend`: how far back the mean and the slope look (Swop).
    pub const TREND_WINDOW: TimeDelta = TimeDelta::seconds(30 * 60);
    /// `trend`: mean response time (ms) above which it scales up.
    pub const TREND_HIGH: f64 = 1000.0;
    /// `trend`: mean response time (ms) below which it scales down unless rising.
    pub const TREND_LOW: f64 = 300.0;
    /// `trend`: slope (ms per minute) above which a mean inside the band scales up.
    pub const TREND_SLOPE_HIGH: f64 = 20.0;
    /// `trend`: slope (ms per minute) below which a mean inside the band scales down.
    pub const TREND_SLOPE_LOW: f64 = -20.0;
    /// `target`: dead band around the target, as a fraction (Kubernetes HPA's 0.1).
    pub const TARGET_TOLERANCE: f64 = 0.1;
    /// `target`: the value is per dyno (response time, load per dyno).
    pub const TARGET_PER: &str = "dyno";

    /// Largest sample count a rule may ask for (4 hours of one-minute polls):
    /// every sample is stored between invocations, and the state item is bounded.
    pub const MAX_RULE_SAMPLES: u32 = 240;
    /// Longest `trend` window, for the same reason.
    pub const MAX_TREND_WINDOW: TimeDelta = TimeDelta::seconds(6 * 3600);
    pub const HEROKU_BASE_URL: &str = crate::scaler::HEROKU_BASE_URL;
    pub const HEROKU_RETRY_BUDGET: TimeDelta = TimeDelta::seconds(10);

    /// `notifications`: an input failing this long is worth a mail.
    pub const INPUT_FAILING_AFTER: TimeDelta = TimeDelta::seconds(10 * 60);
    /// `notifications`: "too rapid" means more than this many scales ...
    pub const TOO_RAPID_SCALES: u32 = 6;
    /// ... within this window.
    pub const TOO_RAPID_WINDOW: TimeDelta = TimeDelta::seconds(60 * 60);
    /// `notifications`: the quantity must stay above the threshold this long.
    pub const QUANTITY_ABOVE_FOR: TimeDelta = TimeDelta::seconds(30 * 60);
    /// `notifications`: a condition that lasts is mailed again at most this often.
    pub const RENOTIFY_AFTER: TimeDelta = TimeDelta::seconds(6 * 3600);
    /// `metrics`: the CloudWatch namespace the deploy templates alarm on.
    pub const METRICS_NAMESPACE: &str = "Dynopilot";
    /// `heartbeat`: how long one ping may take.
    pub const HEARTBEAT_TIMEOUT: TimeDelta = TimeDelta::seconds(5);
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
    pub metrics: MetricsConfig,
    /// The dead-man's switch, when configured.
    pub heartbeat: Option<HeartbeatConfig>,
    pub formations: Vec<FormationConfig>,
}

/// Where state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateConfig {
    /// One JSON file, written atomically.
    File { path: PathBuf },
    /// In memory, lost at exit (tests, one-off runs).
    Memory,
    /// One DynamoDB item per formation (the Lambda function's store). The
    /// Lambda's `DYNOPILOT_TABLE` environment variable overrides `table`.
    DynamoDb { table: String },
}

/// What changes dyno counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScalerConfig {
    /// Quantities kept in the state file: a stand-in for Heroku to try policies.
    Local,
    /// The Heroku Platform API.
    Heroku {
        /// Reference to the API token (`env:`/`ssm:`), never the token.
        token: SecretRef,
        /// API root; only tests and proxies change it.
        base_url: String,
        /// How long one call may keep retrying 429/5xx answers.
        retry_budget: TimeDelta,
    },
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
    /// Mail while the combined estimate is above the `max` in force (default on:
    /// the cap is costing capacity).
    pub on_needs_above_max: bool,
    /// Mail while the combined estimate is below the `min` in force (default off).
    pub on_needs_below_min: bool,
    /// Mail when an input has failed for [`Self::input_failing_after`] (default on).
    pub on_input_failing: bool,
    pub input_failing_after: TimeDelta,
    /// Mail when more than `too_rapid_scales` scales happen within
    /// `too_rapid_window` (default off): a flapping policy.
    pub on_too_rapid: bool,
    pub too_rapid_scales: u32,
    pub too_rapid_window: TimeDelta,
    /// HireFire's alert: the quantity stayed above `quantity_above` for
    /// `quantity_above_for` (default off).
    pub on_quantity_above: bool,
    pub quantity_above: u32,
    pub quantity_above_for: TimeDelta,
    /// Debug: one mail per formation per invocation with the inputs (default off).
    pub on_measurement: bool,
    /// While a condition lasts, remind at most this often.
    pub renotify_after: TimeDelta,
}

/// `[metrics]`: CloudWatch Embedded Metric Format lines per invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Print EMF lines at all (default on; free unless CloudWatch Logs is not used).
    pub enabled: bool,
    /// CloudWatch namespace (default `Dynopilot`, which the deploy templates use).
    pub namespace: String,
    /// Dimension name carrying the formation's name (default `Formation`).
    pub formation_dimension: String,
    /// Dimension name carrying the input's name (default `Input`).
    pub input_dimension: String,
}

/// `[heartbeat]`: a URL pinged after each successful invocation, so a
/// healthchecks.io-style monitor notices when the autoscaler stops running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatConfig {
    pub url: HeartbeatUrl,
    pub method: HeartbeatMethod,
    pub timeout: TimeDelta,
}

/// Where the heartbeat goes. A ping URL often embeds its check's secret id, so
/// it may also be a secret reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatUrl {
    /// Written in the config (only `https://`, or `http://` for local tests).
    Plain(String),
    /// `env:NAME` or `ssm:/path`: resolved like the other secrets.
    Secret(SecretRef),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatMethod {
    Get,
    Post,
}

impl HeartbeatMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
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
    // Formations still get checked when the global zone is wrong (reported once).
    let default_tz = time_zone.unwrap_or(Tz::UTC);
    let fetch_deadline = top.duration_or("fetch_deadline", defaults::FETCH_DEADLINE);
    if fetch_deadline <= TimeDelta::zero() {
        top.error("fetch_deadline", "must be > 0");
    }
    let state = read_state(top);
    let scaler = read_scaler(top);
    let notifications = read_notifications(top);
    let metrics = read_metrics(top);
    let heartbeat = read_heartbeat(top);

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
                let formation = read_formation(&mut f, default_tz);
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
        metrics: metrics?,
        heartbeat: heartbeat?,
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
        "dynamodb" => {
            let table = t.req_str("table");
            if let Some(table) = &table {
                let ok = (3..=255).contains(&table.len())
                    && table
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if !ok {
                    t.error(
                        "table",
                        format!(
                            "{table:?} is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)"
                        ),
                    );
                }
            }
            table.map(|table| StateConfig::DynamoDb { table })
        }
        other => {
            t.error(
                "kind",
                format!("unknown state kind {other:?} (file, memory, dynamodb)"),
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
        "heroku" => read_heroku(&mut t),
        other => {
            t.error(
                "kind",
                format!("unknown scaler kind {other:?} (local, heroku)"),
            );
            None
        }
    };
    t.finish();
    scaler
}

fn read_heroku(t: &mut Fields) -> Option<ScalerConfig> {
    let token = match t.opt_str("token") {
        Some(text) => match SecretRef::parse(&text) {
            Ok(r) => Some(r),
            Err(e) => {
                t.error("token", e);
                None
            }
        },
        None => {
            if !t.has("token") {
                t.error(
                    "token",
                    "is required for the heroku scaler, e.g. \"env:HEROKU_API_TOKEN\"",
                );
            }
            None
        }
    };
    let base_url = t
        .opt_str("base_url")
        .unwrap_or_else(|| defaults::HEROKU_BASE_URL.to_string());
    let url_ok = reqwest::Url::parse(&base_url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if !url_ok {
        t.error(
            "base_url",
            format!("{base_url:?} is not an http(s) URL like \"https://api.heroku.com\""),
        );
    }
    let retry_budget = t.duration_or("retry_budget", defaults::HEROKU_RETRY_BUDGET);
    Some(ScalerConfig::Heroku {
        token: token?,
        base_url: url_ok.then_some(base_url)?,
        retry_budget,
    })
}

fn read_notifications(top: &mut Fields) -> Option<NotificationConfig> {
    let default = NotificationConfig {
        on_scale: false,
        on_scale_failed: true,
        from: None,
        to: Vec::new(),
        on_needs_above_max: true,
        on_needs_below_min: false,
        on_input_failing: true,
        input_failing_after: defaults::INPUT_FAILING_AFTER,
        on_too_rapid: false,
        too_rapid_scales: defaults::TOO_RAPID_SCALES,
        too_rapid_window: defaults::TOO_RAPID_WINDOW,
        on_quantity_above: false,
        quantity_above: 0,
        quantity_above_for: defaults::QUANTITY_ABOVE_FOR,
        on_measurement: false,
        renotify_after: defaults::RENOTIFY_AFTER,
    };
    let present = top.has("notifications");
    let Some(mut t) = top.opt_table("notifications") else {
        return (!present).then_some(default);
    };
    let quantity_above_set = t.has("quantity_above");
    let config = NotificationConfig {
        on_scale: t.bool_or("on_scale", default.on_scale),
        on_scale_failed: t.bool_or("on_scale_failed", default.on_scale_failed),
        from: t.opt_str("from"),
        to: t.opt_str_list("to").unwrap_or_default(),
        on_needs_above_max: t.bool_or("on_needs_above_max", default.on_needs_above_max),
        on_needs_below_min: t.bool_or("on_needs_below_min", default.on_needs_below_min),
        on_input_failing: t.bool_or("on_input_failing", default.on_input_failing),
        input_failing_after: t.duration_or("input_failing_after", default.input_failing_after),
        on_too_rapid: t.bool_or("on_too_rapid", default.on_too_rapid),
        too_rapid_scales: t
            .opt_count("too_rapid_scales")
            .unwrap_or(default.too_rapid_scales),
        too_rapid_window: t.duration_or("too_rapid_window", default.too_rapid_window),
        on_quantity_above: t.bool_or("on_quantity_above", default.on_quantity_above),
        quantity_above: t
            .opt_count("quantity_above")
            .unwrap_or(default.quantity_above),
        quantity_above_for: t.duration_or("quantity_above_for", default.quantity_above_for),
        on_measurement: t.bool_or("on_measurement", default.on_measurement),
        renotify_after: t.duration_or("renotify_after", default.renotify_after),
    };
    if config.on_quantity_above && !quantity_above_set {
        t.error(
            "quantity_above",
            "is required when on_quantity_above = true (the dyno count to alert above)",
        );
    }
    // The history keeps MAX_SCALE_EVENTS scales: a larger count could never be seen.
    if config.too_rapid_scales == 0
        || config.too_rapid_scales as usize >= crate::domain::MAX_SCALE_EVENTS
    {
        t.error(
            "too_rapid_scales",
            format!(
                "must be between 1 and {} (the stored scale history's length)",
                crate::domain::MAX_SCALE_EVENTS - 1
            ),
        );
    }
    if config.on_too_rapid && config.too_rapid_window <= TimeDelta::zero() {
        t.error("too_rapid_window", "must be > 0");
    }
    if config.renotify_after < TimeDelta::minutes(1) {
        t.error(
            "renotify_after",
            "must be at least 1m (one scheduled run), or reminders would go out every run",
        );
    }
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

fn read_metrics(top: &mut Fields) -> Option<MetricsConfig> {
    let default = MetricsConfig {
        enabled: true,
        namespace: defaults::METRICS_NAMESPACE.to_string(),
        formation_dimension: "Formation".to_string(),
        input_dimension: "Input".to_string(),
    };
    let present = top.has("metrics");
    let Some(mut t) = top.opt_table("metrics") else {
        return (!present).then_some(default);
    };
    let config = MetricsConfig {
        enabled: t.bool_or("enabled", default.enabled),
        namespace: t.opt_str("namespace").unwrap_or(default.namespace),
        formation_dimension: t
            .opt_str("formation_dimension")
            .unwrap_or(default.formation_dimension),
        input_dimension: t
            .opt_str("input_dimension")
            .unwrap_or(default.input_dimension),
    };
    // CloudWatch: namespaces are 1..=255 of [0-9A-Za-z.-_/#:] and may not
    // start with "AWS/"; dimension names are 1..=255 ASCII without a leading ':'.
    let namespace_ok = (1..=255).contains(&config.namespace.len())
        && config
            .namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c))
        && !config.namespace.starts_with("AWS/");
    if !namespace_ok {
        t.error(
            "namespace",
            format!(
                "{:?} is not a CloudWatch namespace (1-255 of letters, digits and . - _ / # : space; not AWS/...)",
                config.namespace
            ),
        );
    }
    for (key, name) in [
        ("formation_dimension", &config.formation_dimension),
        ("input_dimension", &config.input_dimension),
    ] {
        let ok = (1..=255).contains(&name.len())
            && name.is_ascii()
            && !name.starts_with(':')
            && ![
                "_aws",
                "Target",
                "Current",
                "ScaleEvents",
                "InputValue",
                "InputEstimate",
                "Decisions",
            ]
            .contains(&name.as_str());
        if !ok {
            t.error(
                key,
                format!("{name:?} is not a usable dimension name (1-255 ASCII, not a metric name)"),
            );
        }
    }
    if config.formation_dimension == config.input_dimension {
        t.error("input_dimension", "must differ from formation_dimension");
    }
    t.finish();
    Some(config)
}

fn read_heartbeat(top: &mut Fields) -> Option<Option<HeartbeatConfig>> {
    let present = top.has("heartbeat");
    let Some(mut t) = top.opt_table("heartbeat") else {
        return (!present).then_some(None);
    };
    let url = t.req_str("url").and_then(|text| {
        if text.starts_with("env:") || text.starts_with("ssm:") {
            match SecretRef::parse(&text) {
                Ok(r) => Some(HeartbeatUrl::Secret(r)),
                Err(e) => {
                    t.error("url", e);
                    None
                }
            }
        } else if reqwest::Url::parse(&text)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        {
            Some(HeartbeatUrl::Plain(text))
        } else {
            t.error(
                "url",
                "must be an https:// URL, or a reference \"env:NAME\" / \"ssm:/path\" holding one",
            );
            None
        }
    });
    let method = match t.opt_str("method").as_deref() {
        None => Some(HeartbeatMethod::Get),
        Some(m) if m.eq_ignore_ascii_case("GET") => Some(HeartbeatMethod::Get),
        Some(m) if m.eq_ignore_ascii_case("POST") => Some(HeartbeatMethod::Post),
        Some(m) => {
            t.error("method", format!("{m:?}: must be \"GET\" or \"POST\""));
            None
        }
    };
    let timeout = t.duration_or("timeout", defaults::HEARTBEAT_TIMEOUT);
    if timeout <= TimeDelta::zero() || timeout > TimeDelta::seconds(30) {
        t.error(
            "timeout",
            "must be > 0 and at most 30s (it runs inside the invocation)",
        );
    }
    t.finish();
    Some(Some(HeartbeatConfig {
        url: url?,
        method: method?,
        timeout,
    }))
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

fn read_formation(f: &mut Fields, default_tz: Tz) -> Option<FormationConfig> {
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
    let tz = read_formation_time_zone(f, default_tz);
    let has_min = f.has("min");
    let min = read_bound(f, "min", tz);
    let min = if has_min {
        min
    } else {
        Some(Bound::Fixed(defaults::MIN))
    };
    let has_max = f.has("max");
    let max = read_bound(f, "max", tz);
    if !has_max {
        f.error(
            "max",
            "is required (the most dynos you are willing to pay for)",
        );
    }
    if let (Some(min), Some(max)) = (&min, &max) {
        match first_conflict(min, max) {
            Some((None, lo, hi)) => f.error(
                "min",
                format!("min ({lo}) must not be greater than max ({hi})"),
            ),
            Some((Some(t), lo, hi)) => f.error(
                "min",
                format!(
                    "at {} ({}) min is {lo} but max is {hi}: min must not be greater than max at any time",
                    hhmm(t),
                    tz.name()
                ),
            ),
            None => {}
        }
    }
    let scale_up_cooloff = f.duration_or("scale_up_cooloff", defaults::SCALE_UP_COOLOFF);
    let scale_down_cooloff = f.duration_or("scale_down_cooloff", defaults::SCALE_DOWN_COOLOFF);
    let max_step_up = read_step(f, "max_step_up", None);
    let max_step_down = read_step(f, "max_step_down", Some(defaults::MAX_STEP_DOWN));
    let hysteresis = f.duration_or("hysteresis", defaults::HYSTERESIS);
    let fallback_after = f.duration_or("fallback_after", defaults::FALLBACK_AFTER);
    let fallback = f.opt_count("fallback");
    if let (Some(fallback), Some(min), Some(max)) = (fallback, &min, &max) {
        // Against the bounds' extremes: decide() clamps to the bounds in force,
        // so a fallback between a scheduled min's low and a max's high is usable.
        let (lo, hi) = (min.lowest(), max.highest());
        if fallback < lo || fallback > hi {
            f.error(
                "fallback",
                format!("must be within min..max ({lo}..{hi}), found {fallback}"),
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
            min: min?,
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
    let rule_name = t
        .opt_str("rule")
        .unwrap_or_else(|| defaults::RULE.to_string());
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
    let rule = read_rule(t, &rule_name, kind, interval);
    let mut spec = (kind.parse)(t);
    if let (Some(spec), Ok(timeout)) = (spec.as_mut(), timeout.to_std()) {
        spec.set_timeout(timeout);
    }
    if let Some(spec) = &spec {
        if let Err((key, message)) = spec.check_timeout(timeout) {
            t.error(key, message);
        }
    }
    reject_other_rules_keys(t, &rule_name, kind);
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

/// The keys each rule reads from the input table (capacity's key depends on
/// the input type). A key of another rule is refused by name rather than as an
/// anonymous "unknown key", since it usually means the wrong `rule`.
const RULE_KEYS: &[(&str, &[&str])] = &[
    (
        "consecutive",
        &[
            "min",
            "max",
            "fails_to_scale_up",
            "passes_to_scale_down",
            "increment",
        ],
    ),
    ("average", &["min", "max", "samples", "increment"]),
    (
        "trend",
        &[
            "window",
            "high",
            "low",
            "trend_high",
            "trend_low",
            "increment",
        ],
    ),
    ("target", &["target", "tolerance", "per"]),
];

const RULE_NAMES: &str = "capacity, consecutive, average, trend, target";

/// An input's `rule` and that rule's keys.
fn read_rule(
    t: &mut Fields,
    rule_name: &str,
    kind: &InputType,
    interval: TimeDelta,
) -> Option<Rule> {
    match rule_name {
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
        "consecutive" => {
            let band = read_band(t, ("min", None), ("max", None), true);
            let fails = read_rule_count(t, "fails_to_scale_up", defaults::FAILS_TO_SCALE_UP);
            let passes = read_rule_count(t, "passes_to_scale_down", defaults::PASSES_TO_SCALE_DOWN);
            let increment = read_rule_count(t, "increment", defaults::INCREMENT);
            let (min, max) = band?;
            Some(Rule::Consecutive(ConsecutiveRule {
                max,
                min,
                fails_to_scale_up: fails?,
                passes_to_scale_down: passes?,
                increment: increment?,
            }))
        }
        "average" => {
            let band = read_band(t, ("min", None), ("max", None), true);
            let samples = read_rule_count(t, "samples", defaults::AVERAGE_SAMPLES);
            let increment = read_rule_count(t, "increment", defaults::INCREMENT);
            let (min, max) = band?;
            Some(Rule::Average(AverageRule {
                max,
                min,
                samples: samples?,
                increment: increment?,
            }))
        }
        "trend" => {
            let window = t.duration_or("window", defaults::TREND_WINDOW);
            let needed = interval
                .checked_mul(TREND_MIN_SAMPLES as i32 - 1)
                .unwrap_or(TimeDelta::MAX);
            let window_ok = if window > defaults::MAX_TREND_WINDOW {
                t.error(
                    "window",
                    format!(
                        "must be at most {} (every sample in it is stored)",
                        humantime::format_duration(std::time::Duration::from_secs(
                            defaults::MAX_TREND_WINDOW.num_seconds() as u64
                        ))
                    ),
                );
                false
            } else if window < needed || window <= TimeDelta::zero() {
                t.error(
                    "window",
                    format!(
                        "must hold at least {TREND_MIN_SAMPLES} polls: at least {}s with interval {}s",
                        needed.num_seconds().max(1),
                        interval.num_seconds()
                    ),
                );
                false
            } else {
                true
            };
            let band = read_band(
                t,
                ("low", Some(defaults::TREND_LOW)),
                ("high", Some(defaults::TREND_HIGH)),
                true,
            );
            let slopes = read_band(
                t,
                ("trend_low", Some(defaults::TREND_SLOPE_LOW)),
                ("trend_high", Some(defaults::TREND_SLOPE_HIGH)),
                false,
            );
            let increment = read_rule_count(t, "increment", defaults::INCREMENT);
            let (low, high) = band?;
            let (trend_low, trend_high) = slopes?;
            window_ok.then_some(())?;
            Some(Rule::Trend(TrendRule {
                window,
                high,
                low,
                trend_high,
                trend_low,
                increment: increment?,
            }))
        }
        "target" => {
            let present = t.require(
                "target",
                ": the value you want each input to hold (per dyno, or per dyno of the total)",
            );
            let target = t.opt_positive("target");
            let tolerance = match t.opt_number("tolerance") {
                None => Some(defaults::TARGET_TOLERANCE),
                Some(v) if (0.0..1.0).contains(&v) => Some(v),
                Some(v) => {
                    t.error("tolerance", format!("must be >= 0 and < 1, found {v}"));
                    None
                }
            };
            let per = match t
                .opt_str("per")
                .unwrap_or_else(|| defaults::TARGET_PER.to_string())
                .as_str()
            {
                "dyno" => Some(Per::Dyno),
                "total" => Some(Per::Total),
                other => {
                    t.error(
                        "per",
                        format!("must be \"dyno\" or \"total\", found {other:?}"),
                    );
                    None
                }
            };
            present.then_some(())?;
            Some(Rule::Target(TargetRule {
                target: target?,
                tolerance: tolerance?,
                per: per?,
            }))
        }
        other => {
            t.error("rule", format!("unknown rule {other:?} ({RULE_NAMES})"));
            None
        }
    }
}

/// A `low < high` pair of thresholds; `positive` refuses values <= 0.
/// An inverted or empty band is reported at the low key.
fn read_band(
    t: &mut Fields,
    (low_key, low_default): (&str, Option<f64>),
    (high_key, high_default): (&str, Option<f64>),
    positive: bool,
) -> Option<(f64, f64)> {
    let read = |t: &mut Fields, key: &str, default: Option<f64>| {
        let present = t.has(key);
        let v = if positive {
            t.opt_positive(key)
        } else {
            t.opt_number(key)
        };
        match (v, present, default) {
            (Some(v), _, _) => Some(v),
            (None, false, Some(d)) => Some(d),
            (None, false, None) => {
                t.error(key, "is required");
                None
            }
            (None, true, _) => None,
        }
    };
    let low = read(t, low_key, low_default);
    let high = read(t, high_key, high_default);
    let (low, high) = (low?, high?);
    if low >= high {
        t.error(
            low_key,
            format!(
                "{low_key} ({low}) must be below {high_key} ({high}): the band is inverted or empty"
            ),
        );
        return None;
    }
    Some((low, high))
}

/// A rule's count: >= 1 and at most [`defaults::MAX_RULE_SAMPLES`].
fn read_rule_count(t: &mut Fields, key: &str, default: u32) -> Option<u32> {
    if let Some(i) = t.peek(key).and_then(toml::Value::as_integer) {
        if i < 1 {
            t.reject(key, format!("must be >= 1, found {i}"));
            return None;
        }
    }
    let present = t.has(key);
    match t.opt_count(key) {
        Some(0) => {
            t.error(key, "must be >= 1");
            None
        }
        Some(n) if n > defaults::MAX_RULE_SAMPLES => {
            t.error(
                key,
                format!(
                    "must be at most {} (every sample is stored between runs), found {n}",
                    defaults::MAX_RULE_SAMPLES
                ),
            );
            None
        }
        Some(n) => Some(n),
        None if present => None,
        None => Some(default),
    }
}

/// Refuse keys that belong to a rule other than the input's own.
fn reject_other_rules_keys(t: &mut Fields, rule_name: &str, kind: &InputType) {
    let own: &[&str] = RULE_KEYS
        .iter()
        .find(|(name, _)| *name == rule_name)
        .map_or(&[], |(_, keys)| keys);
    let mut others: Vec<(&str, &str)> = RULE_KEYS
        .iter()
        .flat_map(|(name, keys)| keys.iter().map(move |k| (*k, *name)))
        .collect();
    others.push((kind.per_dyno_key, "capacity"));
    for (key, owner) in others {
        if owner != rule_name && !own.contains(&key) && t.has(key) {
            t.reject(
                key,
                format!("unknown key for rule {rule_name:?}: {key} belongs to rule {owner:?}"),
            );
        }
    }
}

/// A formation's `time_zone`, defaulting to the global one.
fn read_formation_time_zone(f: &mut Fields, default_tz: Tz) -> Tz {
    let Some(name) = f.opt_str("time_zone") else {
        return default_tz;
    };
    name.parse::<Tz>().unwrap_or_else(|_| {
        f.error(
            "time_zone",
            format!("unknown IANA time zone {name:?} (e.g. \"Europe/Berlin\")"),
        );
        default_tz
    })
}

/// `min`/`max`: a count, or a table of `"HH:MM" = count` in the formation's zone.
fn read_bound(f: &mut Fields, key: &str, tz: Tz) -> Option<Bound> {
    match f.peek(key)? {
        toml::Value::Integer(_) => f.opt_count(key).map(Bound::Fixed),
        toml::Value::Table(_) => {
            let mut t = f.opt_table(key)?;
            let keys = t.keys();
            if keys.is_empty() {
                t.error_here(
                    "a schedule needs at least one \"HH:MM\" = n entry, e.g. { \"08:00\" = 3, \"18:00\" = 1 }",
                );
            }
            let mut entries = Vec::new();
            let mut ok = !keys.is_empty();
            for k in keys {
                match parse_hhmm(&k) {
                    None => {
                        t.reject(
                            &k,
                            format!("{k:?} is not a time of day: write \"HH:MM\", 00:00 to 23:59"),
                        );
                        ok = false;
                    }
                    Some(at) => match t.opt_count(&k) {
                        Some(value) => entries.push(ScheduleEntry { at, value }),
                        None => ok = false,
                    },
                }
            }
            t.finish();
            if !ok {
                return None;
            }
            match Schedule::new(tz, entries) {
                Ok(s) => Some(Bound::Schedule(s)),
                Err(e) => {
                    f.error(key, e.to_string());
                    None
                }
            }
        }
        _ => {
            f.reject(
                key,
                "must be a whole number or a schedule like { \"08:00\" = 3, \"18:00\" = 1 }",
            );
            None
        }
    }
}

fn bound_json(b: &Bound) -> serde_json::Value {
    match b {
        Bound::Fixed(n) => json!(n),
        Bound::Schedule(s) => json!({
            "time_zone": s.tz().name(),
            "schedule": s.entries().iter().map(|e| (hhmm(e.at), json!(e.value))).collect::<serde_json::Map<_, _>>(),
        }),
    }
}

fn rule_json(rule: &Rule) -> serde_json::Value {
    let secs = |d: TimeDelta| d.num_seconds();
    let settings = match rule {
        Rule::Capacity { per_dyno } => json!({"per_dyno": per_dyno}),
        Rule::Consecutive(r) => json!({
            "min": r.min, "max": r.max,
            "fails_to_scale_up": r.fails_to_scale_up,
            "passes_to_scale_down": r.passes_to_scale_down,
            "increment": r.increment,
        }),
        Rule::Average(r) => json!({
            "min": r.min, "max": r.max, "samples": r.samples, "increment": r.increment,
        }),
        Rule::Trend(r) => json!({
            "window_s": secs(r.window), "low": r.low, "high": r.high,
            "trend_low": r.trend_low, "trend_high": r.trend_high, "increment": r.increment,
        }),
        Rule::Target(r) => json!({
            "target": r.target, "tolerance": r.tolerance, "per": r.per.as_str(),
        }),
    };
    json!({ rule.name(): settings })
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
                StateConfig::DynamoDb { table } => json!({"kind": "dynamodb", "table": table}),
            },
            "scaler": match &self.scaler {
                ScalerConfig::Local => json!({"kind": "local"}),
                ScalerConfig::Heroku { token, base_url, retry_budget } => json!({
                    "kind": "heroku",
                    "token": token.describe(),
                    "base_url": base_url,
                    "retry_budget_s": secs(*retry_budget),
                }),
            },
            "notifications": {
                "on_scale": self.notifications.on_scale,
                "on_scale_failed": self.notifications.on_scale_failed,
                "from": self.notifications.from,
                "to": self.notifications.to,
                "on_needs_above_max": self.notifications.on_needs_above_max,
                "on_needs_below_min": self.notifications.on_needs_below_min,
                "on_input_failing": self.notifications.on_input_failing,
                "input_failing_after_s": secs(self.notifications.input_failing_after),
                "on_too_rapid": self.notifications.on_too_rapid,
                "too_rapid_scales": self.notifications.too_rapid_scales,
                "too_rapid_window_s": secs(self.notifications.too_rapid_window),
                "on_quantity_above": self.notifications.on_quantity_above,
                "quantity_above": self.notifications.quantity_above,
                "quantity_above_for_s": secs(self.notifications.quantity_above_for),
                "on_measurement": self.notifications.on_measurement,
                "renotify_after_s": secs(self.notifications.renotify_after),
            },
            "metrics": {
                "enabled": self.metrics.enabled,
                "namespace": self.metrics.namespace,
                "formation_dimension": self.metrics.formation_dimension,
                "input_dimension": self.metrics.input_dimension,
            },
            "heartbeat": self.heartbeat.as_ref().map(|h| json!({
                // A plain URL may carry the check's secret id: show only its host.
                "url": match &h.url {
                    HeartbeatUrl::Plain(u) => reqwest::Url::parse(u)
                        .ok()
                        .and_then(|u| u.host_str().map(|h| format!("{}://{h}/...", u.scheme())))
                        .unwrap_or_default(),
                    HeartbeatUrl::Secret(r) => r.describe(),
                },
                "method": h.method.as_str(),
                "timeout_s": secs(h.timeout),
            })),
            "formations": self.formations.iter().map(|f| {
                let p = &f.policy;
                json!({
                    "name": f.name, "app": f.app, "type": f.process_type,
                    "min": bound_json(&p.min), "max": bound_json(&p.max),
                    "retention_s": secs(p.retention()),
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
                        "rule": rule_json(&ip.rule),
                        "settings": format!("{:?}", i.spec),
                    })).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
        })
    }
}
