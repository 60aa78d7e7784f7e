//! CloudWatch Embedded Metric Format: one invocation's report as log lines that
//! CloudWatch Logs turns into metrics, with no API call and no extra cost per
//! call (Dynosaur paid Librato for the same graphs).
//!
//! Lines printed to a Lambda's stdout land in its log group; each JSON object
//! with an `_aws` member becomes metrics. Dimension values are top-level
//! members, so every (formation) and every (formation, input) gets its own line.
//! The metric names are fixed: the deploy templates alarm and plot on them.

use serde_json::{json, Map, Value};

use crate::config::MetricsConfig;
use crate::engine::{Outcome, Report};

/// 1 per successful run (no formation failed): the deploy templates alarm
/// when it is missing for 5 minutes. No dimensions.
pub const DECISIONS: &str = "Decisions";
/// The decided target per formation.
pub const TARGET: &str = "Target";
/// The current quantity per formation.
pub const CURRENT: &str = "Current";
/// Scales made per formation in this run (0 or 1).
pub const SCALE_EVENTS: &str = "ScaleEvents";
/// Each input's value (in the input's own unit, hence no CloudWatch unit).
pub const INPUT_VALUE: &str = "InputValue";
/// Each input's estimate of the dynos needed.
pub const INPUT_ESTIMATE: &str = "InputEstimate";
/// Minutes between two reads of one app's formation (1: not paced; more: the
/// reads are spread to fit Heroku's rate limit). No dimensions.
pub const READ_EVERY: &str = "FormationReadEveryMinutes";
/// Calls left in the Heroku account's pool, as the newest answer said.
pub const RATE_LIMIT_REMAINING: &str = "HerokuRateLimitRemaining";
/// Formations decided on their stored count (not read in this run).
pub const COUNTS_TRUSTED: &str = "CountsTrusted";

/// One EMF line per metric group of `report`: the invocation (only when it
/// succeeded), each formation, each input with a value. Empty when metrics are
/// disabled. The Lambda prints them to stdout; `dynopilot run --emf` too.
pub fn emf_lines(report: &Report, config: &MetricsConfig) -> Vec<String> {
    if !config.enabled {
        return Vec::new();
    }
    let timestamp = report.now.timestamp_millis();
    let mut lines = Vec::new();
    if report.succeeded() {
        lines.push(line(
            config,
            timestamp,
            &[],
            &[(DECISIONS, "Count", Some(1.0))],
        ));
    }
    if let Some(reads) = &report.reads {
        lines.push(line(
            config,
            timestamp,
            &[],
            &[
                (READ_EVERY, "None", Some(f64::from(reads.pace.read_every))),
                (
                    RATE_LIMIT_REMAINING,
                    "Count",
                    reads.pace.remaining.map(|r| r as f64),
                ),
                (
                    COUNTS_TRUSTED,
                    "Count",
                    Some(f64::from(reads.counts_trusted)),
                ),
            ],
        ));
    }
    for f in &report.formations {
        if f.outcome == Outcome::Duplicate {
            continue; // a repeated event did nothing; counting it would double the graphs
        }
        let scaled = matches!(f.outcome, Outcome::ScaledUp | Outcome::ScaledDown);
        lines.push(line(
            config,
            timestamp,
            &[(&config.formation_dimension, &f.name)],
            &[
                (TARGET, "Count", f.target.map(f64::from)),
                (CURRENT, "Count", f.current.map(f64::from)),
                (SCALE_EVENTS, "Count", Some(if scaled { 1.0 } else { 0.0 })),
            ],
        ));
        for input in &f.inputs {
            let value = input.value.or(input.sample);
            let estimate = input.estimate.map(f64::from);
            if value.is_none() && estimate.is_none() {
                continue;
            }
            lines.push(line(
                config,
                timestamp,
                &[
                    (&config.formation_dimension, &f.name),
                    (&config.input_dimension, &input.name),
                ],
                &[
                    (INPUT_VALUE, "None", value),
                    (INPUT_ESTIMATE, "Count", estimate),
                ],
            ));
        }
    }
    lines
}

fn line(
    config: &MetricsConfig,
    timestamp: i64,
    dimensions: &[(&String, &String)],
    metrics: &[(&str, &str, Option<f64>)],
) -> String {
    let mut root = Map::new();
    let mut definitions = Vec::new();
    for (name, unit, value) in metrics {
        // A missing value is left out rather than sent as 0, which would lie on a graph.
        if let Some(value) = value.filter(|v| v.is_finite()) {
            root.insert((*name).to_string(), json!(value));
            definitions.push(json!({"Name": name, "Unit": unit}));
        }
    }
    for (name, value) in dimensions {
        root.insert((*name).clone(), Value::String((*value).clone()));
    }
    let dimension_set: Vec<&String> = dimensions.iter().map(|(name, _)| *name).collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [dimension_set],
                "Metrics": definitions,
            }],
        }),
    );
    Value::Object(root).to_string()
}
