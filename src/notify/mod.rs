//! Port `Notifier`: tells people what happened (mail in production, the log locally).
//!
//! A failed notification is logged by the engine and never blocks scaling or
//! saving state: the autoscaler's job is the dynos, the mail is a courtesy.

mod console;
pub mod episodes;
mod messages;
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
    /// A scale call failed (an episode until a scale succeeds or is no longer needed).
    ScaleFailed,
    /// The combined estimate is above the `max` in force.
    NeedsAboveMax,
    /// The combined estimate is below the `min` in force.
    NeedsBelowMin,
    /// An input has failed for longer than `input_failing_after`.
    InputFailing,
    /// More than `too_rapid_scales` scales within `too_rapid_window`.
    TooRapid,
    /// The quantity stayed above `quantity_above` for `quantity_above_for`.
    QuantityAbove,
    /// Debug: what was measured in one invocation.
    Measurement,
    /// An add-on's plan was changed.
    PlanChanged,
    /// An add-on's plan change was refused or failed (an episode).
    PlanChangeFailed,
    /// An add-on needs more than the top of its ladder (or its `max_plan`).
    NeedsAbovePlans,
    /// `tune` chose new rule parameters (suggested, or applied).
    TuningSuggested,
    /// A tuned choice did worse than predicted over the day after its span.
    TuningWorse,
}

impl NotificationKind {
    /// Stable label, also the episode key's prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scaled => "scaled",
            Self::ScaleFailed => "scale_failed",
            Self::NeedsAboveMax => "needs_above_max",
            Self::NeedsBelowMin => "needs_below_min",
            Self::InputFailing => "input_failing",
            Self::TooRapid => "too_rapid",
            Self::QuantityAbove => "quantity_above",
            Self::Measurement => "measurement",
            Self::PlanChanged => "plan_changed",
            Self::PlanChangeFailed => "plan_change_failed",
            Self::NeedsAbovePlans => "needs_above_plans",
            Self::TuningSuggested => "tuning_suggested",
            Self::TuningWorse => "tuning_worse_than_predicted",
        }
    }
}

/// Where a notification stands in its episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A one-off event (a scale, a measurement): no episode.
    Event,
    /// The first mail of an episode.
    Opened,
    /// The condition still holds after `renotify_after`.
    Reminder,
    /// The condition cleared.
    Resolved,
}

/// A message ready to send. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub kind: NotificationKind,
    pub phase: Phase,
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
