//! `RecordingHeartbeat`: counts pings for assertions, optionally failing them.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{Heartbeat, HeartbeatError};

#[derive(Debug, Default)]
pub struct RecordingHeartbeat {
    pings: Mutex<u32>,
    /// When set, every ping fails with this message (after being counted).
    failing: Mutex<Option<String>>,
}

impl RecordingHeartbeat {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many pings were attempted.
    pub fn pings(&self) -> u32 {
        self.pings.lock().map(|p| *p).unwrap_or_default()
    }

    /// Make every later ping fail.
    pub fn fail_with(&self, message: &str) {
        if let Ok(mut f) = self.failing.lock() {
            *f = Some(message.to_string());
        }
    }
}

#[async_trait]
impl Heartbeat for RecordingHeartbeat {
    async fn ping(&self) -> Result<(), HeartbeatError> {
        if let Ok(mut p) = self.pings.lock() {
            *p += 1;
        }
        match self.failing.lock().ok().and_then(|f| f.clone()) {
            Some(message) => Err(HeartbeatError(message)),
            None => Ok(()),
        }
    }
}
