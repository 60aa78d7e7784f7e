//! Platform sections: `[state]` (where state lives), `[scaler]` (what changes
//! dyno counts), `[metrics]` (CloudWatch EMF lines) and `[heartbeat]`.

use std::path::PathBuf;

use chrono::TimeDelta;
use serde_json::{json, Value};

use crate::fields::{format_duration, Fields, KeyDoc};
use crate::secrets::SecretRef;

pub const STATE_PATH: &str = ".dynopilot/state.json";
pub const HEROKU_BASE_URL: &str = crate::scaler::HEROKU_BASE_URL;
pub const HEROKU_RETRY_BUDGET: TimeDelta = TimeDelta::seconds(10);
/// Longest retry budget: retries run inside one invocation.
pub const MAX_RETRY_BUDGET: TimeDelta = TimeDelta::seconds(60);
/// The CloudWatch namespace the deploy templates alarm on.
pub const METRICS_NAMESPACE: &str = "Dynopilot";
/// How long one heartbeat ping may take.
pub const HEARTBEAT_TIMEOUT: TimeDelta = TimeDelta::seconds(5);

/// `[state]` keys.
pub const STATE_KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "kind",
        Some("\"file\""),
        "\"file\", \"memory\" or \"dynamodb\"",
    ),
    KeyDoc::new(
        "path",
        Some("\".dynopilot/state.json\""),
        "kind = \"file\": the JSON file",
    ),
    KeyDoc::new(
        "table",
        None,
        "kind = \"dynamodb\": the table (the Lambda's DYNOPILOT_TABLE overrides it)",
    ),
];

/// `[scaler]` keys.
pub const SCALER_KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "kind",
        Some("\"local\""),
        "\"local\" (counts in the state file) or \"heroku\"",
    ),
    KeyDoc::new(
        "token",
        None,
        "kind = \"heroku\": the API token's reference, \"env:NAME\" or \"ssm:/path\"",
    ),
    KeyDoc::new(
        "base_url",
        Some("\"https://api.heroku.com\""),
        "kind = \"heroku\": API root (tests and proxies)",
    ),
    KeyDoc::new(
        "retry_budget",
        Some("\"10s\""),
        "kind = \"heroku\": how long one call may retry 429/5xx (at most 1m)",
    ),
];

/// `[metrics]` keys.
pub const METRICS_KEYS: &[KeyDoc] = &[
    KeyDoc::new("enabled", Some("true"), "print CloudWatch EMF lines"),
    KeyDoc::new("namespace", Some("\"Dynopilot\""), "CloudWatch namespace"),
    KeyDoc::new(
        "formation_dimension",
        Some("\"Formation\""),
        "dimension carrying the formation's name",
    ),
    KeyDoc::new(
        "input_dimension",
        Some("\"Input\""),
        "dimension carrying the input's name",
    ),
];

/// `[heartbeat]` keys.
pub const HEARTBEAT_KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "url",
        None,
        "https:// URL, or a reference \"env:NAME\" / \"ssm:/path\" holding one",
    ),
    KeyDoc::new("method", Some("\"GET\""), "\"GET\" or \"POST\""),
    KeyDoc::new(
        "timeout",
        Some("\"5s\""),
        "how long one ping may take (at most 30s)",
    ),
];

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

impl StateConfig {
    pub fn describe(&self) -> Value {
        match self {
            Self::File { path } => json!({"kind": "file", "path": path.display().to_string()}),
            Self::Memory => json!({"kind": "memory"}),
            Self::DynamoDb { table } => json!({"kind": "dynamodb", "table": table}),
        }
    }
}

impl ScalerConfig {
    pub fn describe(&self) -> Value {
        match self {
            Self::Local => json!({"kind": "local"}),
            Self::Heroku {
                token,
                base_url,
                retry_budget,
            } => json!({
                "kind": "heroku",
                "token": token.describe(),
                "base_url": base_url,
                "retry_budget": format_duration(*retry_budget),
            }),
        }
    }
}

impl MetricsConfig {
    pub fn describe(&self) -> Value {
        json!({
            "enabled": self.enabled,
            "namespace": self.namespace,
            "formation_dimension": self.formation_dimension,
            "input_dimension": self.input_dimension,
        })
    }
}

impl HeartbeatConfig {
    pub fn describe(&self) -> Value {
        json!({
            // A plain URL may carry the check's secret id: show only its host.
            "url": match &self.url {
                HeartbeatUrl::Plain(u) => reqwest::Url::parse(u)
                    .ok()
                    .and_then(|u| u.host_str().map(|h| format!("{}://{h}/...", u.scheme())))
                    .unwrap_or_default(),
                HeartbeatUrl::Secret(r) => r.describe(),
            },
            "method": self.method.as_str(),
            "timeout": format_duration(self.timeout),
        })
    }
}

pub(super) fn read_state(top: &mut Fields) -> Option<StateConfig> {
    let present = top.has("state");
    let Some(mut t) = top.opt_table("state") else {
        if present {
            return None;
        }
        return Some(StateConfig::File {
            path: PathBuf::from(STATE_PATH),
        });
    };
    let kind = t.opt_str("kind").unwrap_or_else(|| "file".to_string());
    let state = match kind.as_str() {
        "file" => Some(StateConfig::File {
            path: PathBuf::from(t.opt_str("path").unwrap_or_else(|| STATE_PATH.to_string())),
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

pub(super) fn read_scaler(top: &mut Fields) -> Option<ScalerConfig> {
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
        .unwrap_or_else(|| HEROKU_BASE_URL.to_string());
    let url_ok = reqwest::Url::parse(&base_url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    if !url_ok {
        t.error(
            "base_url",
            format!("{base_url:?} is not an http(s) URL like \"https://api.heroku.com\""),
        );
    }
    let retry_budget = t.duration_within(
        "retry_budget",
        HEROKU_RETRY_BUDGET,
        MAX_RETRY_BUDGET,
        "retries run inside the invocation",
    );
    Some(ScalerConfig::Heroku {
        token: token?,
        base_url: url_ok.then_some(base_url)?,
        retry_budget,
    })
}

pub(super) fn read_metrics(top: &mut Fields) -> Option<MetricsConfig> {
    let default = MetricsConfig {
        enabled: true,
        namespace: METRICS_NAMESPACE.to_string(),
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

pub(super) fn read_heartbeat(top: &mut Fields) -> Option<Option<HeartbeatConfig>> {
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
    let timeout = t.duration_or("timeout", HEARTBEAT_TIMEOUT);
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
