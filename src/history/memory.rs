//! In-memory `HistoryStore` for tests and the simulator.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::{hour_of, HistoryStore, HourBlock};
use crate::store::StoreError;

/// Blocks in a map; counts the writes so tests can check the amortisation.
#[derive(Debug, Default)]
pub struct MemoryHistoryStore {
    blocks: Mutex<BTreeMap<(String, DateTime<Utc>), HourBlock>>,
    writes: Mutex<u64>,
}

impl MemoryHistoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many `put_hour` calls succeeded.
    pub fn writes(&self) -> u64 {
        self.writes.lock().map_or(0, |w| *w)
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("memory history lock poisoned".into())
}

#[async_trait]
impl HistoryStore for MemoryHistoryStore {
    async fn put_hour(
        &self,
        key: &str,
        block: &HourBlock,
        _keep: TimeDelta,
    ) -> Result<(), StoreError> {
        self.blocks
            .lock()
            .map_err(|_| poisoned())?
            .insert((key.to_string(), block.hour), block.clone());
        *self.writes.lock().map_err(|_| poisoned())? += 1;
        Ok(())
    }

    async fn get_hours(
        &self,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourBlock>, StoreError> {
        let from = hour_of(from);
        Ok(self
            .blocks
            .lock()
            .map_err(|_| poisoned())?
            .range((key.to_string(), from)..=(key.to_string(), to))
            .map(|(_, b)| b.clone())
            .collect())
    }
}
