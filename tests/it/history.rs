//! Per-minute history (`crate::history`): buffered in the formation's state,
//! one history write per formation per hour, read back with `read_minutes`,
//! on the memory, file and DynamoDB (moto) stores.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::engine::{Engine, Invocation};
use dynopilot::history::{
    read_minutes, DynamoDbHistoryStore, FileHistoryStore, HistoryStore, HourBlock,
    MemoryHistoryStore, MinuteInput,
};
use dynopilot::inputs::{MetricSource, ScriptedSource};
use dynopilot::notify::RecordingNotifier;
use dynopilot::scaler::MemoryScaler;
use dynopilot::store::{
    DynamoDbStateStore, FileStateStore, MemoryStateStore, StateStore, StoreError,
};

use crate::helpers::*;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap()
}

/// Load per minute: 150 for the first 30 minutes, then 450 (100 per dyno).
fn load(t: i64) -> f64 {
    if t < 30 {
        150.0
    } else {
        450.0
    }
}

fn engine(
    store: Arc<dyn StateStore>,
    history: Arc<dyn HistoryStore>,
    minutes: i64,
) -> (Engine, Arc<ScriptedSource>) {
    let config = config(&one_formation(1, 10));
    let script: Vec<_> = (0..minutes).map(|t| Ok(load(t))).collect();
    let source = Arc::new(ScriptedSource::new(script));
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop-app", "web", 1);
    let sources: Vec<Vec<Arc<dyn MetricSource>>> = vec![vec![source.clone()]];
    let engine = Engine::new(
        Arc::new(config),
        sources,
        store,
        scaler,
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine")
    .with_history(history);
    (engine, source)
}

async fn run_minutes(engine: &Engine, minutes: i64) {
    for t in 0..minutes {
        engine
            .invoke(&Invocation::at(start() + TimeDelta::minutes(t)))
            .await;
    }
}

/// 150 runs over three hours: two finished hours written, one write each,
/// every minute readable (the third hour from the state's buffer), with the
/// input's value, the quantity, the target, the capacity and the scale.
async fn check_a_store(store: Arc<dyn StateStore>, history: Arc<dyn HistoryStore>) {
    let (engine, _) = engine(store.clone(), history.clone(), 150);
    run_minutes(&engine, 150).await;
    let key = "shop-app#web";
    let stored = history
        .get_hours(key, start(), start() + TimeDelta::hours(3))
        .await
        .expect("hours");
    assert_eq!(
        stored.iter().map(|b| b.hour).collect::<Vec<_>>(),
        vec![start(), start() + TimeDelta::hours(1)],
        "the finished hours, and not the current one, are stored"
    );
    let state = store.load(key).await.expect("load").expect("state");
    assert_eq!(
        state.value.minutes.len(),
        1,
        "only the current hour is buffered"
    );
    assert_eq!(state.value.minutes[0].len(), 30);

    let minutes = read_minutes(
        history.as_ref(),
        store.as_ref(),
        key,
        start(),
        start() + TimeDelta::hours(3),
    )
    .await
    .expect("read");
    assert_eq!(minutes.len(), 150);
    for (t, m) in minutes.iter().enumerate() {
        assert_eq!(m.at, start() + TimeDelta::minutes(t as i64));
        assert_eq!(m.inputs["load"], Some(load(t as i64)), "minute {t}");
    }
    assert_eq!(minutes[0].quantity, Some(1));
    assert_eq!(minutes[0].target, Some(2));
    assert_eq!(minutes[0].capacity, Some(100.0));
    let scale = minutes[0].scale.as_ref().expect("scaled at minute 0");
    assert_eq!(
        (scale.from, scale.to, scale.code.as_str()),
        (1, 2, "load_above")
    );
    assert_eq!(minutes[1].quantity, Some(2));
    assert_eq!(minutes[1].scale, None);
    let up = &minutes[30];
    assert_eq!(up.scale.as_ref().map(|s| (s.from, s.to)), Some((2, 5)));
    assert_eq!(minutes[31].capacity, Some(500.0));

    // A sub-range: [10:50, 11:10).
    let part = read_minutes(
        history.as_ref(),
        store.as_ref(),
        key,
        start() + TimeDelta::minutes(50),
        start() + TimeDelta::minutes(70),
    )
    .await
    .expect("read");
    assert_eq!(part.len(), 20);
    assert_eq!(part[0].at, start() + TimeDelta::minutes(50));
}

#[tokio::test]
async fn memory_one_write_per_hour_and_every_minute_read_back() {
    let history = Arc::new(MemoryHistoryStore::new());
    check_a_store(Arc::new(MemoryStateStore::new()), history.clone()).await;
    assert_eq!(
        history.writes(),
        2,
        "one history write per finished hour, no more"
    );
}

#[tokio::test]
async fn file_store_keeps_hours_beside_the_state_file_and_expires_old_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let history = FileHistoryStore::beside(&state);
    check_a_store(
        Arc::new(FileStateStore::new(&state)),
        Arc::new(history.clone()),
    )
    .await;
    let files = |h: &FileHistoryStore| {
        let mut names: Vec<String> = std::fs::read_dir(h.dir().join("shop-app#web"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        files(&history),
        vec!["2026-11-30T10.json", "2026-11-30T11.json"]
    );
    // Three days later, with `history` = 2 days: the old hours go.
    let later = HourBlock::new(start() + TimeDelta::days(3));
    history
        .put_hour("shop-app#web", &later, TimeDelta::days(2))
        .await
        .expect("put");
    assert_eq!(files(&history), vec!["2026-12-03T10.json"]);
}

/// A history store that fails while `down` is set.
struct Flaky {
    inner: MemoryHistoryStore,
    down: AtomicBool,
}

#[async_trait]
impl HistoryStore for Flaky {
    async fn put_hour(
        &self,
        key: &str,
        block: &HourBlock,
        keep: TimeDelta,
    ) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("history down".into()));
        }
        self.inner.put_hour(key, block, keep).await
    }

    async fn get_hours(
        &self,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourBlock>, StoreError> {
        self.inner.get_hours(key, from, to).await
    }
}

