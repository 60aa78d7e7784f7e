//! The decision core: one table test per rule step, each with its reason code,
//! and property tests for the invariants.

use chrono::TimeDelta;
use dynopilot::domain::{
    decide, Action, CapacityRule, InputError, InputStatus, ReasonCode, ScaleHistory, Window,
};
use proptest::prelude::*;

use crate::helpers::*;

fn none() -> ScaleHistory {
    ScaleHistory::default()
}

#[test]
fn capacity_rule_asks_for_ceil_of_load_over_per_dyno() {
    let now = at(12, 0);
    let d = decide(
        &policy(1, 20),
        &window_with("load", &[742.0], now),
        2,
        &none(),
        now,
    );
    assert_eq!(d.target, 8);
    assert_eq!(d.action, Action::ScaleUp);
    assert_eq!(d.reason.code, ReasonCode::LoadAbove);
    assert_eq!(
        d.reason.text,
        "load: capacity: max 742 over 5m / 100 per dyno = 8"
    );
    assert_eq!(d.inputs[0].estimate, Some(8));
}

#[test]
fn exact_multiple_of_per_dyno_needs_no_extra_dyno() {
    let now = at(12, 0);
    let d = decide(
        &policy(1, 20),
        &window_with("load", &[300.0], now),
        3,
        &none(),
        now,
    );
    assert_eq!(d.target, 3);
    assert_eq!(d.action, Action::Hold);
    assert_eq!(d.reason.code, ReasonCode::Steady);
}

#[test]
fn hysteresis_uses_the_window_max_so_falls_wait_for_the_window() {
    // GIVEN load fell from 900 to 100 three minutes ago (inside the 5 min window)
    let now = at(12, 0);
    let window = window_with("load", &[900.0, 100.0, 100.0, 100.0], now);
    // WHEN deciding at 9 dynos
    let d = decide(&policy(1, 20), &window, 9, &none(), now);
    // THEN the peak still counts: hold at 9
    assert_eq!(d.target, 9);
    assert_eq!(d.inputs[0].value, Some(900.0));
    assert_eq!(d.reason.code, ReasonCode::Steady);
}

#[test]
fn hysteresis_lets_go_of_a_peak_older_than_the_window() {
    let now = at(12, 0);
    // The 900 sample is 6 minutes old, outside the 5-minute window.
    let window = window_with(
        "load",
        &[900.0, 100.0, 100.0, 100.0, 100.0, 100.0, 100.0],
        now,
    );
    let d = decide(&policy(1, 20), &window, 9, &none(), now);
    assert_eq!(d.inputs[0].value, Some(100.0));
    assert_eq!(d.target, 8, "one step down (max_step_down 1)");
    assert_eq!(d.reason.code, ReasonCode::StepLimitedDown);
}

#[test]
fn rises_are_followed_at_once() {
    let now = at(12, 0);
    let window = window_with("load", &[100.0, 100.0, 1500.0], now);
    let d = decide(&policy(1, 20), &window, 1, &none(), now);
    assert_eq!(d.target, 15);
    assert_eq!(d.action, Action::ScaleUp);
}

#[test]
fn the_formation_estimate_is_the_max_over_its_inputs() {
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.inputs.push(capacity_input("queue", 10.0));
    let mut window = window_with("load", &[250.0], now);
    window
        .inputs
        .extend(window_with("queue", &[55.0], now).inputs);
    let d = decide(&p, &window, 2, &none(), now);
    assert_eq!(d.target, 6);
    assert!(d.reason.text.starts_with("queue:"), "{}", d.reason.text);
}

#[test]
fn target_is_capped_at_max() {
    let now = at(12, 0);
    let d = decide(
        &policy(1, 5),
        &window_with("load", &[2000.0], now),
        2,
        &none(),
        now,
    );
    assert_eq!(d.target, 5);
    assert_eq!(d.estimate, Some(20));
    assert!(d.needs_above(5));
    assert_eq!(d.reason.code, ReasonCode::ClampedToMax);
    assert!(
        d.reason.text.contains("capped at max 5"),
        "{}",
        d.reason.text
    );
}

#[test]
fn target_is_raised_to_min() {
    let now = at(12, 0);
    let d = decide(
        &policy(2, 5),
        &window_with("load", &[10.0], now),
        2,
        &none(),
        now,
    );
    assert_eq!(d.target, 2);
    assert_eq!(d.reason.code, ReasonCode::ClampedToMin);
}

