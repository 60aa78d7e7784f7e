//! One invocation end to end over the in-memory and file adapters.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dynopilot::engine::{Engine, Invocation, Outcome};
use dynopilot::inputs::{MetricSource, ScriptedSource, SineSource, SourceError, SourceErrorKind};
use dynopilot::notify::{NotificationKind, RecordingNotifier};
use dynopilot::scaler::{LocalScaler, MemoryScaler, ScaleError, ScaleErrorKind};
use dynopilot::store::{FileStateStore, FormationState, MemoryStateStore, StateStore};

use crate::helpers::*;

fn two_inputs(min: u32, max: u32) -> String {
    one_formation(min, max)
        + r#"
[[formations.inputs]]
name = "queue"
type = "constant"
value = 0
per_dyno = 10
"#
}

#[tokio::test]
async fn a_scheduled_run_scales_to_the_estimate_and_records_it() {
    // GIVEN web at 2 dynos and 742 requests per minute at 100 per dyno
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    // WHEN one invocation runs
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    // THEN it scales to 8 in one call and stores sample, scale and decision
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::ScaledUp, "{f:?}");
    assert_eq!((f.current, f.target), (Some(2), Some(8)));
    assert_eq!(w.scaler.quantity("shop-app", "web"), Some(8));
    assert_eq!(w.scaler.scales().len(), 1);
    let stored = w.store.snapshot("shop-app#web").expect("state saved");
    assert_eq!(stored.version, 2, "claimed, then recorded");
    assert_eq!(stored.value.pending, None);
    assert_eq!(stored.value.history.events.len(), 1);
    assert_eq!(stored.value.decisions.len(), 1);
    assert!(stored.value.decisions[0].applied);
    assert_eq!(stored.value.window.inputs["load"].samples.len(), 1);
}

/// Answers only once `n` fetches are in flight at the same time: a sequential
/// engine would never get past the first one (it would time out).
struct Rendezvous {
    barrier: Arc<tokio::sync::Barrier>,
    value: f64,
}

#[async_trait]
impl MetricSource for Rendezvous {
    async fn fetch(&self, _: DateTime<Utc>) -> Result<f64, SourceError> {
        self.barrier.wait().await;
        Ok(self.value)
    }
}

#[tokio::test(start_paused = true)]
async fn inputs_of_all_formations_are_polled_concurrently() {
    // GIVEN three inputs over two formations that answer only when all three wait together
    let toml = two_inputs(1, 20)
        + r#"
[[formations]]
app = "shop-app"
type = "worker"
max = 5
[[formations.inputs]]
name = "jobs"
type = "constant"
value = 0
per_dyno = 10
"#;
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let source = |value| -> Arc<dyn MetricSource> {
        Arc::new(Rendezvous {
            barrier: barrier.clone(),
            value,
        })
    };
    let w = world(
        config(&toml),
        vec![vec![source(100.0), source(5.0)], vec![source(25.0)]],
    );
    w.scaler.set("shop-app", "web", 1);
    w.scaler.set("shop-app", "worker", 1);
    // WHEN one invocation runs
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    // THEN every input answered (none timed out) and both formations decided
    for f in &report.formations {
        for input in &f.inputs {
            assert!(
                input.error.is_none(),
                "{} failed: {:?}",
                input.name,
                input.error
            );
        }
    }
    assert_eq!(report.formations[1].target, Some(3));
    // and the app was read once for both formations, and scaled in one batch call
    assert_eq!(w.scaler.reads(), ["shop-app"]);
    let scales = w.scaler.scales();
    assert_eq!(scales.len(), 1, "{scales:?}");
    assert_eq!(
        scales[0].changes.len(),
        1,
        "only worker changes: {scales:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_input_times_out_without_holding_up_the_others() {
    // GIVEN a queue input that answers after 60 s (its timeout is 10 s)
    let slow = ScriptedSource::constant(500.0).with_delay(Duration::from_secs(60));
    let w = world(
        config(&two_inputs(1, 20)),
        vec![vec![
            scripted(ScriptedSource::constant(650.0)),
            scripted(slow),
        ]],
    );
    w.scaler.set("shop-app", "web", 3);
    // WHEN one invocation runs
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    // THEN the slow one is a timeout, the other still scales web up
    let f = &report.formations[0];
    let queue = &f.inputs[1];
    assert_eq!(
        queue.error.as_ref().map(|e| e.kind.as_str()),
        Some("timeout")
    );
    assert_eq!(f.target, Some(7));
    assert_eq!(f.outcome, Outcome::ScaledUp);
}

#[tokio::test(start_paused = true)]
async fn the_invocation_deadline_cuts_every_input_short() {
    let slow = ScriptedSource::constant(500.0).with_delay(Duration::from_secs(5));
    let w = world(config(&one_formation(1, 20)), vec![vec![scripted(slow)]]);
    w.scaler.set("shop-app", "web", 3);
    // 6 s left: 2 s kept for saving, half the rest for Heroku, so 2 s for inputs.
    let invocation = Invocation {
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(6)),
        ..Invocation::at(at(12, 0))
    };
    let report = w.engine.invoke(&invocation).await;
    let input = &report.formations[0].inputs[0];
    assert_eq!(
        input.error.as_ref().map(|e| e.kind.as_str()),
        Some("timeout")
    );
    assert_eq!(report.formations[0].target, Some(3), "missing data holds");
}

