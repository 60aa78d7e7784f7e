//! `MemoryScaler`: an in-memory platform for tests, with call log and fault injection.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{FormationRead, QuantityChange, ScaleError, ScaleErrorKind, Scaler};

/// One recorded `scale` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleCall {
    pub app: String,
    pub changes: Vec<QuantityChange>,
}

#[derive(Debug, Default)]
struct Inner {
    apps: BTreeMap<String, BTreeMap<String, u32>>,
    /// app -> process type -> dyno size, where one was set.
    sizes: BTreeMap<String, BTreeMap<String, String>>,
    reads: Vec<String>,
    scales: Vec<ScaleCall>,
    /// Errors returned by the next `scale` calls, in order.
    scale_faults: VecDeque<ScaleError>,
    /// Errors returned by the next `formation` calls, in order.
    read_faults: VecDeque<ScaleError>,
}

/// Dyno counts in memory. Every call is logged; faults can be queued.
#[derive(Debug, Default)]
pub struct MemoryScaler {
    inner: Mutex<Inner>,
}

impl MemoryScaler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set a process type's count (as a manual `ps:scale` would).
    pub fn set(&self, app: &str, process_type: &str, quantity: u32) {
        if let Ok(mut inner) = self.inner.lock() {
            inner
                .apps
                .entry(app.to_string())
                .or_default()
                .insert(process_type.to_string(), quantity);
        }
    }

    /// Set a process type's dyno size (as `heroku ps:type` would).
    pub fn set_size(&self, app: &str, process_type: &str, size: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner
                .sizes
                .entry(app.to_string())
                .or_default()
                .insert(process_type.to_string(), size.to_string());
        }
    }

    /// The dyno size of a process type, where one was set.
    pub fn size(&self, app: &str, process_type: &str) -> Option<String> {
        let inner = self.inner.lock().ok()?;
        inner.sizes.get(app)?.get(process_type).cloned()
    }

    /// The current count of a process type.
    pub fn quantity(&self, app: &str, process_type: &str) -> Option<u32> {
        let inner = self.inner.lock().ok()?;
        inner.apps.get(app)?.get(process_type).copied()
    }

    /// Make the next `scale` call fail with this error.
    pub fn fail_next_scale(&self, error: ScaleError) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.scale_faults.push_back(error);
        }
    }

    /// Make the next `formation` call fail with this error.
    pub fn fail_next_read(&self, error: ScaleError) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.read_faults.push_back(error);
        }
    }

    /// Apps read so far, one entry per `formation` call.
    pub fn reads(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|i| i.reads.clone())
            .unwrap_or_default()
    }

    /// Successful and failed `scale` calls so far.
    pub fn scales(&self) -> Vec<ScaleCall> {
        self.inner
            .lock()
            .map(|i| i.scales.clone())
            .unwrap_or_default()
    }
}

fn poisoned() -> ScaleError {
    ScaleError::new(ScaleErrorKind::Other, "memory scaler lock poisoned")
}

#[async_trait]
impl Scaler for MemoryScaler {
    async fn formation(&self, app: &str) -> Result<BTreeMap<String, u32>, ScaleError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        inner.reads.push(app.to_string());
        if let Some(fault) = inner.read_faults.pop_front() {
            return Err(fault);
        }
        inner.apps.get(app).cloned().ok_or_else(|| {
            ScaleError::new(
                ScaleErrorKind::NotFound,
                format!("Couldn't find that app: {app}"),
            )
        })
    }

    async fn scale(&self, app: &str, changes: &[QuantityChange]) -> Result<(), ScaleError> {
        let mut inner = self.inner.lock().map_err(|_| poisoned())?;
        inner.scales.push(ScaleCall {
            app: app.to_string(),
            changes: changes.to_vec(),
        });
        if let Some(fault) = inner.scale_faults.pop_front() {
            return Err(fault);
        }
        let counts = inner.apps.entry(app.to_string()).or_default();
        for change in changes {
            counts.insert(change.process_type.clone(), change.quantity);
        }
        let sizes = inner.sizes.entry(app.to_string()).or_default();
        for change in changes {
            if let Some(size) = &change.size {
                sizes.insert(change.process_type.clone(), size.clone());
            }
        }
        Ok(())
    }

    async fn formation_detail(
        &self,
        app: &str,
    ) -> Result<BTreeMap<String, FormationRead>, ScaleError> {
        let counts = self.formation(app).await?;
        let inner = self.inner.lock().map_err(|_| poisoned())?;
        let sizes = inner.sizes.get(app);
        Ok(counts
            .into_iter()
            .map(|(t, quantity)| {
                let size = sizes.and_then(|s| s.get(&t)).cloned();
                (t, FormationRead { quantity, size })
            })
            .collect())
    }
}
