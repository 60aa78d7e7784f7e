//! Self-tuning as the Lambda runs it: the `tune` event (events/tune.json) on
//! the recorded history, the stored result and its evidence, `tuning =
//! "apply"` under the guard-rails, the check of a tuned choice against the
//! day after, and the status page's frontier.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::domain::{ScaleEvent, ScaleHistory};
use dynopilot::engine::{self, Engine, Invocation, Report};
use dynopilot::history::{hour_of, HistoryStore, HourBlock, MemoryHistoryStore, MinuteInput};
use dynopilot::inputs::{MetricSource, ScriptedSource};
use dynopilot::lambda::Function;
use dynopilot::notify::{NotificationKind, RecordingNotifier};
use dynopilot::scaler::MemoryScaler;
use dynopilot::secrets::MemorySecrets;
use dynopilot::status_page::{build_view, recorded_extras, render};
use dynopilot::store::tuning::{tuning_key, Candidate, Knob, TunedMark};
use dynopilot::store::{FormationState, MemoryStateStore, StateStore, StoreError};
use serde_json::Value;

use crate::helpers::config;

const KEY: &str = "shop-app#web";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

fn toml(mode: &str, max: u32, scale_up_cooloff: &str) -> String {
    format!(
        r#"
[state]
kind = "memory"

[[formations]]
app = "shop-app"
type = "web"
min = 1
max = {max}
scale_up_cooloff = "{scale_up_cooloff}"
tuning = "{mode}"

[[formations.inputs]]
name = "load"
type = "constant"
value = 0
per_dyno = 100
"#
    )
}

/// A history store that remembers every range it was asked for.
#[derive(Default)]
struct Recording {
    inner: MemoryHistoryStore,
    asked: Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
}

#[async_trait]
impl HistoryStore for Recording {
    async fn put_hour(
        &self,
        key: &str,
        block: &HourBlock,
        keep: TimeDelta,
    ) -> Result<(), StoreError> {
        self.inner.put_hour(key, block, keep).await
    }

    async fn get_hours(
        &self,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourBlock>, StoreError> {
        self.asked.lock().expect("lock").push((from, to));
        self.inner.get_hours(key, from, to).await
    }
}

/// `minutes` recorded minutes of the input `load` from `from` on.
async fn fill(
    history: &dyn HistoryStore,
    from: DateTime<Utc>,
    minutes: i64,
    load: impl Fn(i64) -> f64,
) {
    let mut blocks: BTreeMap<DateTime<Utc>, HourBlock> = BTreeMap::new();
    for t in 0..minutes {
        let at = from + TimeDelta::minutes(t);
        blocks
            .entry(hour_of(at))
            .or_insert_with(|| HourBlock::new(hour_of(at)))
            .push(&MinuteInput {
                at,
                inputs: vec![("load".into(), Some(load(t)))],
                quantity: None,
                target: None,
                capacity: None,
            });
    }
    for block in blocks.values() {
        history
            .put_hour(KEY, block, TimeDelta::days(14))
            .await
            .expect("put");
    }
}

/// A daily wave between 50 and 350 with a little deterministic noise.
fn wave(t: i64) -> f64 {
    let w = (std::f64::consts::TAU * t as f64 / 1440.0).sin();
    200.0 + 150.0 * w + ((t * 7919) % 31) as f64
}

fn event(file: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR")))
        .expect("event file");
    serde_json::from_str(&text).expect("event JSON")
}

struct Setup {
    function: Function,
    store: Arc<MemoryStateStore>,
    history: Arc<Recording>,
    notifier: Arc<RecordingNotifier>,
}

fn setup(mode: &str) -> Setup {
    let store = Arc::new(MemoryStateStore::new());
    let history = Arc::new(Recording::default());
    let notifier = Arc::new(RecordingNotifier::new());
    let function = Function::build(
        config(&toml(mode, 20, "0s")),
        &MemorySecrets::new(),
        store.clone(),
        notifier.clone(),
    )
    .expect("function")
    .with_history(history.clone());
    Setup {
        function,
        store,
        history,
        notifier,
    }
}

async fn tune_at(s: &Setup, now: DateTime<Utc>) -> Value {
    s.function
        .handle_at(&event("tune.json"), "req-tune", 0, now)
        .await
        .expect("the tune event is handled")
}

#[tokio::test]
async fn the_tune_event_stores_the_choice_with_its_evidence_and_never_reads_after_now() {
    let now = t0() + TimeDelta::days(3);
    // The same three days before `now`; one setup also holds a day of
    // absurd load after `now`.
    let with_future = setup("suggest");
    let without = setup("suggest");
    for s in [&with_future, &without] {
        fill(s.history.as_ref(), t0(), 3 * 1440, wave).await;
    }
    fill(with_future.history.as_ref(), now, 1440, |_| 1.0e6).await;

    let a = tune_at(&with_future, now).await;
    let b = tune_at(&without, now).await;
    let f = &a["formations"][0];
    assert_eq!(f["outcome"], "tuned", "{f}");
    assert_eq!(f["tuning"], "suggest");
    for field in [
        "chosen",
        "current",
        "frontier",
        "from",
        "to",
        "minutes_used",
    ] {
        assert_eq!(
            f["record"][field], b["formations"][0]["record"][field],
            "{field} is the same with and without minutes after now"
        );
    }
    let to: DateTime<Utc> = f["record"]["to"]
        .as_str()
        .expect("to")
        .parse()
        .expect("time");
    assert!(to < now, "the span ends before now: {to}");
    assert_eq!(f["record"]["from"], "2026-11-01T00:00:00Z");
    let asked = with_future.history.asked.lock().expect("lock").clone();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().all(|&(_, to)| to <= now),
        "a range after now was asked: {asked:?}"
    );
    // Suggest: the config stays in force; the report says so.
    assert_eq!(f["parameters"]["source"], "config");
    assert!(f["parameters"]["note"]
        .as_str()
        .expect("note")
        .contains("tuning = \"suggest\""));

