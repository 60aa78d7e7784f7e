//! Builders and fixtures shared by the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};

/// A fixed, readable instant: 2026-01-05 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0)
        .single()
        .expect("valid fixed time")
}

// ---------------------------------------------------------------------------
// Decision rules and schedules
// ---------------------------------------------------------------------------

use chrono::TimeDelta;
use dynopilot::domain::{
    AverageRule, Bound, ConsecutiveRule, InputPolicy, InputWindow, Per, Policy, Rule, Sample,
    ScaleEvent, ScaleHistory, TargetRule, TrendRule, Window,
};

/// A policy that lets a rule's estimate through untouched: bounds 0..=100, no
/// cool-offs, no step limits, one input `rt` polled every minute.
pub fn rule_policy(rule: Rule) -> Policy {
    Policy {
        min: Bound::Fixed(0),
        max: Bound::Fixed(100),
        scale_up_cooloff: TimeDelta::zero(),
        scale_down_cooloff: TimeDelta::zero(),
        max_step_up: None,
        max_step_down: None,
        hysteresis: TimeDelta::minutes(5),
        fallback_after: TimeDelta::minutes(10),
        fallback: None,
        inputs: vec![InputPolicy {
            name: "rt".into(),
            interval: TimeDelta::minutes(1),
            rule,
        }],
    }
}

/// autoscalebot's defaults (3 fails up, 5 passes down, increment 1) with a
/// 300..800 ms band.
pub fn consecutive_rule() -> Rule {
    Rule::Consecutive(ConsecutiveRule {
        max: 800.0,
        min: 300.0,
        fails_to_scale_up: 3,
        passes_to_scale_down: 5,
        increment: 1,
    })
}

/// autoscalebot 3.0's default of 3 samples, 300..800 ms band, increment 1.
pub fn average_rule() -> Rule {
    Rule::Average(AverageRule {
        max: 800.0,
        min: 300.0,
        samples: 3,
        increment: 1,
    })
}

/// dynopilot's trend defaults: 30 min, band 300..1000 ms, slopes ±20 ms/min.
pub fn trend_rule() -> Rule {
    Rule::Trend(TrendRule {
        window: TimeDelta::minutes(30),
        high: 1000.0,
        low: 300.0,
        trend_high: 20.0,
        trend_low: -20.0,
        increment: 1,
    })
}

/// HPA's default tolerance 0.1 around `target`.
pub fn target_rule(target: f64, per: Per) -> Rule {
    Rule::Target(TargetRule {
        target,
        tolerance: 0.1,
        per,
    })
}

/// One sample per minute, oldest first, the last one at `now`.
pub fn per_minute(now: DateTime<Utc>, values: &[f64]) -> Vec<Sample> {
    let n = values.len() as i64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Sample {
            at: now - TimeDelta::minutes(n - 1 - i as i64),
            value: *v,
        })
        .collect()
}

/// A window holding `samples` for input `name`.
pub fn window_of(name: &str, samples: Vec<Sample>) -> Window {
    let mut window = Window::default();
    window.inputs.insert(
        name.to_string(),
        InputWindow {
            last_poll: samples.last().map(|s| s.at),
            samples,
            ..InputWindow::default()
        },
    );
    window
}

/// A history whose only scale happened at `at`.
pub fn scaled_at(at: DateTime<Utc>, from: u32, to: u32) -> ScaleHistory {
    let mut history = ScaleHistory::default();
    history.record(ScaleEvent { at, from, to });
    history
}
