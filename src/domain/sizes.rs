//! Dyno sizes (scaling up a formation): the pure core.
//!
//! - [`decide_sized`]: the formation's decision worked out in dynos of the
//!   ladder's first size (counts, bounds, cool-offs and step limits), then
//!   turned into a size and a count with [`choose_size`].
//! - [`choose_size`]: given the need in dynos of a ladder's first size, the size
//!   and count to run: up to the next size as soon as the count at the current
//!   size would exceed its limit (`max`, or the size's own), down one size only
//!   when the smaller size has had room to spare for `down_delay`.
//! - [`check_app_sizes`] / [`check_generation`]: what Heroku refuses, said
//!   before it does: eco/basic mixed with other tiers in one app, Cedar names on
//!   a Fir app and the reverse.
//! - [`monthly_price`]: list prices per size (the Heroku CLI's table), for
//!   costs in dollars.

use chrono::{DateTime, TimeDelta, Utc};

use super::{decide, Action, Bound, Decision, Policy, ScaleHistory, Window};

/// The smaller size fits when its count is at most this fraction of its limit.
pub const DOWN_AT: f64 = 0.5;

/// One size of a formation's ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeStep {
    /// As Heroku names it (`standard-2x`; case does not matter).
    pub name: String,
    /// Capacity relative to the ladder's first size (the first is 1).
    pub capacity: f64,
    /// Most dynos of this size, below the formation's `max`.
    pub max: Option<u32>,
}

/// A formation's sizes, smallest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeLadder {
    pub steps: Vec<SizeStep>,
    /// The smaller size fits when its count is at most this fraction of its limit.
    pub down_at: f64,
    /// How long the smaller size must have fitted, and the last size change be old.
    pub down_delay: TimeDelta,
}

/// Why the size is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeReason {
    /// The current size serves the need within its limit.
    Fits,
    /// The count at the current size would exceed its limit: a larger size.
    Outgrown,
    /// Even the largest size cannot serve the need within its limit: capped.
    AboveTop,
    /// The smaller size has fitted for the delay: one size down.
    Smaller,
    /// The smaller size fits, but not yet for the delay.
    DownDelay,
}

/// The outcome of [`choose_size`].
#[derive(Debug, Clone, PartialEq)]
pub struct SizeChoice {
    /// Index into the ladder.
    pub size: usize,
    /// Dynos of that size: count and size change in one formation update.
    pub count: u32,
    pub reason: SizeReason,
    /// Since when the smaller size has fitted (to be stored).
    pub fits_smaller_since: Option<DateTime<Utc>>,
}

impl SizeLadder {
    fn limit(&self, size: usize, max: u32) -> u32 {
        self.steps[size].max.map_or(max, |m| m.min(max))
    }

    /// The index of a size by name (case does not matter).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Dynos of `size` that serve `need` dynos of the first size, at least `min`.
    pub fn count_at(&self, size: usize, need: u32, min: u32) -> u32 {
        let capacity = self.steps[size].capacity.max(f64::MIN_POSITIVE);
        ((f64::from(need) / capacity).ceil() as u32).max(min)
    }
}

