//! Port `StateStore`: each formation's window, scale history and recent decisions.
//!
//! Each formation is one record under the key `app#type`, read at most once and
//! written at most once per invocation. Writes are conditional on the version
//! that was read (optimistic locking), so two overlapping invocations cannot
//! silently overwrite each other: the loser gets [`StoreError::Conflict`].

mod dynamodb;
mod file;
mod memory;
pub mod minutes;
pub mod schema;
pub mod tuning;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Action, Decision, Reason, ScaleHistory, Window};

pub use dynamodb::{encode_item, item_size, DynamoDbStateStore, ITEM_TTL_DAYS};
pub use file::FileStateStore;
pub use memory::MemoryStateStore;
pub use schema::SCHEMA_VERSION;

/// How many past decisions are kept for `status` (bounded so state stays small).
pub const MAX_DECISIONS: usize = 20;

/// What is kept about one formation between invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormationState {
    /// Recent samples and poll status per input.
    #[serde(default)]
    pub window: Window,
    /// Scales that really happened; the cool-offs count from the newest.
    #[serde(default)]
    pub history: ScaleHistory,
    /// The newest decisions, oldest first, at most [`MAX_DECISIONS`].
    #[serde(default)]
    pub decisions: Vec<DecisionRecord>,
    /// Id of the last event that was processed: a repeated scheduled event (EventBridge
    /// delivers at least once) with this id is a no-op.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
    /// A scale that was claimed but whose outcome was not recorded yet. Written
    /// before the platform is called, so a crash between "claimed" and "recorded"
    /// is noticed and settled by the next invocation instead of scaling twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<ScaleIntent>,
    /// Maintenance mode: scheduled runs decide and report but do not scale until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
    /// Open notification episodes by key (`needs_above_max`, `input_failing:rpm`,
    /// ...): one mail per episode, not one per minute. At most one entry per
    /// notification kind and configured input, so it stays small.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notifications: BTreeMap<String, EpisodeMark>,
    /// The newest count read from the platform (or set by a PATCH it
    /// accepted): when reads are paced to the platform's rate limit, runs in
    /// between trust it ([`crate::engine::pacing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_read: Option<CountRead>,
    /// Only in an add-on's record (`addon#app#name`): its plan bookkeeping.
    /// The rest of the record serves add-ons as it serves formations, with
    /// plan indexes on the ladder for counts (window per dimension, history,
    /// pending claim, pause, episodes, decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addon: Option<AddonMark>,
    /// Only for a formation with a size ladder: its size bookkeeping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<SizeMark>,
    /// The minutes of the current hour (and of finished hours not yet
    /// flushed to the history store), columnar: see [`minutes`] and
    /// `crate::history`. At most [`minutes::MAX_BUFFERED_HOURS`] blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minutes: Vec<minutes::HourBlock>,
    /// The rule parameters `tune` chose last, and where they came from (a
    /// formation with `tuning = "apply"` decides with them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuned: Option<tuning::TunedMark>,
    /// Only in a tuning record (`app#type#tuning`): the newest `tune` run's
    /// evidence, see [`tuning`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<tuning::TuningRecord>,
}

/// A sized formation's bookkeeping between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeMark {
    /// The size read from the platform (or set by an update it accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// When dynopilot last changed the size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    /// Since when the size below has fitted (the size-down delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fits_smaller_since: Option<DateTime<Utc>>,
    /// The size a claimed update asks for (with `pending`): the claim is
    /// settled on the count *and* this size, so a size change with an equal
    /// count is not taken as done when only the count matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_size: Option<String>,
}

/// What an add-on's record keeps besides the formation-like parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonMark {
    /// The plan read from the platform by the newest run (`service:plan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// The plan a claimed change asks for (with `pending`): settled by name,
    /// so a ladder edited between runs cannot mislead the settlement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_plan: Option<String>,
    /// Since when the plan below the current one has fitted (the downgrade delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fits_lower_since: Option<DateTime<Utc>>,
}

/// A process type's count as the platform reported it, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountRead {
    pub at: DateTime<Utc>,
    pub quantity: u32,
}

/// One notification episode: a condition that holds (or is building up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeMark {
    /// When the condition began (for "quantity above": when the count first
    /// went above the threshold, so the duration survives between invocations).
    pub since: DateTime<Utc>,
    /// When the newest mail about it was accepted; `None`: none yet (not long
    /// enough, or the send failed and is retried on the next run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sent: Option<DateTime<Utc>>,
}

/// A claimed scale: what an invocation is about to ask the platform for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleIntent {
    /// When it was claimed (the invocation's `now`).
    pub at: DateTime<Utc>,
    pub from: u32,
    pub to: u32,
    /// The event that claimed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// A past decision, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    pub at: DateTime<Utc>,
    pub current: u32,
    pub target: u32,
    pub action: Action,
    pub reason: Reason,
    /// Whether the scale was really made (false in dry runs and on failure).
    pub applied: bool,
}

impl FormationState {
    /// Remember a decision, dropping the oldest beyond the bound.
    pub fn record_decision(&mut self, at: DateTime<Utc>, decision: &Decision, applied: bool) {
        self.decisions.push(DecisionRecord {
            at,
            current: decision.current,
            target: decision.target,
            action: decision.action,
            reason: decision.reason.clone(),
            applied,
        });
        if self.decisions.len() > MAX_DECISIONS {
            let excess = self.decisions.len() - MAX_DECISIONS;
            self.decisions.drain(..excess);
        }
    }
}

/// A stored value and the version it was stored at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    /// Starts at 1 on the first save and grows by one per save.
    pub version: u64,
}

/// Why the store could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was read: another invocation got there first.
    #[error("state of {key} changed since it was read (expected version {expected:?})")]
    Conflict { key: String, expected: Option<u64> },
    /// The stored data cannot be read back; it is left untouched.
    #[error("stored state is unreadable: {0}")]
    Corrupt(String),
    /// The store could not be reached or written.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
}

/// Port: durable per-formation state with optimistic locking.
///
/// Contract: `load` returns what the last successful `save` wrote, with its
/// version (reads are strongly consistent). `save` succeeds only if the stored
/// version still equals `expected` (`None`: the record must not exist yet), and
/// returns the new version; otherwise it fails with [`StoreError::Conflict`]
/// and changes nothing. A store never overwrites data it could not read.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// # Errors
    /// [`StoreError::Corrupt`] or [`StoreError::Unavailable`].
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError>;

    /// # Errors
    /// [`StoreError::Conflict`] when the version moved; others as for `load`.
    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError>;
}
