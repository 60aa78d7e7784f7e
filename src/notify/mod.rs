//! Port `Notifier`: tells people what happened (mail in production, the log locally).
//!
//! A failed notification is logged by the engine and never blocks scaling or
//! saving state: the autoscaler's job is the dynos, the mail is a courtesy.

mod console;
mod recording;
mod ses;

use async_trait::async_trait;
use serde::Serialize;

pub use console::ConsoleNotifier;
pub use recording::RecordingNotifier;
pub use ses::SesNotifier;

/// What a notification is about; also the dedupe key's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A scale was made.
    Scaled,
    /// A scale call failed.
    ScaleFailed,
}

/// A message ready to send. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub kind: NotificationKind,
    /// The formation's name.
    pub formation: String,
    /// Says what happened at a glance, e.g. `[dynopilot] myapp web 2→5: ...`.
    pub subject: String,
    /// Plain text: inputs, estimates, reason, what happens next.
    pub body: String,
}

/// Why a notification was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("notification not sent: {0}")]
pub struct NotifyError(pub String);

/// Port: deliver a notification.
///
/// Contract: returns once the message is accepted for delivery, or fails; it
/// does not retry for long (the invocation has a deadline).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// # Errors
    /// [`NotifyError`] when the message was not accepted.
    async fn send(&self, notification: &Notification) -> Result<(), NotifyError>;
}