#[test]
fn holds_inside_scale_down_cool_off() {
    let now = at(12, 0);
    let history = scaled_at(now - minutes(4), 3, 6);
    let d = decide(
        &policy(1, 20),
        &window_with("load", &[100.0; 7], now),
        6,
        &history,
        now,
    );
    assert_eq!(d.target, 6);
    assert_eq!(d.reason.code, ReasonCode::DownCooloff);
    assert!(
        d.reason.text.contains("scale_down_cooloff 5m"),
        "{}",
        d.reason.text
    );
}

#[test]
fn scales_down_once_the_cool_off_has_passed() {
    let now = at(12, 0);
    let history = scaled_at(now - minutes(5), 3, 6);
    let d = decide(
        &policy(1, 20),
        &window_with("load", &[100.0; 7], now),
        6,
        &history,
        now,
    );
    assert_eq!(d.target, 5);
    assert_eq!(d.action, Action::ScaleDown);
}

#[test]
fn scale_up_is_not_held_by_the_default_zero_up_cool_off() {
    let now = at(12, 0);
    let history = scaled_at(now - minutes(1), 3, 4);
    let d = decide(
        &policy(1, 20),
        &window_with("load", &[900.0], now),
        4,
        &history,
        now,
    );
    assert_eq!(d.target, 9);
}

#[test]
fn holds_inside_scale_up_cool_off() {
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.scale_up_cooloff = TimeDelta::minutes(2);
    let history = scaled_at(now - minutes(1), 3, 4);
    let d = decide(&p, &window_with("load", &[900.0], now), 4, &history, now);
    assert_eq!(d.target, 4);
    assert_eq!(d.reason.code, ReasonCode::UpCooloff);
}

#[test]
fn step_up_is_limited_by_max_step_up() {
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.max_step_up = Some(2);
    let d = decide(&p, &window_with("load", &[1000.0], now), 3, &none(), now);
    assert_eq!(d.target, 5);
    assert_eq!(d.reason.code, ReasonCode::StepLimitedUp);
    assert!(d.reason.text.contains("max_step_up 2"), "{}", d.reason.text);
}

#[test]
fn step_down_defaults_to_one_dyno_at_a_time() {
    let now = at(12, 0);
    let d = decide(
        &policy(1, 20),
        &window_with("load", &[100.0; 7], now),
        10,
        &none(),
        now,
    );
    assert_eq!(d.target, 9);
    assert_eq!(d.reason.code, ReasonCode::StepLimitedDown);
}

fn failing(mut window: Window, name: &str, since: chrono::DateTime<chrono::Utc>) -> Window {
    let input = window.inputs.entry(name.to_string()).or_default();
    input.record_failure(
        since,
        InputError {
            kind: "timeout".into(),
            message: "no answer".into(),
        },
    );
    window
}

#[test]
fn never_scales_down_while_an_input_is_missing() {
    // GIVEN two inputs, one quiet and one failing
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.inputs.push(capacity_input("queue", 10.0));
    let window = failing(
        window_with("load", &[100.0; 7], now),
        "queue",
        now - minutes(2),
    );
    // WHEN the quiet one alone would allow a scale-down
    let d = decide(&p, &window, 6, &none(), now);
    // THEN hold, naming the missing input
    assert_eq!(d.target, 6);
    assert_eq!(d.reason.code, ReasonCode::HeldForMissingInput);
    assert!(
        d.reason.text.contains("queue is missing"),
        "{}",
        d.reason.text
    );
    assert!(matches!(d.inputs[1].status, InputStatus::Missing { .. }));
}

#[test]
fn a_missing_input_does_not_stop_a_scale_up_from_the_others() {
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.inputs.push(capacity_input("queue", 10.0));
    let window = failing(
        window_with("load", &[1200.0], now),
        "queue",
        now - minutes(2),
    );
    let d = decide(&p, &window, 6, &none(), now);
    assert_eq!(d.target, 12);
}

#[test]
fn a_stale_sample_counts_as_missing() {
    // The newest sample is 3 minutes old; interval 1 min + 60 s slack = 2 min.
    let now = at(12, 0);
    let window = window_with("load", &[100.0], now - minutes(3));
    let d = decide(&policy(1, 20), &window, 5, &none(), now);
    assert_eq!(d.target, 5);
    assert_eq!(d.reason.code, ReasonCode::AllInputsMissing);
    assert!(
        d.inputs[0].explanation.contains("3m old"),
        "{}",
        d.inputs[0].explanation
    );
}

#[test]
fn every_input_missing_holds_the_current_count() {
    let now = at(12, 0);
    let window = failing(Window::default(), "load", now - minutes(3));
    let d = decide(&policy(1, 20), &window, 4, &none(), now);
    assert_eq!(d.target, 4);
    assert_eq!(d.reason.code, ReasonCode::AllInputsMissing);
}

