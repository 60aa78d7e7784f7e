//! `MemoryDrainStore`: the fake. Counts its requests (as DynamoDB would bill
//! them: one per `add`, one per `read`) and can be told to fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{AddOutcome, DrainStore, DrainStoreError, MinuteCounts, MinuteRead};

#[derive(Default)]
struct Inner {
    minutes: BTreeMap<(String, i64), MinuteCounts>,
    frames: BTreeSet<(String, String)>,
}

/// Aggregates in memory.
#[derive(Default)]
pub struct MemoryDrainStore {
    inner: Mutex<Inner>,
    requests: AtomicU64,
    failing: AtomicBool,
}

impl MemoryDrainStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests made so far (adds and reads).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// From now on every request fails (`true`) or works again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Everything stored for one minute of an app.
    pub fn minute(&self, app: &str, minute: i64) -> Option<MinuteCounts> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.minutes.get(&(app.to_string(), minute)).cloned()
    }

    /// How many minutes are stored for an app.
    pub fn minutes_of(&self, app: &str) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.minutes.keys().filter(|(a, _)| a == app).count()
    }

    fn start(&self) -> Result<(), DrainStoreError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(DrainStoreError("the memory store is set to fail".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl DrainStore for MemoryDrainStore {
    async fn add(
        &self,
        app: &str,
        frame_id: Option<&str>,
        minutes: &BTreeMap<i64, MinuteCounts>,
        _expires_at: i64,
    ) -> Result<AddOutcome, DrainStoreError> {
        self.start()?;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = frame_id {
            if !inner.frames.insert((app.to_string(), id.to_string())) {
                return Ok(AddOutcome::Duplicate);
            }
        }
        for (minute, counts) in minutes {
            inner
                .minutes
                .entry((app.to_string(), *minute))
                .or_default()
                .merge(counts);
        }
        Ok(AddOutcome::Added)
    }

    async fn read(
        &self,
        app: &str,
        process_type: &str,
        minutes: &[i64],
    ) -> Result<Vec<Option<MinuteRead>>, DrainStoreError> {
        self.start()?;
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(minutes
            .iter()
            .map(|m| {
                inner
                    .minutes
                    .get(&(app.to_string(), *m))
                    .map(|c| MinuteRead {
                        frames: c.frames,
                        l10_dropped: c.l10_dropped,
                        counters: c.types.get(process_type).cloned().unwrap_or_default(),
                        unattributed: c.unattributed.clone(),
                    })
            })
            .collect())
    }
}
