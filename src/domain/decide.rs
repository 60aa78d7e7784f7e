//! `decide`: from policy, window, current quantity, history and `now` to a target.
//!
//! The steps, in order (each one can only narrow what the previous allowed):
//! 1. each input's estimate from its rule (see `rules`: capacity, consecutive,
//!    average, trend, target);
//! 2. the formation's estimate is the max over its present inputs; when every
//!    input is missing, hold the current count (or `fallback` after `fallback_after`);
//! 3. clamp to `[min, max]` as they are at `now` (either may be a schedule);
//! 4. fail-safe: while any input is missing, never go below the current count;
//! 5. cool-offs after the last scale;
//! 6. step limits;
//! 7. clamp to `[min, max]` again: the bounds are hard, so a formation outside
//!    them (a manual `ps:scale`, a changed config) is brought inside at once.
//!
//! Dynosaur scaled to `min` when its inputs failed; a dead metrics API must
//! never take a site down, so a missing input here only ever holds or raises.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::rules::{self, secs};
use super::{InputPolicy, InputWindow, Policy, Sample, ScaleHistory, Window, CLOCK_TOLERANCE};

/// What the decision asks the platform to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ScaleUp,
    ScaleDown,
    Hold,
}

/// Stable, machine-matchable label for why the target is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The estimate equals the current count.
    Steady,
    /// The estimate is above the current count and nothing held it back.
    LoadAbove,
    /// The estimate is below the current count and nothing held it back.
    LoadBelow,
    /// The estimate is above `max`: capped there.
    ClampedToMax,
    /// The estimate is below `min`: raised to it.
    ClampedToMin,
    /// A scale-down was refused because an input is missing (fail-safe).
    HeldForMissingInput,
    /// Every input is missing: the current count is kept.
    AllInputsMissing,
    /// Every input has been missing longer than `fallback_after`: `fallback` applies.
    Fallback,
    /// A scale-up was refused inside `scale_up_cooloff`.
    UpCooloff,
    /// A scale-down was refused inside `scale_down_cooloff`.
    DownCooloff,
    /// A scale-up was cut to `max_step_up`.
    StepLimitedUp,
    /// A scale-down was cut to `max_step_down`.
    StepLimitedDown,
    /// The formation was outside `[min, max]` and is brought inside.
    OutsideBounds,
}

impl ReasonCode {
    /// The label as it appears in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Steady => "steady",
            Self::LoadAbove => "load_above",
            Self::LoadBelow => "load_below",
            Self::ClampedToMax => "clamped_to_max",
            Self::ClampedToMin => "clamped_to_min",
            Self::HeldForMissingInput => "held_for_missing_input",
            Self::AllInputsMissing => "all_inputs_missing",
            Self::Fallback => "fallback",
            Self::UpCooloff => "up_cooloff",
            Self::DownCooloff => "down_cooloff",
            Self::StepLimitedUp => "step_limited_up",
            Self::StepLimitedDown => "step_limited_down",
            Self::OutsideBounds => "outside_bounds",
        }
    }
}

/// Why the target is what it is: a code for machines and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub code: ReasonCode,
    pub text: String,
}

/// Whether an input contributed to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum InputStatus {
    /// A fresh sample was available.
    Present,
    /// The last poll failed, or the newest sample is stale, or there is none.
    Missing {
        /// Since when it has been missing (start of the failure run, or when the
        /// newest sample went stale).
        since: Option<DateTime<Utc>>,
    },
}

/// One input's contribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputEstimate {
    pub name: String,
    pub status: InputStatus,
    /// The value the rule used (for `capacity`: the window max).
    pub value: Option<f64>,
    /// Dynos this input asks for.
    pub estimate: Option<u32>,
    /// How the estimate was computed, e.g. `max 742 over 300s / 150 per dyno = 5`.
    pub explanation: String,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub current: u32,
    pub target: u32,
    /// `min` in force at `now` (a schedule's current entry, or the fixed value).
    pub min: u32,
    /// `max` in force at `now`.
    pub max: u32,
    pub action: Action,
    pub reason: Reason,
    /// The combined estimate before bounds, cool-offs and step limits (`None` when
    /// every input is missing). Above `max` means the formation needs more than allowed.
    pub estimate: Option<u32>,
    pub inputs: Vec<InputEstimate>,
}

impl Decision {
    /// True when the combined estimate asked for more than `max`.
    pub fn needs_above(&self, max: u32) -> bool {
        self.estimate.is_some_and(|e| e > max)
    }
}