#[test]
fn every_input_missing_past_fallback_after_applies_the_fallback() {
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.fallback = Some(6);
    let window = failing(Window::default(), "load", now - minutes(11));
    let d = decide(&p, &window, 2, &none(), now);
    assert_eq!(d.target, 6);
    assert_eq!(d.reason.code, ReasonCode::Fallback);
    assert!(d.reason.text.contains("fallback 6"), "{}", d.reason.text);
}

#[test]
fn fallback_never_lowers_the_current_count() {
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.fallback = Some(3);
    let window = failing(Window::default(), "load", now - minutes(11));
    let d = decide(&p, &window, 8, &none(), now);
    assert_eq!(d.target, 8);
    assert_eq!(d.reason.code, ReasonCode::Fallback);
}

#[test]
fn without_a_fallback_every_input_missing_long_still_holds() {
    let now = at(12, 0);
    let window = failing(Window::default(), "load", now - minutes(60));
    let d = decide(&policy(1, 20), &window, 3, &none(), now);
    assert_eq!(d.target, 3);
    assert_eq!(d.reason.code, ReasonCode::AllInputsMissing);
}

#[test]
fn fallback_waits_until_every_input_has_been_missing_long_enough() {
    let now = at(12, 0);
    let mut p = policy(1, 20);
    p.fallback = Some(6);
    p.inputs.push(capacity_input("queue", 10.0));
    let window = failing(Window::default(), "load", now - minutes(30));
    let window = failing(window, "queue", now - minutes(2));
    let d = decide(&p, &window, 2, &none(), now);
    assert_eq!(d.target, 2);
    assert_eq!(d.reason.code, ReasonCode::AllInputsMissing);
}

#[test]
fn a_formation_above_max_is_brought_inside_at_once() {
    // A manual `ps:scale web=30` with max 10: the bound is hard.
    let now = at(12, 0);
    let d = decide(
        &policy(1, 10),
        &window_with("load", &[500.0], now),
        30,
        &none(),
        now,
    );
    assert_eq!(d.target, 10);
    assert_eq!(d.reason.code, ReasonCode::OutsideBounds);
}

#[test]
fn a_formation_below_min_is_raised_even_inside_a_cool_off() {
    let now = at(12, 0);
    let history = scaled_at(now - minutes(1), 3, 0);
    let mut p = policy(2, 10);
    p.scale_up_cooloff = TimeDelta::minutes(10);
    let d = decide(&p, &window_with("load", &[0.0], now), 0, &history, now);
    assert_eq!(d.target, 2);
    assert_eq!(d.reason.code, ReasonCode::OutsideBounds);
}

#[test]
fn samples_from_the_future_are_ignored() {
    // A replayed older event must not trust samples recorded after it.
    let now = at(12, 0);
    let window = window_with("load", &[100.0, 5000.0], now + minutes(1));
    let d = decide(&policy(1, 100), &window, 1, &none(), now);
    assert_eq!(d.inputs[0].value, Some(100.0));
}

// ---------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Case {
    min: u32,
    max: u32,
    current: u32,
    values: Vec<Option<f64>>,
    per_dyno: f64,
    last_scale_ago: Option<i64>,
    up_cooloff: i64,
    down_cooloff: i64,
    step_up: Option<u32>,
    step_down: Option<u32>,
    second_input_failing: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (0u32..20, 0u32..30)
        .prop_flat_map(|(a, b)| {
            let (min, max) = (a.min(b), a.max(b));
            (
                Just(min),
                Just(max),
                0u32..40,
                prop::collection::vec(prop::option::weighted(0.9, 0.0f64..5000.0), 1..12),
                1.0f64..500.0,
                prop::option::of(0i64..900),
                0i64..600,
                0i64..900,
                prop::option::of(1u32..5),
                prop::option::of(1u32..5),
                any::<bool>(),
            )
        })
        .prop_map(
            |(min, max, current, values, per_dyno, last, up, down, su, sd, failing)| Case {
                min,
                max,
                current,
                values,
                per_dyno,
                last_scale_ago: last,
                up_cooloff: up,
                down_cooloff: down,
                step_up: su,
                step_down: sd,
                second_input_failing: failing,
            },
        )
}

