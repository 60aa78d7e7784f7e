//! In-memory `StateStore` for tests and one-off runs.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{FormationState, StateStore, StoreError, Versioned};

/// Keeps records in a map behind a mutex; same locking contract as the real stores.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    records: Mutex<BTreeMap<String, Versioned<FormationState>>>,
}

impl MemoryStateStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of one record, for assertions.
    pub fn snapshot(&self, key: &str) -> Option<Versioned<FormationState>> {
        self.records.lock().ok()?.get(key).cloned()
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("memory store lock poisoned".into())
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError> {
        Ok(self
            .records
            .lock()
            .map_err(|_| poisoned())?
            .get(key)
            .cloned())
    }

    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut records = self.records.lock().map_err(|_| poisoned())?;
        let stored = records.get(key).map(|r| r.version);
        if stored != expected {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected,
            });
        }
        let version = stored.unwrap_or(0) + 1;
        records.insert(
            key.to_string(),
            Versioned {
                value: state.clone(),
                version,
            },
        );
        Ok(version)
    }
}
