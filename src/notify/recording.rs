//! `RecordingNotifier`: keeps every notification in memory for assertions.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{Notification, Notifier, NotifyError};

#[derive(Debug, Default)]
pub struct RecordingNotifier {
    sent: Mutex<Vec<Notification>>,
    /// When set, every send fails with this message (after being recorded).
    failing: Mutex<Option<String>>,
}

impl RecordingNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything sent so far (including attempts that were made to fail).
    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Make every later send fail.
    pub fn fail_with(&self, message: &str) {
        if let Ok(mut f) = self.failing.lock() {
            *f = Some(message.to_string());
        }
    }
}

impl RecordingNotifier {
    /// Make later sends succeed again.
    pub fn recover(&self) {
        if let Ok(mut f) = self.failing.lock() {
            *f = None;
        }
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn send(&self, n: &Notification) -> Result<(), NotifyError> {
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(n.clone());
        }
        match self.failing.lock().ok().and_then(|f| f.clone()) {
            Some(message) => Err(NotifyError(message)),
            None => Ok(()),
        }
    }
}
