//! `ConsoleNotifier`: notifications as log lines, for local runs.

use async_trait::async_trait;

use super::{Notification, Notifier, NotifyError};

#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleNotifier;

#[async_trait]
impl Notifier for ConsoleNotifier {
    async fn send(&self, n: &Notification) -> Result<(), NotifyError> {
        tracing::info!(
            target: "dynopilot::notification",
            kind = ?n.kind,
            phase = ?n.phase,
            formation = %n.formation,
            subject = %n.subject,
            body = %n.body,
            "notification"
        );
        Ok(())
    }
}
