//! Add-on plans end to end: a real redis-server read with `INFO`, the
//! Platform API add-on endpoints behind a fake that follows the contracts,
//! the engine's claim and record over the memory store and over DynamoDB on
//! moto, notifications, dry run, pause and the config's refusals.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use wiremock::MockServer;

use dynopilot::config::AddonConfig;
use dynopilot::domain::PlanReasonCode;
use dynopilot::engine::{AddonReport, AddonWorld, Engine, Invocation, Outcome};
use dynopilot::inputs::{FixedUsage, UsageSource};
use dynopilot::notify::{NotificationKind, RecordingNotifier};
use dynopilot::scaler::{MemoryAddons, Scaler};
use dynopilot::store::{DynamoDbStateStore, MemoryStateStore, StateStore};
use dynopilot::wiring::{assemble, Parts, StateBackend};

use crate::aws::{aws, table, RacingStore};
use crate::helpers::*;
use crate::heroku_addons::HerokuAddons;

const TOKEN: &str = "heroku-token-for-tests";
const ADDON: &str = "redis-cubed-12345";
const KVS_PLANS: &[&str] = &[
    "mini",
    "premium-0",
    "premium-1",
    "premium-2",
    "premium-3",
    "premium-4",
    "premium-5",
];

fn redis_url() -> String {
    match std::env::var("DYNOPILOT_TEST_REDIS_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("DYNOPILOT_TEST_REDIS_URL is not set: run tests/run (it starts redis-server)"),
    }
}

/// A Heroku KVS add-on of shop-app on the built-in ladder, read with `redis_info`.
fn kvs_config(base_url: &str, extra: &str) -> String {
    format!(
        r#"
[state]
kind = "memory"

[scaler]
kind = "heroku"
token = "env:HEROKU_API_TOKEN"
base_url = "{base_url}"

[[addons]]
app = "shop-app"
service = "heroku-redis"
plans = "heroku-key-value-store"
max_plan = "heroku-redis:premium-2"
{extra}

[[addons.inputs]]
name = "redis"
type = "redis_info"
url = "env:REDIS_URL"
"#
    )
}

struct World {
    engine: Engine,
    heroku: HerokuAddons,
    notifier: Arc<RecordingNotifier>,
    store: Arc<MemoryStateStore>,
    _server: MockServer,
}

async fn world(extra: &str, redis: &str, plan: &str) -> World {
    let server = MockServer::start().await;
    let heroku = HerokuAddons::new(TOKEN);
    heroku.service("heroku-redis", KVS_PLANS).addon(
        "shop-app",
        ADDON,
        &format!("heroku-redis:{plan}"),
    );
    heroku.mount(&server).await;
    let config = config(&kvs_config(&server.uri(), extra));
    let notifier = Arc::new(RecordingNotifier::new());
    let store = Arc::new(MemoryStateStore::new());
    let secrets = MapSecrets::default()
        .with("HEROKU_API_TOKEN", TOKEN)
        .with("REDIS_URL", redis);
    let assembled = assemble(
        config,
        Parts {
            secrets: &secrets,
            state: StateBackend::Memory(store.clone()),
            notifier: notifier.clone(),
            drain: None,
        },
    )
    .expect("assembles");
    World {
        engine: assembled.engine,
        heroku,
        notifier,
        store,
        _server: server,
    }
}

async fn run(engine: &Engine, now: DateTime<Utc>) -> AddonReport {
    let report = engine.invoke(&Invocation::at(now)).await;
    assert_eq!(report.addons.len(), 1, "{report:?}");
    report.addons[0].clone()
}

fn kinds(notifier: &RecordingNotifier) -> Vec<&'static str> {
    notifier.sent().iter().map(|n| n.kind.as_str()).collect()
}

