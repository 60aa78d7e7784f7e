//! `SimulatedScaler`: one Heroku formation whose new dynos take time to boot.
//!
//! The simulator's platform. Unlike [`super::MemoryScaler`] it knows that a
//! dyno added at minute t serves only from t + boot (and costs from t), while a
//! removed dyno stops at once. The simulator moves its clock minute by minute;
//! the engine never sees that clock, it decides from its own `now`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{FormationRead, QuantityChange, ScaleError, ScaleErrorKind, Scaler};

#[derive(Debug, Default)]
struct Platform {
    /// The simulated minute (index into the trace).
    minute: usize,
    /// Minute from which each running dyno serves, ascending.
    ready_at: Vec<usize>,
    /// Scale calls that changed the count or the size.
    scale_events: u64,
    /// The dyno size, for a formation with a size ladder.
    size: Option<String>,
}

/// One app's one process type, with boot times.
#[derive(Debug)]
pub struct SimulatedScaler {
    app: String,
    process_type: String,
    boot_minutes: usize,
    inner: Mutex<Platform>,
}

fn poisoned() -> ScaleError {
    ScaleError::new(ScaleErrorKind::Other, "simulated platform lock poisoned")
}

impl SimulatedScaler {
    /// `initial` dynos, all ready from minute 0.
    pub fn new(app: &str, process_type: &str, initial: u32, boot_minutes: usize) -> Self {
        Self {
            app: app.to_string(),
            process_type: process_type.to_string(),
            boot_minutes,
            inner: Mutex::new(Platform {
                minute: 0,
                ready_at: vec![0; initial as usize],
                scale_events: 0,
                size: None,
            }),
        }
    }

    /// Run `size` dynos (a formation with a size ladder). A size change takes
    /// effect at once in this model (Heroku restarts the dynos).
    #[must_use]
    pub fn with_size(self, size: &str) -> Self {
        if let Ok(mut p) = self.inner.lock() {
            p.size = Some(size.to_string());
        }
        self
    }

    /// The current dyno size, when one is modelled.
    pub fn size(&self) -> Option<String> {
        self.inner.lock().ok().and_then(|p| p.size.clone())
    }

    /// Move the platform's clock to `minute`.
    pub fn set_minute(&self, minute: usize) {
        if let Ok(mut p) = self.inner.lock() {
            p.minute = minute;
        }
    }

    /// (quantity, ready) at the current minute: every dyno costs, only booted ones serve.
    pub fn counts(&self) -> (u32, u32) {
        self.inner.lock().map_or((0, 0), |p| {
            let ready = p.ready_at.iter().filter(|&&r| r <= p.minute).count();
            (count(p.ready_at.len()), count(ready))
        })
    }

    /// Scale calls that changed the count so far.
    pub fn scale_events(&self) -> u64 {
        self.inner.lock().map_or(0, |p| p.scale_events)
    }

    fn not_found(&self, app: &str) -> ScaleError {
        ScaleError::new(
            ScaleErrorKind::NotFound,
            format!(
                "Couldn't find that app: {app} (the simulation has {})",
                self.app
            ),
        )
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[async_trait]
impl Scaler for SimulatedScaler {
    async fn formation(&self, app: &str) -> Result<BTreeMap<String, u32>, ScaleError> {
        if app != self.app {
            return Err(self.not_found(app));
        }
        let (quantity, _) = self.counts();
        Ok(BTreeMap::from([(self.process_type.clone(), quantity)]))
    }

    async fn formation_detail(
        &self,
        app: &str,
    ) -> Result<BTreeMap<String, FormationRead>, ScaleError> {
        let quantity = self.formation(app).await?.into_values().next().unwrap_or(0);
        Ok(BTreeMap::from([(
            self.process_type.clone(),
            FormationRead {
                quantity,
                size: self.size(),
            },
        )]))
    }

    async fn scale(&self, app: &str, changes: &[QuantityChange]) -> Result<(), ScaleError> {
        if app != self.app {
            return Err(self.not_found(app));
        }
        let mut p = self.inner.lock().map_err(|_| poisoned())?;
        for change in changes {
            if change.process_type != self.process_type {
                return Err(ScaleError::new(
                    ScaleErrorKind::NotFound,
                    format!("Couldn't find that process type ({}).", change.process_type),
                ));
            }
            let wanted = change.quantity as usize;
            let now = p.minute;
            let before = p.ready_at.len();
            if wanted > before {
                let ready = now + self.boot_minutes;
                p.ready_at.resize(wanted, ready);
            } else {
                // Stop the newest dynos first (those still booting, if any).
                p.ready_at.truncate(wanted);
            }
            let resized = change
                .size
                .as_ref()
                .is_some_and(|s| p.size.as_ref() != Some(s));
            if let Some(size) = &change.size {
                p.size = Some(size.clone());
            }
            if wanted != before || resized {
                p.scale_events += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(q: u32) -> Vec<QuantityChange> {
        vec![QuantityChange {
            process_type: "web".into(),
            quantity: q,
            size: None,
        }]
    }

    #[tokio::test]
    async fn added_dynos_cost_at_once_and_serve_after_booting() {
        let platform = SimulatedScaler::new("app", "web", 1, 2);
        platform.set_minute(10);
        platform.scale("app", &change(3)).await.unwrap();
        assert_eq!(platform.counts(), (3, 1));
        platform.set_minute(11);
        assert_eq!(platform.counts(), (3, 1));
        platform.set_minute(12);
        assert_eq!(platform.counts(), (3, 3));
        assert_eq!(platform.scale_events(), 1);
    }

    #[tokio::test]
    async fn a_scale_down_stops_booting_dynos_first_and_at_once() {
        let platform = SimulatedScaler::new("app", "web", 2, 1);
        platform.set_minute(5);
        platform.scale("app", &change(4)).await.unwrap();
        platform.scale("app", &change(3)).await.unwrap();
        assert_eq!(platform.counts(), (3, 2));
        platform.scale("app", &change(1)).await.unwrap();
        assert_eq!(platform.counts(), (1, 1));
        assert_eq!(platform.scale_events(), 3);
    }

    #[tokio::test]
    async fn an_unknown_app_is_not_found() {
        let platform = SimulatedScaler::new("app", "web", 1, 1);
        let err = platform.formation("other").await.unwrap_err();
        assert_eq!(err.kind, ScaleErrorKind::NotFound);
    }
}
