//! Scale history: what the formation was scaled to and when, for cool-offs.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// How many scale events are kept. Cool-offs only need the newest; the rest is
/// for `status` and for rate-of-scaling alerts, and bounds the stored item size.
pub const MAX_SCALE_EVENTS: usize = 50;

/// How far apart two trustworthy clocks may be: an invocation's `now` and the
/// wall clock (the Lambda handler and the CLI refuse an event `time` further
/// off), and so how far after `now` a stored time may lie and still be true.
pub const CLOCK_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// One scale that really happened (dry runs record none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleEvent {
    pub at: DateTime<Utc>,
    pub from: u32,
    pub to: u32,
}

/// Scale events, oldest first, bounded to [`MAX_SCALE_EVENTS`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleHistory {
    #[serde(default)]
    pub events: Vec<ScaleEvent>,
}

impl ScaleHistory {
    /// The newest scale, up or down.
    pub fn last(&self) -> Option<&ScaleEvent> {
        self.events.last()
    }

    /// The newest scale as seen at `now`, for cool-offs and "since the last
    /// scale". One dated up to [`CLOCK_TOLERANCE`] after `now` (clock skew
    /// between invocations) counts as made at `now`, so cool-offs still hold.
    /// One dated further ahead was written by a run with a wrong `now` (an
    /// event dated 2099): no clock can be that far off, so it is passed over,
    /// else "time since the last scale" would stay negative and hold every
    /// cool-off for decades.
    pub fn last_at(&self, now: DateTime<Utc>) -> Option<ScaleEvent> {
        self.events
            .iter()
            .rev()
            .find(|e| e.at <= now + CLOCK_TOLERANCE)
            .map(|e| ScaleEvent {
                at: e.at.min(now),
                ..*e
            })
    }

    /// Append a scale, dropping the oldest beyond the bound.
    pub fn record(&mut self, event: ScaleEvent) {
        self.events.push(event);
        if self.events.len() > MAX_SCALE_EVENTS {
            let excess = self.events.len() - MAX_SCALE_EVENTS;
            self.events.drain(..excess);
        }
    }
}