#[tokio::test]
async fn a_redis_filled_past_80_percent_moves_up_one_plan_and_down_only_after_the_delay() {
    // GIVEN a KVS add-on on mini (25 MB) and a real Redis holding 20 MiB more
    let w = world("", &redis_url(), "mini").await;
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut con = client.get_connection().expect("redis-server answers");
    let key = "addons-test:fill";
    let _: () = redis::cmd("DEL").arg(key).query(&mut con).expect("clear");
    // Built inside the server (EVAL), so no 20 MiB client query buffer is
    // counted in used_memory besides the value itself.
    let _: () = redis::cmd("EVAL")
        .arg("redis.call('SET', KEYS[1], string.rep('x', 20 * 1024 * 1024))")
        .arg(1)
        .arg(key)
        .query(&mut con)
        .expect("fill");
    // WHEN the next run reads INFO
    let first = run(&w.engine, at(12, 0)).await;
    // THEN the add-on moves one plan up, with one PATCH of the plan
    assert_eq!(first.outcome, Outcome::ScaledUp, "{first:?}");
    assert_eq!(first.target.as_deref(), Some("heroku-redis:premium-0"));
    assert_eq!(
        w.heroku.patches(),
        vec![(
            format!("/apps/shop-app/addons/{ADDON}"),
            json!({"plan": "heroku-redis:premium-0"})
        )]
    );
    assert_eq!(
        w.heroku.plan(ADDON).as_deref(),
        Some("heroku-redis:premium-0")
    );
    let memory = &first.dimensions[1];
    assert_eq!(memory.name, "memory_mb");
    assert!(memory.value.is_some_and(|v| v > 20.0), "{memory:?}");
    assert_eq!(kinds(&w.notifier), vec!["plan_changed"]);

    // WHEN it is emptied
    let _: () = redis::cmd("DEL").arg(key).query(&mut con).expect("empty");
    // THEN it holds: first while the 10-minute window still holds the full
    // reading, then for the downgrade delay (a day by default)...
    let held = run(&w.engine, at(12, 1)).await;
    assert_eq!(held.outcome, Outcome::Hold, "{held:?}");
    assert_eq!(
        held.reason.as_ref().map(|r| r.code),
        Some(PlanReasonCode::Steady)
    );
    let fits_from = at(12, 30);
    let held = run(&w.engine, fits_from).await;
    assert_eq!(
        (held.outcome, held.reason.as_ref().map(|r| r.code)),
        (Outcome::Hold, Some(PlanReasonCode::DownDelay)),
        "{held:?}"
    );
    let short = run(
        &w.engine,
        fits_from + TimeDelta::hours(24) - TimeDelta::minutes(1),
    )
    .await;
    assert_eq!(
        (short.outcome, short.reason.as_ref().map(|r| r.code)),
        (Outcome::Hold, Some(PlanReasonCode::DownDelay)),
        "a minute short of a day: {short:?}"
    );
    // ...and moves down one plan once it has passed
    let down = run(&w.engine, fits_from + TimeDelta::hours(24)).await;
    assert_eq!(down.outcome, Outcome::ScaledDown, "{down:?}");
    assert_eq!(w.heroku.plan(ADDON).as_deref(), Some("heroku-redis:mini"));
    assert_eq!(w.heroku.patches().len(), 2);
    let state = w
        .store
        .snapshot(&w.engine_addon_key())
        .expect("stored")
        .value;
    assert_eq!(state.history.events.len(), 2);
}

impl World {
    fn engine_addon_key(&self) -> String {
        "addon#shop-app#service:heroku-redis".into()
    }
}

#[tokio::test]
async fn a_missing_info_holds_the_plan() {
    // GIVEN a premium-2 add-on whose Redis cannot be reached
    let w = world("", &closed_port_url("redis"), "premium-2").await;
    // WHEN runs go on for two days
    for day in 0..2 {
        let r = run(&w.engine, at(12, 0) + TimeDelta::days(day)).await;
        // THEN it is held, saying why, and nothing is changed
        assert_eq!(r.outcome, Outcome::Hold, "{r:?}");
        assert_eq!(
            r.reason.as_ref().map(|r| r.code),
            Some(PlanReasonCode::AllInputsMissing)
        );
        assert!(r.dimensions.iter().all(|d| !d.present));
    }
    assert!(w.heroku.patches().is_empty());
}

#[tokio::test]
async fn a_refused_change_is_mailed_once_and_nothing_is_stored_as_done() {
    // GIVEN an add-on that Heroku refuses to change
    let w = world("", &redis_url(), "mini").await;
    w.heroku
        .refuse_changes(Some("This add-on does not support plan changes."));
    let engine = engine_with_usage(&w, 41.0);
    // WHEN two runs want premium-1
    let first = run(&engine, at(12, 0)).await;
    let second = run(&engine, at(12, 1)).await;
    // THEN each failed with Heroku's words, one mail was sent for the episode
    for r in [&first, &second] {
        assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
        assert_eq!(r.errors[0].kind, "rejected");
        assert!(
            r.errors[0]
                .message
                .contains("does not support plan changes"),
            "{:?}",
            r.errors
        );
    }
    let sent = w.notifier.sent();
    assert_eq!(kinds(&w.notifier), vec!["plan_change_failed"]);
    assert!(sent[0].body.contains("does not support plan changes"));
    // AND no change is recorded, no claim is left
    let state = w
        .store
        .snapshot(&w.engine_addon_key())
        .expect("stored")
        .value;
    assert!(state.history.events.is_empty());
    assert_eq!(state.pending, None);
    assert!(state.decisions.iter().all(|d| !d.applied));
    assert_eq!(w.heroku.plan(ADDON).as_deref(), Some("heroku-redis:mini"));
    // WHEN Heroku accepts again, the change is made and the episode resolves
    w.heroku.refuse_changes(None);
    let third = run(&engine, at(12, 2)).await;
    assert_eq!(third.outcome, Outcome::ScaledUp);
    assert_eq!(
        kinds(&w.notifier),
        vec!["plan_change_failed", "plan_change_failed", "plan_changed"]
    );
    assert_eq!(
        w.notifier.sent()[1].phase,
        dynopilot::notify::Phase::Resolved
    );
}

