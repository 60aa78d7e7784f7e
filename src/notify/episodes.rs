//! Which notifications one invocation sends, deduplicated into episodes.
//!
//! A condition (needs above max, an input failing, a refused scale, ...) that
//! holds for hours must not mail every minute: a Heroku 422 repeated by every
//! scheduled run would otherwise be sixty mails an hour. So each condition kind
//! is an *episode* per formation (per input for "input failing"): one mail when
//! it begins, a reminder at most every `renotify_after` while it lasts, one
//! "resolved" mail when it clears. Scales and measurements are events: one mail
//! each, no episode.
//!
//! [`plan`] is pure (no I/O, `now` is an argument). The engine sends the plan's
//! mails and calls [`Plan::send_failed`] for each that was not accepted, so a
//! failed send is not marked sent and is retried by the next run; then the
//! marks ride in the state write the engine makes anyway.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{FormationConfig, NotificationConfig};
use crate::domain::{Action, Decision, ScaleHistory, Window};
use crate::notify::{messages, Notification, NotificationKind, Phase};
use crate::scaler::ScaleError;
use crate::store::EpisodeMark;

/// What the scale of this invocation did, if one was attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleAttempt {
    Succeeded,
    Failed(ScaleError),
}

/// Everything [`plan`] looks at for one formation.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub formation: &'a FormationConfig,
    /// This run's decision (`None` when the current count could not be read).
    pub decision: Option<&'a Decision>,
    /// The window after this run's polls (for `failing_since`).
    pub window: &'a Window,
    /// The scale history including this run's scale.
    pub history: &'a ScaleHistory,
    /// This run's scale, if one was attempted.
    pub scale: Option<&'a ScaleAttempt>,
    pub now: DateTime<Utc>,
}

/// One mail to send, and what to store if it is not accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub notification: Notification,
    /// The episode key it belongs to (`None` for events).
    pub key: Option<String>,
    /// The mark to store under `key` when the send fails (`None`: no mark).
    pub if_failed: Option<EpisodeMark>,
}

/// The outcome of [`plan`]: mails to send and the marks to store once they
/// were all accepted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub sends: Vec<Outgoing>,
    pub marks: BTreeMap<String, EpisodeMark>,
}

impl Plan {
    /// The send at `index` was not accepted: store what keeps it due next run.
    pub fn send_failed(&mut self, index: usize) {
        let Some(out) = self.sends.get(index) else {
            return;
        };
        if let Some(key) = &out.key {
            match out.if_failed {
                Some(mark) => self.marks.insert(key.clone(), mark),
                None => self.marks.remove(key),
            };
        }
    }
}

/// Whether a condition holds, as far as this run can tell.
enum Condition {
    /// It holds since `since`; worth a mail once `ready`.
    Holds {
        since: DateTime<Utc>,
        ready: bool,
    },
    Clear,
    /// This run cannot tell (no decision, no scale attempted): leave the mark.
    Unknown,
}

