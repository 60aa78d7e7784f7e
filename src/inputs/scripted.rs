//! In-memory fake source for tests: answers from a script, then repeats the last.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MetricSource, SourceError};

/// Answers each `fetch` with the next scripted result; the last one repeats.
/// An optional delay makes it slow, to exercise timeouts and concurrency.
#[derive(Debug, Default)]
pub struct ScriptedSource {
    script: Mutex<VecDeque<Result<f64, SourceError>>>,
    delay: Option<Duration>,
    calls: Mutex<Vec<DateTime<Utc>>>,
}

impl ScriptedSource {
    pub fn new(script: impl IntoIterator<Item = Result<f64, SourceError>>) -> Self {
        Self {
            script: Mutex::new(script.into_iter().collect()),
            delay: None,
            calls: Mutex::default(),
        }
    }

    /// Always the same value.
    pub fn constant(value: f64) -> Self {
        Self::new([Ok(value)])
    }

    /// Wait this long before answering.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Replace the script (e.g. load changes mid-test).
    pub fn set(&self, script: impl IntoIterator<Item = Result<f64, SourceError>>) {
        if let Ok(mut s) = self.script.lock() {
            *s = script.into_iter().collect();
        }
    }

    /// The `now` of every fetch so far.
    pub fn calls(&self) -> Vec<DateTime<Utc>> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl MetricSource for ScriptedSource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(now);
        }
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let mut script = match self.script.lock() {
            Ok(s) => s,
            Err(_) => {
                return Err(SourceError::new(
                    super::SourceErrorKind::Setup,
                    "script poisoned",
                ))
            }
        };
        let next = if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        };
        next.unwrap_or_else(|| {
            Err(SourceError::new(
                super::SourceErrorKind::Empty,
                "script is empty",
            ))
        })
    }
}
