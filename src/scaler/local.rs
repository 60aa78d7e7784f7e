//! `LocalScaler`: a stand-in for Heroku that keeps dyno counts in the state file.
//!
//! It lets anyone try a policy with `dynopilot run` and no Heroku account. A
//! process type it has never seen starts at the count given by `initial`
//! (the formation's `min`), as a freshly deployed app would.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{QuantityChange, ScaleError, ScaleErrorKind, Scaler};
use crate::store::FileStateStore;

#[derive(Debug)]
pub struct LocalScaler {
    store: Arc<FileStateStore>,
    /// Starting count per app and process type.
    initial: BTreeMap<String, BTreeMap<String, u32>>,
}

impl LocalScaler {
    pub fn new(
        store: Arc<FileStateStore>,
        initial: BTreeMap<String, BTreeMap<String, u32>>,
    ) -> Self {
        Self { store, initial }
    }
}

fn unavailable(e: crate::store::StoreError) -> ScaleError {
    ScaleError::new(ScaleErrorKind::Unavailable, e.to_string())
}

#[async_trait]
impl Scaler for LocalScaler {
    async fn formation(&self, app: &str) -> Result<BTreeMap<String, u32>, ScaleError> {
        let mut counts = self.initial.get(app).cloned().unwrap_or_default();
        counts.extend(self.store.dynos(app).await.map_err(unavailable)?);
        if counts.is_empty() {
            return Err(ScaleError::new(
                ScaleErrorKind::NotFound,
                format!("no local app {app:?}"),
            ));
        }
        Ok(counts)
    }

    async fn scale(&self, app: &str, changes: &[QuantityChange]) -> Result<(), ScaleError> {
        let counts: Vec<(String, u32)> = changes
            .iter()
            .map(|c| (c.process_type.clone(), c.quantity))
            .collect();
        self.store
            .set_dynos(app, &counts)
            .await
            .map_err(unavailable)
    }
}
