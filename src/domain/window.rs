//! The stored window: recent samples and poll status of each input.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// One measurement of an input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// When it was measured (the invocation's `now`).
    pub at: DateTime<Utc>,
    /// The measured value, in the input's own unit.
    pub value: f64,
}

/// Why the last poll of an input failed, kept so the report and the fail-safe
/// can say what is missing and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputError {
    /// Stable label (`timeout`, `unauthorized`, `malformed`, ...).
    pub kind: String,
    /// Human-readable detail; never holds a secret.
    pub message: String,
}

/// Everything stored about one input between invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputWindow {
    /// Samples, oldest first, pruned to the policy's retention (the longest
    /// history any rule reads, at least the hysteresis window; the newest is always kept).
    #[serde(default)]
    pub samples: Vec<Sample>,
    /// When the source was last polled, successfully or not: decides whether it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<DateTime<Utc>>,
    /// Start of the current run of failed polls; `None` while polls succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// The last poll's error, while failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<InputError>,
}

impl InputWindow {
    /// The newest sample, if any.
    pub fn latest(&self) -> Option<&Sample> {
        self.samples.last()
    }

    /// Whether the source should be polled at `now` given its interval.
    ///
    /// A few seconds of slack keep a loop that drifts slightly from skipping a poll.
    pub fn is_due(&self, now: DateTime<Utc>, interval: TimeDelta) -> bool {
        match self.last_poll {
            None => true,
            Some(last) => now - last >= interval - TimeDelta::seconds(5) || last > now,
        }
    }

    /// Record a successful poll.
    ///
    /// Monotonic: a `now` older than stored samples (a late or replayed event)
    /// never drops them. The sample takes its place in time, replacing only one
    /// taken at the same instant (the same minute run again), so the newer
    /// samples keep holding the hysteresis window.
    pub fn record_sample(&mut self, now: DateTime<Utc>, value: f64) {
        match self.samples.binary_search_by(|s| s.at.cmp(&now)) {
            Ok(same) => self.samples[same].value = value,
            Err(place) => self.samples.insert(place, Sample { at: now, value }),
        }
        self.last_poll = Some(now);
        self.failing_since = None;
        self.last_error = None;
    }

    /// Record a failed poll: the failure run starts now unless one is running.
    pub fn record_failure(&mut self, now: DateTime<Utc>, error: InputError) {
        self.last_poll = Some(now);
        self.failing_since.get_or_insert(now);
        self.last_error = Some(error);
    }

    /// Drop samples older than `keep`, always keeping the newest one so an input
    /// polled less often than its window still has a value.
    pub fn prune(&mut self, now: DateTime<Utc>, keep: TimeDelta) {
        let cutoff = now - keep;
        let newest = self.samples.last().copied();
        self.samples.retain(|s| s.at >= cutoff);
        if self.samples.is_empty() {
            if let Some(newest) = newest {
                self.samples.push(newest);
            }
        }
    }
}

/// The stored windows of all of a formation's inputs, keyed by input name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default)]
    pub inputs: BTreeMap<String, InputWindow>,
}