#[tokio::test]
async fn a_failed_flush_keeps_the_hour_buffered_and_the_next_run_writes_it() {
    let history = Arc::new(Flaky {
        inner: MemoryHistoryStore::new(),
        down: AtomicBool::new(true),
    });
    let store = Arc::new(MemoryStateStore::new());
    let (engine, _) = engine(store.clone(), history.clone(), 62);
    run_minutes(&engine, 61).await; // 10:00 .. 11:00: the flush at 11:00 fails
    let state = store.snapshot("shop-app#web").expect("state");
    assert_eq!(state.value.minutes.len(), 2, "10:xx kept, 11:00 started");
    assert_eq!(history.inner.writes(), 0);
    history.down.store(false, Ordering::SeqCst);
    engine
        .invoke(&Invocation::at(start() + TimeDelta::minutes(61)))
        .await;
    assert_eq!(history.inner.writes(), 1);
    let state = store.snapshot("shop-app#web").expect("state");
    assert_eq!(state.value.minutes.len(), 1);
    let read = read_minutes(
        history.as_ref(),
        store.as_ref(),
        "shop-app#web",
        start(),
        start() + TimeDelta::hours(2),
    )
    .await
    .expect("read");
    assert_eq!(read.len(), 62);
}

#[tokio::test]
async fn a_range_too_long_is_refused() {
    let err = read_minutes(
        &MemoryHistoryStore::new(),
        &MemoryStateStore::new(),
        "shop-app#web",
        start(),
        start() + TimeDelta::days(100),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("at most 92 days"), "{err}");
}

#[tokio::test]
async fn dynamodb_hours_round_trip_with_a_ttl_and_the_engine_writes_them() {
    let cfg = crate::aws::aws().await;
    let (client, table) = crate::aws::table(&cfg).await;
    let history = Arc::new(DynamoDbHistoryStore::new(client.clone(), &table));
    let store = Arc::new(DynamoDbStateStore::new(client.clone(), &table));
    check_a_store(store, history).await;
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("shop-app#web#history#2026-11-30T10".into()),
        )
        .send()
        .await
        .expect("get")
        .item
        .expect("the 10:00 hour is an item");
    let expires: i64 = item["expires_at"]
        .as_n()
        .expect("n")
        .parse()
        .expect("number");
    assert_eq!(
        expires,
        (start() + TimeDelta::hours(1) + TimeDelta::days(14)).timestamp(),
        "TTL: the hour's end + the default history of 14 days"
    );
    let size = item["minutes"].as_s().expect("s").len();
    assert!(size < 3000, "one hour is {size} bytes");
}

#[test]
fn minute_input_is_public_for_other_recorders() {
    let mut block = HourBlock::new(start());
    block.push(&MinuteInput {
        at: start(),
        inputs: vec![],
        quantity: Some(1),
        target: None,
        capacity: None,
    });
    assert_eq!(block.records()[0].quantity, Some(1));
}
