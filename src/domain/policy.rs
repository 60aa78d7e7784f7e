//! What a formation's operator asked for, as validated domain values.
//!
//! A `Policy` is built once from the config (see `crate::config`) and never
//! changes during an invocation. Defaults live in the config module so that the
//! README's configuration reference and the code agree in one place.

use chrono::TimeDelta;

use super::{Bound, Rule};

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

/// The longest any rule may make the engine keep samples: a backstop so that
/// no policy, however built, grows the stored state without bound (the config
/// already refuses windows and counts anywhere near this).
pub const MAX_RETENTION: TimeDelta = TimeDelta::seconds(7 * 24 * 3600);

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
        let wanted = self.rule.retention(self.stale_after());
        wanted.min(MAX_RETENTION)
    }
}
