//! Builders and fixtures shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::config::{self, Config};
use dynopilot::domain::{
    AverageRule, Bound, ConsecutiveRule, InputPolicy, InputWindow, Per, Policy, Rule, Sample,
    ScaleEvent, ScaleHistory, TargetRule, TrendRule, Window,
};
use dynopilot::engine::Engine;
use dynopilot::inputs::{MetricSource, ScriptedSource};
use dynopilot::notify::RecordingNotifier;
use dynopilot::scaler::MemoryScaler;
use dynopilot::store::MemoryStateStore;

/// A fixed, readable instant: 2026-01-05 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0)
        .single()
        .expect("valid fixed time")
}

pub fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// A policy with the documented defaults, bounds `[min, max]`, and one capacity
/// input `load` at 100 per dyno polled every minute.
pub fn policy(min: u32, max: u32) -> Policy {
    Policy {
        min: Bound::Fixed(min),
        max: Bound::Fixed(max),
        scale_up_cooloff: TimeDelta::zero(),
        scale_down_cooloff: TimeDelta::seconds(300),
        max_step_up: None,
        max_step_down: Some(1),
        hysteresis: TimeDelta::seconds(300),
        fallback_after: TimeDelta::seconds(600),
        fallback: None,
        inputs: vec![capacity_input("load", 100.0)],
    }
}

pub fn capacity_input(name: &str, per_dyno: f64) -> InputPolicy {
    InputPolicy {
        name: name.to_string(),
        interval: TimeDelta::seconds(60),
        rule: Rule::Capacity { per_dyno },
    }
}

/// A window where input `name` was sampled with `values`, one per minute, the
/// last one at `now`.
pub fn window_with(name: &str, values: &[f64], now: DateTime<Utc>) -> Window {
    let mut input = InputWindow::default();
    let n = values.len() as i64;
    for (i, v) in values.iter().enumerate() {
        input.record_sample(now - TimeDelta::minutes(n - 1 - i as i64), *v);
    }
    let mut window = Window::default();
    window.inputs.insert(name.to_string(), input);
    window
}

/// A history whose only scale happened at `at`.
pub fn scaled_at(at: DateTime<Utc>, from: u32, to: u32) -> ScaleHistory {
    let mut h = ScaleHistory::default();
    h.record(ScaleEvent { at, from, to });
    h
}

/// Parse a config that must be valid.
pub fn config(toml: &str) -> Config {
    match config::parse(toml) {
        Ok(c) => c,
        Err(e) => panic!("test config is invalid: {e}"),
    }
}

/// A config with one formation `app/web` (min..max) and one input `load` at 100 per dyno.
pub fn one_formation(min: u32, max: u32) -> String {
    format!(
        r#"
[state]
kind = "memory"

[[formations]]
app = "shop-app"
type = "web"
min = {min}
max = {max}

[[formations.inputs]]
name = "load"
type = "constant"
value = 0
per_dyno = 100
"#
    )
}

/// The in-memory world around an engine.
pub struct World {
    pub engine: Engine,
    pub store: Arc<MemoryStateStore>,
    pub scaler: Arc<MemoryScaler>,
    pub notifier: Arc<RecordingNotifier>,
}

/// An engine over memory fakes, with the given sources (one list per formation).
pub fn world(config: Config, sources: Vec<Vec<Arc<dyn MetricSource>>>) -> World {
    let store = Arc::new(MemoryStateStore::new());
    let scaler = Arc::new(MemoryScaler::new());
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = Engine::new(
        Arc::new(config),
        sources,
        store.clone(),
        scaler.clone(),
        notifier.clone(),
    )
    .expect("one source per input");
    World {
        engine,
        store,
        scaler,
        notifier,
    }
}

/// A scripted source as the engine wants it.
pub fn scripted(source: ScriptedSource) -> Arc<dyn MetricSource> {
    Arc::new(source)
}

// ---------------------------------------------------------------------------
// Decision rules and schedules
// ---------------------------------------------------------------------------

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