/// The size and count for `need` dynos of the ladder's first size.
/// `current` is the current size's index; `min`/`max` are the formation's
/// bounds in force; `last_change` the newest size change.
#[allow(clippy::too_many_arguments)]
pub fn choose_size(
    ladder: &SizeLadder,
    need: u32,
    current: usize,
    min: u32,
    max: u32,
    last_change: Option<DateTime<Utc>>,
    fits_smaller_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> SizeChoice {
    let top = ladder.steps.len().saturating_sub(1);
    let current = current.min(top);
    let at = |size: usize| ladder.count_at(size, need, min);
    let choice = |size, count, reason, since| SizeChoice {
        size,
        count,
        reason,
        fits_smaller_since: since,
    };
    if at(current) > ladder.limit(current, max) {
        // Up fast: the first larger size whose count fits its limit.
        return match (current + 1..=top).find(|&s| at(s) <= ladder.limit(s, max)) {
            Some(s) => choice(s, at(s), SizeReason::Outgrown, None),
            None => choice(
                top,
                at(top).min(ladder.limit(top, max)),
                SizeReason::AboveTop,
                None,
            ),
        };
    }
    let hold = choice(current, at(current), SizeReason::Fits, None);
    let Some(smaller) = current.checked_sub(1) else {
        return hold;
    };
    let room = (ladder.down_at * f64::from(ladder.limit(smaller, max))).floor() as u32;
    if at(smaller) > room {
        return hold;
    }
    let since = fits_smaller_since.filter(|s| *s <= now).unwrap_or(now);
    let changed_ago = last_change.map_or(TimeDelta::MAX, |c| now - c);
    if now - since < ladder.down_delay || changed_ago < ladder.down_delay {
        return choice(current, at(current), SizeReason::DownDelay, Some(since));
    }
    choice(smaller, at(smaller), SizeReason::Smaller, None)
}

/// A decision in dynos of the chosen size, and the sizes it goes between.
#[derive(Debug, Clone, PartialEq)]
pub struct SizedDecision {
    /// `current`/`target` are counts of `from`/`to`; `action` is up when the
    /// size grows (even with fewer dynos), down when it shrinks.
    pub decision: Decision,
    /// The current size's index.
    pub from: usize,
    /// The size to run.
    pub to: usize,
    pub choice: SizeChoice,
}

/// Decide a formation with a size ladder. The rules, `min`/`max` in force
/// and cool-offs work in dynos of the ladder's first size, step limits in
/// dynos of the current size (the
/// current count is converted by its size's capacity, `max` is the top size's
/// limit in first-size dynos); [`choose_size`] then turns the target into a
/// size and a count within `min`/`max` (and each size's own limit). A size
/// goes down only when the decision is not a scale-up and the scale-down
/// cool-off has passed. Pure: `now` is passed in.
#[allow(clippy::too_many_arguments)]
pub fn decide_sized(
    policy: &Policy,
    ladder: &SizeLadder,
    window: &Window,
    current: u32,
    size: usize,
    history: &ScaleHistory,
    last_change: Option<DateTime<Utc>>,
    fits_smaller_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> SizedDecision {
    let top = ladder.steps.len().saturating_sub(1);
    let size = size.min(top);
    let min = policy.min.at(now);
    let max = policy.max.at(now);
    let capacity = |s: usize| ladder.steps[s].capacity.max(f64::MIN_POSITIVE);
    let base_current = (f64::from(current) * capacity(size)).ceil() as u32;
    let base_max = ((f64::from(ladder.limit(top, max)) * capacity(top)).floor() as u32).max(min);
    let mut base_policy = policy.clone();
    base_policy.min = Bound::Fixed(min);
    base_policy.max = Bound::Fixed(base_max);
    // Step limits count dynos of the current size: one performance-m less is
    // 12 standard-1x less (in first-size dynos a step of 1 would never move
    // a count of large dynos).
    let steps = |s: Option<u32>| s.map(|n| (f64::from(n) * capacity(size)).ceil() as u32);
    base_policy.max_step_up = steps(policy.max_step_up);
    base_policy.max_step_down = steps(policy.max_step_down);
    let base = decide(&base_policy, window, base_current, history, now);
    let mut choice = choose_size(
        ladder,
        base.target,
        size,
        min,
        max,
        last_change,
        fits_smaller_since,
        now,
    );
    let in_cooloff = history
        .last_at(now)
        .is_some_and(|e| now - e.at < policy.scale_down_cooloff);
    if choice.size < size && (base.action == Action::ScaleUp || in_cooloff) {
        choice = SizeChoice {
            size,
            count: ladder.count_at(size, base.target, min),
            reason: SizeReason::DownDelay,
            fits_smaller_since: fits_smaller_since.or(Some(now)),
        };
    }
    let to = choice.size;
    let action = match (to.cmp(&size), choice.count.cmp(&current)) {
        (std::cmp::Ordering::Greater, _) => Action::ScaleUp,
        (std::cmp::Ordering::Less, _) => Action::ScaleDown,
        (_, std::cmp::Ordering::Greater) => Action::ScaleUp,
        (_, std::cmp::Ordering::Less) => Action::ScaleDown,
        _ => Action::Hold,
    };
    let mut reason = base.reason.clone();
    let name = |s: usize| ladder.steps[s].name.as_str();
    reason.text = match choice.reason {
        SizeReason::Outgrown => format!(
            "{} (in {} dynos); above the limit at {}: {} {}",
            reason.text,
            name(0),
            name(size),
            choice.count,
            name(to)
        ),
        SizeReason::AboveTop => format!(
            "{} (in {} dynos); more than the largest size {} serves within its limit",
            reason.text,
            name(0),
            name(to)
        ),
        SizeReason::Smaller => format!(
            "{} (in {} dynos); {} has fitted long enough: {} {}",
            reason.text,
            name(0),
            name(to),
            choice.count,
            name(to)
        ),
        SizeReason::Fits | SizeReason::DownDelay if base.target != base_current || to != 0 => {
            format!("{} (in {} dynos, at {})", reason.text, name(0), name(to))
        }
        _ => reason.text,
    };
    let decision = Decision {
        current,
        target: choice.count,
        min,
        max,
        action,
        reason,
        estimate: base
            .estimate
            .map(|e| (f64::from(e) / capacity(to)).ceil() as u32),
        inputs: base.inputs,
    };
    SizedDecision {
        decision,
        from: size,
        to,
        choice,
    }
}

/// Default capacity of a size, relative to standard-1x (Cedar: the CPU share,
/// compute for performance sizes; Fir: vCPUs, dyno-1c-0.5gb being 1).
pub fn default_capacity(name: &str) -> Option<f64> {
    let n = name.to_ascii_lowercase();
    let cedar = match n.as_str() {
        "eco" | "basic" | "standard-1x" => Some(1.0),
        "standard-2x" => Some(2.0),
        "performance-m" => Some(12.0),
        "performance-l" | "performance-xl" => Some(50.0),
        "performance-l-ram" => Some(24.0),
        "performance-2xl" => Some(100.0),
        _ => None,
    };
    if cedar.is_some() {
        return cedar;
    }
    // dyno-<N>c-<M>gb
    let cores = n.strip_prefix("dyno-")?.split_once("c-")?.0;
    if size_generation(&n) == Some(Generation::Fir) {
        cores.parse::<f64>().ok()
    } else {
        None
    }
}

/// An app's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Cedar,
    Fir,
}

impl Generation {
    /// From `app.generation`'s name (`"cedar"`, `"fir"`; the API gives it as a
    /// string or as an object's `name`, the caller takes it out).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cedar" => Some(Self::Cedar),
            "fir" => Some(Self::Fir),
            _ => None,
        }
    }

    /// `Cedar` or `Fir`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cedar => "Cedar",
            Self::Fir => "Fir",
        }
    }
}

