//! `decide_plan`: which plan of an add-on's ladder its measured use needs.
//!
//! An add-on (a Redis, a log service) is scaled *up*, not out: its plan moves
//! along an ordered ladder, each plan with a capacity per dimension in the
//! units of its inputs (`memory_mb`, `connections`, ...). Pure like
//! [`super::decide`]: no I/O, `now` is an argument.
//!
//! The steps:
//! 1. each measured dimension's use is the largest sample within `hysteresis`;
//!    a dimension whose input failed or went stale is missing;
//! 2. the plan it needs is the lowest whose capacity keeps the use at or below
//!    `up_at` of it (for the current plan, the smaller of the ladder's
//!    capacity and the limit the server reports, when it reports one); the add-on needs the
//!    largest over its present dimensions;
//! 3. up fast: straight to the needed plan (capped at `max_plan`), unless
//!    inside `upgrade_cooloff`; a need above the ladder's top is flagged;
//! 4. down slow: one plan at a time, only when every dimension is present and
//!    the plan below keeps every use at or below `down_at` of its capacity,
//!    and has done so for `downgrade_delay`, and the last change is at least
//!    `downgrade_delay` old. A plan change can cost a failover (and a Redis
//!    whose data outgrows the smaller plan evicts or refuses writes), so the
//!    default delay is a day, against minutes for dynos;
//! 5. missing data never lowers the plan: all missing holds, some missing
//!    can only raise it;
//! 6. below `min_plan` it is raised to it; above `max_plan` it is held (never
//!    shrunk automatically: the data may not fit).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::rules::{num, secs};
use super::{Action, ScaleHistory, Window};

/// The window key of a dimension's reported limit (e.g. Redis `maxmemory`).
pub fn limit_key(dimension: &str) -> String {
    format!("limit:{dimension}")
}

/// One plan of a ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSpec {
    /// As the platform names it, `service:plan` (`heroku-redis:premium-0`).
    pub name: String,
    /// Capacity per dimension, in the units of the inputs that measure it.
    pub capacity: BTreeMap<String, f64>,
}

/// How an add-on's plan follows its use.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanPolicy {
    /// The ladder, smallest first.
    pub plans: Vec<PlanSpec>,
    /// Index of the lowest plan allowed.
    pub min_plan: usize,
    /// Index of the highest plan allowed (what you are willing to pay for).
    pub max_plan: usize,
    /// A plan is outgrown when use exceeds this fraction of its capacity.
    pub up_at: f64,
    /// A smaller plan fits when use is at most this fraction of its capacity
    /// (below `up_at`: the band between is the hysteresis).
    pub down_at: f64,
    /// Each dimension's use is the largest sample within this window.
    pub hysteresis: TimeDelta,
    /// A newest sample older than this counts as missing.
    pub stale_after: TimeDelta,
    /// No upgrade sooner than this after a change.
    pub upgrade_cooloff: TimeDelta,
    /// A downgrade needs the smaller plan to have fitted this long, and the
    /// last change to be this old.
    pub downgrade_delay: TimeDelta,
    /// The dimensions the inputs measure (each plan has a capacity for each).
    pub dimensions: Vec<String>,
}

/// Stable label for why the target plan is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanReasonCode {
    /// The current plan is what the use needs.
    Steady,
    /// Use outgrew the current plan.
    UseAbove,
    /// The plan below has fitted for the downgrade delay.
    UseBelow,
    /// The need is above `max_plan`: capped there.
    ClampedToMax,
    /// The need is above the ladder's top plan.
    AboveTop,
    /// A downgrade was refused because a dimension is missing (fail-safe).
    HeldForMissingInput,
    /// Every dimension is missing: the plan is kept.
    AllInputsMissing,
    /// An upgrade was refused inside `upgrade_cooloff`.
    UpCooloff,
    /// A downgrade waits for `downgrade_delay`.
    DownDelay,
    /// The current plan is below `min_plan`: raised to it.
    BelowMin,
    /// The current plan is above `max_plan`: held, never shrunk automatically.
    AboveMax,
    /// The current plan is not on the ladder: nothing is changed.
    NotOnLadder,
}