/// Decide the notifications of one formation for one invocation.
pub fn plan(
    config: &NotificationConfig,
    facts: &Facts<'_>,
    stored: &BTreeMap<String, EpisodeMark>,
) -> Plan {
    let f = facts.formation;
    let d = facts.decision;
    let now = facts.now;
    let mut plan = Plan::default();
    let mut episodes = Episodes {
        stored,
        renotify_after: config.renotify_after,
        now,
        plan: &mut plan,
    };

    // Events first: the scale itself.
    if let (true, Some(ScaleAttempt::Succeeded), Some(d)) = (config.on_scale, facts.scale, d) {
        episodes.event(messages::scaled(f, d));
    }

    // Scale failed: clears when a later scale succeeds, or when the decision
    // no longer asks for a change (then there is nothing left to fail).
    let failed = match (facts.scale, d) {
        (Some(ScaleAttempt::Failed(_)), _) => Condition::Holds {
            since: now,
            ready: true,
        },
        (Some(ScaleAttempt::Succeeded), _) => Condition::Clear,
        (None, Some(d)) if d.action == Action::Hold => Condition::Clear,
        _ => Condition::Unknown,
    };
    episodes.step(
        config.on_scale_failed,
        NotificationKind::ScaleFailed.as_str(),
        failed,
        |phase, since| match (facts.scale, d) {
            (Some(ScaleAttempt::Failed(e)), Some(d)) => {
                Some(messages::scale_failed(f, d, e, phase, since))
            }
            // Refused before any decision (sizes against the app's generation).
            (Some(ScaleAttempt::Failed(e)), None) => {
                Some(messages::scale_refused(f, e, phase, since))
            }
            _ => None,
        },
        |since| {
            messages::resolved(
                NotificationKind::ScaleFailed,
                f,
                d,
                "scale failed",
                since,
                now,
            )
        },
    );

    // Needs above max / below min: the combined estimate against the bound in force.
    let above = match d {
        Some(d) if d.needs_above(d.max) => Condition::Holds {
            since: now,
            ready: true,
        },
        Some(d) if d.estimate.is_some() => Condition::Clear,
        _ => Condition::Unknown,
    };
    episodes.step(
        config.on_needs_above_max,
        NotificationKind::NeedsAboveMax.as_str(),
        above,
        |phase, since| d.map(|d| messages::needs_above_max(f, d, phase, since)),
        |since| {
            messages::resolved(
                NotificationKind::NeedsAboveMax,
                f,
                d,
                "needs above max",
                since,
                now,
            )
        },
    );
    let below = match d {
        Some(d) if d.estimate.is_some_and(|e| e < d.min) => Condition::Holds {
            since: now,
            ready: true,
        },
        Some(d) if d.estimate.is_some() => Condition::Clear,
        _ => Condition::Unknown,
    };
    episodes.step(
        config.on_needs_below_min,
        NotificationKind::NeedsBelowMin.as_str(),
        below,
        |phase, since| d.map(|d| messages::needs_below_min(f, d, phase, since)),
        |since| {
            messages::resolved(
                NotificationKind::NeedsBelowMin,
                f,
                d,
                "needs below min",
                since,
                now,
            )
        },
    );

    // Input failing, one episode per configured input.
    for input in &f.inputs {
        let stored_input = facts.window.inputs.get(&input.name);
        let failing = match stored_input.and_then(|w| w.failing_since) {
            Some(since) => Condition::Holds {
                since,
                ready: now - since >= config.input_failing_after,
            },
            None => Condition::Clear,
        };
        let error = stored_input.and_then(|w| w.last_error.as_ref());
        let name = input.name.as_str();
        episodes.step(
            config.on_input_failing,
            &format!("{}:{name}", NotificationKind::InputFailing.as_str()),
            failing,
            |phase, since| {
                Some(messages::input_failing(
                    f, d, name, error, phase, since, now,
                ))
            },
            |since| {
                messages::resolved(
                    NotificationKind::InputFailing,
                    f,
                    d,
                    &format!("input {name} failing"),
                    since,
                    now,
                )
            },
        );
    }

    // Too rapid: scales in the trailing window, from the stored history.
    let recent = facts
        .history
        .events
        .iter()
        .filter(|e| e.at > now - config.too_rapid_window && e.at <= now)
        .count();
    let rapid = if recent > config.too_rapid_scales as usize {
        Condition::Holds {
            since: now,
            ready: true,
        }
    } else {
        Condition::Clear
    };
    episodes.step(
        config.on_too_rapid,
        NotificationKind::TooRapid.as_str(),
        rapid,
        |phase, _| {
            Some(messages::too_rapid(
                f,
                d,
                recent,
                config.too_rapid_window,
                phase,
            ))
        },
        |since| {
            messages::resolved(
                NotificationKind::TooRapid,
                f,
                d,
                "scaling too rapidly",
                since,
                now,
            )
        },
    );

    // Quantity above: the count after this run's scale, continuously for a while.
    let quantity = d.map(|d| match facts.scale {
        Some(ScaleAttempt::Succeeded) => d.target,
        _ => d.current,
    });
    let key = NotificationKind::QuantityAbove.as_str();
    let high = match quantity {
        Some(q) if q > config.quantity_above => {
            let since = stored.get(key).map_or(now, |m| m.since);
            Condition::Holds {
                since,
                ready: now - since >= config.quantity_above_for,
            }
        }
        Some(_) => Condition::Clear,
        None => Condition::Unknown,
    };
    let threshold = config.quantity_above;
    episodes.step(
        config.on_quantity_above,
        key,
        high,
        |phase, since| {
            quantity.map(|q| messages::quantity_above(f, d, q, threshold, phase, since, now))
        },
        |since| {
            messages::resolved(
                NotificationKind::QuantityAbove,
                f,
                d,
                &format!("quantity above {threshold}"),
                since,
                now,
            )
        },
    );

    // Debug: every measurement.
    if let (true, Some(d)) = (config.on_measurement, d) {
        episodes.event(messages::measurement(f, d));
    }
    plan
}

