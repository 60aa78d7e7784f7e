//! What the page shows, as plain data: filled from the stored state, the
//! config and the per-minute history ([`super::build`]), drawn by
//! [`super::render`]. Every string here may come from config or an API and is
//! escaped when rendered.

use chrono::{DateTime, Utc};

use crate::domain::{InputError, Sample};
use crate::store::{DecisionRecord, EpisodeMark, ScaleIntent};

/// The whole page.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    /// When the page was made (the charts end here).
    pub now: DateTime<Utc>,
    /// The config's `dry_run`: decisions are reported, never applied.
    pub dry_run: bool,
    pub formations: Vec<FormationView>,
}

/// One formation.
#[derive(Debug, Clone, PartialEq)]
pub struct FormationView {
    pub name: String,
    pub app: String,
    pub process_type: String,
    /// The dyno count the newest run left, and when.
    pub current: Option<(u32, DateTime<Utc>)>,
    /// `min` and `max` in force now, schedules applied (`3`, `3 (schedule 08:00 Europe/Berlin)`).
    pub min_now: String,
    pub max_now: String,
    /// Paused until then (only when that is after `now`).
    pub paused_until: Option<DateTime<Utc>>,
    /// A claimed scale whose outcome is not recorded yet.
    pub pending: Option<ScaleIntent>,
    /// Newest last.
    pub decisions: Vec<DecisionRecord>,
    /// Open notification episodes by key.
    pub episodes: Vec<(String, EpisodeMark)>,
    pub inputs: Vec<InputView>,
    pub history: HistoryView,
    /// The tuning frontier, once self-tuning has run.
    pub frontier: Option<FrontierView>,
    /// The state could not be read.
    pub error: Option<String>,
}

/// One input as the newest polls left it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputView {
    pub name: String,
    pub type_name: String,
    /// The rule that turns its values into dynos (`capacity`, ...).
    pub rule: String,
    pub last: Option<Sample>,
    pub last_poll: Option<DateTime<Utc>>,
    pub failing_since: Option<DateTime<Utc>>,
    pub error: Option<InputError>,
}

/// Per-minute history for the charts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryView {
    /// The input whose values are drawn as load.
    pub load_input: Option<String>,
    /// Load units one dyno serves (the `capacity` rule's setting), if known:
    /// places the dyno axis and gives the capacity line.
    pub per_dyno: Option<f64>,
    /// Oldest first, at most one per minute.
    pub minutes: Vec<HistoryMinute>,
    /// Scales, oldest first.
    pub scales: Vec<ScaleMark>,
    /// Where it came from, for the reader ("recorded history", "stored window only").
    pub source: String,
}

/// One minute of history; `None` where nothing was recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HistoryMinute {
    pub at: DateTime<Utc>,
    pub load: Option<f64>,
    pub capacity: Option<f64>,
    pub target: Option<u32>,
    pub quantity: Option<u32>,
}

/// A scale and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleMark {
    pub at: DateTime<Utc>,
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

/// Self-tuning's trade-off between cost and shortfall.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontierView {
    pub ran_at: Option<DateTime<Utc>>,
    /// The Pareto-optimal settings, cheapest first.
    pub points: Vec<FrontierPoint>,
    pub current: Option<FrontierPoint>,
    pub suggested: Option<FrontierPoint>,
}

/// One setting's outcome in the tuning backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontierPoint {
    /// The settings, e.g. `per_dyno = 120, hysteresis = 5m`.
    pub label: String,
    /// Cost relative to the oracle (1.0 = perfect foresight).
    pub cost: f64,
    /// Under-provisioned minutes, %.
    pub under_pct: f64,
}