impl PlanReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Steady => "steady",
            Self::UseAbove => "use_above",
            Self::UseBelow => "use_below",
            Self::ClampedToMax => "clamped_to_max",
            Self::AboveTop => "above_top",
            Self::HeldForMissingInput => "held_for_missing_input",
            Self::AllInputsMissing => "all_inputs_missing",
            Self::UpCooloff => "up_cooloff",
            Self::DownDelay => "down_delay",
            Self::BelowMin => "below_min",
            Self::AboveMax => "above_max",
            Self::NotOnLadder => "not_on_ladder",
        }
    }
}

/// Why: a code for machines and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanReason {
    pub code: PlanReasonCode,
    pub text: String,
}

/// One dimension's contribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionUse {
    pub name: String,
    /// False when its input failed, went stale or never answered.
    pub present: bool,
    /// The largest sample within the hysteresis window.
    pub value: Option<f64>,
    /// The limit the server reported with the newest sample, if it did.
    pub reported_limit: Option<f64>,
    /// The current plan's capacity used (the smaller of the ladder's and the reported limit).
    pub capacity: Option<f64>,
    /// The lowest plan index this dimension fits (`plans.len()`: none).
    pub needs: Option<usize>,
}

/// The outcome of [`decide_plan`]. Indexes are into `policy.plans`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanDecision {
    /// `None` when the current plan is not on the ladder.
    pub current: Option<usize>,
    pub target: Option<usize>,
    pub action: Action,
    pub reason: PlanReason,
    /// The plan the present dimensions need; `Some(plans.len())` when no plan
    /// of the ladder is enough; `None` when every dimension is missing.
    pub need: Option<usize>,
    /// Since when the plan below the current one has fitted (to be stored).
    pub fits_lower_since: Option<DateTime<Utc>>,
    pub dimensions: Vec<DimensionUse>,
}

impl PlanDecision {
    /// The need lies above the ladder's top plan.
    pub fn above_top(&self, policy: &PlanPolicy) -> bool {
        self.need.is_some_and(|n| n >= policy.plans.len())
    }
}

impl PlanPolicy {
    /// A plan's index by name (case-insensitive, as Heroku treats names).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.plans
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// How long samples must be kept.
    pub fn retention(&self) -> TimeDelta {
        self.hysteresis.max(self.stale_after)
    }

    fn capacity(&self, plan: usize, dimension: &str) -> Option<f64> {
        self.plans.get(plan)?.capacity.get(dimension).copied()
    }

    fn name(&self, plan: usize) -> &str {
        self.plans.get(plan).map_or("?", |p| p.name.as_str())
    }
}

/// One dimension's use from the window.
fn measure(
    policy: &PlanPolicy,
    window: &Window,
    dimension: &str,
    current: usize,
    now: DateTime<Utc>,
) -> DimensionUse {
    let stored = window.inputs.get(dimension);
    let newest = stored.and_then(|w| w.latest()).copied();
    let failing = stored.is_some_and(|w| w.last_error.is_some());
    let fresh = newest.is_some_and(|s| now - s.at <= policy.stale_after && s.at <= now);
    let present = fresh && !failing;
    let value = stored.filter(|_| present).map(|w| {
        w.samples
            .iter()
            .filter(|s| s.at > now - policy.hysteresis && s.at <= now)
            .map(|s| s.value)
            .fold(newest.map_or(0.0, |s| s.value), f64::max)
    });
    // A limit counts only when reported with the newest sample: a server
    // that stops reporting one (0 = none) must not be judged by an old one.
    let reported_limit = window
        .inputs
        .get(&limit_key(dimension))
        .and_then(|w| w.latest())
        .filter(|l| newest.is_some_and(|s| l.at >= s.at) && l.value > 0.0)
        .map(|l| l.value);
    // The smaller of the two: a server limit below the ladder's is the one
    // enforced; one above it (Redis reports `maxclients` 10000 by default
    // whatever the plan allows) says nothing about the plan.
    let capacity = match (reported_limit, policy.capacity(current, dimension)) {
        (Some(r), Some(t)) => Some(r.min(t)),
        (r, t) => r.or(t),
    };
    let needs = value.map(|v| {
        (0..policy.plans.len())
            .find(|&i| {
                let cap = if i == current {
                    capacity
                } else {
                    policy.capacity(i, dimension)
                };
                cap.is_some_and(|c| v <= policy.up_at * c)
            })
            .unwrap_or(policy.plans.len())
    });
    DimensionUse {
        name: dimension.to_string(),
        present,
        value,
        reported_limit,
        capacity,
        needs,
    }
}