#[tokio::test]
async fn an_unknown_plan_gets_herokus_422_and_fails() {
    let w = world("", &redis_url(), "mini").await;
    // The fake knows only mini: premium-1 is unknown to it.
    w.heroku.service("heroku-redis", &["mini"]);
    let engine = engine_with_usage(&w, 41.0);
    let r = run(&engine, at(12, 0)).await;
    assert_eq!(r.outcome, Outcome::Failed, "{r:?}");
    assert!(
        r.errors[0]
            .message
            .contains("Couldn't find either the add-on service or the add-on plan"),
        "{:?}",
        r.errors
    );
}

/// The world's engine and Heroku client, with a fixed reading instead of Redis.
fn engine_with_usage(w: &World, memory_mb: f64) -> Engine {
    let config = config(&kvs_config(&w._server.uri(), ""));
    let secrets = MapSecrets::default().with("HEROKU_API_TOKEN", TOKEN);
    let heroku = dynopilot::wiring::heroku_client(
        &config.scaler,
        &secrets,
        &dynopilot::wiring::http_client().expect("http"),
    )
    .expect("client");
    let usage: Arc<dyn UsageSource> = Arc::new(FixedUsage::new(
        &["connections", "memory_mb"],
        Ok(FixedUsage::values(&[
            ("memory_mb", memory_mb),
            ("connections", 3.0),
        ])),
    ));
    let scaler: Arc<dyn Scaler> = heroku.clone();
    Engine::new(config, vec![], w.store.clone(), scaler, w.notifier.clone())
        .expect("engine")
        .with_addons(AddonWorld {
            sources: vec![vec![usage]],
            plans: heroku,
        })
        .expect("addons")
}

fn memory_engine(
    extra: &str,
    usage: Arc<FixedUsage>,
    plans: Arc<MemoryAddons>,
    notifier: Arc<RecordingNotifier>,
    store: Arc<dyn StateStore>,
) -> Engine {
    let config = config(&kvs_config("https://api.heroku.com", extra));
    Engine::new(
        config,
        vec![],
        store,
        Arc::new(dynopilot::scaler::MemoryScaler::new()),
        notifier,
    )
    .expect("engine")
    .with_addons(AddonWorld {
        sources: vec![vec![usage as Arc<dyn UsageSource>]],
        plans,
    })
    .expect("addons")
}

fn usage(memory_mb: f64) -> Arc<FixedUsage> {
    Arc::new(FixedUsage::new(
        &["connections", "memory_mb"],
        Ok(FixedUsage::values(&[
            ("memory_mb", memory_mb),
            ("connections", 3.0),
        ])),
    ))
}

#[tokio::test]
async fn a_need_above_max_plan_is_mailed_as_an_episode() {
    let plans = Arc::new(MemoryAddons::new().with("shop-app", ADDON, "heroku-redis:premium-1"));
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = memory_engine(
        "",
        usage(900.0),
        plans.clone(),
        notifier.clone(),
        Arc::new(MemoryStateStore::new()),
    );
    // 900 MB needs premium-5; max_plan is premium-2: up to premium-2, mailed.
    let r = run(&engine, at(12, 0)).await;
    assert_eq!(r.outcome, Outcome::ScaledUp);
    assert_eq!(r.target.as_deref(), Some("heroku-redis:premium-2"));
    assert_eq!(
        r.reason.as_ref().map(|r| r.code),
        Some(PlanReasonCode::ClampedToMax)
    );
    let r = run(&engine, at(12, 15)).await;
    assert_eq!(r.outcome, Outcome::Hold);
    let kinds: Vec<NotificationKind> = notifier.sent().iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        vec![
            NotificationKind::NeedsAbovePlans,
            NotificationKind::PlanChanged
        ],
        "one mail for the episode, one for the change"
    );
}

