//! Exactly-once scaling: repeated events, overlapping invocations, and crashes
//! between "claimed", "scaled" and "recorded" (over the in-memory adapters; the
//! same scenarios run against DynamoDB in `aws.rs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dynopilot::engine::{Engine, Invocation, Outcome, CLAIM_TIMEOUT};
use dynopilot::inputs::ScriptedSource;
use dynopilot::notify::RecordingNotifier;
use dynopilot::scaler::{MemoryScaler, QuantityChange, ScaleError, Scaler};
use dynopilot::store::{MemoryStateStore, StateStore};

use crate::helpers::*;

/// A platform whose `scale` can be made to never return, as if the process died
/// there. With `apply_first`, the change reaches the platform before the "crash".
pub struct CrashingScaler {
    pub inner: MemoryScaler,
    pub crash: AtomicBool,
    pub apply_first: bool,
}

#[async_trait]
impl Scaler for CrashingScaler {
    async fn formation(&self, app: &str) -> Result<BTreeMap<String, u32>, ScaleError> {
        self.inner.formation(app).await
    }
    async fn scale(&self, app: &str, changes: &[QuantityChange]) -> Result<(), ScaleError> {
        if self.crash.load(Ordering::SeqCst) {
            if self.apply_first {
                self.inner.scale(app, changes).await?;
            }
            std::future::pending::<()>().await;
        }
        self.inner.scale(app, changes).await
    }
}

fn scheduled(minute: u32, id: &str) -> Invocation {
    Invocation {
        event_id: Some(id.to_string()),
        ..Invocation::at(at(12, minute))
    }
}

fn engine_over(store: Arc<dyn StateStore>, scaler: Arc<dyn Scaler>, load: f64) -> Engine {
    Engine::new(
        Arc::new(config(&one_formation(1, 20))),
        vec![vec![scripted(
            ScriptedSource::constant(load).with_delay(Duration::from_millis(5)),
        )]],
        store,
        scaler,
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine")
}

#[tokio::test(start_paused = true)]
async fn the_same_scheduled_event_twice_scales_once() {
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    let first = w.engine.invoke(&scheduled(0, "evt-1")).await;
    let second = w.engine.invoke(&scheduled(0, "evt-1")).await;
    assert_eq!(first.formations[0].outcome, Outcome::ScaledUp);
    assert_eq!(second.formations[0].outcome, Outcome::Duplicate);
    assert_eq!(w.scaler.scales().len(), 1);
    let stored = w.store.snapshot("shop-app#web").expect("state");
    assert_eq!(stored.value.history.events.len(), 1);
    assert_eq!(stored.version, 2, "the duplicate wrote nothing");
}

#[tokio::test(start_paused = true)]
async fn eight_overlapping_invocations_for_one_minute_scale_once() {
    // GIVEN one store and one platform shared by 8 invocations that all read
    // the same stored state before any of them writes (the store makes the
    // first 8 loads wait for each other), so they really race for the scale
    let store = Arc::new(MemoryStateStore::new());
    let racing = Arc::new(crate::aws::RacingStore::new(store.clone(), 8));
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop-app", "web", 2);
    let engine = Arc::new(engine_over(racing, scaler.clone(), 742.0));
    // WHEN they all run for the same minute (half with the same event id)
    let runs = (0..8).map(|i| {
        let engine = engine.clone();
        let id = if i % 2 == 0 {
            "evt-same".to_string()
        } else {
            format!("evt-{i}")
        };
        tokio::spawn(async move { engine.invoke(&scheduled(0, &id)).await })
    });
    let reports: Vec<_> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    // THEN exactly one scaled and the seven others lost the race (none had
    // seen a write, so none could hold or call its event a duplicate)
    let mut outcomes: Vec<Outcome> = reports.iter().map(|r| r.formations[0].outcome).collect();
    outcomes.sort_by_key(|o| o.as_str());
    let mut want = vec![Outcome::LostRace; 7];
    want.push(Outcome::ScaledUp);
    want.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, want);
    assert_eq!(scaler.scales().len(), 1);
    let stored = store.snapshot("shop-app#web").expect("state");
    assert_eq!(stored.value.history.events.len(), 1);
    assert_eq!(stored.value.pending, None);
}

