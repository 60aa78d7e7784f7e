//! Scale history: what the formation was scaled to and when, for cool-offs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many scale events are kept. Cool-offs only need the newest; the rest is
/// for `status` and for rate-of-scaling alerts, and bounds the stored item size.
pub const MAX_SCALE_EVENTS: usize = 50;

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

    /// Append a scale, dropping the oldest beyond the bound.
    pub fn record(&mut self, event: ScaleEvent) {
        self.events.push(event);
        if self.events.len() > MAX_SCALE_EVENTS {
            let excess = self.events.len() - MAX_SCALE_EVENTS;
            self.events.drain(..excess);
        }
    }
}