#[tokio::test]
async fn a_plan_that_cannot_be_read_neither_changes_nor_resolves_an_open_episode() {
    let plans = Arc::new(MemoryAddons::new().with("shop-app", ADDON, "heroku-redis:mini"));
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = memory_engine(
        "",
        usage(41.0),
        plans.clone(),
        notifier.clone(),
        Arc::new(MemoryStateStore::new()),
    );
    // A refused change opens the episode...
    plans.fail_next(dynopilot::scaler::ScaleError::new(
        dynopilot::scaler::ScaleErrorKind::Rejected,
        "422 invalid_params: no",
    ));
    assert_eq!(run(&engine, at(12, 0)).await.outcome, Outcome::Failed);
    // ...and a run that cannot read the plan says so, changes nothing, mails nothing.
    plans.fail_reads(Some(dynopilot::scaler::ScaleError::new(
        dynopilot::scaler::ScaleErrorKind::Unavailable,
        "503",
    )));
    let r = run(&engine, at(12, 1)).await;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.errors[0].stage, "read_addon");
    assert_eq!(plans.calls().len(), 1);
    assert_eq!(kinds(&notifier), vec!["plan_change_failed"]);
}

#[tokio::test]
async fn dry_run_and_pause_change_nothing() {
    let plans = Arc::new(MemoryAddons::new().with("shop-app", ADDON, "heroku-redis:mini"));
    let store = Arc::new(MemoryStateStore::new());
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = memory_engine(
        "",
        usage(41.0),
        plans.clone(),
        notifier.clone(),
        store.clone(),
    );
    let dry = engine
        .invoke(&Invocation {
            dry_run: true,
            ..Invocation::at(at(12, 0))
        })
        .await;
    assert_eq!(dry.addons[0].outcome, Outcome::WouldScaleUp);
    // Paused (as `pause` stores it), a run decides but does not change.
    let key = "addon#shop-app#service:heroku-redis";
    let mut stored = store.snapshot(key).expect("stored");
    stored.value.paused_until = Some(at(13, 0));
    store
        .save(key, &stored.value, Some(stored.version))
        .await
        .expect("pause");
    let paused = run(&engine, at(12, 1)).await;
    assert_eq!(paused.outcome, Outcome::Paused);
    assert!(plans.calls().is_empty());
    // Once the pause has run out, it changes.
    assert_eq!(run(&engine, at(13, 1)).await.outcome, Outcome::ScaledUp);
    assert_eq!(
        plans.plan("shop-app", ADDON).as_deref(),
        Some("heroku-redis:premium-1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_overlapping_runs_over_dynamodb_change_the_plan_once() {
    // GIVEN a DynamoDB table whose first 8 loads race, the Heroku add-on fake
    // with the add-on on mini, and a use that needs premium-1
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let store = Arc::new(RacingStore::new(
        Arc::new(DynamoDbStateStore::new(client, &name)),
        8,
    ));
    let server = MockServer::start().await;
    let heroku = HerokuAddons::new(TOKEN);
    heroku
        .service("heroku-redis", KVS_PLANS)
        .addon("shop-app", ADDON, "heroku-redis:mini");
    heroku.mount(&server).await;
    let w = World {
        engine: memory_engine(
            "",
            usage(1.0),
            Arc::new(MemoryAddons::new()),
            Arc::new(RecordingNotifier::new()),
            store.clone(),
        ),
        heroku: heroku.clone(),
        notifier: Arc::new(RecordingNotifier::new()),
        store: Arc::new(MemoryStateStore::new()),
        _server: server,
    };
    let config = config(&kvs_config(&w._server.uri(), ""));
    let secrets = MapSecrets::default().with("HEROKU_API_TOKEN", TOKEN);
    let client = dynopilot::wiring::heroku_client(
        &config.scaler,
        &secrets,
        &dynopilot::wiring::http_client().expect("http"),
    )
    .expect("client");
    let scaler: Arc<dyn Scaler> = client.clone();
    let engine = Arc::new(
        Engine::new(config, vec![], store.clone(), scaler, w.notifier.clone())
            .expect("engine")
            .with_addons(AddonWorld {
                sources: vec![vec![usage(41.0) as Arc<dyn UsageSource>]],
                plans: client,
            })
            .expect("addons"),
    );
    // WHEN 8 invocations of the same minute overlap
    let runs = (0..8).map(|i| {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .invoke(&Invocation {
                    event_id: Some(format!("evt-{i}")),
                    ..Invocation::at(at(12, 0))
                })
                .await
        })
    });
    let outcomes: Vec<Outcome> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("task").addons[0].outcome)
        .collect();
    // THEN one changes the plan and seven lose the race
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::ScaledUp).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::LostRace).count(),
        7,
        "{outcomes:?}"
    );
    // AND Heroku saw exactly one PATCH, and one change is recorded
    assert_eq!(
        heroku.patches(),
        vec![(
            format!("/apps/shop-app/addons/{ADDON}"),
            json!({"plan": "heroku-redis:premium-1"})
        )]
    );
    let state = store
        .load("addon#shop-app#service:heroku-redis")
        .await
        .expect("load")
        .expect("state");
    assert_eq!(state.version, 2, "the winner's claim and record only");
    assert_eq!(state.value.history.events.len(), 1);
    assert_eq!(state.value.pending, None);
    assert_eq!(
        state.value.addon.and_then(|a| a.plan).as_deref(),
        Some("heroku-redis:premium-1")
    );
}