    // Stored: the evidence in its own record, the choice in the formation's.
    let record = with_future
        .store
        .load(&tuning_key(KEY))
        .await
        .expect("load")
        .expect("a tuning record")
        .value
        .tuning
        .expect("tuning");
    let chosen = record.chosen.expect("a choice");
    assert!(chosen.score.under_provisioned_pct <= 1.0);
    assert!(!record.frontier.is_empty());
    assert!(record.current.is_some());
    assert_eq!(record.at, now);
    let mark = with_future
        .store
        .load(KEY)
        .await
        .expect("load")
        .expect("state")
        .value
        .tuned
        .expect("tuned");
    assert_eq!(mark.candidate, chosen.candidate);
    assert_eq!(mark.capacity, 100.0);
    assert_eq!(Some(mark.to), record.to);

    // One mail for the suggestion; the same choice again mails nothing.
    let sent = with_future.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, NotificationKind::TuningSuggested);
    assert!(
        sent[0].subject.contains("tuning suggests"),
        "{}",
        sent[0].subject
    );
    assert!(
        sent[0].body.contains("Nothing was changed"),
        "{}",
        sent[0].body
    );
    let again = tune_at(&with_future, now + TimeDelta::minutes(1)).await;
    assert_eq!(again["formations"][0]["outcome"], "tuned");
    assert_eq!(with_future.notifier.sent().len(), 1, "no second mail");
}

#[tokio::test]
async fn too_little_history_gives_no_suggestion_and_says_why() {
    let s = setup("apply");
    let now = t0() + TimeDelta::days(1);
    fill(s.history.as_ref(), t0(), 1440, wave).await;
    let out = tune_at(&s, now).await;
    let f = &out["formations"][0];
    assert_eq!(f["outcome"], "no_suggestion");
    let reason = f["record"]["reason"].as_str().expect("reason");
    assert!(reason.contains("only 1.0 days of history"), "{reason}");
    assert!(f["record"]["chosen"].is_null());
    assert_eq!(f["parameters"]["source"], "config");
    assert!(s.notifier.sent().is_empty());
    let state = s.store.load(KEY).await.expect("load");
    assert!(state.is_none_or(|v| v.value.tuned.is_none()));
}

