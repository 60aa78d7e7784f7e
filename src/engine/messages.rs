//! Notification texts: a subject that says what happened at a glance, and a
//! plain-text body with the numbers behind it and what happens next.

use crate::config::FormationConfig;
use crate::domain::{Decision, InputStatus};
use crate::notify::{Notification, NotificationKind};
use crate::scaler::ScaleError;

fn inputs_block(decision: &Decision) -> String {
    decision
        .inputs
        .iter()
        .map(|i| {
            let status = match i.status {
                InputStatus::Present => "ok",
                InputStatus::Missing { .. } => "MISSING",
            };
            format!("  - {} [{status}]: {}", i.name, i.explanation)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A scale was made.
pub(super) fn scaled(f: &FormationConfig, d: &Decision) -> Notification {
    Notification {
        kind: NotificationKind::Scaled,
        formation: f.name.clone(),
        subject: format!(
            "[dynopilot] {} {} {}→{}: {}",
            f.app, f.process_type, d.current, d.target, d.reason.text
        ),
        body: format!(
            "dynopilot scaled {app} {ptype} from {from} to {to}.\n\nReason ({code}): {text}\n\nInputs:\n{inputs}\n\nNext: the next scheduled run decides again from fresh samples; min {min}, max {max}.\n",
            app = f.app,
            ptype = f.process_type,
            from = d.current,
            to = d.target,
            code = d.reason.code.as_str(),
            text = d.reason.text,
            inputs = inputs_block(d),
            min = f.policy.min,
            max = f.policy.max,
        ),
    }
}

/// A scale call failed.
pub(super) fn scale_failed(f: &FormationConfig, d: &Decision, e: &ScaleError) -> Notification {
    Notification {
        kind: NotificationKind::ScaleFailed,
        formation: f.name.clone(),
        subject: format!(
            "[dynopilot] {} {} scale {}→{} FAILED: {}",
            f.app,
            f.process_type,
            d.current,
            d.target,
            e.kind.as_str()
        ),
        body: format!(
            "dynopilot could not scale {app} {ptype} from {from} to {to}.\n\nError ({kind}): {msg}\n\nWanted because ({code}): {text}\n\nInputs:\n{inputs}\n\nNext: the formation stays at {from}; the next scheduled run tries again.\n",
            app = f.app,
            ptype = f.process_type,
            from = d.current,
            to = d.target,
            kind = e.kind.as_str(),
            msg = e.message,
            code = d.reason.code.as_str(),
            text = d.reason.text,
            inputs = inputs_block(d),
        ),
    }
}