struct Episodes<'a> {
    stored: &'a BTreeMap<String, EpisodeMark>,
    renotify_after: TimeDelta,
    now: DateTime<Utc>,
    plan: &'a mut Plan,
}

impl Episodes<'_> {
    fn event(&mut self, notification: Notification) {
        self.plan.sends.push(Outgoing {
            notification,
            key: None,
            if_failed: None,
        });
    }

    /// One episode's step: open, remind, resolve, or nothing.
    fn step(
        &mut self,
        enabled: bool,
        key: &str,
        condition: Condition,
        open: impl FnOnce(Phase, DateTime<Utc>) -> Option<Notification>,
        resolved: impl FnOnce(DateTime<Utc>) -> Notification,
    ) {
        let mark = self.stored.get(key).copied();
        if !enabled {
            // Switched off: forget the episode without mailing about it.
            return;
        }
        let now = self.now;
        match (condition, mark) {
            (Condition::Unknown, Some(mark)) => {
                self.plan.marks.insert(key.to_string(), mark);
            }
            (Condition::Unknown | Condition::Clear, None) => {}
            (Condition::Clear, Some(mark)) => {
                if mark.last_sent.is_some() {
                    self.plan.sends.push(Outgoing {
                        notification: resolved(mark.since),
                        key: Some(key.to_string()),
                        if_failed: Some(mark),
                    });
                }
            }
            (Condition::Holds { since, ready }, mark) => {
                // An episode keeps the start it was opened with.
                let since = mark.map_or(since, |m| m.since);
                let unsent = EpisodeMark {
                    since,
                    last_sent: None,
                };
                let phase = match mark.and_then(|m| m.last_sent) {
                    None if ready => Some(Phase::Opened),
                    None => None,
                    Some(last) if now - last >= self.renotify_after => Some(Phase::Reminder),
                    Some(_) => None,
                };
                let kept = mark.unwrap_or(unsent);
                match phase.and_then(|p| open(p, since)) {
                    Some(notification) => {
                        self.plan.marks.insert(
                            key.to_string(),
                            EpisodeMark {
                                since,
                                last_sent: Some(now),
                            },
                        );
                        self.plan.sends.push(Outgoing {
                            notification,
                            key: Some(key.to_string()),
                            if_failed: Some(kept),
                        });
                    }
                    None => {
                        self.plan.marks.insert(key.to_string(), kept);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::{parse, Config};
    use crate::domain::{decide, InputError};

    const TOML: &str = r#"
[state]
kind = "memory"

[notifications]
on_quantity_above = true
quantity_above = 4
quantity_above_for = "10m"
renotify_after = "1h"

[[formations]]
app = "shop"
type = "web"
min = 1
max = 5

[[formations.inputs]]
name = "load"
type = "constant"
value = 0
per_dyno = 100
"#;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn config() -> Config {
        parse(TOML).unwrap()
    }

    /// The plan of a run at `minute` where the load asks for `load / 100` dynos at `current`.
    fn plan_at(
        config: &Config,
        minute: i64,
        load: f64,
        current: u32,
        stored: &BTreeMap<String, EpisodeMark>,
    ) -> Plan {
        let f = &config.formations[0];
        let mut window = Window::default();
        window
            .inputs
            .entry("load".into())
            .or_default()
            .record_sample(t(minute), load);
        let d = decide(
            &f.policy,
            &window,
            current,
            &ScaleHistory::default(),
            t(minute),
        );
        let facts = Facts {
            formation: f,
            decision: Some(&d),
            window: &window,
            history: &ScaleHistory::default(),
            scale: None,
            now: t(minute),
        };
        plan(&config.notifications, &facts, stored)
    }

    fn kinds(plan: &Plan) -> Vec<(NotificationKind, Phase)> {
        plan.sends
            .iter()
            .map(|o| (o.notification.kind, o.notification.phase))
            .collect()
    }

    #[test]
    fn a_lasting_condition_opens_once_then_reminds_after_renotify_after() {
        let config = config();
        let mut marks = BTreeMap::new();
        let mut sent = Vec::new();
        for minute in 0..=60 {
            let plan = plan_at(&config, minute, 900.0, 4, &marks);
            sent.extend(kinds(&plan).into_iter().map(|k| (minute, k)));
            marks = plan.marks;
        }
        assert_eq!(
            sent,
            vec![
                (0, (NotificationKind::NeedsAboveMax, Phase::Opened)),
                (60, (NotificationKind::NeedsAboveMax, Phase::Reminder)),
            ]
        );
        assert_eq!(marks["needs_above_max"].since, t(0));
        assert_eq!(marks["needs_above_max"].last_sent, Some(t(60)));
    }

    #[test]
    fn quantity_above_remembers_since_when_and_mails_only_after_the_duration() {
        let config = config();
        let mut marks = BTreeMap::new();
        let mut sent = Vec::new();
        for minute in 0..=12 {
            let plan = plan_at(&config, minute, 500.0, 5, &marks);
            sent.extend(kinds(&plan).into_iter().map(|k| (minute, k)));
            marks = plan.marks;
        }
        assert_eq!(
            sent,
            vec![(10, (NotificationKind::QuantityAbove, Phase::Opened))]
        );
        // Below the threshold again: resolved, and the mark is gone.
        let plan = plan_at(&config, 13, 300.0, 3, &marks);
        assert_eq!(
            kinds(&plan),
            vec![(NotificationKind::QuantityAbove, Phase::Resolved)]
        );
        assert!(plan.marks.is_empty());
    }

    #[test]
    fn a_condition_that_clears_before_its_mail_went_out_resolves_silently() {
        let config = config();
        let plan = plan_at(&config, 0, 500.0, 5, &BTreeMap::new());
        assert!(plan.sends.is_empty());
        assert!(plan.marks.contains_key("quantity_above"));
        let plan = plan_at(&config, 1, 300.0, 3, &plan.marks);
        assert!(plan.sends.is_empty());
        assert!(plan.marks.is_empty());
    }

    #[test]
    fn a_failed_send_keeps_the_episode_due() {
        let config = config();
        let mut plan = plan_at(&config, 0, 900.0, 4, &BTreeMap::new());
        plan.send_failed(0);
        assert_eq!(
            plan.marks["needs_above_max"],
            EpisodeMark {
                since: t(0),
                last_sent: None
            }
        );
        let retry = plan_at(&config, 1, 900.0, 4, &plan.marks);
        assert_eq!(
            kinds(&retry),
            vec![(NotificationKind::NeedsAboveMax, Phase::Opened)]
        );
        // A resolved mail that fails keeps the episode, so it is resolved next run.
        let mut resolved = plan_at(&config, 2, 100.0, 4, &retry.marks);
        assert_eq!(
            kinds(&resolved),
            vec![(NotificationKind::NeedsAboveMax, Phase::Resolved)]
        );
        resolved.send_failed(0);
        assert_eq!(resolved.marks, retry.marks);
    }

    #[test]
    fn a_switched_off_kind_forgets_its_episode_without_mail() {
        let mut config = config();
        let plan = plan_at(&config, 0, 900.0, 4, &BTreeMap::new());
        config.notifications.on_needs_above_max = false;
        let plan = plan_at(&config, 1, 900.0, 4, &plan.marks);
        assert!(plan.sends.is_empty());
        assert!(!plan.marks.contains_key("needs_above_max"));
    }

    #[test]
    fn input_failing_is_one_episode_per_input_keyed_by_its_name() {
        let config = config();
        let f = &config.formations[0];
        let mut window = Window::default();
        window
            .inputs
            .entry("load".into())
            .or_default()
            .record_failure(
                t(0),
                InputError {
                    kind: "timeout".into(),
                    message: "no answer".into(),
                },
            );
        let facts = Facts {
            formation: f,
            decision: None,
            window: &window,
            history: &ScaleHistory::default(),
            scale: None,
            now: t(10),
        };
        let plan = plan(&config.notifications, &facts, &BTreeMap::new());
        assert_eq!(
            kinds(&plan),
            vec![(NotificationKind::InputFailing, Phase::Opened)]
        );
        assert_eq!(
            plan.sends[0].notification.subject,
            "[dynopilot] shop web input load failing for 10m: timeout"
        );
        assert!(plan.marks.contains_key("input_failing:load"));
    }
}