/// Web at 2 and 742 rpm (8 dynos): the 12:00 run claims 2 → 8 and never comes
/// back from the scaler, which has applied the change first when `apply_first`.
/// The scaler stops crashing only when the test says so.
async fn crashed_run(apply_first: bool) -> (Arc<MemoryStateStore>, Arc<CrashingScaler>, Engine) {
    let store = Arc::new(MemoryStateStore::new());
    let scaler = Arc::new(CrashingScaler {
        inner: MemoryScaler::new(),
        crash: AtomicBool::new(true),
        apply_first,
    });
    scaler.inner.set("shop-app", "web", 2);
    let engine = engine_over(store.clone(), scaler.clone(), 742.0);
    let crashed = tokio::time::timeout(
        Duration::from_secs(30),
        engine.invoke(&scheduled(0, "evt-0")),
    )
    .await;
    assert!(crashed.is_err(), "the run was cut off in the scaler");
    (store, scaler, engine)
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_claimed_and_scaled_is_recovered_without_double_scaling() {
    // GIVEN a run that claims 2→8 and dies before the platform call returns
    let (store, scaler, engine) = crashed_run(false).await;
    let claim = store.snapshot("shop-app#web").expect("claim stored");
    assert_eq!(claim.value.pending.as_ref().map(|p| p.to), Some(8));
    scaler.crash.store(false, Ordering::SeqCst);

    // WHEN a run comes while the claim may still be in flight, it keeps out
    let early = engine
        .invoke(&Invocation {
            now: at(12, 0) + chrono::TimeDelta::seconds(30),
            ..scheduled(0, "evt-0b")
        })
        .await;
    assert_eq!(early.formations[0].outcome, Outcome::LostRace);
    assert!(scaler.inner.scales().is_empty());

    // AND a run after the claim timed out settles it ("did not happen") and scales once
    let later = at(12, 0) + CLAIM_TIMEOUT + chrono::TimeDelta::seconds(30);
    let report = engine
        .invoke(&Invocation {
            now: later,
            ..scheduled(2, "evt-2")
        })
        .await;
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::ScaledUp, "{f:?}");
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("it did not happen (count is 2)")),
        "{:?}",
        f.notes
    );
    assert_eq!(scaler.inner.scales().len(), 1);
    assert_eq!(scaler.inner.quantity("shop-app", "web"), Some(8));
    let stored = store.snapshot("shop-app#web").expect("state");
    assert_eq!(stored.value.history.events.len(), 1);
    assert_eq!(stored.value.pending, None);
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_scaled_and_recorded_keeps_the_record_and_does_not_scale_again() {
    // GIVEN a run whose scale reached the platform, then died before recording it
    let (store, scaler, engine) = crashed_run(true).await;
    assert_eq!(scaler.inner.quantity("shop-app", "web"), Some(8));
    scaler.crash.store(false, Ordering::SeqCst);

    // WHEN the next run comes after the claim timed out
    let later = at(12, 0) + CLAIM_TIMEOUT + chrono::TimeDelta::seconds(30);
    let report = engine
        .invoke(&Invocation {
            now: later,
            ..scheduled(2, "evt-2")
        })
        .await;

    // THEN it records the scale that happened and does not scale again
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Hold, "{f:?}");
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("2→8") && n.contains("it happened")),
        "{:?}",
        f.notes
    );
    assert_eq!(scaler.inner.scales().len(), 1);
    let stored = store.snapshot("shop-app#web").expect("state");
    assert_eq!(stored.value.history.events.len(), 1);
    assert_eq!(stored.value.history.events[0].at, at(12, 0));
    assert_eq!(stored.value.pending, None);
}

#[tokio::test]
async fn a_paused_formation_decides_but_does_not_scale_until_resumed() {
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    w.engine
        .set_pause("shop-app/web", Some(at(12, 30)))
        .await
        .expect("pause");
    let paused = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    assert_eq!(paused.formations[0].outcome, Outcome::Paused);
    assert_eq!(paused.formations[0].target, Some(8));
    assert_eq!(paused.formations[0].paused_until, Some(at(12, 30)));
    assert!(w.scaler.scales().is_empty());
    // The pause runs out by itself...
    let after = w.engine.invoke(&Invocation::at(at(12, 31))).await;
    assert_eq!(after.formations[0].outcome, Outcome::ScaledUp);
    assert_eq!(after.formations[0].paused_until, None);
    // ...or is lifted by resume.
    w.engine
        .set_pause("shop-app/web", Some(at(14, 0)))
        .await
        .expect("pause");
    w.engine
        .set_pause("shop-app/web", None)
        .await
        .expect("resume");
    let status = w.engine.status().await;
    assert_eq!(status[0].paused_until, None);
    assert_eq!(status[0].last_scales.len(), 1);
    assert!(matches!(
        w.engine.set_pause("nope", None).await,
        Err(dynopilot::engine::ControlError::UnknownFormation(_))
    ));
}

#[tokio::test]
async fn a_paused_formation_reports_paused_even_when_it_would_hold() {
    // GIVEN web at 3 with a load that needs exactly 3, paused for half an hour
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![scripted(ScriptedSource::constant(300.0))]],
    );
    w.scaler.set("shop-app", "web", 3);
    w.engine
        .set_pause("shop-app/web", Some(at(12, 30)))
        .await
        .expect("pause");
    // WHEN a run comes inside the pause
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    // THEN the report shows the maintenance mode, not a plain hold
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Paused);
    assert_eq!(f.target, Some(3));
    assert!(
        f.notes.iter().any(|n| n.starts_with("paused until")),
        "{:?}",
        f.notes
    );
}