/// Cedar sizes and their list price in dollars a month (the Heroku CLI's
/// `COST_MONTHLY`; Eco is a flat $5 account pool, 0 per dyno here).
const CEDAR: &[(&str, u32)] = &[
    ("eco", 0),
    ("basic", 7),
    ("standard-1x", 25),
    ("standard-2x", 50),
    ("performance-m", 250),
    ("performance-l", 500),
    ("performance-l-ram", 500),
    ("performance-xl", 750),
    ("performance-2xl", 1500),
];

/// Fir sizes (`dyno-<N>c-<M>gb`) with their list price in dollars a month.
const FIR: &[(&str, u32)] = &[
    ("dyno-1c-0.5gb", 25),
    ("dyno-2c-1gb", 50),
    ("dyno-2c-4gb", 150),
    ("dyno-4c-8gb", 300),
    ("dyno-8c-16gb", 600),
    ("dyno-16c-32gb", 1200),
    ("dyno-32c-64gb", 2400),
    ("dyno-1c-4gb", 80),
    ("dyno-2c-8gb", 160),
    ("dyno-4c-16gb", 320),
    ("dyno-8c-32gb", 640),
    ("dyno-16c-64gb", 1000),
    ("dyno-1c-8gb", 100),
    ("dyno-2c-16gb", 250),
    ("dyno-4c-32gb", 500),
    ("dyno-8c-64gb", 750),
    ("dyno-16c-128gb", 1500),
];

