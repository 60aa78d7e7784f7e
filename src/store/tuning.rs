//! What `tune` keeps per formation (see `crate::tune`): its data types, so the
//! store can hold them without importing the tuner.
//!
//! Two places, to keep the item written every minute small:
//! - the formation's own record carries a [`TunedMark`] (about 200 bytes):
//!   the chosen rule parameters and where they came from, which a formation
//!   with `tuning = "apply"` decides with;
//! - a record of its own, keyed `app#type#tuning` ([`tuning_key`]), holds the
//!   evidence as a [`TuningRecord`]: the frontier (at most one point per grid
//!   candidate, under 25 KB), the chosen and the current config's points, the
//!   history span, and the check of the previous choice. It is written once
//!   per `tune` run and read by `tune` and the status page only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The formation key `tuning`: what `tune` may do with its choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TuningMode {
    /// `tune` skips the formation.
    Off,
    /// Store the choice, report and notify; the config stays in force.
    #[default]
    Suggest,
    /// As `suggest`, and scheduled runs decide with the tuned rule parameters
    /// (the guard-rails as configured).
    Apply,
}

impl TuningMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Suggest => "suggest",
            Self::Apply => "apply",
        }
    }

    /// The mode a config word names.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "off" => Some(Self::Off),
            "suggest" => Some(Self::Suggest),
            "apply" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// One rule family and its knob.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Knob {
    /// `capacity` with `per_dyno = capacity / (1 + headroom)`.
    Capacity { headroom: f64 },
    /// `target` with `target = capacity × level`, `per = "total"`, tolerance 0.1.
    Target { level: f64 },
}

/// A candidate: a rule and a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    #[serde(flatten)]
    pub knob: Knob,
    /// Minutes of hysteresis (stabilisation for `target`).
    pub window_minutes: i64,
}

impl Candidate {
    /// In words, e.g. `capacity, 8% headroom, 5m hysteresis`.
    pub fn label(&self) -> String {
        match self.knob {
            Knob::Capacity { headroom } => format!(
                "capacity, {}% headroom, {}m hysteresis",
                round2(headroom * 100.0),
                self.window_minutes
            ),
            Knob::Target { level } => format!(
                "target {}% of a dyno, {}m stabilisation",
                round2(level * 100.0),
                self.window_minutes
            ),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One replayed policy's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Score {
    pub minutes: u64,
    pub dyno_minutes: u64,
    pub oracle_dyno_minutes: u64,
    pub cost_vs_oracle: f64,
    pub under_provisioned_minutes: u64,
    pub under_provisioned_pct: f64,
}

/// A candidate and its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub candidate: Candidate,
    pub score: Score,
}

/// Most frontier points kept (the default grid has 98 candidates).
pub const MAX_FRONTIER_POINTS: usize = 200;

/// The key of a formation's tuning record: `app#type#tuning`.
pub fn tuning_key(formation_key: &str) -> String {
    format!("{formation_key}#tuning")
}

/// The tuned parameters, in the formation's own record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunedMark {
    /// When `tune` chose them.
    pub at: DateTime<Utc>,
    /// The history span they were chosen on.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub candidate: Candidate,
    /// The load a dyno serves that they were chosen for (the config's
    /// `capacity` rule then): a config that now says otherwise wins.
    pub capacity: f64,
}

/// One `tune` run's result and evidence, in the record `app#type#tuning`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningRecord {
    /// When it ran (its `now`: no minute at or after it was read).
    pub at: DateTime<Utc>,
    pub mode: TuningMode,
    /// The history span used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    pub minutes_used: usize,
    pub risk_pct: f64,
    pub capacity: f64,
    pub boot_minutes: usize,
    /// The cheapest candidate within `risk`; `None` with `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Point>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The configured policy replayed on the same minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Score>,
    /// The candidates no other dominates, cheapest first.
    #[serde(default)]
    pub frontier: Vec<Point>,
    /// The previous run's choice judged over the day after its span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<TuningCheck>,
}

/// A tuned choice judged on the day after the span it was chosen on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningCheck {
    /// The run that chose it.
    pub tuned_at: DateTime<Utc>,
    pub candidate: Candidate,
    /// The day judged.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub predicted: Score,
    pub observed: Score,
    /// Why it did worse than predicted; `None`: as predicted or better.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worse: Option<String>,
}