#[tokio::test]
async fn a_failing_input_never_lowers_the_target() {
    // GIVEN web at 5 after a quiet reading, then the source starts failing
    let source = Arc::new(ScriptedSource::new([
        Ok(480.0),
        Err(SourceError::new(
            SourceErrorKind::Unavailable,
            "503 from the API",
        )),
    ]));
    let w = world(config(&one_formation(1, 20)), vec![vec![source.clone()]]);
    w.scaler.set("shop-app", "web", 5);
    w.engine.invoke(&Invocation::at(at(12, 0))).await;
    // WHEN the next 20 minutes all fail
    for m in 1..=20 {
        let report = w.engine.invoke(&Invocation::at(at(12, m))).await;
        let f = &report.formations[0];
        // THEN the formation holds at 5 every minute, reporting the error kind
        assert_eq!(f.target, Some(5), "minute {m}: {f:?}");
        assert_eq!(
            f.inputs[0].error.as_ref().map(|e| e.kind.as_str()),
            Some("unavailable")
        );
    }
    assert_eq!(w.scaler.quantity("shop-app", "web"), Some(5));
    assert!(w.scaler.scales().is_empty());
}

#[tokio::test]
async fn an_input_is_polled_only_when_its_interval_has_passed() {
    let toml = one_formation(1, 20).replace("per_dyno = 100", "per_dyno = 100\ninterval = \"5m\"");
    let source = Arc::new(ScriptedSource::constant(300.0));
    let w = world(config(&toml), vec![vec![source.clone()]]);
    w.scaler.set("shop-app", "web", 3);
    let mut polled = Vec::new();
    for m in 0..11 {
        let report = w.engine.invoke(&Invocation::at(at(12, m))).await;
        polled.push(report.formations[0].inputs[0].polled);
        // Between polls the stored sample is reused: the input stays present.
        assert_eq!(
            report.formations[0].inputs[0].estimate,
            Some(3),
            "minute {m}"
        );
    }
    assert_eq!(source.calls(), [at(12, 0), at(12, 5), at(12, 10)]);
    assert_eq!(polled.iter().filter(|p| **p).count(), 3);
}

#[tokio::test]
async fn one_formation_failing_leaves_the_others_working() {
    // GIVEN two apps, one of which the platform does not know
    let toml = one_formation(1, 20)
        + r#"
[[formations]]
app = "ghost-app"
type = "web"
max = 5
[[formations.inputs]]
name = "load"
type = "constant"
value = 0
per_dyno = 100
"#;
    let w = world(
        config(&toml),
        vec![
            vec![scripted(ScriptedSource::constant(350.0))],
            vec![scripted(ScriptedSource::constant(350.0))],
        ],
    );
    w.scaler.set("shop-app", "web", 1);
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    assert_eq!(report.formations[0].outcome, Outcome::ScaledUp);
    assert_eq!(report.formations[1].outcome, Outcome::Failed);
    assert_eq!(report.formations[1].errors[0].stage, "read_formation");
    assert_eq!(report.formations[1].errors[0].kind, "not_found");
    // The failed formation's samples are still saved for next time.
    assert!(w.store.snapshot("ghost-app#web").is_some());
}