fn describe(policy: &PlanPolicy, dims: &[DimensionUse]) -> String {
    dims.iter()
        .map(|d| match (d.value, d.capacity) {
            (Some(v), Some(c)) => format!(
                "{}: {} of {} ({}%{})",
                d.name,
                num(v),
                num(c),
                num((v / c * 100.0).round()),
                if d.reported_limit.is_some() {
                    ", limit reported by the server"
                } else {
                    ""
                }
            ),
            (Some(v), None) => format!("{}: {}", d.name, num(v)),
            _ => format!("{}: missing", d.name),
        })
        .chain(std::iter::once(format!(
            "up at {}%, down at {}%",
            num(policy.up_at * 100.0),
            num(policy.down_at * 100.0)
        )))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The plan an add-on should be on. See the module doc for the steps.
pub fn decide_plan(
    policy: &PlanPolicy,
    window: &Window,
    current: Option<usize>,
    history: &ScaleHistory,
    fits_lower_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> PlanDecision {
    let hold = |current: Option<usize>, code, text: String, dims, need, since| PlanDecision {
        current,
        target: current,
        action: Action::Hold,
        reason: PlanReason { code, text },
        need,
        fits_lower_since: since,
        dimensions: dims,
    };
    let Some(current) = current.filter(|&c| c < policy.plans.len()) else {
        return hold(
            None,
            PlanReasonCode::NotOnLadder,
            "the add-on's current plan is not on the configured ladder: nothing is changed".into(),
            Vec::new(),
            None,
            None,
        );
    };
    let dims: Vec<DimensionUse> = policy
        .dimensions
        .iter()
        .map(|d| measure(policy, window, d, current, now))
        .collect();
    let text = describe(policy, &dims);
    let need = dims.iter().filter_map(|d| d.needs).max();
    let all_present = dims.iter().all(|d| d.present);
    let last_change = history.last_at(now).map(|e| e.at);
    let since_change = last_change.map(|at| now - at);
    let change = |target: usize, code, text: String, need, since| PlanDecision {
        current: Some(current),
        target: Some(target),
        action: if target > current {
            Action::ScaleUp
        } else {
            Action::ScaleDown
        },
        reason: PlanReason { code, text },
        need,
        fits_lower_since: since,
        dimensions: dims.clone(),
    };

    if current < policy.min_plan {
        let target = need.map_or(policy.min_plan, |n| {
            n.clamp(policy.min_plan, policy.max_plan)
        });
        return change(
            target,
            PlanReasonCode::BelowMin,
            format!(
                "{} is below min_plan {}: {text}",
                policy.name(current),
                policy.name(policy.min_plan)
            ),
            need,
            None,
        );
    }
    let Some(need) = need else {
        return hold(
            Some(current),
            PlanReasonCode::AllInputsMissing,
            format!("no use measured: the plan is kept ({text})"),
            dims,
            None,
            None,
        );
    };
    if need > current {
        if current >= policy.max_plan {
            let code = if need >= policy.plans.len() {
                PlanReasonCode::AboveTop
            } else {
                PlanReasonCode::ClampedToMax
            };
            return hold(
                Some(current),
                code,
                format!(
                    "needs {} but {} is max_plan: {text}",
                    need_name(policy, need),
                    policy.name(current)
                ),
                dims,
                Some(need),
                None,
            );
        }
        if let Some(since) = since_change.filter(|d| *d < policy.upgrade_cooloff) {
            return hold(
                Some(current),
                PlanReasonCode::UpCooloff,
                format!(
                    "needs {} but the last change was {} ago (upgrade_cooloff {}): {text}",
                    need_name(policy, need),
                    secs(since),
                    secs(policy.upgrade_cooloff)
                ),
                dims,
                Some(need),
                None,
            );
        }
        let target = need.min(policy.max_plan);
        let code = if need >= policy.plans.len() {
            PlanReasonCode::AboveTop
        } else if need > policy.max_plan {
            PlanReasonCode::ClampedToMax
        } else {
            PlanReasonCode::UseAbove
        };
        return change(
            target,
            code,
            format!(
                "{} outgrown, needs {}: {text}",
                policy.name(current),
                need_name(policy, need)
            ),
            Some(need),
            None,
        );
    }
    if current > policy.max_plan {
        return hold(
            Some(current),
            PlanReasonCode::AboveMax,
            format!(
                "{} is above max_plan {}: held (a smaller plan may not hold the data; change it by hand): {text}",
                policy.name(current),
                policy.name(policy.max_plan)
            ),
            dims,
            Some(need),
            None,
        );
    }
    // Down: the plan below must keep every use at or below `down_at`.
    let lower = current.checked_sub(1).filter(|&l| l >= policy.min_plan);
    let fits = lower.is_some_and(|l| {
        // Judged on the present dimensions; a missing one then holds below.
        dims.iter().filter(|d| d.value.is_some()).all(|d| {
            d.value
                .zip(policy.capacity(l, &d.name))
                .is_some_and(|(v, c)| v <= policy.down_at * c)
        })
    });
    let Some(lower) = lower.filter(|_| fits) else {
        return hold(
            Some(current),
            PlanReasonCode::Steady,
            format!("{} fits: {text}", policy.name(current)),
            dims,
            Some(need),
            None,
        );
    };
    if !all_present {
        return hold(
            Some(current),
            PlanReasonCode::HeldForMissingInput,
            format!(
                "{} would fit, but a measurement is missing: never down on partial data ({text})",
                policy.name(lower)
            ),
            dims,
            Some(need),
            None,
        );
    }
    let since = fits_lower_since.filter(|s| *s <= now).unwrap_or(now);
    let fitted = now - since;
    let waited = since_change.unwrap_or(TimeDelta::MAX);
    if fitted < policy.downgrade_delay || waited < policy.downgrade_delay {
        let wait = (policy.downgrade_delay - fitted)
            .max(policy.downgrade_delay - waited.min(policy.downgrade_delay));
        return hold(
            Some(current),
            PlanReasonCode::DownDelay,
            format!(
                "{} has fitted for {}; downgrade_delay {}: down in {} at the earliest ({text})",
                policy.name(lower),
                secs(fitted),
                secs(policy.downgrade_delay),
                secs(wait)
            ),
            dims,
            Some(need),
            Some(since),
        );
    }
    change(
        lower,
        PlanReasonCode::UseBelow,
        format!(
            "{} has fitted for {}: {text}",
            policy.name(lower),
            secs(fitted)
        ),
        Some(need),
        None,
    )
}

fn need_name(policy: &PlanPolicy, need: usize) -> String {
    if need >= policy.plans.len() {
        format!(
            "more than {} (the ladder's top)",
            policy.name(policy.plans.len() - 1)
        )
    } else {
        policy.name(need).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InputError, ScaleEvent};
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
    }

    fn plan(name: &str, mb: f64, conns: f64) -> PlanSpec {
        PlanSpec {
            name: name.into(),
            capacity: [
                ("memory_mb".to_string(), mb),
                ("connections".to_string(), conns),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn policy() -> PlanPolicy {
        PlanPolicy {
            plans: vec![
                plan("r:mini", 25.0, 20.0),
                plan("r:premium-0", 50.0, 40.0),
                plan("r:premium-1", 100.0, 80.0),
                plan("r:premium-2", 250.0, 200.0),
            ],
            min_plan: 0,
            max_plan: 3,
            up_at: 0.8,
            down_at: 0.6,
            hysteresis: TimeDelta::minutes(10),
            stale_after: TimeDelta::minutes(3),
            upgrade_cooloff: TimeDelta::zero(),
            downgrade_delay: TimeDelta::hours(24),
            dimensions: vec!["memory_mb".into(), "connections".into()],
        }
    }

    fn window(at: DateTime<Utc>, mb: f64, conns: f64) -> Window {
        let mut w = Window::default();
        w.inputs
            .entry("memory_mb".into())
            .or_default()
            .record_sample(at, mb);
        w.inputs
            .entry("connections".into())
            .or_default()
            .record_sample(at, conns);
        w
    }

    #[test]
    fn use_past_up_at_moves_straight_to_the_plan_that_fits() {
        let now = t(12, 0);
        // 41 MB > 80 % of 50: premium-0 is outgrown; 80 % of 100 holds it.
        let d = decide_plan(
            &policy(),
            &window(now, 41.0, 5.0),
            Some(1),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!((d.action, d.target), (Action::ScaleUp, Some(2)));
        assert_eq!(d.reason.code, PlanReasonCode::UseAbove);
        // 190 MB from mini: up fast, three plans at once.
        let d = decide_plan(
            &policy(),
            &window(now, 190.0, 5.0),
            Some(0),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!(d.target, Some(3));
    }

    #[test]
    fn connections_alone_can_outgrow_a_plan() {
        let now = t(12, 0);
        let d = decide_plan(
            &policy(),
            &window(now, 1.0, 33.0),
            Some(1),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!(d.target, Some(2));
    }

    #[test]
    fn a_limit_reported_by_the_server_replaces_the_ladders_for_the_current_plan() {
        let now = t(12, 0);
        let mut w = window(now, 30.0, 5.0);
        w.inputs
            .entry(limit_key("memory_mb"))
            .or_default()
            .record_sample(now, 35.0);
        let d = decide_plan(&policy(), &w, Some(1), &ScaleHistory::default(), None, now);
        assert_eq!(d.target, Some(2), "30 > 80 % of the reported 35");
        // A limit from an older sample is not used.
        let mut w = window(now, 30.0, 5.0);
        w.inputs
            .entry(limit_key("memory_mb"))
            .or_default()
            .record_sample(t(11, 0), 35.0);
        let d = decide_plan(&policy(), &w, Some(1), &ScaleHistory::default(), None, now);
        assert_eq!(d.action, Action::Hold);
        // A reported limit above the ladder's (Redis' default maxclients) is not used.
        let mut w = window(now, 5.0, 33.0);
        w.inputs
            .entry(limit_key("connections"))
            .or_default()
            .record_sample(now, 10000.0);
        let d = decide_plan(&policy(), &w, Some(1), &ScaleHistory::default(), None, now);
        assert_eq!(d.target, Some(2), "33 > 80 % of the ladder's 40");
    }

    #[test]
    fn down_waits_for_the_downgrade_delay_then_goes_one_plan() {
        let p = policy();
        let history = ScaleHistory::default();
        let now = t(12, 0);
        let d = decide_plan(&p, &window(now, 5.0, 2.0), Some(3), &history, None, now);
        assert_eq!(d.action, Action::Hold);
        assert_eq!(d.reason.code, PlanReasonCode::DownDelay);
        assert_eq!(d.fits_lower_since, Some(now));
        let later = now + TimeDelta::hours(24);
        let d = decide_plan(
            &p,
            &window(later, 5.0, 2.0),
            Some(3),
            &history,
            Some(now),
            later,
        );
        assert_eq!((d.action, d.target), (Action::ScaleDown, Some(2)));
        assert_eq!(d.reason.code, PlanReasonCode::UseBelow);
    }

    #[test]
    fn down_waits_for_the_delay_after_the_last_change_too() {
        let p = policy();
        let now = t(12, 0);
        let mut history = ScaleHistory::default();
        history.record(ScaleEvent {
            at: now - TimeDelta::hours(2),
            from: 2,
            to: 3,
        });
        let d = decide_plan(
            &p,
            &window(now, 5.0, 2.0),
            Some(3),
            &history,
            Some(now - TimeDelta::hours(30)),
            now,
        );
        assert_eq!(d.reason.code, PlanReasonCode::DownDelay);
    }

    #[test]
    fn a_use_that_no_longer_fits_lower_restarts_the_delay() {
        let now = t(12, 0);
        let d = decide_plan(
            &policy(),
            &window(now, 40.0, 2.0),
            Some(2),
            &ScaleHistory::default(),
            Some(t(1, 0)),
            now,
        );
        assert_eq!(d.reason.code, PlanReasonCode::Steady);
        assert_eq!(d.fits_lower_since, None);
    }

    #[test]
    fn missing_info_holds() {
        let now = t(12, 0);
        let mut w = window(t(11, 0), 5.0, 2.0);
        for dim in ["memory_mb", "connections"] {
            w.inputs.get_mut(dim).unwrap().record_failure(
                now,
                InputError {
                    kind: "unavailable".into(),
                    message: "down".into(),
                },
            );
        }
        let d = decide_plan(
            &policy(),
            &w,
            Some(3),
            &ScaleHistory::default(),
            Some(t(0, 0) - TimeDelta::days(3)),
            now,
        );
        assert_eq!(
            (d.action, d.reason.code),
            (Action::Hold, PlanReasonCode::AllInputsMissing)
        );
        // Stale samples count as missing too.
        let d = decide_plan(
            &policy(),
            &window(t(11, 0), 5.0, 2.0),
            Some(3),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!(d.reason.code, PlanReasonCode::AllInputsMissing);
    }

    #[test]
    fn one_missing_dimension_never_lowers_but_may_raise() {
        let now = t(12, 0);
        let mut w = window(now, 5.0, 2.0);
        w.inputs.get_mut("connections").unwrap().record_failure(
            now,
            InputError {
                kind: "timeout".into(),
                message: "slow".into(),
            },
        );
        let d = decide_plan(
            &policy(),
            &w,
            Some(3),
            &ScaleHistory::default(),
            Some(now - TimeDelta::days(3)),
            now,
        );
        assert_eq!(d.reason.code, PlanReasonCode::HeldForMissingInput);
        let mut w = window(now, 45.0, 2.0);
        w.inputs.get_mut("connections").unwrap().record_failure(
            now,
            InputError {
                kind: "timeout".into(),
                message: "slow".into(),
            },
        );
        let d = decide_plan(&policy(), &w, Some(1), &ScaleHistory::default(), None, now);
        assert_eq!(d.target, Some(2));
    }

    #[test]
    fn a_need_above_the_top_is_capped_and_flagged() {
        let now = t(12, 0);
        let p = PlanPolicy {
            max_plan: 2,
            ..policy()
        };
        let d = decide_plan(
            &p,
            &window(now, 900.0, 2.0),
            Some(1),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!(d.target, Some(2));
        assert_eq!(d.reason.code, PlanReasonCode::AboveTop);
        assert!(d.above_top(&p));
        let d = decide_plan(
            &p,
            &window(now, 900.0, 2.0),
            Some(2),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!(
            (d.action, d.reason.code),
            (Action::Hold, PlanReasonCode::AboveTop)
        );
    }

    #[test]
    fn bounds_and_cooloff() {
        let now = t(12, 0);
        let p = PlanPolicy {
            min_plan: 1,
            max_plan: 2,
            upgrade_cooloff: TimeDelta::minutes(30),
            ..policy()
        };
        let d = decide_plan(
            &p,
            &window(now, 1.0, 1.0),
            Some(0),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!(
            (d.target, d.reason.code),
            (Some(1), PlanReasonCode::BelowMin)
        );
        let d = decide_plan(
            &p,
            &window(now, 1.0, 1.0),
            Some(3),
            &ScaleHistory::default(),
            None,
            now,
        );
        assert_eq!(
            (d.action, d.reason.code),
            (Action::Hold, PlanReasonCode::AboveMax)
        );
        let mut history = ScaleHistory::default();
        history.record(ScaleEvent {
            at: now - TimeDelta::minutes(10),
            from: 0,
            to: 1,
        });
        let d = decide_plan(&p, &window(now, 45.0, 1.0), Some(1), &history, None, now);
        assert_eq!(
            (d.action, d.reason.code),
            (Action::Hold, PlanReasonCode::UpCooloff)
        );
        let d = decide_plan(&p, &window(now, 45.0, 1.0), None, &history, None, now);
        assert_eq!(d.reason.code, PlanReasonCode::NotOnLadder);
    }
}