/// Decide the target dyno count for one formation. Pure: no I/O, no clock.
pub fn decide(
    policy: &Policy,
    window: &Window,
    current: u32,
    history: &ScaleHistory,
    now: DateTime<Utc>,
) -> Decision {
    let max = policy.max.resolve(now);
    let mut min = policy.min.resolve(now);
    // The config refuses min > max at any time; a hand-built policy that has it
    // gets max (the cost cap) rather than a panic in `clamp`.
    if min.value > max.value {
        min = max;
    }
    let empty = InputWindow::default();
    let inputs: Vec<InputEstimate> = policy
        .inputs
        .iter()
        .map(|input| {
            let stored = window.inputs.get(&input.name).unwrap_or(&empty);
            estimate_input(input, stored, current, history, policy.hysteresis, now)
        })
        .collect();

    let missing: Vec<&InputEstimate> = inputs
        .iter()
        .filter(|i| matches!(i.status, InputStatus::Missing { .. }))
        .collect();
    let combined = inputs
        .iter()
        .filter_map(|i| i.estimate.map(|e| (e, i.name.as_str())))
        .max_by_key(|(e, _)| *e);

    // Step 2: the wanted count and the reason it is wanted.
    let (mut target, mut reason) = match combined {
        Some((estimate, name)) => {
            let code = match estimate.cmp(&current) {
                std::cmp::Ordering::Greater => ReasonCode::LoadAbove,
                std::cmp::Ordering::Less => ReasonCode::LoadBelow,
                std::cmp::Ordering::Equal => ReasonCode::Steady,
            };
            let detail = inputs
                .iter()
                .find(|i| i.name == name)
                .map(|i| i.explanation.clone())
                .unwrap_or_default();
            (estimate, reason(code, format!("{name}: {detail}")))
        }
        None => all_missing(policy, &inputs, current, now),
    };
    let estimate = combined.map(|(e, _)| e);

    // Step 3: bounds, resolved at `now` (a schedule may have changed them).
    if target > max.value {
        reason = reason_with(
            ReasonCode::ClampedToMax,
            format!("needs {target}, capped at max {max}"),
            &reason,
        );
        target = max.value;
    } else if target < min.value {
        reason = reason_with(
            ReasonCode::ClampedToMin,
            format!("needs {target}, raised to min {min}"),
            &reason,
        );
        target = min.value;
    }

    // Step 4: fail-safe. Never lower the count while an input is missing.
    if target < current && !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|i| i.name.as_str()).collect();
        reason = reason_with(
            ReasonCode::HeldForMissingInput,
            format!(
                "would go to {target} but input {} is missing; holding {current}",
                names.join(", ")
            ),
            &reason,
        );
        target = current;
    }

    // Step 5: cool-offs, from the last scale in either direction.
    // `last_at` never answers a time after `now`: `since` is never negative.
    if let Some(last) = history.last_at(now) {
        let since = now - last.at;
        if target > current && since < policy.scale_up_cooloff {
            reason = reason_with(
                ReasonCode::UpCooloff,
                format!(
                    "would go to {target} but last scaled {} ago (scale_up_cooloff {})",
                    secs(since),
                    secs(policy.scale_up_cooloff)
                ),
                &reason,
            );
            target = current;
        } else if target < current && since < policy.scale_down_cooloff {
            reason = reason_with(
                ReasonCode::DownCooloff,
                format!(
                    "would go to {target} but last scaled {} ago (scale_down_cooloff {})",
                    secs(since),
                    secs(policy.scale_down_cooloff)
                ),
                &reason,
            );
            target = current;
        }
    }

    // Step 6: step limits.
    if let Some(step) = policy.max_step_up {
        if target > current.saturating_add(step) {
            let limited = current.saturating_add(step);
            reason = reason_with(
                ReasonCode::StepLimitedUp,
                format!("would go to {target}, limited to {limited} (max_step_up {step})"),
                &reason,
            );
            target = limited;
        }
    }
    if let Some(step) = policy.max_step_down {
        if target < current.saturating_sub(step) {
            let limited = current.saturating_sub(step);
            reason = reason_with(
                ReasonCode::StepLimitedDown,
                format!("would go to {target}, limited to {limited} (max_step_down {step})"),
                &reason,
            );
            target = limited;
        }
    }

    // Step 7: the bounds are hard, whatever cool-offs and steps said.
    let bounded = target.clamp(min.value, max.value);
    if bounded != target {
        reason = reason_with(
            ReasonCode::OutsideBounds,
            format!("{current} is outside [{min}, {max}]: going to {bounded}"),
            &reason,
        );
        target = bounded;
    }

    let action = match target.cmp(&current) {
        std::cmp::Ordering::Greater => Action::ScaleUp,
        std::cmp::Ordering::Less => Action::ScaleDown,
        std::cmp::Ordering::Equal => Action::Hold,
    };
    Decision {
        current,
        target,
        min: min.value,
        max: max.value,
        action,
        reason,
        estimate,
        inputs,
    }
}

