//! What a formation's operator asked for, as validated domain values.
//!
//! A `Policy` is built once from the config (see `crate::config`) and never
//! changes during an invocation. Defaults live in the config module so that the
//! README's configuration reference and the code agree in one place.

use chrono::TimeDelta;

/// How one formation is scaled.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Lower bound for the target. Hard: a formation below it is raised at once.
    pub min: u32,
    /// Upper bound for the target. Hard: it caps cost even when load runs away.
    pub max: u32,
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

/// A decision rule for one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Dynosaur's rule: `ceil(value / per_dyno)`, over the hysteresis window's max.
    Capacity {
        /// Units of load one dyno serves (e.g. requests per minute).
        per_dyno: f64,
    },
}

impl InputPolicy {
    /// How old the newest sample may be before the input counts as missing.
    ///
    /// One missed poll plus a minute of slack: the schedule fires every minute, so
    /// a sample older than that means at least one poll did not happen or failed.
    pub fn stale_after(&self) -> TimeDelta {
        self.interval + TimeDelta::seconds(60)
    }
}
