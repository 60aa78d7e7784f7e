//! What a formation's operator asked for, as validated domain values.
//!
//! A `Policy` is built once from the config (see `crate::config`) and never
//! changes during an invocation. Defaults live in the config module so that the
//! README's configuration reference and the code agree in one place.

use chrono::TimeDelta;

use super::Bound;

/// How one formation is scaled.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Lower bound for the target, fixed or scheduled. Hard: a formation below
    /// it is raised at once.
    pub min: Bound,
    /// Upper bound for the target, fixed or scheduled. Hard: it caps cost even
    /// when load runs away.
    pub max: Bound,
    /// After any scale, no scale-up before this has passed (default 0: follow rises at once).
    pub scale_up_cooloff: TimeDelta,
    /// After any scale, no scale-down before this has passed (default 300 s), so a
    /// fresh dyno gets time to boot and absorb load before we judge it idle.
    pub scale_down_cooloff: TimeDelta,
    /// Largest increase in one invocation (`None`: unlimited).
    pub max_step_up: Option<u32>,
    /// Largest decrease in one invocation (default 1): capacity is removed slowly
    /// because removing too much costs users, adding too much costs only money.
    pub max_step_down: Option<u32>,
    /// Each input's estimate uses the largest value seen within this window, so
    /// rises are followed at once and falls only once they have lasted this long.
    pub hysteresis: TimeDelta,
    /// When every input has been missing for longer than this, `fallback` applies.
    pub fallback_after: TimeDelta,
    /// Dyno count to hold at least, once every input has been missing for
    /// `fallback_after`. `None`: keep the current count.
    pub fallback: Option<u32>,
    /// The inputs whose estimates are combined (max) into the formation's target.
    pub inputs: Vec<InputPolicy>,
}

impl Policy {
    /// How long stored samples must be kept: the longest history any input's
    /// rule reads, and at least `hysteresis`.
    ///
    /// The engine prunes the stored window to this, which keeps the state item
    /// bounded (the config caps every rule's window and counts).
    pub fn retention(&self) -> TimeDelta {
        self.inputs
            .iter()
            .map(InputPolicy::retention)
            .fold(self.hysteresis, TimeDelta::max)
    }
}

/// One input's part of the policy: how its samples turn into a dyno estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct InputPolicy {
    /// Unique within the formation; keys the stored window.
    pub name: String,
    /// How often the source is really polled; between polls the last sample is
    /// reused. Also decides when a sample is stale (older than interval + 60 s).
    pub interval: TimeDelta,
    /// How the input's values become a dyno estimate.
    pub rule: Rule,
}

/// A decision rule for one input: each predecessor's, plus Kubernetes' HPA.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Dynosaur's rule: `ceil(value / per_dyno)`, over the hysteresis window's max.
    Capacity {
        /// Units of load one dyno serves (e.g. requests per minute).
        per_dyno: f64,
    },
    /// autoscalebot's streaks of slow or fast samples.
    Consecutive(ConsecutiveRule),
    /// autoscalebot 3.0's mean of the newest samples.
    Average(AverageRule),
    /// Swop heroku-autoscale's mean and least-squares slope over a window.
    Trend(TrendRule),
    /// Kubernetes HPA's proportional target tracking.
    Target(TargetRule),
}

impl Rule {
    /// The config's `rule` value.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Capacity { .. } => "capacity",
            Self::Consecutive(_) => "consecutive",
            Self::Average(_) => "average",
            Self::Trend(_) => "trend",
            Self::Target(_) => "target",
        }
    }
}

/// autoscalebot: `fails_to_scale_up` slow samples in a row add `increment`
/// dynos, `passes_to_scale_down` fast samples in a row remove `increment`.
///
/// A sample above `max` is slow, below `min` is fast, anything else breaks
/// both streaks. A failed HTTP probe arrives as a sample equal to its timeout,
/// so it counts as slow, as autoscalebot counted a failed ping. Only samples
/// after the last scale count (the streak restarts after a scale), and two
/// samples further apart than the input's staleness limit are not "in a row".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsecutiveRule {
    /// Above this (ms for response times) a sample is slow.
    pub max: f64,
    /// Below this a sample is fast.
    pub min: f64,
    pub fails_to_scale_up: u32,
    pub passes_to_scale_down: u32,
    pub increment: u32,
}