#[tokio::test]
async fn a_dry_run_decides_and_reports_but_changes_nothing() {
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    let invocation = Invocation {
        dry_run: true,
        ..Invocation::at(at(12, 0))
    };
    let report = w.engine.invoke(&invocation).await;
    assert!(report.dry_run);
    assert_eq!(report.formations[0].outcome, Outcome::WouldScaleUp);
    assert_eq!(report.formations[0].target, Some(8));
    assert!(w.scaler.scales().is_empty());
    assert_eq!(w.scaler.quantity("shop-app", "web"), Some(2));
    let stored = w.store.snapshot("shop-app#web").expect("saved");
    assert!(
        stored.value.history.events.is_empty(),
        "a dry run records no scale"
    );
    assert!(!stored.value.decisions[0].applied);
}

#[tokio::test]
async fn a_failed_scale_is_reported_notified_and_state_still_saved() {
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    w.scaler.fail_next_scale(ScaleError::new(
        ScaleErrorKind::Rejected,
        "above your account's dyno limit",
    ));
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Failed);
    assert_eq!(f.errors[0].stage, "scale");
    assert_eq!(f.errors[0].kind, "rejected");
    let sent = w.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, NotificationKind::ScaleFailed);
    assert_eq!(
        sent[0].subject,
        "[dynopilot] shop-app web scale 2→8 FAILED: rejected"
    );
    assert!(sent[0].body.contains("above your account's dyno limit"));
    let stored = w.store.snapshot("shop-app#web").expect("saved");
    assert!(stored.value.history.events.is_empty(), "no scale happened");
    assert_eq!(stored.value.window.inputs["load"].samples.len(), 1);
}

