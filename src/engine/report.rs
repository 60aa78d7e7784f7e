//! The invocation report: what was measured, decided and done, per formation.
//!
//! It is the Lambda's return value, the CLI's output and the log's payload, so
//! it is plain serializable data with stable labels, and it never holds a secret.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{InputError, InputStatus, Reason};

/// One invocation's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The `now` the decisions were made for.
    pub now: DateTime<Utc>,
    /// The event's id (the idempotency key), when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub dry_run: bool,
    pub formations: Vec<FormationReport>,
    /// Problems not tied to one formation (e.g. an unknown name in a filter).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The dead-man's switch ping, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HeartbeatReport>,
    /// Set when the event's `time` lay too far from the clock and the run used
    /// the clock instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockNote>,
    /// How the platform's counts were read, when its API calls are rationed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<ReadsReport>,
    /// Add-on plans, when add-ons are configured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addons: Vec<super::AddonReport>,
}

/// Why the event's `time` was not the run's `now` (see [`super::event_now`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockNote {
    /// Stable label: `event_time_off_clock`.
    pub reason: &'static str,
    /// What the event said.
    pub event_time: DateTime<Utc>,
    /// The event's time minus the clock, in seconds (negative: a late event).
    pub offset_s: i64,
    /// The same for people.
    pub note: String,
}

/// Formation reads against the platform's rate limit in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadsReport {
    /// The pace and what it was computed from.
    #[serde(flatten)]
    pub pace: super::pacing::Pace,
    pub paced: bool,
    /// Apps whose formation was read in this run (fresh reads before a scale included).
    pub apps_read: u32,
    /// Formations decided on their stored count.
    pub counts_trusted: u32,
    /// The pace in words.
    pub note: String,
}

impl Report {
    /// No formation failed and no invocation-level error: what the heartbeat
    /// and the `Decisions` metric (the deploy templates' dead-man alarm) count.
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty()
            && !self.formations.iter().any(|f| f.outcome == Outcome::Failed)
            && !self.addons.iter().any(|a| a.outcome == Outcome::Failed)
    }
}

/// What happened to the heartbeat ping. A failed ping never fails the invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeartbeatReport {
    /// Whether the ping was sent and answered with a 2xx (false after a run
    /// with a failed formation: then it is deliberately not sent).
    pub sent: bool,
    /// Why the ping failed (no URL in it: it may hold the check's secret id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What happened to one formation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    ScaledUp,
    ScaledDown,
    WouldScaleUp,
    WouldScaleDown,
    Hold,
    /// Paused (maintenance mode): decided and reported, not scaled.
    Paused,
    /// This event id was already processed: nothing done.
    Duplicate,
    /// Another invocation wrote this formation first: nothing done.
    LostRace,
    /// No decision could be made or applied (see `errors`).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScaledUp => "scaled_up",
            Self::ScaledDown => "scaled_down",
            Self::WouldScaleUp => "would_scale_up",
            Self::WouldScaleDown => "would_scale_down",
            Self::Hold => "hold",
            Self::Paused => "paused",
            Self::Duplicate => "duplicate",
            Self::LostRace => "lost_race",
            Self::Failed => "failed",
        }
    }
}

/// A problem at one stage of a formation's handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageError {
    /// `load_state`, `read_formation`, `save_state`, `scale`, `record` or `notify`.
    pub stage: &'static str,
    /// Stable label of the error kind.
    pub kind: String,
    pub message: String,
}

/// One input as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputReport {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether the source was polled in this invocation (else its interval had
    /// not passed and the stored sample was reused).
    pub polled: bool,
    /// The newest stored sample.
    pub sample: Option<f64>,
    /// The value the rule used (window max for `capacity`).
    pub value: Option<f64>,
    pub estimate: Option<u32>,
    pub status: InputStatus,
    pub explanation: String,
    /// Why the newest poll failed, while it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<InputError>,
}

/// One formation's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct FormationReport {
    pub name: String,
    pub app: String,
    #[serde(rename = "type")]
    pub process_type: String,
    pub current: Option<u32>,
    pub target: Option<u32>,
    /// Combined estimate before bounds, cool-offs and step limits.
    pub estimate: Option<u32>,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    /// Set while the formation is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    /// What else happened (a settled claim, a lost race, a pause).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub inputs: Vec<InputReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StageError>,
    /// The rule parameters in force and where they came from (the config,
    /// or `tune` with `tuning = "apply"`).
    pub parameters: super::tuning::Parameters,
}

impl FormationReport {
    /// One line for the CLI loop: `demo/web 2 → 5 scaled_up (load_above: ...)`.
    pub fn summary(&self) -> String {
        let count = |c: Option<u32>| c.map_or("?".to_string(), |c| c.to_string());
        let mut line = format!(
            "{} {} → {} {}",
            self.name,
            count(self.current),
            count(self.target),
            self.outcome.as_str()
        );
        if let Some(reason) = &self.reason {
            line.push_str(&format!(" ({}: {})", reason.code.as_str(), reason.text));
        }
        for note in &self.notes {
            line.push_str(&format!(" [{note}]"));
        }
        for e in &self.errors {
            line.push_str(&format!(" [{} {}: {}]", e.stage, e.kind, e.message));
        }
        line
    }
}
