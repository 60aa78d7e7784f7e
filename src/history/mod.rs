//! Port `HistoryStore`: each formation's per-minute record, kept for its
//! `history` (default 14 days), for charts (the status page) and `tune`.
//!
//! # Amortised: no extra write per run
//! Each run appends its minute to an [`HourBlock`] buffered in the formation's
//! state ([`crate::store::FormationState::minutes`]), which the run saves
//! anyway. The first run of a new hour writes the finished hour as **one**
//! history item (DynamoDB: `app#type#history#YYYY-MM-DDTHH`, with a TTL of the
//! hour's end + `history`; the file store: one JSON file per hour next to the
//! state file) and drops it from the buffer. So a formation costs one history
//! write per hour, and the state item grows by at most one hour of columns.
//! A flush that fails keeps the block buffered and is retried on the next run
//! (at most [`MAX_BUFFERED_HOURS`] are kept; older ones are dropped).
//!
//! # Columnar
//! A block holds one hour of minutes as columns (minute offsets, quantities,
//! targets, capacities, one column per input), so names are stored once per
//! hour, not once per minute: a minute with one input costs about 20 bytes.
//!
//! # Reading
//! [`read_minutes`] returns the minutes of a range, the stored hours and the
//! still-buffered ones merged, oldest first.

mod dynamodb;
mod file;
mod memory;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::store::{StateStore, StoreError};

pub use crate::store::minutes::{
    buffer_minute, finished, hour_of, HourBlock, MinuteInput, MinuteRecord, ScaleMark,
    MAX_BUFFERED_HOURS,
};

pub use dynamodb::{history_item_key, DynamoDbHistoryStore};
pub use file::FileHistoryStore;
pub use memory::MemoryHistoryStore;

/// Default of the formation key `history`.
pub const DEFAULT_KEEP: TimeDelta = TimeDelta::days(14);
/// Default of the formation key `risk` (used by `tune`), in %.
pub const DEFAULT_RISK_PCT: f64 = 1.0;
/// Longest `history` accepted.
pub const MAX_KEEP: TimeDelta = TimeDelta::days(90);
/// Longest range one [`read_minutes`] call reads.
pub const MAX_READ: TimeDelta = TimeDelta::days(92);

/// Port: finished hours of formations' minutes.
///
/// Contract: `put_hour` stores a block under (key, block.hour), replacing
/// any block stored there (so a retried flush is harmless), and keeps it at
/// least `keep` after the hour's end; `get_hours` returns the stored blocks
/// whose hour lies in `[from, to]`, oldest first.
#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// # Errors
    /// [`StoreError::Unavailable`] when the store cannot be written.
    async fn put_hour(
        &self,
        key: &str,
        block: &HourBlock,
        keep: TimeDelta,
    ) -> Result<(), StoreError>;

    /// # Errors
    /// [`StoreError::Corrupt`] for an unreadable block, [`StoreError::Unavailable`].
    async fn get_hours(
        &self,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourBlock>, StoreError>;
}

/// The hours from `from`'s to `to`'s, inclusive.
pub(crate) fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut hours = Vec::new();
    let mut h = hour_of(from);
    while h <= to {
        hours.push(h);
        h += TimeDelta::hours(1);
    }
    hours
}

/// The read API: a formation's minutes in `[from, to)`, oldest first — the
/// stored hours and the hours still buffered in its state, merged (the
/// buffer wins for an hour in both).
///
/// # Errors
/// A range longer than [`MAX_READ`] or reversed (`Unavailable` with the reason),
/// or the stores' errors.
pub async fn read_minutes(
    history: &dyn HistoryStore,
    state: &dyn StateStore,
    key: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<MinuteRecord>, StoreError> {
    if to < from || to - from > MAX_READ {
        return Err(StoreError::Unavailable(format!(
            "history range {from} .. {to} must be increasing and at most {} days",
            MAX_READ.num_days()
        )));
    }
    let mut blocks: BTreeMap<DateTime<Utc>, HourBlock> = history
        .get_hours(key, from, to)
        .await?
        .into_iter()
        .map(|b| (b.hour, b))
        .collect();
    if let Some(stored) = state.load(key).await? {
        for block in stored.value.minutes {
            blocks.insert(block.hour, block);
        }
    }
    Ok(blocks
        .values()
        .flat_map(HourBlock::records)
        .filter(|r| r.at >= from && r.at < to)
        .collect())
}
