//! Notification texts: a subject that says what happened at a glance, and a
//! plain-text body with the numbers behind it and what happens next.
//!
//! Texts hold names, counts and error messages that adapters already scrubbed;
//! never a secret (there is none in any of the values used here).

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::FormationConfig;
use crate::domain::{Decision, InputError, InputStatus};
use crate::notify::{Notification, NotificationKind, Phase};
use crate::scaler::ScaleError;

pub(crate) fn hm(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%MZ").to_string()
}

/// `75m` or `2h 5m`: how long something lasted, for subjects.
pub(crate) fn lasted(d: TimeDelta) -> String {
    let m = d.num_minutes().max(0);
    if m >= 60 {
        format!("{}h {}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

fn inputs_block(decision: Option<&Decision>) -> String {
    let Some(decision) = decision else {
        return "  (no decision this run: the current count could not be read)".into();
    };
    decision
        .inputs
        .iter()
        .map(|i| {
            let status = match i.status {
                InputStatus::Present => "ok",
                InputStatus::Missing { .. } => "MISSING",
            };
            let estimate = i
                .estimate
                .map_or("no estimate".to_string(), |e| format!("asks for {e}"));
            format!("  - {} [{status}, {estimate}]: {}", i.name, i.explanation)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn decision_block(f: &FormationConfig, d: Option<&Decision>) -> String {
    match d {
        Some(d) => format!(
            "Now: {current} dynos, target {target}, combined estimate {estimate}, min {min}, max {max} in force.\nReason ({code}): {text}\n\nInputs:\n{inputs}",
            current = d.current,
            target = d.target,
            estimate = d.estimate.map_or("none".to_string(), |e| e.to_string()),
            min = d.min,
            max = d.max,
            code = d.reason.code.as_str(),
            text = d.reason.text,
            inputs = inputs_block(Some(d)),
        ),
        None => format!(
            "Now: no decision for {} {} this run.\n\nInputs:\n{}",
            f.app,
            f.process_type,
            inputs_block(None)
        ),
    }
}

fn message(
    kind: NotificationKind,
    phase: Phase,
    f: &FormationConfig,
    what: &str,
    body: String,
) -> Notification {
    Notification {
        kind,
        phase,
        formation: f.name.clone(),
        subject: format!("[dynopilot] {} {} {what}", f.app, f.process_type),
        body,
    }
}

/// A scale was made.
pub(crate) fn scaled(f: &FormationConfig, d: &Decision) -> Notification {
    message(
        NotificationKind::Scaled,
        Phase::Event,
        f,
        &format!("{}→{}: {}", d.current, d.target, d.reason.text),
        format!(
            "dynopilot scaled {app} {ptype} from {from} to {to}.\n\n{block}\n\nNext: the next scheduled run decides again from fresh samples.\n",
            app = f.app,
            ptype = f.process_type,
            from = d.current,
            to = d.target,
            block = decision_block(f, Some(d)),
        ),
    )
}

/// A scale call failed (first mail of the episode, or its reminder).
pub(crate) fn scale_failed(
    f: &FormationConfig,
    d: &Decision,
    e: &ScaleError,
    phase: Phase,
    since: DateTime<Utc>,
) -> Notification {
    let still = if phase == Phase::Reminder {
        format!(" (failing since {})", hm(since))
    } else {
        String::new()
    };
    message(
        NotificationKind::ScaleFailed,
        phase,
        f,
        &format!("scale {}→{} FAILED: {}{still}", d.current, d.target, e.kind.as_str()),
        format!(
            "dynopilot could not scale {app} {ptype} from {from} to {to}.\n\nError ({kind}): {msg}\nFailing since: {since}\n\n{block}\n\nNext: every scheduled run tries again; you get one mail per episode (a reminder every renotify_after) and one when a scale succeeds or is no longer needed. If the platform refuses the change (e.g. a 422 for the dyno size or account limits), fix that on Heroku or lower max.\n",
            app = f.app,
            ptype = f.process_type,
            from = d.current,
            to = d.target,
            kind = e.kind.as_str(),
            msg = e.message,
            since = hm(since),
            block = decision_block(f, Some(d)),
        ),
    )
}

/// No scale can be made: dynopilot refused it before asking the platform
/// (a size ladder that does not match the app's generation), so there is
/// no decision to show.
pub(crate) fn scale_refused(
    f: &FormationConfig,
    e: &ScaleError,
    phase: Phase,
    since: DateTime<Utc>,
) -> Notification {
    let still = if phase == Phase::Reminder {
        format!(" (since {})", hm(since))
    } else {
        String::new()
    };
    message(
        NotificationKind::ScaleFailed,
        phase,
        f,
        &format!("cannot be scaled: {}{still}", e.kind.as_str()),
        format!(
            "dynopilot will not scale {app} {ptype}: it refused before asking Heroku.\n\nError ({kind}): {msg}\nSince: {since}\n\nNext: every scheduled run checks again; you get one mail per episode (a reminder every renotify_after) and one when it is resolved. Fix the configuration (see the error) and redeploy.\n",
            app = f.app,
            ptype = f.process_type,
            kind = e.kind.as_str(),
            msg = e.message,
            since = hm(since),
        ),
    )
}

/// The combined estimate is above the max in force.
pub(crate) fn needs_above_max(
    f: &FormationConfig,
    d: &Decision,
    phase: Phase,
    since: DateTime<Utc>,
) -> Notification {
    let estimate = d.estimate.unwrap_or(d.max);
    let still = if phase == Phase::Reminder {
        format!(" (since {})", hm(since))
    } else {
        String::new()
    };
    message(
        NotificationKind::NeedsAboveMax,
        phase,
        f,
        &format!("needs {estimate} > max {}{still}", d.max),
        format!(
            "The inputs of {app} {ptype} ask for {estimate} dynos, more than the max of {max} in force, since {since}. dynopilot holds it at {max} at most.\n\n{block}\n\nNext: if the load is real, raise max (or its schedule); otherwise check the inputs' per-dyno settings.\n",
            app = f.app,
            ptype = f.process_type,
            max = d.max,
            since = hm(since),
            block = decision_block(f, Some(d)),
        ),
    )
}

/// The combined estimate is below the min in force.
pub(crate) fn needs_below_min(
    f: &FormationConfig,
    d: &Decision,
    phase: Phase,
    since: DateTime<Utc>,
) -> Notification {
    let estimate = d.estimate.unwrap_or(d.min);
    let still = if phase == Phase::Reminder {
        format!(" (since {})", hm(since))
    } else {
        String::new()
    };
    message(
        NotificationKind::NeedsBelowMin,
        phase,
        f,
        &format!("needs {estimate} < min {}{still}", d.min),
        format!(
            "The inputs of {app} {ptype} ask for {estimate} dynos, fewer than the min of {min} in force, since {since}. dynopilot keeps at least {min}.\n\n{block}\n\nNext: if this lasts, a lower min (or a min schedule) would save dyno hours.\n",
            app = f.app,
            ptype = f.process_type,
            min = d.min,
            since = hm(since),
            block = decision_block(f, Some(d)),
        ),
    )
}

/// An input has been failing for a while.
pub(crate) fn input_failing(
    f: &FormationConfig,
    d: Option<&Decision>,
    input: &str,
    error: Option<&InputError>,
    phase: Phase,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Notification {
    let kind = error.map_or("failing", |e| e.kind.as_str());
    message(
        NotificationKind::InputFailing,
        phase,
        f,
        &format!("input {input} failing for {}: {kind}", lasted(now - since)),
        format!(
            "The input {input} of {app} {ptype} has failed every poll since {since}.\n\nLast error ({kind}): {msg}\n\n{block}\n\nNext: while an input is missing dynopilot never scales down on its account and falls back as configured (fallback_after); check the input's service and credentials.\n",
            app = f.app,
            ptype = f.process_type,
            since = hm(since),
            msg = error.map_or("(none recorded)", |e| e.message.as_str()),
            block = decision_block(f, d),
        ),
    )
}

/// Too many scales within the window.
pub(crate) fn too_rapid(
    f: &FormationConfig,
    d: Option<&Decision>,
    scales: usize,
    window: TimeDelta,
    phase: Phase,
) -> Notification {
    message(
        NotificationKind::TooRapid,
        phase,
        f,
        &format!("scaled {scales} times in {}", lasted(window)),
        format!(
            "{app} {ptype} was scaled {scales} times within the last {window}: the policy may be flapping.\n\n{block}\n\nNext: consider longer cool-offs (scale_down_cooloff), a longer hysteresis or a wider dead band.\n",
            app = f.app,
            ptype = f.process_type,
            window = lasted(window),
            block = decision_block(f, d),
        ),
    )
}

/// The quantity has stayed above the threshold.
pub(crate) fn quantity_above(
    f: &FormationConfig,
    d: Option<&Decision>,
    quantity: u32,
    threshold: u32,
    phase: Phase,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Notification {
    message(
        NotificationKind::QuantityAbove,
        phase,
        f,
        &format!(
            "at {quantity} dynos > {threshold} for {}",
            lasted(now - since)
        ),
        format!(
            "{app} {ptype} has run more than {threshold} dynos since {since} (now {quantity}).\n\n{block}\n\nNext: check the bill and whether the load is expected.\n",
            app = f.app,
            ptype = f.process_type,
            since = hm(since),
            block = decision_block(f, d),
        ),
    )
}

/// Debug: what one invocation measured.
pub(crate) fn measurement(f: &FormationConfig, d: &Decision) -> Notification {
    message(
        NotificationKind::Measurement,
        Phase::Event,
        f,
        &format!("measured: {} dynos, target {}", d.current, d.target),
        format!(
            "{block}\n\n(on_measurement is a debugging switch: one mail per formation per run.)\n",
            block = decision_block(f, Some(d)),
        ),
    )
}

/// A condition cleared.
pub(crate) fn resolved(
    kind: NotificationKind,
    f: &FormationConfig,
    d: Option<&Decision>,
    what: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Notification {
    message(
        kind,
        Phase::Resolved,
        f,
        &format!("RESOLVED: {what}"),
        format!(
            "Resolved: {what} ({app} {ptype}). It began at {since} and cleared at {now} after {lasted}.\n\n{block}\n\nNext: nothing to do.\n",
            app = f.app,
            ptype = f.process_type,
            since = hm(since),
            now = hm(now),
            lasted = lasted(now - since),
            block = decision_block(f, d),
        ),
    )
}
