//! A trustworthy `now` and monotonic state (issue 12, defects 1 and 2): an
//! event's `time` is only believed near the clock, and no run destroys stored
//! samples or freezes cool-offs because of its own `now`.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use dynopilot::config::{self, EnvSecrets};
use dynopilot::domain::{decide, Action, ReasonCode, ScaleEvent};
use dynopilot::engine::{Invocation, Outcome};
use dynopilot::inputs::ScriptedSource;
use dynopilot::lambda::Function;
use dynopilot::notify::ConsoleNotifier;
use dynopilot::store::{FormationState, MemoryStateStore, StateStore};
use serde_json::{json, Value};

use crate::helpers::*;

fn y2099() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap()
}

fn y1970() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()
}

/// The demo function (sine 500 ± 400 per hour, 100 per dyno, 5 m hysteresis
/// and scale-down cool-off), scaling for real, state in memory.
fn demo_function(store: Arc<MemoryStateStore>) -> Function {
    let demo = config::DEMO_CONFIG.replace("dry_run = true", "dry_run = false");
    let config = config::parse(&demo).expect("demo config");
    Function::build(config, &EnvSecrets, store, Arc::new(ConsoleNotifier)).expect("function")
}

fn scheduled(id: &str, time: DateTime<Utc>) -> Value {
    json!({"id": id, "detail-type": "Scheduled Event", "source": "aws.events",
           "time": time.to_rfc3339(), "detail": {}})
}

async fn run(function: &Function, event: Value, clock: DateTime<Utc>) -> Value {
    let deadline = (Utc::now().timestamp_millis() + 60_000) as u64;
    function
        .handle_at(&event, "req", deadline, clock)
        .await
        .expect("handled")
}

#[tokio::test]
async fn an_event_dated_2099_runs_at_the_clock_and_later_runs_scale_normally() {
    // GIVEN the demo function at 1 dyno
    let store = Arc::new(MemoryStateStore::new());
    let function = demo_function(store.clone());
    // WHEN an event dated 2099 arrives at 10:00 (sine 500: 5 dynos)
    let first = run(&function, scheduled("e-2099", y2099()), at(10, 0)).await;
    // THEN it runs at the clock and says so
    assert_eq!(first["now"], "2026-01-05T10:00:00Z", "{first}");
    assert_eq!(first["clock"]["reason"], "event_time_off_clock");
    assert_eq!(first["clock"]["event_time"], "2099-01-01T00:00:00Z");
    assert_eq!(first["formations"][0]["outcome"], "scaled_up", "{first}");
    let stored = store.snapshot("demo-app#web").expect("saved").value;
    assert!(stored.history.events.iter().all(|e| e.at == at(10, 0)));
    // AND the next scheduled runs scale as the load says: 10:15 (900 → 9)
    let peak = run(&function, scheduled("e-1015", at(10, 15)), at(10, 15)).await;
    assert_eq!(peak["clock"], Value::Null, "an event on time is believed");
    assert_eq!(peak["formations"][0]["outcome"], "scaled_up", "{peak}");
    assert_eq!(peak["formations"][0]["target"], 9);
    // and 10:45 (100: down by max_step_down 1)
    let trough = run(&function, scheduled("e-1045", at(10, 45)), at(10, 45)).await;
    assert_eq!(
        trough["formations"][0]["outcome"], "scaled_down",
        "{trough}"
    );
    assert_eq!(trough["formations"][0]["target"], 8);
}

#[tokio::test]
async fn an_event_dated_1970_runs_at_the_clock_and_keeps_the_window() {
    // GIVEN the demo function after runs at 10:11..10:15 (rising to 900: 9 dynos)
    let store = Arc::new(MemoryStateStore::new());
    let function = demo_function(store.clone());
    for m in 11..=15 {
        run(
            &function,
            scheduled(&format!("e-{m}"), at(10, m)),
            at(10, m),
        )
        .await;
    }
    let before = store.snapshot("demo-app#web").expect("saved").value;
    let samples = before.window.inputs["traffic"].samples.len();
    // WHEN an event dated 1970 arrives at 10:16
    let old = run(&function, scheduled("e-1970", y1970()), at(10, 16)).await;
    // THEN it runs at the clock, and the stored samples are all still there
    assert_eq!(old["now"], "2026-01-05T10:16:00Z");
    assert_eq!(old["clock"]["reason"], "event_time_off_clock");
    assert!(old["clock"]["offset_s"].as_i64().is_some_and(|s| s < 0));
    let after = store.snapshot("demo-app#web").expect("saved").value;
    assert_eq!(after.window.inputs["traffic"].samples.len(), samples + 1);
}