#[tokio::test]
async fn the_fake_accepts_both_plan_body_shapes_like_heroku() {
    let server = MockServer::start().await;
    let heroku = HerokuAddons::new(TOKEN);
    heroku
        .service("heroku-redis", KVS_PLANS)
        .addon("shop-app", ADDON, "heroku-redis:mini");
    heroku.mount(&server).await;
    let http = reqwest::Client::new();
    let url = format!("{}/apps/shop-app/addons/{ADDON}", server.uri());
    for (body, plan) in [
        (
            json!({"plan": "heroku-redis:premium-0"}),
            "heroku-redis:premium-0",
        ),
        (
            json!({"plan": {"name": "heroku-redis:premium-1"}}),
            "heroku-redis:premium-1",
        ),
    ] {
        let answer = http
            .patch(&url)
            .bearer_auth(TOKEN)
            .header("Accept", "application/vnd.heroku+json; version=3")
            .json(&body)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 200);
        assert_eq!(heroku.plan(ADDON).as_deref(), Some(plan));
    }
}

fn addon_errors(extra_addon: &str, plans: &str) -> Vec<String> {
    config_errors(&format!(
        r#"
[[addons]]
app = "shop-app"
addon = "{ADDON}"
plans = {plans}
{extra_addon}

[[addons.inputs]]
name = "redis"
type = "redis_info"
url = "env:REDIS_URL"
"#
    ))
}

#[test]
fn the_config_refuses_what_cannot_work_naming_the_field() {
    let kvs = "\"heroku-key-value-store\"";
    let errors = addon_errors("", kvs);
    assert!(
        errors.iter().any(|e| e.contains("addons[0].max_plan")),
        "{errors:?}"
    );
    let errors = addon_errors("max_plan = \"heroku-redis:premium-99\"", kvs);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("addons[0].max_plan") && e.contains("not on the ladder")),
        "{errors:?}"
    );
    let errors = addon_errors(
        "max_plan = \"heroku-redis:premium-2\"\nup_at = 0.5\ndown_at = 0.7",
        kvs,
    );
    assert!(
        errors.iter().any(|e| e.contains("addons[0].down_at")),
        "{errors:?}"
    );
    let errors = addon_errors(
        "max_plan = \"rediscloud:100\"",
        "[{ name = \"rediscloud:30\", memory_mb = 30 }, { name = \"rediscloud:100\", memory_mb = 100 }]",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("addons[0].plans[0]") && e.contains("connections")),
        "{errors:?}"
    );
    let errors = addon_errors("max_plan = \"x\"", "\"rediscloud\"");
    assert!(
        errors.iter().any(|e| e.contains("addons[0].plans")),
        "{errors:?}"
    );
    let errors = addon_errors(
        "service = \"heroku-redis\"\nmax_plan = \"heroku-redis:premium-2\"",
        kvs,
    );
    assert!(
        errors.iter().any(|e| e.contains("addons[0].service")),
        "{errors:?}"
    );
}

#[test]
fn an_addon_only_config_is_valid_and_describes_its_defaults() {
    let c = config(&kvs_config("https://api.heroku.com", ""));
    assert!(c.formations.is_empty());
    let a: &AddonConfig = &c.addons[0];
    assert_eq!(a.policy.plans.len(), 12);
    assert_eq!(a.policy.downgrade_delay, TimeDelta::hours(24));
    let d = c.describe();
    assert_eq!(d["addons"][0]["downgrade_delay"], json!("1d"));
    assert_eq!(d["addons"][0]["min_plan"], json!("heroku-redis:mini"));
    assert_eq!(d["addons"][0]["inputs"][0]["url"], json!("env:REDIS_URL"));
}