#[tokio::test]
async fn tuning_off_tunes_nothing() {
    let s = setup("off");
    fill(s.history.as_ref(), t0(), 3 * 1440, wave).await;
    let out = tune_at(&s, t0() + TimeDelta::days(3)).await;
    assert_eq!(out["formations"][0]["outcome"], "off");
    assert!(s
        .store
        .load(&tuning_key(KEY))
        .await
        .expect("load")
        .is_none());
    assert!(s.history.asked.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_choice_that_did_worse_over_the_following_day_is_reported_and_mailed() {
    let s = setup("suggest");
    let first = t0() + TimeDelta::days(3);
    // Three calm days: a constant 100 (one dyno's worth) needs no headroom.
    fill(s.history.as_ref(), t0(), 3 * 1440, |_| 100.0).await;
    let out = tune_at(&s, first).await;
    assert_eq!(out["formations"][0]["outcome"], "tuned");
    let predicted = out["formations"][0]["record"]["chosen"]["score"]["under_provisioned_pct"]
        .as_f64()
        .expect("pct");
    assert!(predicted < 0.1, "{predicted}");
    // The next day the load jumps to 400 every third minute.
    fill(s.history.as_ref(), first, 1440, |t| {
        if t % 3 == 0 {
            400.0
        } else {
            100.0
        }
    })
    .await;
    let out = tune_at(&s, first + TimeDelta::days(1) + TimeDelta::minutes(5)).await;
    let check = &out["formations"][0]["record"]["check"];
    assert_eq!(check["tuned_at"], "2026-11-04T00:00:00Z", "{check}");
    let observed = check["observed"]["under_provisioned_pct"]
        .as_f64()
        .expect("observed");
    assert!(observed > 10.0, "{check}");
    assert_eq!(check["observed"]["minutes"], 1440);
    let worse = check["worse"].as_str().expect("worse than predicted");
    assert!(worse.contains("did worse than predicted"), "{worse}");
    let kinds: Vec<_> = s.notifier.sent().iter().map(|n| n.kind).collect();
    assert!(kinds.contains(&NotificationKind::TuningWorse), "{kinds:?}");
}

// --- `tuning = "apply"`: the tuned rule decides, the guard-rails hold ---

/// 20 % headroom on a dyno serving 100: 950 asks for ceil(950 / 83.3) = 12
/// dynos, where the config's `per_dyno = 100` asks for 10.
fn mark(capacity: f64) -> TunedMark {
    TunedMark {
        at: t0(),
        from: t0() - TimeDelta::days(14),
        to: t0() - TimeDelta::minutes(1),
        candidate: Candidate {
            knob: Knob::Capacity { headroom: 0.2 },
            window_minutes: 5,
        },
        capacity,
    }
}

async fn run_with(
    mode: &str,
    max: u32,
    cooloff: &str,
    state: FormationState,
    current: u32,
) -> Report {
    let store = Arc::new(MemoryStateStore::new());
    store.save(KEY, &state, None).await.expect("seed");
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop-app", "web", current);
    let sources: Vec<Vec<Arc<dyn MetricSource>>> =
        vec![vec![Arc::new(ScriptedSource::constant(950.0))]];
    let engine = Engine::new(
        Arc::new(config(&toml(mode, max, cooloff))),
        sources,
        store,
        scaler,
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");
    engine
        .invoke(&Invocation::at(t0() + TimeDelta::hours(1)))
        .await
}

fn tuned_state(capacity: f64) -> FormationState {
    FormationState {
        tuned: Some(mark(capacity)),
        ..FormationState::default()
    }
}

#[tokio::test]
async fn apply_decides_with_the_tuned_rule_and_says_where_it_came_from() {
    let report = run_with("apply", 20, "0s", tuned_state(100.0), 2).await;
    let f = &report.formations[0];
    assert_eq!(f.target, Some(12));
    assert_eq!(f.parameters.source, "tuned");
    assert_eq!(f.parameters.hysteresis, "5m");
    assert!(
        f.parameters.note.contains(
            "tuned at 2026-11-01T00:00Z from the history 2026-10-18T00:00Z .. 2026-10-31T23:59Z"
        ),
        "{}",
        f.parameters.note
    );
    // The same stored choice under "suggest": the config's rule (10).
    let report = run_with("suggest", 20, "0s", tuned_state(100.0), 2).await;
    let f = &report.formations[0];
    assert_eq!(f.target, Some(10));
    assert_eq!(f.parameters.source, "config");
    // A choice made for another dyno capacity than the config's: the config.
    let report = run_with("apply", 20, "0s", tuned_state(90.0), 2).await;
    let f = &report.formations[0];
    assert_eq!(f.target, Some(10));
    assert_eq!(f.parameters.source, "config");
    assert!(
        f.parameters.note.contains("made for a dyno serving 90"),
        "{}",
        f.parameters.note
    );
}

#[tokio::test]
async fn the_guard_rails_override_tuned_values() {
    // max = 8: the tuned rule asks for 12, the formation gets 8.
    let report = run_with("apply", 8, "0s", tuned_state(100.0), 2).await;
    let f = &report.formations[0];
    assert_eq!(f.parameters.source, "tuned");
    assert_eq!(f.estimate, Some(12));
    assert_eq!(f.target, Some(8));
    // A scale-up cool-off: scaled 1 minute ago, no scale-up for 10 minutes.
    let now = t0() + TimeDelta::hours(1);
    let mut history = ScaleHistory::default();
    history.record(ScaleEvent {
        at: now - TimeDelta::minutes(1),
        from: 4,
        to: 5,
    });
    let state = FormationState {
        history,
        ..tuned_state(100.0)
    };
    let report = run_with("apply", 20, "10m", state, 5).await;
    let f = &report.formations[0];
    assert_eq!(f.parameters.source, "tuned");
    assert_eq!(f.estimate, Some(12));
    assert_eq!(f.target, Some(5), "the cool-off holds");
}

#[tokio::test]
async fn the_status_page_shows_the_stored_frontier_with_current_and_suggested_points() {
    let s = setup("suggest");
    let now = t0() + TimeDelta::days(3);
    fill(s.history.as_ref(), t0(), 3 * 1440, wave).await;
    let out = tune_at(&s, now).await;
    assert_eq!(out["formations"][0]["outcome"], "tuned");
    let cfg = config(&toml("suggest", 20, "0s"));
    let extras = recorded_extras(&cfg.formations, s.history.as_ref(), s.store.as_ref(), now).await;
    let frontier = extras["shop-app/web"].frontier.clone().expect("a frontier");
    assert_eq!(frontier.ran_at, Some(now));
    let record = &out["formations"][0]["record"];
    let suggested = frontier.suggested.clone().expect("suggested");
    assert_eq!(
        Some(suggested.cost),
        record["chosen"]["score"]["cost_vs_oracle"].as_f64()
    );
    assert!(suggested.label.contains("hysteresis") || suggested.label.contains("stabilisation"));
    let current = frontier.current.clone().expect("current");
    assert_eq!(
        Some(current.under_pct),
        record["current"]["under_provisioned_pct"].as_f64()
    );
    assert_eq!(
        frontier.points.len(),
        record["frontier"].as_array().expect("points").len()
    );
    let statuses = engine::status(&cfg.formations, s.store.as_ref()).await;
    let html = render(&build_view(&cfg.formations, &statuses, &extras, now, false));
    assert!(html.contains("Tuning frontier"));
    assert!(html.contains("<tr class=\"suggested\">"), "suggested row");
    assert!(html.contains("<tr class=\"current\">"), "current row");
}

/// The same event with the state and history in DynamoDB (moto): the record
/// and the mark round-trip through real items, well under DynamoDB's 400 KB.
#[tokio::test]
async fn the_tune_event_on_dynamodb_stores_items_that_read_back() {
    use dynopilot::history::DynamoDbHistoryStore;
    use dynopilot::store::{encode_item, item_size, DynamoDbStateStore};
    let cfg = crate::aws::aws().await;
    let (client, table) = crate::aws::table(&cfg).await;
    let store = Arc::new(DynamoDbStateStore::new(client.clone(), &table));
    let history = Arc::new(DynamoDbHistoryStore::new(client, table.clone()));
    let notifier = Arc::new(RecordingNotifier::new());
    let now = t0() + TimeDelta::days(3);
    fill(history.as_ref(), t0(), 3 * 1440, wave).await;
    let function = Function::build(
        config(&toml("apply", 20, "0s")),
        &MemorySecrets::new(),
        store.clone(),
        notifier.clone(),
    )
    .expect("function")
    .with_history(history);
    let out = function
        .handle_at(&event("tune.json"), "req-tune", 0, now)
        .await
        .expect("handled");
    let f = &out["formations"][0];
    assert_eq!(f["outcome"], "tuned", "{f}");
    assert_eq!(f["parameters"]["source"], "tuned");
    let stored = store
        .load(&tuning_key(KEY))
        .await
        .expect("load")
        .expect("record");
    let record = stored.value.tuning.clone().expect("tuning");
    assert_eq!(
        serde_json::to_value(&record).expect("json"),
        f["record"],
        "what was stored is what was reported"
    );
    let size = item_size(&encode_item(&tuning_key(KEY), &stored.value, 1, now).expect("item"));
    assert!(size < 40_000, "the tuning item is {size} bytes");
    let mark = store
        .load(KEY)
        .await
        .expect("load")
        .expect("state")
        .value
        .tuned;
    assert_eq!(
        mark.map(|m| m.candidate),
        record.chosen.map(|c| c.candidate)
    );
    let sent = notifier.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].subject.contains("tuning applies"),
        "{}",
        sent[0].subject
    );
}

/// A tuned window longer than the config's hysteresis keeps its samples:
/// the stored window is pruned to the policy in force, not the config's.
#[tokio::test]
async fn a_tuned_window_longer_than_the_configs_keeps_its_samples() {
    let store = Arc::new(MemoryStateStore::new());
    let mut long = tuned_state(100.0);
    if let Some(m) = long.tuned.as_mut() {
        m.candidate.window_minutes = 30;
    }
    store.save(KEY, &long, None).await.expect("seed");
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop-app", "web", 2);
    // 950 in the first minute, then 100: the 30-minute window still holds
    // 950 twenty minutes later (the config's 5-minute one would not).
    let mut script = vec![Ok(950.0)];
    script.extend((0..30).map(|_| Ok(100.0)));
    let sources: Vec<Vec<Arc<dyn MetricSource>>> =
        vec![vec![Arc::new(ScriptedSource::new(script))]];
    let engine = Engine::new(
        Arc::new(config(&toml("apply", 20, "0s"))),
        sources,
        store,
        scaler,
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");
    let start = t0() + TimeDelta::hours(1);
    let mut last = None;
    for t in 0..=20 {
        last = Some(
            engine
                .invoke(&Invocation::at(start + TimeDelta::minutes(t)))
                .await,
        );
    }
    let f = &last.expect("runs").formations[0];
    assert_eq!(f.parameters.hysteresis, "30m");
    assert_eq!(f.estimate, Some(12), "{:?}", f.reason);
}

/// Too little time left before the Lambda's deadline: no formation is
/// started, and the stored choice stays in force.
#[tokio::test]
async fn a_tune_event_near_its_deadline_starts_nothing_and_keeps_the_stored_choice() {
    let s = setup("apply");
    s.store
        .save(KEY, &tuned_state(100.0), None)
        .await
        .expect("seed");
    fill(s.history.as_ref(), t0(), 3 * 1440, wave).await;
    let deadline = (Utc::now().timestamp_millis() + 5_000) as u64;
    let out = s
        .function
        .handle_at(
            &event("tune.json"),
            "req-late",
            deadline,
            t0() + TimeDelta::days(3),
        )
        .await
        .expect("handled");
    let f = &out["formations"][0];
    assert_eq!(f["outcome"], "skipped", "{f}");
    assert_eq!(f["parameters"]["source"], "tuned");
    assert!(s.history.asked.lock().expect("lock").is_empty());
    assert!(s
        .store
        .load(&tuning_key(KEY))
        .await
        .expect("load")
        .is_none());
}

/// `status` says which parameters scheduled runs decide with.
#[tokio::test]
async fn status_names_the_parameters_in_force() {
    let store = MemoryStateStore::new();
    store
        .save(KEY, &tuned_state(100.0), None)
        .await
        .expect("seed");
    for (mode, source) in [("apply", "tuned"), ("suggest", "config")] {
        let cfg = config(&toml(mode, 20, "0s"));
        let status = engine::status(&cfg.formations, &store).await;
        assert_eq!(status[0].parameters.source, source, "{mode}");
    }
}