fn run(case: &Case) -> (dynopilot::domain::Decision, bool) {
    let now = at(12, 0);
    let mut p = policy(case.min, case.max);
    p.inputs[0].rule = dynopilot::domain::Rule::new(dynopilot::domain::CapacityRule {
        per_dyno: case.per_dyno,
    });
    p.scale_up_cooloff = TimeDelta::seconds(case.up_cooloff);
    p.scale_down_cooloff = TimeDelta::seconds(case.down_cooloff);
    p.max_step_up = case.step_up;
    p.max_step_down = case.step_down;
    p.inputs.push(capacity_input("queue", 10.0));
    let mut window = Window::default();
    let input = window.inputs.entry("load".into()).or_default();
    let n = case.values.len() as i64;
    for (i, v) in case.values.iter().enumerate() {
        let t = now - minutes(n - 1 - i as i64);
        match v {
            Some(v) => input.record_sample(t, *v),
            None => input.record_failure(
                t,
                InputError {
                    kind: "timeout".into(),
                    message: String::new(),
                },
            ),
        }
    }
    let queue = window.inputs.entry("queue".into()).or_default();
    if case.second_input_failing {
        queue.record_failure(
            now - minutes(1),
            InputError {
                kind: "unavailable".into(),
                message: String::new(),
            },
        );
    } else {
        queue.record_sample(now, 0.0);
    }
    let history = match case.last_scale_ago {
        Some(s) => scaled_at(now - TimeDelta::seconds(s), 1, case.current),
        None => ScaleHistory::default(),
    };
    let any_missing = case.second_input_failing || case.values.last().is_some_and(Option::is_none);
    (
        decide(&p, &window, case.current, &history, now),
        any_missing,
    )
}

proptest! {
    #[test]
    fn target_is_always_within_min_and_max(c in case()) {
        let (d, _) = run(&c);
        prop_assert!(d.target >= c.min && d.target <= c.max, "{} not in [{}, {}]: {:?}", d.target, c.min, c.max, d.reason);
    }

    #[test]
    fn never_scales_down_inside_the_down_cool_off(c in case()) {
        prop_assume!(c.current >= c.min && c.current <= c.max);
        let (d, _) = run(&c);
        if c.last_scale_ago.is_some_and(|ago| ago < c.down_cooloff) {
            prop_assert!(d.target >= c.current, "scaled down to {} from {} inside the cool-off: {:?}", d.target, c.current, d.reason);
        }
    }

    #[test]
    fn never_scales_up_inside_the_up_cool_off(c in case()) {
        prop_assume!(c.current >= c.min && c.current <= c.max);
        let (d, _) = run(&c);
        if c.last_scale_ago.is_some_and(|ago| ago < c.up_cooloff) {
            prop_assert!(d.target <= c.current, "scaled up to {} from {} inside the cool-off: {:?}", d.target, c.current, d.reason);
        }
    }

    #[test]
    fn never_scales_down_while_any_input_is_missing(c in case()) {
        prop_assume!(c.current >= c.min && c.current <= c.max);
        let (d, any_missing) = run(&c);
        if any_missing {
            prop_assert!(d.target >= c.current, "scaled down to {} from {} with an input missing: {:?}", d.target, c.current, d.reason);
        }
    }

    #[test]
    fn steps_never_exceed_the_step_limits_within_bounds(c in case()) {
        prop_assume!(c.current >= c.min && c.current <= c.max);
        let (d, _) = run(&c);
        if let Some(step) = c.step_up {
            prop_assert!(d.target <= c.current + step);
        }
        if let Some(step) = c.step_down {
            prop_assert!(d.target + step >= c.current);
        }
    }

    #[test]
    fn constant_load_converges_to_ceil_load_over_per_dyno_clamped(
        load in 0.0f64..5000.0,
        per_dyno in 1.0f64..500.0,
        (min, max) in (0u32..20, 0u32..30).prop_map(|(a, b)| (a.min(b), a.max(b))),
        start in 0u32..40,
        step_up in prop::option::of(1u32..4),
        step_down in prop::option::of(1u32..4),
    ) {
        // GIVEN a constant load, replayed minute by minute with scales applied
        let mut p = policy(min, max);
        p.inputs[0].rule = dynopilot::domain::Rule::new(CapacityRule { per_dyno });
        p.max_step_up = step_up;
        p.max_step_down = step_down;
        let mut now = at(0, 0);
        let mut window = Window::default();
        let mut history = ScaleHistory::default();
        let mut current = start;
        // Enough minutes for the worst case: 40 dynos away, 1 per 5-minute cool-off.
        for _ in 0..(40 * 6 + 10) {
            window.inputs.entry("load".into()).or_default().record_sample(now, load);
            let d = decide(&p, &window, current, &history, now);
            if d.target != current {
                history.record(dynopilot::domain::ScaleEvent { at: now, from: current, to: d.target });
                current = d.target;
            }
            if let Some(w) = window.inputs.get_mut("load") {
                w.prune(now, p.hysteresis);
            }
            now += minutes(1);
        }
        // THEN it settles on ceil(load / per_dyno) within bounds
        let expected = ((load / per_dyno).ceil() as u32).clamp(min, max);
        prop_assert_eq!(current, expected);
    }
}