#[tokio::test]
async fn a_failing_notifier_never_blocks_scaling_or_saving() {
    let toml = one_formation(1, 20) + "\n[notifications]\non_scale = true\n";
    let w = world(
        config(&toml),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    w.notifier.fail_with("mail server down");
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    let f = &report.formations[0];
    assert_eq!(w.scaler.quantity("shop-app", "web"), Some(8));
    assert_eq!(f.target, Some(8));
    assert_eq!(f.errors.len(), 1);
    assert_eq!(f.errors[0].stage, "notify");
    assert_eq!(
        w.notifier.sent()[0].subject,
        "[dynopilot] shop-app web 2→8: load: capacity: max 742 over 5m / 100 per dyno = 8"
    );
    assert!(w.store.snapshot("shop-app#web").is_some());
}

#[tokio::test]
async fn a_concurrent_writer_makes_this_run_lose_the_race() {
    // A store that lets someone else write between our load and our save.
    struct Racing(MemoryStateStore);
    #[async_trait]
    impl StateStore for Racing {
        async fn load(
            &self,
            key: &str,
        ) -> Result<Option<dynopilot::store::Versioned<FormationState>>, dynopilot::store::StoreError>
        {
            let loaded = self.0.load(key).await;
            let v = self.0.snapshot(key).map(|v| v.version);
            self.0.save(key, &FormationState::default(), v).await?;
            loaded
        }
        async fn save(
            &self,
            key: &str,
            s: &FormationState,
            expected: Option<u64>,
        ) -> Result<u64, dynopilot::store::StoreError> {
            self.0.save(key, s, expected).await
        }
    }
    let config = Arc::new(config(&one_formation(1, 20)));
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop-app", "web", 3);
    let engine = Engine::new(
        config,
        vec![vec![scripted(ScriptedSource::constant(300.0))]],
        Arc::new(Racing(MemoryStateStore::new())),
        scaler,
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");
    let report = engine.invoke(&Invocation::at(at(12, 0))).await;
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::LostRace);
    assert!(f.notes[0].starts_with("lost the race"), "{:?}", f.notes);
    assert!(
        f.errors.is_empty(),
        "losing a race is not an error: {:?}",
        f.errors
    );
}

#[tokio::test]
async fn a_formation_filter_runs_only_the_named_formations() {
    let toml = one_formation(1, 20).replace("type = \"web\"", "type = \"web\"\nname = \"front\"");
    let w = world(
        config(&toml),
        vec![vec![scripted(ScriptedSource::constant(100.0))]],
    );
    w.scaler.set("shop-app", "web", 1);
    let invocation = Invocation {
        formations: Some(vec!["nope".into()]),
        ..Invocation::at(at(12, 0))
    };
    let report = w.engine.invoke(&invocation).await;
    assert!(report.formations.is_empty());
    assert_eq!(report.errors, ["unknown formation \"nope\""]);
    let invocation = Invocation {
        formations: Some(vec!["front".into()]),
        ..Invocation::at(at(12, 0))
    };
    assert_eq!(w.engine.invoke(&invocation).await.formations.len(), 1);
}

#[tokio::test]
async fn a_thousand_invocations_keep_the_state_file_bounded() {
    // GIVEN the file store and local scaler, a sine load with a 40-minute period
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let config = Arc::new(config(
        &one_formation(1, 12).replace("kind = \"memory\"", "kind = \"file\""),
    ));
    let store = Arc::new(FileStateStore::new(&path));
    let initial = [(
        "shop-app".to_string(),
        [("web".to_string(), 1)].into_iter().collect(),
    )]
    .into_iter()
    .collect();
    let scaler = Arc::new(LocalScaler::new(store.clone(), initial));
    let sine = SineSource {
        amplitude: 500.0,
        period: chrono::TimeDelta::minutes(40),
        offset: 600.0,
    };
    let engine = Engine::new(
        config,
        vec![vec![Arc::new(sine)]],
        store.clone(),
        scaler,
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");
    // WHEN it runs once a minute for 1,000 minutes
    let mut sizes = Vec::new();
    let mut scales = 0u64;
    for m in 0..1000i64 {
        let report = engine.invoke(&Invocation::at(at(0, 0) + minutes(m))).await;
        assert_ne!(
            report.formations[0].outcome,
            Outcome::Failed,
            "minute {m}: {:?}",
            report.formations[0]
        );
        if matches!(
            report.formations[0].outcome,
            Outcome::ScaledUp | Outcome::ScaledDown
        ) {
            scales += 1;
        }
        sizes.push(std::fs::metadata(&path).expect("state file").len());
    }
    // THEN the file stops growing once the history and decision logs are full
    // (compared at the same minute of the hour: the buffered hour of
    // per-minute history grows within each hour and is flushed at its end)
    let after_200 = sizes[199];
    let max = *sizes.iter().max().expect("sizes");
    let same_minute = sizes
        .iter()
        .skip(199)
        .step_by(60)
        .copied()
        .max()
        .expect("sizes");
    assert!(scales > 50, "the sine made it scale often ({scales})");
    assert!(max < 20_000, "state file grew to {max} bytes");
    assert!(
        same_minute <= after_200 + after_200 / 5,
        "grew from {after_200} to {same_minute} bytes after minute 200"
    );
    assert!(
        max <= after_200 + after_200 / 5 + 2_500,
        "grew from {after_200} to {max} bytes (beyond one buffered hour)"
    );
    let stored = store
        .load("shop-app#web")
        .await
        .expect("load")
        .expect("state");
    // One write per run, plus the claim of each run that scaled.
    assert_eq!(stored.version, 1000 + scales);
    assert!(stored.value.window.inputs["load"].samples.len() <= 6);
    assert_eq!(
        stored.value.history.events.len(),
        dynopilot::domain::MAX_SCALE_EVENTS
    );
    assert_eq!(
        stored.value.decisions.len(),
        dynopilot::store::MAX_DECISIONS
    );
}