/// autoscalebot 3.0: the mean of the newest `samples` samples above `max` adds
/// `increment` dynos, below `min` removes `increment`; fewer samples than
/// `samples` since the last scale hold.
///
/// autoscalebot 3.0's unfinished code averaged the *oldest* stored samples,
/// which reacts to load that is long gone; this uses the newest. As with
/// `consecutive`, samples taken before the last scale describe a formation that
/// no longer exists and are not counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AverageRule {
    pub max: f64,
    pub min: f64,
    pub samples: u32,
    pub increment: u32,
}

/// Swop heroku-autoscale: over the newest `window` of response times,
/// - mean above `high` → up by `increment`;
/// - mean below `low` → down by `increment`, unless the times are rising
///   (slope > 0), then hold;
/// - mean in the band `low..=high` → the least-squares slope (ms per minute)
///   decides: above `trend_high` → up, below `trend_low` → down, else hold.
///
/// Swop's README described the band backwards; the behaviour above is what a
/// response-time autoscaler must do (slow and getting slower means more dynos).
/// Fewer than [`TREND_MIN_SAMPLES`] samples in the window since the last scale
/// hold, since a slope through two points is noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendRule {
    pub window: TimeDelta,
    pub high: f64,
    pub low: f64,
    /// Slope (ms per minute) above which a mean inside the band scales up.
    pub trend_high: f64,
    /// Slope (ms per minute) below which a mean inside the band scales down.
    pub trend_low: f64,
    pub increment: u32,
}

/// The longest any rule may make the engine keep samples: a backstop so that
/// no policy, however built, grows the stored state without bound (the config
/// already refuses windows and counts anywhere near this).
pub const MAX_RETENTION: TimeDelta = TimeDelta::seconds(7 * 24 * 3600);

/// The fewest samples `trend` decides on.
pub const TREND_MIN_SAMPLES: usize = 3;

/// Whether a `target` input's value is per dyno or the formation's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Utilisation-like (response time, load per dyno): `ceil(current × value / target)`.
    Dyno,
    /// Total load (requests per minute): `ceil(value / target)`, target being load per dyno.
    Total,
}

impl Per {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dyno => "dyno",
            Self::Total => "total",
        }
    }
}

/// Kubernetes HPA: `desired = ceil(current × value / target)`, held at the
/// current count while `|value / target − 1| <= tolerance` so small wobbles do
/// not scale. Scale-ups follow the newest sample; a scale-down goes no lower
/// than the highest sample within `hysteresis` since the last scale asks for
/// (HPA's downscale stabilization window).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetRule {
    pub target: f64,
    pub tolerance: f64,
    pub per: Per,
}

impl InputPolicy {
    /// How old the newest sample may be before the input counts as missing.
    ///
    /// One missed poll plus a minute of slack: the schedule fires every minute, so
    /// a sample older than that means at least one poll did not happen or failed.
    pub fn stale_after(&self) -> TimeDelta {
        self.interval + TimeDelta::seconds(60)
    }

    /// How much stored history this input's rule reads.
    pub fn retention(&self) -> TimeDelta {
        // Streaks may be spaced up to `stale_after` apart and still count.
        let polls = |n: u32| {
            i32::try_from(n)
                .ok()
                .and_then(|n| self.stale_after().checked_mul(n))
                .unwrap_or(MAX_RETENTION)
        };
        let wanted = match &self.rule {
            Rule::Capacity { .. } | Rule::Target(_) => TimeDelta::zero(),
            Rule::Consecutive(r) => polls(r.fails_to_scale_up.max(r.passes_to_scale_down)),
            Rule::Average(r) => polls(r.samples),
            Rule::Trend(r) => r.window,
        };
        wanted.min(MAX_RETENTION)
    }
}