/// Which generation a size name belongs to (`None`: not a known name).
/// Private-/Shield- sizes are Cedar (Private Spaces).
pub fn size_generation(name: &str) -> Option<Generation> {
    let n = name.to_ascii_lowercase();
    if CEDAR.iter().any(|(c, _)| *c == n) || n.starts_with("private-") || n.starts_with("shield-") {
        Some(Generation::Cedar)
    } else if FIR.iter().any(|(f, _)| *f == n) {
        Some(Generation::Fir)
    } else {
        None
    }
}

/// List price in dollars a month, where the contracts give one.
pub fn monthly_price(name: &str) -> Option<u32> {
    let n = name.to_ascii_lowercase();
    CEDAR
        .iter()
        .chain(FIR)
        .find(|(s, _)| *s == n)
        .map(|(_, price)| *price)
}

fn single_type_tier(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "eco" | "basic" | "hobby" | "free"
    )
}

/// Every size one app may run (all its formations' ladders): Heroku refuses
/// eco/basic next to any other tier ("Cannot use the following dyno types in
/// the same app: Basic and Standard-1X"), and one app is Cedar or Fir.
///
/// # Errors
/// A sentence naming the sizes that cannot go together.
pub fn check_app_sizes(names: &[&str]) -> Result<(), String> {
    let single: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| single_type_tier(n))
        .collect();
    let others: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !single_type_tier(n))
        .collect();
    if let (Some(s), Some(o)) = (single.first(), others.first()) {
        return Err(format!(
            "{s} and {o} cannot run in the same app: Heroku allows eco and basic dynos only on their own"
        ));
    }
    let distinct_single: std::collections::BTreeSet<String> =
        single.iter().map(|n| n.to_ascii_lowercase()).collect();
    if distinct_single.len() > 1 {
        return Err(format!(
            "{} cannot run in the same app: one of eco or basic for all process types",
            distinct_single
                .into_iter()
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }
    let cedar = names
        .iter()
        .find(|n| size_generation(n) == Some(Generation::Cedar));
    let fir = names
        .iter()
        .find(|n| size_generation(n) == Some(Generation::Fir));
    if let (Some(c), Some(f)) = (cedar, fir) {
        return Err(format!(
            "{c} is a Cedar size and {f} a Fir size: an app runs on one generation"
        ));
    }
    Ok(())
}

/// The sizes against the app's generation, as read from the platform.
///
/// # Errors
/// A sentence naming every size of the other generation.
pub fn check_generation(names: &[&str], app: Generation) -> Result<(), String> {
    let wrong: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| size_generation(n).is_some_and(|g| g != app))
        .collect();
    if wrong.is_empty() {
        return Ok(());
    }
    let (other, like) = match app {
        Generation::Fir => (Generation::Cedar, "dyno-2c-4gb"),
        Generation::Cedar => (Generation::Fir, "standard-2x"),
    };
    Err(format!(
        "the app runs on {} but sizes lists {} {} {}: {} sizes are named like {like}",
        app.as_str(),
        other.as_str(),
        if wrong.len() == 1 { "size" } else { "sizes" },
        wrong.join(", "),
        app.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ladder() -> SizeLadder {
        let step = |name: &str, capacity: f64| SizeStep {
            name: name.into(),
            capacity,
            max: None,
        };
        SizeLadder {
            steps: vec![
                step("standard-1x", 1.0),
                step("standard-2x", 2.0),
                step("performance-m", 12.0),
            ],
            down_at: 0.5,
            down_delay: TimeDelta::hours(1),
        }
    }

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, h, 0, 0).unwrap()
    }

    #[test]
    fn a_need_above_max_at_standard_1x_moves_to_standard_2x_with_the_right_count() {
        // 14 standard-1x dynos needed, max 10: 7 standard-2x.
        let c = choose_size(&ladder(), 14, 0, 1, 10, None, None, t(12));
        assert_eq!((c.size, c.count, c.reason), (1, 7, SizeReason::Outgrown));
        // 30 needed: standard-2x would take 15 > 10, so performance-m, 3.
        let c = choose_size(&ladder(), 30, 0, 1, 10, None, None, t(12));
        assert_eq!((c.size, c.count), (2, 3));
    }

    #[test]
    fn a_per_size_limit_moves_up_before_max() {
        let mut l = ladder();
        l.steps[0].max = Some(4);
        let c = choose_size(&l, 5, 0, 1, 10, None, None, t(12));
        assert_eq!((c.size, c.count), (1, 3));
    }

    #[test]
    fn above_the_top_is_capped_at_its_limit() {
        let c = choose_size(&ladder(), 500, 1, 1, 10, None, None, t(12));
        assert_eq!((c.size, c.count, c.reason), (2, 10, SizeReason::AboveTop));
    }

    #[test]
    fn down_one_size_only_after_the_delay() {
        // 4 needed at standard-2x (2 dynos); standard-1x would take 4 <= 5 (half of 10).
        let c = choose_size(&ladder(), 4, 1, 1, 10, Some(t(8)), None, t(12));
        assert_eq!((c.size, c.reason), (1, SizeReason::DownDelay));
        assert_eq!(c.fits_smaller_since, Some(t(12)));
        let c = choose_size(&ladder(), 4, 1, 1, 10, Some(t(8)), Some(t(12)), t(13));
        assert_eq!((c.size, c.count, c.reason), (0, 4, SizeReason::Smaller));
        // Not within the delay of the last size change either.
        let c = choose_size(&ladder(), 4, 1, 1, 10, Some(t(13)), Some(t(10)), t(13));
        assert_eq!(c.reason, SizeReason::DownDelay);
        // 8 needed: standard-1x would take 8 > 5: stays.
        let c = choose_size(&ladder(), 8, 1, 1, 10, None, Some(t(1)), t(13));
        assert_eq!((c.size, c.count, c.reason), (1, 4, SizeReason::Fits));
    }

    #[test]
    fn eco_or_basic_cannot_mix_with_other_tiers_nor_cedar_with_fir() {
        assert!(check_app_sizes(&["standard-1x", "performance-m"]).is_ok());
        let e = check_app_sizes(&["basic", "standard-1x"]).unwrap_err();
        assert!(e.contains("basic and standard-1x"), "{e}");
        assert!(check_app_sizes(&["eco", "basic"]).is_err());
        let e = check_app_sizes(&["standard-2x", "dyno-2c-4gb"]).unwrap_err();
        assert!(e.contains("Cedar") && e.contains("Fir"), "{e}");
    }

    #[test]
    fn sizes_are_checked_against_the_apps_generation() {
        assert_eq!(Generation::parse("Fir"), Some(Generation::Fir));
        let e = check_generation(&["standard-1x"], Generation::Fir).unwrap_err();
        assert!(
            e.contains("runs on Fir") && e.contains("standard-1x"),
            "{e}"
        );
        assert!(check_generation(&["dyno-1c-0.5gb"], Generation::Fir).is_ok());
        let e = check_generation(&["standard-1x", "standard-2x"], Generation::Fir).unwrap_err();
        assert!(
            e.contains("Cedar sizes standard-1x, standard-2x") && e.contains("like dyno-2c-4gb"),
            "{e}"
        );
        let e = check_generation(&["dyno-1c-0.5gb", "private-s"], Generation::Cedar).unwrap_err();
        assert!(
            e.contains("runs on Cedar") && e.contains("Fir size dyno-1c-0.5gb:"),
            "{e}"
        );
        assert!(check_generation(&["Performance-M"], Generation::Cedar).is_ok());
    }

    fn sized_policy(max: u32) -> Policy {
        use crate::domain::{CapacityRule, InputPolicy, Rule};
        Policy {
            min: Bound::Fixed(1),
            max: Bound::Fixed(max),
            scale_up_cooloff: TimeDelta::zero(),
            scale_down_cooloff: TimeDelta::seconds(300),
            max_step_up: None,
            max_step_down: Some(1),
            hysteresis: TimeDelta::seconds(300),
            fallback_after: TimeDelta::seconds(600),
            fallback: None,
            inputs: vec![InputPolicy {
                name: "load".into(),
                interval: TimeDelta::seconds(60),
                rule: Rule::new(CapacityRule { per_dyno: 100.0 }),
            }],
        }
    }

    fn load(value: f64, now: DateTime<Utc>) -> Window {
        let mut input = crate::domain::InputWindow::default();
        input.record_sample(now, value);
        let mut w = Window::default();
        w.inputs.insert("load".into(), input);
        w
    }

    #[test]
    fn a_sized_decision_works_in_first_size_dynos_and_changes_size_and_count_together() {
        let now = t(12);
        let none = ScaleHistory::default();
        // 1400 load at 100 per standard-1x: 14 needed, max 10 -> 7 standard-2x.
        let d = decide_sized(
            &sized_policy(10),
            &ladder(),
            &load(1400.0, now),
            10,
            0,
            &none,
            None,
            None,
            now,
        );
        assert_eq!((d.from, d.to), (0, 1));
        assert_eq!((d.decision.current, d.decision.target), (10, 7));
        assert_eq!(d.decision.action, Action::ScaleUp);
        assert!(
            d.decision.reason.text.contains("standard-2x"),
            "{:?}",
            d.decision.reason
        );
        // At standard-2x, 3 dynos (6 in standard-1x) and the same need: held.
        let d = decide_sized(
            &sized_policy(10),
            &ladder(),
            &load(600.0, now),
            3,
            1,
            &none,
            None,
            None,
            now,
        );
        assert_eq!(
            (d.to, d.decision.target, d.decision.action),
            (1, 3, Action::Hold)
        );
        // Far above the top: capped at max performance-m, and the estimate says so.
        let d = decide_sized(
            &sized_policy(10),
            &ladder(),
            &load(50_000.0, now),
            10,
            0,
            &none,
            None,
            None,
            now,
        );
        assert_eq!((d.to, d.decision.target), (2, 10));
        assert!(d.decision.needs_above(10));
    }

    #[test]
    fn large_dynos_step_down_by_whole_dynos_of_their_size() {
        // 2 performance-m (24 in standard-1x), need 9, max_step_down 1: one
        // performance-m less (not one standard-1x less, which would never move).
        let now = t(12);
        let d = decide_sized(
            &sized_policy(10),
            &ladder(),
            &load(900.0, now),
            2,
            2,
            &ScaleHistory::default(),
            None,
            None,
            now,
        );
        assert_eq!((d.to, d.decision.target), (2, 1));
        assert_eq!(d.decision.action, Action::ScaleDown);
    }

    #[test]
    fn a_smaller_size_waits_for_the_scale_down_cooloff() {
        let now = t(12);
        // 2 standard-2x (4 in standard-1x), need 3: standard-1x fits (3 <= 5) and
        // has fitted for the delay, but a scale 1 minute ago holds it.
        let recent = {
            let mut h = ScaleHistory::default();
            h.record(crate::domain::ScaleEvent {
                at: now - TimeDelta::minutes(1),
                from: 1,
                to: 2,
            });
            h
        };
        let args = |h: &ScaleHistory| {
            decide_sized(
                &sized_policy(10),
                &ladder(),
                &load(300.0, now),
                2,
                1,
                h,
                Some(t(1)),
                Some(t(2)),
                now,
            )
        };
        assert_eq!(args(&recent).to, 1);
        let d = args(&ScaleHistory::default());
        assert_eq!((d.to, d.decision.target), (0, 3));
        assert_eq!(d.decision.action, Action::ScaleDown);
    }

    #[test]
    fn default_capacities_follow_the_table() {
        assert_eq!(default_capacity("Standard-2X"), Some(2.0));
        assert_eq!(default_capacity("performance-m"), Some(12.0));
        assert_eq!(default_capacity("dyno-4c-16gb"), Some(4.0));
        assert_eq!(default_capacity("private-s"), None);
    }

    #[test]
    fn prices_come_from_the_list() {
        assert_eq!(monthly_price("Standard-2X"), Some(50));
        assert_eq!(monthly_price("performance-m"), Some(250));
        assert_eq!(monthly_price("dyno-2c-4gb"), Some(150));
        assert_eq!(monthly_price("private-s"), None);
    }
}
