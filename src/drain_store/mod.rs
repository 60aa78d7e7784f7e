//! Port `DrainStore`: the per-minute aggregates of Heroku log drains.
//!
//! What a drain POST adds is a set of named non-negative counters per
//! (app, minute) and per (app, minute, process type) (see `crate::drain`):
//! adding is merging, so a store never reads before it writes. One POST is
//! stored in **one request** ([`DrainStore::add`]) together with the POST's
//! `Logplex-Frame-Id`, recorded only if it was not recorded before: a frame
//! Logplex resends (no 2xx within 5 s) is counted once.
//!
//! The inputs read one minute of one formation ([`DrainStore::read`]): the
//! app-level counters (any frame at all: the minute is not missing; L10
//! drops: the minute is incomplete) and the process type's counters.
//!
//! Adapters: [`DynamoDbDrainStore`] (items in the state table, one
//! TransactWriteItems per POST, TTL on every item), [`FileDrainStore`] (a JSON
//! file beside the local state file), [`MemoryDrainStore`] (the fake, which
//! counts its requests and can fail).

mod dynamodb;
mod file;
mod memory;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use dynamodb::{actions_for, actions_needed, DynamoDbDrainStore, MAX_TRANSACTION_ITEMS};
pub use file::FileDrainStore;
pub use memory::MemoryDrainStore;

/// Counters by their stable names (`crate::drain` names them).
pub type Counters = BTreeMap<String, u64>;

/// What one POST adds to one minute of one app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCounts {
    /// Frames for the app in this minute (any kind): the minute is not missing.
    #[serde(default)]
    pub frames: u64,
    /// Messages Logplex said it dropped (L10): the minute is incomplete.
    #[serde(default)]
    pub l10_dropped: u64,
    /// Router lines that reached no dyno (`dyno=` empty: H10, H11, H13...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unattributed: Counters,
    /// Per process type (`web`), its counters.
    #[serde(default)]
    pub types: BTreeMap<String, Counters>,
}

impl MinuteCounts {
    /// Add `other` to this (counters are additive).
    pub fn merge(&mut self, other: &MinuteCounts) {
        self.frames += other.frames;
        self.l10_dropped += other.l10_dropped;
        add_counters(&mut self.unattributed, &other.unattributed);
        for (t, counters) in &other.types {
            add_counters(self.types.entry(t.clone()).or_default(), counters);
        }
    }
}

/// Add every counter of `other` to `mine`.
pub fn add_counters(mine: &mut Counters, other: &Counters) {
    for (name, n) in other {
        let slot = mine.entry(name.clone()).or_default();
        *slot = slot.saturating_add(*n);
    }
}

/// One minute of one formation as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteRead {
    pub frames: u64,
    pub l10_dropped: u64,
    /// The process type's counters; empty when no line named it this minute.
    pub counters: Counters,
    /// The app's router lines that reached no dyno (H10, H11, H13...).
    pub unattributed: Counters,
}

/// What [`DrainStore::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Counted.
    Added,
    /// This frame id was stored before: nothing was added.
    Duplicate,
}

/// Why the store failed (Logplex then retries: 5xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("drain store unavailable: {0}")]
pub struct DrainStoreError(pub String);

/// Port: the per-minute drain aggregates.
#[async_trait]
pub trait DrainStore: Send + Sync {
    /// Add `minutes` (epoch seconds of each minute's start -> counts) for
    /// `app` in one request, unless `frame_id` was recorded before. Every item
    /// written expires at `expires_at` (epoch seconds).
    ///
    /// # Errors
    /// [`DrainStoreError`] when nothing could be stored (nothing was: the
    /// request is all or nothing).
    async fn add(
        &self,
        app: &str,
        frame_id: Option<&str>,
        minutes: &BTreeMap<i64, MinuteCounts>,
        expires_at: i64,
    ) -> Result<AddOutcome, DrainStoreError>;

    /// The given minutes of `app` for `process_type`, in the order asked;
    /// `None` for a minute with no frame stored at all (missing).
    ///
    /// # Errors
    /// [`DrainStoreError`] when the store cannot be read.
    async fn read(
        &self,
        app: &str,
        process_type: &str,
        minutes: &[i64],
    ) -> Result<Vec<Option<MinuteRead>>, DrainStoreError>;
}