#[test]
fn a_scale_stored_in_2099_does_not_freeze_the_cool_offs() {
    // GIVEN a history whose newest scale is dated 2099 (written by a run with
    // a wrong time) and load for 8 dynos at 2
    let now = at(12, 0);
    let window = window_with("load", &[742.0], now);
    let mut history = scaled_at(now - minutes(30), 1, 2);
    history.record(ScaleEvent {
        at: y2099(),
        from: 2,
        to: 2,
    });
    // WHEN deciding (scale-up cool-off 5 m)
    let mut p = policy(1, 20);
    p.scale_up_cooloff = minutes(5);
    let d = decide(&p, &window, 2, &history, now);
    // THEN it scales: "since the last scale" is never negative
    assert_eq!((d.action, d.target), (Action::ScaleUp, 8), "{:?}", d.reason);
    // AND a scale minutes ahead (clock skew) still counts as just made
    let skewed = scaled_at(now + minutes(2), 1, 2);
    let d = decide(&p, &window, 2, &skewed, now);
    assert_eq!(d.reason.code, ReasonCode::UpCooloff, "{:?}", d.reason);
}

#[tokio::test]
async fn a_checked_run_repairs_state_dated_after_now() {
    // GIVEN stored state with a sample and a scale dated 2099
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    let state = FormationState {
        window: window_with("load", &[100.0], y2099()),
        history: scaled_at(y2099(), 1, 2),
        ..FormationState::default()
    };
    w.store
        .save("shop-app#web", &state, None)
        .await
        .expect("seed");
    // WHEN a run whose `now` was read from the clock comes
    let report = w
        .engine
        .invoke(&Invocation {
            now_checked: true,
            ..Invocation::at(at(12, 0))
        })
        .await;
    // THEN it scales on the fresh sample, and the future is gone from the state
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::ScaledUp, "{f:?}");
    assert!(f.notes.iter().any(|n| n.contains("repaired")), "{f:?}");
    let stored = w.store.snapshot("shop-app#web").expect("saved").value;
    let samples = &stored.window.inputs["load"].samples;
    assert!(samples.iter().all(|s| s.at <= at(12, 0)), "{samples:?}");
    assert!(stored.history.events.iter().all(|e| e.at <= at(12, 0)));
}

#[tokio::test]
async fn an_invocation_dated_1970_keeps_the_window_and_later_runs_hold_inside_hysteresis() {
    // GIVEN 9 dynos and five minutes of 900 rpm stored (12:00..12:04)
    let load = Arc::new(ScriptedSource::constant(900.0));
    let w = world(config(&one_formation(1, 20)), vec![vec![load.clone()]]);
    w.scaler.set("shop-app", "web", 9);
    for m in 0..5 {
        let r = w.engine.invoke(&Invocation::at(at(12, m))).await;
        assert_eq!(r.formations[0].outcome, Outcome::Hold);
    }
    // WHEN the load drops to 100 and an invocation dated 1970 runs (what an
    // unchecked event did), then the minutes after it
    load.set([Ok(100.0), Ok(100.0), Ok(100.0)]);
    let old = w.engine.invoke(&Invocation::at(y1970())).await;
    // THEN the stored samples are all kept, and that run does not scale down
    let stored = w.store.snapshot("shop-app#web").expect("saved").value;
    let at_900 = stored.window.inputs["load"]
        .samples
        .iter()
        .filter(|s| s.value == 900.0)
        .count();
    assert_eq!(at_900, 5, "{:?}", stored.window.inputs["load"].samples);
    assert_eq!(old.formations[0].target, Some(9), "{:?}", old.formations[0]);
    // AND inside the 5 m hysteresis the next runs still hold 9
    for m in [5, 6] {
        let r = w.engine.invoke(&Invocation::at(at(12, m))).await;
        let f = &r.formations[0];
        assert_eq!(
            (f.outcome, f.target),
            (Outcome::Hold, Some(9)),
            "12:0{m}: {f:?}"
        );
    }
    assert_eq!(w.scaler.quantity("shop-app", "web"), Some(9));
}
