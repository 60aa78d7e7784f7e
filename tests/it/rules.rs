//! Decision rules: table tests per rule with the predecessors' defaults, the
//! rules' config keys, the engine keeping enough history, and property tests
//! that no rule escapes bounds, cool-offs or the missing-input fail-safe.

use chrono::TimeDelta;
use dynopilot::config::{self, ConfigError};
use dynopilot::domain::{
    decide, Action, CapacityRule, Decision, Per, ReasonCode, Rule, Sample, ScaleHistory, TrendRule,
};

use crate::helpers::*;

/// Decide for the single input `rt` of `rule_policy(rule)`.
fn decide_rule(rule: Rule, samples: Vec<Sample>, current: u32, history: &ScaleHistory) -> Decision {
    decide(
        &rule_policy(rule),
        &window_of("rt", samples),
        current,
        history,
        at(12, 0),
    )
}

fn none() -> ScaleHistory {
    ScaleHistory::default()
}

// ---------------------------------------------------------------------------
// consecutive (autoscalebot: 3 fails up, 5 passes down, increment 1)
// ---------------------------------------------------------------------------

#[test]
fn consecutive_rule_table_with_autoscalebot_defaults() {
    let now = at(12, 0);
    // (samples oldest first, current, expected target, code, reason text)
    let cases: &[(&[f64], u32, u32, ReasonCode, &str)] = &[
        (
            &[900.0, 900.0, 900.0],
            2,
            3,
            ReasonCode::LoadAbove,
            "rt: consecutive: 3 slow samples in a row (> 800 ms) → +1",
        ),
        (
            &[100.0, 950.0, 900.0, 1200.0, 801.0],
            2,
            3,
            ReasonCode::LoadAbove,
            "rt: consecutive: 4 slow samples in a row (> 800 ms) → +1",
        ),
        (
            &[900.0, 900.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: consecutive: 2 slow sample(s) in a row (> 800 ms), 3 needed → hold",
        ),
        (
            &[900.0, 500.0, 900.0, 900.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: consecutive: 2 slow sample(s) in a row (> 800 ms), 3 needed → hold",
        ),
        (
            &[100.0, 100.0, 100.0, 100.0, 100.0],
            3,
            2,
            ReasonCode::LoadBelow,
            "rt: consecutive: 5 fast samples in a row (< 300 ms) → -1",
        ),
        (
            &[100.0, 100.0, 100.0, 100.0],
            3,
            3,
            ReasonCode::Steady,
            "rt: consecutive: 4 fast sample(s) in a row (< 300 ms), 5 needed → hold",
        ),
        (
            &[900.0, 900.0, 900.0, 500.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: consecutive: newest 500 ms within 300..800 → hold",
        ),
        // A sample exactly at a threshold is neither slow nor fast.
        (
            &[800.0, 800.0, 800.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: consecutive: newest 800 ms within 300..800 → hold",
        ),
    ];
    for (values, current, want, code, text) in cases {
        let d = decide_rule(
            consecutive_rule(),
            per_minute(now, values),
            *current,
            &none(),
        );
        assert_eq!(d.target, *want, "{values:?}: {}", d.reason.text);
        assert_eq!(d.reason.code, *code, "{values:?}");
        assert_eq!(d.reason.text, *text, "{values:?}");
    }
}

#[test]
fn consecutive_counts_a_failed_probe_as_slow() {
    // http_probe stores a timeout or 5xx as a sample equal to its timeout (10 s).
    let d = decide_rule(
        consecutive_rule(),
        per_minute(at(12, 0), &[10_000.0, 900.0, 10_000.0]),
        1,
        &none(),
    );
    assert_eq!(d.target, 2);
    assert_eq!(d.reason.code, ReasonCode::LoadAbove);
}

#[test]
fn consecutive_streak_restarts_after_a_scale() {
    let now = at(12, 0);
    let samples = per_minute(now, &[900.0; 5]);
    // Scaled at 11:57: only the samples at 11:58, 11:59 and 12:00 count.
    let history = scaled_at(at(11, 57), 1, 2);
    let d = decide_rule(consecutive_rule(), samples.clone(), 2, &history);
    assert_eq!(d.target, 3, "{}", d.reason.text);

    // Scaled at 11:58: two slow samples since, not enough.
    let history = scaled_at(at(11, 58), 1, 2);
    let d = decide_rule(consecutive_rule(), samples, 2, &history);
    assert_eq!(d.target, 2);
    assert_eq!(
        d.reason.text,
        "rt: consecutive: 2 slow sample(s) in a row (> 800 ms), 3 needed → hold"
    );
}

#[test]
fn consecutive_does_not_join_samples_across_a_gap_in_polling() {
    let now = at(12, 0);
    let mut samples = per_minute(now - TimeDelta::minutes(10), &[900.0, 900.0]);
    samples.push(Sample {
        at: now,
        value: 900.0,
    });
    let d = decide_rule(consecutive_rule(), samples, 2, &none());
    assert_eq!(d.target, 2);
    assert!(
        d.reason.text.contains("1 slow sample(s)"),
        "{}",
        d.reason.text
    );
}

#[test]
fn consecutive_scale_down_below_min_is_raised_to_min() {
    let mut policy = rule_policy(consecutive_rule());
    policy.min = 1.into();
    let d = decide(
        &policy,
        &window_of("rt", per_minute(at(12, 0), &[50.0; 5])),
        1,
        &none(),
        at(12, 0),
    );
    assert_eq!(d.target, 1);
    assert_eq!(d.reason.code, ReasonCode::ClampedToMin);
    assert!(d.reason.text.contains("5 fast samples in a row"));
}

// ---------------------------------------------------------------------------
// average (autoscalebot 3.0: 3 samples)
// ---------------------------------------------------------------------------

#[test]
fn average_rule_table_with_autoscalebot_defaults() {
    let now = at(12, 0);
    let cases: &[(&[f64], u32, u32, ReasonCode, &str)] = &[
        (
            &[100.0, 900.0, 700.0, 950.0],
            2,
            3,
            ReasonCode::LoadAbove,
            "rt: average: mean 850 ms of newest 3 > 800 ms → +1",
        ),
        (
            &[600.0, 200.0, 250.0, 150.0],
            2,
            1,
            ReasonCode::LoadBelow,
            "rt: average: mean 200 ms of newest 3 < 300 ms → -1",
        ),
        (
            &[400.0, 500.0, 600.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: average: mean 500 ms of newest 3 within 300..800 → hold",
        ),
        (
            &[2000.0, 2000.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: average: 2 sample(s), 3 needed → hold",
        ),
    ];
    for (values, current, want, code, text) in cases {
        let d = decide_rule(average_rule(), per_minute(now, values), *current, &none());
        assert_eq!(d.target, *want, "{values:?}: {}", d.reason.text);
        assert_eq!(d.reason.code, *code, "{values:?}");
        assert_eq!(d.reason.text, *text, "{values:?}");
    }
}

#[test]
fn average_uses_the_newest_samples_not_the_oldest() {
    // autoscalebot 3.0's code averaged the oldest three (1000 ms: up); the
    // newest three (200 ms) say the formation is now fast.
    let samples = per_minute(at(12, 0), &[1000.0, 1000.0, 1000.0, 200.0, 200.0, 200.0]);
    let d = decide_rule(average_rule(), samples, 3, &none());
    assert_eq!(d.target, 2);
    assert_eq!(d.reason.code, ReasonCode::LoadBelow);
    assert_eq!(d.inputs[0].value, Some(200.0));
}

#[test]
fn average_ignores_samples_from_before_the_last_scale() {
    let samples = per_minute(at(12, 0), &[2000.0, 2000.0, 2000.0, 900.0, 900.0]);
    let d = decide_rule(average_rule(), samples, 3, &scaled_at(at(11, 58), 2, 3));
    assert_eq!(d.target, 3);
    assert_eq!(
        d.reason.text,
        "rt: average: 2 sample(s) since the last scale, 3 needed → hold"
    );
}

// ---------------------------------------------------------------------------
// trend (Swop heroku-autoscale; defaults 30 min, 300..1000 ms, ±20 ms/min)
// ---------------------------------------------------------------------------

fn ramp(start: f64, per_minute_step: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| start + per_minute_step * i as f64).collect()
}

#[test]
fn trend_rule_table_with_its_defaults() {
    let now = at(12, 0);
    let cases: Vec<(Vec<f64>, u32, u32, ReasonCode, &str)> = vec![
        (
            vec![1200.0; 10],
            2,
            3,
            ReasonCode::LoadAbove,
            "rt: trend: mean 1200 ms > high 1000 → up",
        ),
        (
            vec![200.0; 10],
            3,
            2,
            ReasonCode::LoadBelow,
            "rt: trend: mean 200 ms < low 300, slope +0 ms/min not rising → down",
        ),
        (
            ramp(150.0, 5.0, 11),
            3,
            3,
            ReasonCode::Steady,
            "rt: trend: mean 175 ms < low 300 but rising (slope +5 ms/min) → hold",
        ),
        (
            ramp(480.0, 35.0, 9),
            2,
            3,
            ReasonCode::LoadAbove,
            "rt: trend: mean 620 ms in band 300..1000, slope +35 ms/min > 20 → up",
        ),
        (
            ramp(800.0, -35.0, 9),
            3,
            2,
            ReasonCode::LoadBelow,
            "rt: trend: mean 660 ms in band 300..1000, slope -35 ms/min < -20 → down",
        ),
        (
            ramp(600.0, 10.0, 9),
            3,
            3,
            ReasonCode::Steady,
            "rt: trend: mean 640 ms in band 300..1000, slope +10 ms/min within -20..20 → hold",
        ),
        (
            vec![5000.0, 5000.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: trend: 2 sample(s) within 30m, 3 needed → hold",
        ),
    ];
    for (values, current, want, code, text) in cases {
        let d = decide_rule(trend_rule(), per_minute(now, &values), current, &none());
        assert_eq!(d.target, want, "{values:?}: {}", d.reason.text);
        assert_eq!(d.reason.code, code, "{values:?}");
        assert_eq!(d.reason.text, text, "{values:?}");
    }
}

#[test]
fn trend_looks_only_at_its_window() {
    // 40 minutes: ten minutes of 3000 ms, then thirty of 500 ms. Only the newest
    // 30 minutes (plus the sample exactly at the window's start) count.
    let mut values = vec![3000.0; 9];
    values.extend(vec![500.0; 31]);
    let d = decide_rule(trend_rule(), per_minute(at(12, 0), &values), 2, &none());
    assert_eq!(d.target, 2, "{}", d.reason.text);
    assert_eq!(d.inputs[0].value, Some(500.0));
}

#[test]
fn trend_ignores_samples_from_before_the_last_scale() {
    // Slow before the scale at 11:58; the two samples since are not enough.
    let samples = per_minute(at(12, 0), &[1500.0; 10]);
    let d = decide_rule(trend_rule(), samples, 3, &scaled_at(at(11, 58), 2, 3));
    assert_eq!(d.target, 3);
    assert_eq!(
        d.reason.text,
        "rt: trend: 2 sample(s) within 30m since the last scale, 3 needed → hold"
    );
}

#[test]
fn trend_increment_is_configurable() {
    let mut r = *trend_rule().downcast::<TrendRule>().expect("a trend rule");
    r.increment = 3;
    let d = decide_rule(
        Rule::new(r),
        per_minute(at(12, 0), &[1500.0; 5]),
        2,
        &none(),
    );
    assert_eq!(d.target, 5);
}

#[test]
fn trend_rule_struct_holds_documented_defaults() {
    let rule = parse_rule("rule = \"trend\"").expect("parses");
    let TrendRule {
        window,
        high,
        low,
        trend_high,
        trend_low,
        increment,
    } = *rule.downcast::<TrendRule>().expect("trend rule expected");
    assert_eq!(window, TimeDelta::minutes(30));
    assert_eq!((low, high), (300.0, 1000.0));
    assert_eq!((trend_low, trend_high), (-20.0, 20.0));
    assert_eq!(increment, 1);
}

// ---------------------------------------------------------------------------
// target (Kubernetes HPA, tolerance 0.1)
// ---------------------------------------------------------------------------

/// (rule, samples oldest first, current, expected target, code, reason text)
type TargetCase = (Rule, Vec<f64>, u32, u32, ReasonCode, &'static str);

#[test]
fn target_rule_table_with_hpa_tolerance() {
    let now = at(12, 0);
    let cases: Vec<TargetCase> = vec![
        (
            target_rule(100.0, Per::Dyno),
            vec![130.0],
            2,
            3,
            ReasonCode::LoadAbove,
            "rt: target: 2 × 130/100 = 2.6 → 3",
        ),
        (
            target_rule(100.0, Per::Dyno),
            vec![105.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: target: 105/100 = 1.05 within tolerance 0.1 → hold 2",
        ),
        (
            target_rule(100.0, Per::Dyno),
            vec![90.0],
            2,
            2,
            ReasonCode::Steady,
            "rt: target: 90/100 = 0.9 within tolerance 0.1 → hold 2",
        ),
        (
            target_rule(100.0, Per::Dyno),
            vec![60.0],
            4,
            3,
            ReasonCode::LoadBelow,
            "rt: target: 4 × 60/100 = 2.4 → 3",
        ),
        (
            target_rule(100.0, Per::Dyno),
            vec![130.0],
            0,
            2,
            ReasonCode::LoadAbove,
            "rt: target: 1 (for 0 dynos) × 130/100 = 1.3 → 2",
        ),
        (
            target_rule(100.0, Per::Total),
            vec![450.0],
            3,
            5,
            ReasonCode::LoadAbove,
            "rt: target: 450 total / 100 per dyno = 4.5 → 5",
        ),
        (
            target_rule(100.0, Per::Total),
            vec![310.0],
            3,
            3,
            ReasonCode::Steady,
            "rt: target: 310 total / 100 per dyno = 3.1, within tolerance 0.1 of 3 → hold 3",
        ),
        (
            target_rule(100.0, Per::Total),
            vec![150.0],
            0,
            2,
            ReasonCode::LoadAbove,
            "rt: target: 150 total / 100 per dyno = 1.5 → 2",
        ),
    ];
    for (rule, values, current, want, code, text) in cases {
        let d = decide_rule(rule, per_minute(now, &values), current, &none());
        assert_eq!(d.target, want, "{values:?}: {}", d.reason.text);
        assert_eq!(d.reason.code, code, "{values:?}");
        assert_eq!(d.reason.text, text, "{values:?}");
    }
}

#[test]
fn target_scale_down_is_held_by_the_recent_peak() {
    // Newest 60 asks for 3 of 4; 85 two minutes ago (same formation) asks for 4.
    let samples = per_minute(at(12, 0), &[85.0, 70.0, 60.0]);
    let d = decide_rule(target_rule(100.0, Per::Dyno), samples, 4, &none());
    assert_eq!(d.target, 4);
    assert_eq!(d.reason.code, ReasonCode::Steady);
    assert_eq!(
        d.reason.text,
        "rt: target: 4 × 60/100 = 2.4 → 3, but peak 85 within 5m: 4 × 85/100 = 3.4 → 4"
    );
}

#[test]
fn target_peak_before_the_last_scale_does_not_hold_a_scale_down() {
    // The 190 was measured on 2 dynos before the scale to 4 at 11:59.
    let samples = per_minute(at(12, 0), &[190.0, 190.0, 50.0]);
    let d = decide_rule(
        target_rule(100.0, Per::Dyno),
        samples,
        4,
        &scaled_at(at(11, 59), 2, 4),
    );
    assert_eq!(d.target, 2);
    assert_eq!(d.reason.code, ReasonCode::LoadBelow);
}

#[test]
fn target_peak_holds_but_never_raises_the_count() {
    // Newest 50 asks for 2 of 3; 200 four minutes ago would ask for 6: hold 3.
    let samples = per_minute(at(12, 0), &[200.0, 100.0, 80.0, 60.0, 50.0]);
    let d = decide_rule(target_rule(100.0, Per::Dyno), samples, 3, &none());
    assert_eq!(d.target, 3);
    assert_eq!(
        d.reason.text,
        "rt: target: 3 × 50/100 = 1.5 → 2, but peak 200 within 5m: 3 × 200/100 = 6 → 6; holding 3"
    );
}

#[test]
fn target_scale_up_follows_the_newest_sample_not_an_old_peak() {
    let samples = per_minute(at(12, 0), &[300.0, 100.0, 100.0]);
    let d = decide_rule(target_rule(100.0, Per::Dyno), samples, 2, &none());
    assert_eq!(d.target, 2, "{}", d.reason.text);
}

// ---------------------------------------------------------------------------
// capacity and the combination of rules
// ---------------------------------------------------------------------------

#[test]
fn capacity_reason_names_the_rule_and_numbers() {
    let samples = per_minute(at(12, 0), &[742.0, 300.0]);
    let d = decide_rule(
        Rule::new(CapacityRule { per_dyno: 150.0 }),
        samples,
        2,
        &none(),
    );
    assert_eq!(d.target, 5);
    assert_eq!(d.reason.code, ReasonCode::LoadAbove);
    assert_eq!(
        d.reason.text,
        "rt: capacity: max 742 over 5m / 150 per dyno = 5"
    );
}

#[test]
fn formation_takes_the_largest_estimate_over_rules() {
    let mut policy = rule_policy(trend_rule());
    policy.inputs.push(dynopilot::domain::InputPolicy {
        name: "rpm".into(),
        interval: TimeDelta::minutes(1),
        rule: Rule::new(CapacityRule { per_dyno: 100.0 }),
    });
    let now = at(12, 0);
    let mut window = window_of("rt", per_minute(now, &[1500.0; 5]));
    window
        .inputs
        .extend(window_of("rpm", per_minute(now, &[150.0])).inputs);

    let d = decide(&policy, &window, 4, &none(), now);

    // trend asks for 4 + 1 = 5, capacity for 2.
    assert_eq!(d.target, 5);
    assert_eq!(d.action, Action::ScaleUp);
    assert_eq!(
        d.inputs[0].explanation,
        "trend: mean 1500 ms > high 1000 → up"
    );
    assert_eq!(d.inputs[1].estimate, Some(2));
    assert!(d.reason.text.starts_with("rt: trend:"));
}

#[test]
fn relative_rules_still_respect_the_down_cool_off() {
    let mut policy = rule_policy(consecutive_rule());
    policy.scale_down_cooloff = TimeDelta::minutes(10);
    let now = at(12, 0);
    let window = window_of("rt", per_minute(now, &[100.0; 6]));

    // Scaled 10.5 minutes ago, 6 fast samples since: down.
    let history = scaled_at(now - TimeDelta::seconds(630), 4, 3);
    let d = decide(&policy, &window, 3, &history, now);
    assert_eq!(d.target, 2, "{}", d.reason.text);

    // Scaled 5.5 minutes ago: the same streak, but inside the cool-off.
    let history = scaled_at(now - TimeDelta::seconds(330), 4, 3);
    let d = decide(&policy, &window, 3, &history, now);
    assert_eq!(d.target, 3);
    assert_eq!(d.reason.code, ReasonCode::DownCooloff);
    assert!(
        d.reason
            .text
            .contains("6 fast samples in a row (< 300 ms) → -1"),
        "{}",
        d.reason.text
    );
}

// ---------------------------------------------------------------------------
// Retention: the engine keeps what the rules need
// ---------------------------------------------------------------------------

#[test]
fn retention_is_the_longest_history_any_rule_reads() {
    let mut policy = rule_policy(trend_rule());
    assert_eq!(policy.retention(), TimeDelta::minutes(30));

    // consecutive: 5 passes, each up to interval + 60 s apart.
    policy.inputs[0].rule = consecutive_rule();
    assert_eq!(policy.retention(), TimeDelta::minutes(10));

    // capacity and target read the hysteresis window only.
    policy.inputs[0].rule = target_rule(100.0, Per::Dyno);
    assert_eq!(policy.retention(), TimeDelta::minutes(5));
}

#[tokio::test]
async fn engine_keeps_samples_for_the_trend_window_not_just_hysteresis() {
    use std::sync::Arc;

    use dynopilot::engine::{Engine, Invocation};
    use dynopilot::inputs::{MetricSource, ScriptedSource};
    use dynopilot::notify::RecordingNotifier;
    use dynopilot::scaler::MemoryScaler;
    use dynopilot::store::MemoryStateStore;

    let config = config::parse(
        r#"
        [state]
        kind = "memory"
        [[formations]]
        app = "demo-app"
        type = "web"
        max = 10
        hysteresis = "5m"
        [[formations.inputs]]
        name = "rt"
        type = "constant"
        value = 500
        rule = "trend"
        window = "20m"
        "#,
    )
    .expect("valid config");
    let store = Arc::new(MemoryStateStore::new());
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("demo-app", "web", 2);
    let source: Arc<dyn MetricSource> = Arc::new(ScriptedSource::constant(500.0));
    let engine = Engine::new(
        Arc::new(config),
        vec![vec![source]],
        store.clone(),
        scaler,
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");

    for minute in 0..25 {
        engine
            .invoke(&Invocation::at(at(12, 0) + TimeDelta::minutes(minute)))
            .await;
    }

    let state = store.snapshot("demo-app#web").expect("state saved").value;
    let samples = &state.window.inputs["rt"].samples;
    // 12:04..=12:24: the 20-minute window, far more than 5 minutes of hysteresis.
    assert_eq!(samples.len(), 21);
    assert_eq!(samples[0].at, at(12, 4));
}

// ---------------------------------------------------------------------------
// Config: the `rule` key and each rule's keys
// ---------------------------------------------------------------------------

fn config_text(input_lines: &str) -> String {
    format!(
        r#"
[[formations]]
app = "demo-app"
type = "web"
max = 10

[[formations.inputs]]
name = "rt"
type = "constant"
value = 500
{input_lines}
"#
    )
}

fn parse_rule(input_lines: &str) -> Option<Rule> {
    config::parse(&config_text(input_lines))
        .ok()
        .map(|c| c.formations[0].policy.inputs[0].rule.clone())
}

/// (path, message) of every problem.
fn problems(input_lines: &str) -> Vec<(String, String)> {
    match config::parse(&config_text(input_lines)) {
        Ok(_) => Vec::new(),
        Err(e @ ConfigError::Invalid(_)) => e
            .field_errors()
            .iter()
            .map(|f| (f.path.clone(), f.message.clone()))
            .collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn assert_problem(input_lines: &str, path: &str, contains: &str) {
    let found = problems(input_lines);
    assert!(
        found.iter().any(|(p, m)| p == path && m.contains(contains)),
        "expected {path}: ...{contains}... in {found:?}"
    );
}

const INPUT: &str = "formations[0].inputs[0]";

#[test]
fn rule_defaults_to_capacity() {
    assert_eq!(
        parse_rule("per_dyno = 100"),
        Some(Rule::new(CapacityRule { per_dyno: 100.0 }))
    );
}

#[test]
fn each_rule_parses_with_documented_defaults() {
    assert_eq!(
        parse_rule("rule = \"consecutive\"\nmin = 300\nmax = 800"),
        Some(consecutive_rule())
    );
    assert_eq!(
        parse_rule("rule = \"average\"\nmin = 300\nmax = 800"),
        Some(average_rule())
    );
    assert_eq!(parse_rule("rule = \"trend\""), Some(trend_rule()));
    assert_eq!(
        parse_rule("rule = \"target\"\ntarget = 100"),
        Some(target_rule(100.0, Per::Dyno))
    );
    assert_eq!(
        parse_rule("rule = \"target\"\ntarget = 100\nper = \"total\"\ntolerance = 0.2"),
        Some(dynopilot::domain::Rule::new(
            dynopilot::domain::TargetRule {
                target: 100.0,
                tolerance: 0.2,
                per: Per::Total
            }
        ))
    );
}

#[test]
fn unknown_rule_is_reported_with_its_path() {
    assert_problem(
        "rule = \"pid\"",
        &format!("{INPUT}.rule"),
        "unknown rule \"pid\" (capacity, consecutive, average, trend, target)",
    );
}

#[test]
fn rule_values_are_validated_with_field_paths() {
    let cases: &[(&str, &str, &str)] = &[
        ("rule = \"consecutive\"\nmax = 800", "min", "is required"),
        ("rule = \"consecutive\"\nmin = 300", "max", "is required"),
        (
            "rule = \"consecutive\"\nmin = -5\nmax = 800",
            "min",
            "must be > 0",
        ),
        (
            "rule = \"consecutive\"\nmin = 300\nmax = 0",
            "max",
            "must be > 0",
        ),
        (
            "rule = \"consecutive\"\nmin = 300\nmax = 800\nfails_to_scale_up = 0",
            "fails_to_scale_up",
            "must be >= 1",
        ),
        (
            "rule = \"consecutive\"\nmin = 300\nmax = 800\npasses_to_scale_down = -1",
            "passes_to_scale_down",
            "must be >= 1",
        ),
        (
            "rule = \"consecutive\"\nmin = 300\nmax = 800\nincrement = 0",
            "increment",
            "must be >= 1",
        ),
        (
            "rule = \"average\"\nmin = 300\nmax = 800\nsamples = 0",
            "samples",
            "must be >= 1",
        ),
        (
            "rule = \"average\"\nmin = 300\nmax = 800\nsamples = 100000",
            "samples",
            "must be at most 240",
        ),
        (
            "rule = \"trend\"\nwindow = \"1m\"",
            "window",
            "at least 3 polls",
        ),
        ("rule = \"trend\"\nwindow = \"12h\"", "window", "at most 6h"),
        ("rule = \"trend\"\nhigh = -1", "high", "must be > 0"),
        ("rule = \"target\"", "target", "is required"),
        ("rule = \"target\"\ntarget = 0", "target", "must be > 0"),
        (
            "rule = \"target\"\ntarget = 100\ntolerance = 1.5",
            "tolerance",
            "must be >= 0 and < 1",
        ),
        (
            "rule = \"target\"\ntarget = 100\ntolerance = -0.1",
            "tolerance",
            "must be >= 0 and < 1",
        ),
        (
            "rule = \"target\"\ntarget = 100\nper = \"pod\"",
            "per",
            "must be \"dyno\" or \"total\"",
        ),
    ];
    for (lines, key, message) in cases {
        assert_problem(lines, &format!("{INPUT}.{key}"), message);
    }
}

#[test]
fn inverted_bands_are_refused() {
    assert_problem(
        "rule = \"consecutive\"\nmin = 800\nmax = 300",
        &format!("{INPUT}.min"),
        "min (800) must be below max (300): the band is inverted or empty",
    );
    assert_problem(
        "rule = \"average\"\nmin = 500\nmax = 500",
        &format!("{INPUT}.min"),
        "must be below max",
    );
    assert_problem(
        "rule = \"trend\"\nlow = 1000\nhigh = 300",
        &format!("{INPUT}.low"),
        "low (1000) must be below high (300)",
    );
    assert_problem(
        "rule = \"trend\"\ntrend_low = 20\ntrend_high = -20",
        &format!("{INPUT}.trend_low"),
        "trend_low (20) must be below trend_high (-20)",
    );
}

#[test]
fn keys_of_another_rule_are_unknown_keys() {
    assert_problem(
        "rule = \"trend\"\nfails_to_scale_up = 3",
        &format!("{INPUT}.fails_to_scale_up"),
        "unknown key for rule \"trend\": fails_to_scale_up belongs to rule \"consecutive\"",
    );
    assert_problem(
        "rule = \"consecutive\"\nmin = 300\nmax = 800\nper_dyno = 100",
        &format!("{INPUT}.per_dyno"),
        "unknown key for rule \"consecutive\": per_dyno belongs to rule \"capacity\"",
    );
    assert_problem(
        "per_dyno = 100\ntarget = 100",
        &format!("{INPUT}.target"),
        "unknown key for rule \"capacity\"",
    );
    assert_problem(
        "rule = \"average\"\nmin = 300\nmax = 800\nwindow = \"5m\"",
        &format!("{INPUT}.window"),
        "belongs to rule \"trend\"",
    );
    // Each such key is reported once.
    let found = problems("rule = \"trend\"\nsamples = 3");
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn describe_shows_each_rule_with_defaults_filled_in() {
    let config = config::parse(&config_text("rule = \"trend\"")).expect("valid");
    let described = config.describe();
    let input = &described["formations"][0]["inputs"][0];
    assert_eq!(input["rule"], "trend");
    assert_eq!(input["window"], "30m");
    assert_eq!(input["low"], 300.0);
    assert_eq!(input["trend_low"], -20.0);
    assert_eq!(
        config.formations[0].policy.retention(),
        TimeDelta::minutes(30)
    );
}

// ---------------------------------------------------------------------------
// Properties: whatever the rule, bounds, cool-offs and the fail-safe hold
// ---------------------------------------------------------------------------

mod properties {
    use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
    use chrono_tz::Tz;
    use dynopilot::domain::{
        decide, AverageRule, Bound, CapacityRule, ConsecutiveRule, InputError, InputPolicy,
        InputWindow, Per, Policy, Rule, Sample, ScaleEvent, ScaleHistory, Schedule, ScheduleEntry,
        TargetRule, TrendRule, Window,
    };
    use proptest::prelude::*;

    fn any_rule() -> impl Strategy<Value = Rule> {
        prop_oneof![
            (0.5f64..500.0).prop_map(|per_dyno| Rule::new(CapacityRule { per_dyno })),
            (1.0f64..800.0, 1.0f64..1000.0, 1u32..7, 1u32..7, 1u32..4).prop_map(
                |(min, span, fails, passes, increment)| Rule::new(ConsecutiveRule {
                    min,
                    max: min + span,
                    fails_to_scale_up: fails,
                    passes_to_scale_down: passes,
                    increment,
                })
            ),
            (1.0f64..800.0, 1.0f64..1000.0, 1u32..7, 1u32..4).prop_map(
                |(min, span, samples, increment)| Rule::new(AverageRule {
                    min,
                    max: min + span,
                    samples,
                    increment,
                })
            ),
            (
                3i64..60,
                1.0f64..800.0,
                1.0f64..1000.0,
                -50.0f64..0.0,
                1.0f64..100.0,
                1u32..4
            )
                .prop_map(|(minutes, low, span, trend_low, slope_span, increment)| {
                    Rule::new(TrendRule {
                        window: TimeDelta::minutes(minutes),
                        low,
                        high: low + span,
                        trend_low,
                        trend_high: trend_low + slope_span,
                        increment,
                    })
                }),
            (1.0f64..1000.0, 0.0f64..0.5, any::<bool>()).prop_map(|(target, tolerance, total)| {
                Rule::new(TargetRule {
                    target,
                    tolerance,
                    per: if total { Per::Total } else { Per::Dyno },
                })
            }),
        ]
    }

    fn any_time() -> impl Strategy<Value = NaiveTime> {
        (0u32..24, 0u32..60).prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap())
    }

    /// (min, max) with min <= max at every time: fixed pairs, a scheduled min
    /// under a fixed max, or a fixed min under a scheduled max.
    fn any_bounds() -> impl Strategy<Value = (Bound, Bound)> {
        let tz = || {
            prop_oneof![
                Just(chrono_tz::Europe::Berlin),
                Just(chrono_tz::America::New_York)
            ]
        };
        let entries = || prop::collection::vec((any_time(), 0u32..10), 1..4);
        prop_oneof![
            (0u32..10, 0u32..10).prop_map(|(lo, span)| (Bound::Fixed(lo), Bound::Fixed(lo + span))),
            (tz(), entries(), 0u32..5).prop_map(|(tz, e, extra)| {
                let min = schedule(tz, &e);
                let max = Bound::Fixed(min.highest() + extra);
                (min, max)
            }),
            (tz(), entries(), 0u32..5).prop_map(|(tz, e, lo)| {
                let shifted: Vec<_> = e.iter().map(|(t, v)| (*t, v + lo)).collect();
                (Bound::Fixed(lo), schedule(tz, &shifted))
            }),
        ]
    }

    fn schedule(tz: Tz, entries: &[(NaiveTime, u32)]) -> Bound {
        let mut seen = std::collections::BTreeMap::new();
        for (t, v) in entries {
            seen.insert(*t, *v);
        }
        let entries = seen
            .into_iter()
            .map(|(at, value)| ScheduleEntry { at, value })
            .collect();
        Bound::Schedule(Schedule::new(tz, entries).unwrap())
    }

    /// An instant in 2026, minute-aligned, including both DST days.
    fn any_now() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..365 * 24 * 60).prop_map(|m| {
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + TimeDelta::minutes(m)
        })
    }

    #[derive(Debug, Clone)]
    struct Case {
        policy: Policy,
        window: Window,
        history: ScaleHistory,
        now: DateTime<Utc>,
        raw_current: u32,
        /// Whether the second input's last poll failed.
        other_missing: bool,
    }

    fn any_case() -> impl Strategy<Value = Case> {
        (
            any_rule(),
            any_bounds(),
            (0i64..30, 0i64..30),
            (prop::option::of(1u32..4), prop::option::of(1u32..4)),
            prop::collection::vec(0.0f64..3000.0, 1..40),
            prop::option::of((0i64..90, 0u32..20, 0u32..20)),
            any_now(),
            0u32..40,
            any::<bool>(),
            0.0f64..2000.0,
        )
            .prop_map(
                |(
                    rule,
                    (min, max),
                    (up, down),
                    (step_up, step_down),
                    values,
                    last_scale,
                    now,
                    raw_current,
                    other_missing,
                    other_value,
                )| {
                    let policy = Policy {
                        min,
                        max,
                        scale_up_cooloff: TimeDelta::minutes(up),
                        scale_down_cooloff: TimeDelta::minutes(down),
                        max_step_up: step_up,
                        max_step_down: step_down,
                        hysteresis: TimeDelta::minutes(5),
                        fallback_after: TimeDelta::minutes(10),
                        fallback: None,
                        inputs: vec![
                            InputPolicy {
                                name: "rt".into(),
                                interval: TimeDelta::minutes(1),
                                rule,
                            },
                            InputPolicy {
                                name: "other".into(),
                                interval: TimeDelta::minutes(1),
                                rule: Rule::new(CapacityRule { per_dyno: 100.0 }),
                            },
                        ],
                    };
                    let n = values.len() as i64;
                    let samples: Vec<Sample> = values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Sample {
                            at: now - TimeDelta::minutes(n - 1 - i as i64),
                            value: *v,
                        })
                        .collect();
                    let mut window = Window::default();
                    window.inputs.insert(
                        "rt".into(),
                        InputWindow {
                            samples,
                            last_poll: Some(now),
                            ..InputWindow::default()
                        },
                    );
                    let mut other = InputWindow::default();
                    other.record_sample(now - TimeDelta::minutes(1), other_value);
                    if other_missing {
                        other.record_failure(
                            now,
                            InputError {
                                kind: "timeout".into(),
                                message: "no answer".into(),
                            },
                        );
                    } else {
                        other.record_sample(now, other_value);
                    }
                    window.inputs.insert("other".into(), other);
                    let mut history = ScaleHistory::default();
                    if let Some((ago, from, to)) = last_scale {
                        history.record(ScaleEvent {
                            at: now - TimeDelta::minutes(ago),
                            from,
                            to,
                        });
                    }
                    Case {
                        policy,
                        window,
                        history,
                        now,
                        raw_current,
                        other_missing,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_rule_moves_the_target_outside_the_bounds_in_force(case in any_case()) {
            let (lo, hi) = (case.policy.min.at(case.now), case.policy.max.at(case.now));
            let within = lo + case.raw_current % (hi - lo + 1);
            for current in [case.raw_current, within] {
                let d = decide(&case.policy, &case.window, current, &case.history, case.now);
                prop_assert!(
                    (lo..=hi).contains(&d.target),
                    "current {current} → {} outside [{lo}, {hi}]: {}", d.target, d.reason.text
                );
                prop_assert_eq!((d.min, d.max), (lo, hi));
            }
        }

        #[test]
        fn no_rule_scales_inside_a_cool_off_or_down_while_an_input_is_missing(
            case in any_case()
        ) {
            let (lo, hi) = (case.policy.min.at(case.now), case.policy.max.at(case.now));
            let current = lo + case.raw_current % (hi - lo + 1);
            let d = decide(&case.policy, &case.window, current, &case.history, case.now);
            if let Some(last) = case.history.last() {
                let since = case.now - last.at;
                if since < case.policy.scale_down_cooloff {
                    prop_assert!(d.target >= current, "down inside the down cool-off: {}", d.reason.text);
                }
                if since < case.policy.scale_up_cooloff {
                    prop_assert!(d.target <= current, "up inside the up cool-off: {}", d.reason.text);
                }
            }
            if case.other_missing {
                prop_assert!(d.target >= current, "down while an input is missing: {}", d.reason.text);
            }
        }
    }
}