/// Step 1 for one input: the stored samples' checks, then its rule.
fn estimate_input(
    input: &InputPolicy,
    stored: &InputWindow,
    current: u32,
    history: &ScaleHistory,
    hysteresis: TimeDelta,
    now: DateTime<Utc>,
) -> InputEstimate {
    let missing = |since: Option<DateTime<Utc>>, why: String| InputEstimate {
        name: input.name.clone(),
        status: InputStatus::Missing { since },
        value: None,
        estimate: None,
        explanation: why,
    };
    if let Some(since) = stored.failing_since {
        let kind = stored
            .last_error
            .as_ref()
            .map_or("error", |e| e.kind.as_str());
        return missing(
            Some(since),
            format!("failing since {} ({kind})", since.format("%H:%M:%SZ")),
        );
    }
    // Samples dated further after `now` than any clock can be off mean that
    // `now` is wrong (an event dated 1970) or they are: either way this input
    // cannot be read at `now`, and as missing data it can never lower the count.
    if let Some(newest) = stored
        .samples
        .last()
        .filter(|s| s.at > now + CLOCK_TOLERANCE)
    {
        return missing(
            None,
            format!(
                "stored samples run to {}, after now: not read at this time",
                newest.at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        );
    }
    // Samples from the future (a replayed older event) are ignored, never trusted.
    let usable: Vec<Sample> = stored
        .samples
        .iter()
        .filter(|s| s.at <= now)
        .copied()
        .collect();
    let Some(latest) = usable.last().copied() else {
        return missing(None, "no sample yet".to_string());
    };
    if now - latest.at > input.stale_after() {
        return missing(
            Some(latest.at + input.stale_after()),
            format!("newest sample is {} old", secs(now - latest.at)),
        );
    }
    if !latest.value.is_finite() {
        return missing(Some(latest.at), "newest sample is not a number".to_string());
    }
    let finite: Vec<Sample> = usable.into_iter().filter(|s| s.value.is_finite()).collect();
    let outcome = input.rule.evaluate(&rules::Context {
        samples: &finite,
        current,
        last_scale: history.last_at(now).map(|e| e.at),
        hysteresis,
        stale_after: input.stale_after(),
        now,
    });
    InputEstimate {
        name: input.name.clone(),
        status: InputStatus::Present,
        value: Some(outcome.value),
        estimate: Some(outcome.estimate),
        explanation: outcome.explanation,
    }
}

/// Step 2 when no input is present.
fn all_missing(
    policy: &Policy,
    inputs: &[InputEstimate],
    current: u32,
    now: DateTime<Utc>,
) -> (u32, Reason) {
    // "Missing for longer than fallback_after" must hold for every input, so
    // count from the most recent start of a missing run. An input with no known
    // start (never sampled) counts as missing for an unknown, short time.
    let newest_start = inputs
        .iter()
        .map(|i| match i.status {
            InputStatus::Missing { since } => since,
            InputStatus::Present => Some(now),
        })
        .try_fold(DateTime::<Utc>::MIN_UTC, |acc, s| s.map(|s| acc.max(s)));
    let missing_for = newest_start.map(|start| now - start);
    match (missing_for, policy.fallback) {
        (Some(d), Some(fallback)) if d > policy.fallback_after => {
            let target = current.max(fallback);
            (
                target,
                reason(
                    ReasonCode::Fallback,
                    format!(
                        "every input missing for {} (> fallback_after {}): at least fallback {fallback}",
                        secs(d),
                        secs(policy.fallback_after)
                    ),
                ),
            )
        }
        _ => (
            current,
            reason(
                ReasonCode::AllInputsMissing,
                format!("every input missing: holding {current}"),
            ),
        ),
    }
}

fn reason(code: ReasonCode, text: String) -> Reason {
    Reason { code, text }
}

/// A later step's reason, keeping what the earlier step said as context.
fn reason_with(code: ReasonCode, text: String, earlier: &Reason) -> Reason {
    Reason {
        code,
        text: format!("{text} [{}]", earlier.text),
    }
}
