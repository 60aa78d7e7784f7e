//! The operator's verbs for add-ons: `status`, `pause` and `resume` address
//! a managed add-on by its name (`app/service` or `app/addon-name`, as in
//! reports), in the library, in the Lambda handler and in the `dynopilot`
//! command. A paused add-on's plan is not changed; `status` shows its plan,
//! a pending claim and the last change.

use std::sync::Arc;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use dynopilot::engine::{ControlError, Engine, Invocation, Outcome};
use dynopilot::inputs::{FixedUsage, UsageSource};
use dynopilot::notify::{ConsoleNotifier, RecordingNotifier};
use dynopilot::scaler::{MemoryAddons, MemoryScaler};
use dynopilot::store::{MemoryStateStore, ScaleIntent, StateStore};

use crate::helpers::{at, config};

const ADDON: &str = "redis-cubed-12345";
const NAME: &str = "shop-app/heroku-redis";
const KEY: &str = "addon#shop-app#service:heroku-redis";

const KVS: &str = r#"
[state]
kind = "memory"

[[addons]]
app = "shop-app"
service = "heroku-redis"
plans = "heroku-key-value-store"
max_plan = "heroku-redis:premium-3"

[[addons.inputs]]
name = "redis"
type = "redis_info"
url = "env:REDIS_URL"
"#;

fn use_of(memory_mb: f64) -> Result<dynopilot::inputs::Usage, dynopilot::inputs::SourceError> {
    Ok(FixedUsage::values(&[
        ("memory_mb", memory_mb),
        ("connections", 3.0),
    ]))
}

struct World {
    engine: Engine,
    usage: Arc<FixedUsage>,
    plans: Arc<MemoryAddons>,
    store: Arc<MemoryStateStore>,
}

fn world() -> World {
    let usage = Arc::new(FixedUsage::new(&["connections", "memory_mb"], use_of(41.0)));
    let plans = Arc::new(MemoryAddons::new().with("shop-app", ADDON, "heroku-redis:mini"));
    let store = Arc::new(MemoryStateStore::new());
    let engine = Engine::new(
        config(KVS),
        vec![],
        store.clone(),
        Arc::new(MemoryScaler::new()),
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine")
    .with_addons(dynopilot::engine::AddonWorld {
        sources: vec![vec![usage.clone() as Arc<dyn UsageSource>]],
        plans: plans.clone(),
    })
    .expect("addons");
    World {
        engine,
        usage,
        plans,
        store,
    }
}

async fn run(engine: &Engine, now: DateTime<Utc>) -> dynopilot::engine::AddonReport {
    let report = engine.invoke(&Invocation::at(now)).await;
    report.addons[0].clone()
}

#[tokio::test]
async fn a_paused_addon_keeps_its_plan_and_status_shows_plan_pending_and_last_change() {
    let w = world();
    // Before any run: known, nothing stored.
    let s = &w.engine.addon_status().await[0];
    assert_eq!((s.name.as_str(), s.plan.as_ref()), (NAME, None));
    // 41 MB on mini (25 MB): up to premium-1 (100 MB, 80 % = 80 MB).
    assert_eq!(run(&w.engine, at(12, 0)).await.outcome, Outcome::ScaledUp);
    let s = &w.engine.addon_status().await[0];
    assert_eq!(s.plan.as_deref(), Some("heroku-redis:premium-1"));
    let change = s.last_change.as_ref().expect("a change");
    assert_eq!(
        (change.from.as_str(), change.to.as_str(), change.at),
        ("heroku-redis:mini", "heroku-redis:premium-1", at(12, 0))
    );
    assert!(s.pending.is_none() && s.paused_until.is_none());
    assert_eq!(s.last_decisions.len(), 1);
    assert!(s.last_decisions[0].applied);

    // Paused by name, as an operator addresses it.
    let paused = w
        .engine
        .set_addon_pause(NAME, Some(at(14, 0)))
        .await
        .expect("paused");
    assert_eq!(paused.paused_until, Some(at(14, 0)));
    // 300 MB needs premium-3: decided, not done, and the report says paused.
    w.usage.set(use_of(300.0));
    let r = run(&w.engine, at(12, 20)).await;
    assert_eq!(r.outcome, Outcome::Paused, "{r:?}");
    assert_eq!(r.target.as_deref(), Some("heroku-redis:premium-3"));
    assert!(
        r.notes.iter().any(|n| n.contains("paused until")),
        "{:?}",
        r.notes
    );
    assert_eq!(w.plans.calls().len(), 1, "no change while paused");
    let s = &w.engine.addon_status().await[0];
    assert_eq!(s.paused_until, Some(at(14, 0)));
    let last = s.last_decisions.last().expect("decision");
    assert_eq!(
        (last.to.as_str(), last.applied),
        ("heroku-redis:premium-3", false)
    );

    // Resumed: the next run changes the plan.
    let resumed = w.engine.set_addon_pause(NAME, None).await.expect("resumed");
    assert_eq!(resumed.paused_until, None);
    assert_eq!(run(&w.engine, at(12, 21)).await.outcome, Outcome::ScaledUp);
    assert_eq!(
        w.plans.plan("shop-app", ADDON).as_deref(),
        Some("heroku-redis:premium-3")
    );

    // A claim left by a run that stopped: status names the plan it asks for.
    let mut stored = w.store.snapshot(KEY).expect("stored");
    stored.value.pending = Some(ScaleIntent {
        at: at(12, 30),
        from: 4,
        to: 5,
        event: None,
    });
    stored
        .value
        .addon
        .get_or_insert_with(Default::default)
        .pending_plan = Some("heroku-redis:premium-4".into());
    w.store
        .save(KEY, &stored.value, Some(stored.version))
        .await
        .expect("save");
    let s = &w.engine.addon_status().await[0];
    let pending = s.pending.as_ref().expect("pending");
    assert_eq!(
        (pending.plan.as_deref(), pending.at),
        (Some("heroku-redis:premium-4"), at(12, 30))
    );

    // An unknown name is refused, naming it.
    let e = w
        .engine
        .set_addon_pause("shop-app/nope", None)
        .await
        .unwrap_err();
    assert!(matches!(e, ControlError::UnknownFormation(ref n) if n == "shop-app/nope"));
}

/// A config whose add-on's use comes from a `constant` input (no Redis).
fn constant_config(state: &str) -> String {
    format!(
        r#"
{state}

[[formations]]
app = "shop-app"
type = "web"
max = 4

[[formations.inputs]]
name = "rpm"
type = "constant"
value = 100
per_dyno = 100

[[addons]]
app = "shop-app"
service = "heroku-redis"
plans = "heroku-key-value-store"
max_plan = "heroku-redis:premium-3"

[[addons.inputs]]
name = "memory"
type = "constant"
value = 41
measures = "memory_mb"
"#
    )
}

#[tokio::test]
async fn the_lambdas_pause_resume_and_status_take_an_addons_name() {
    let config = config(&constant_config("[state]\nkind = \"memory\""));
    let store = Arc::new(MemoryStateStore::new());
    let function = dynopilot::lambda::Function::build(
        config,
        &dynopilot::secrets::EnvSecrets,
        store.clone(),
        Arc::new(ConsoleNotifier),
    )
    .expect("function");
    let clock = at(12, 0);
    let far = (Utc::now().timestamp_millis() + 30_000) as u64;
    let handle = |event: Value, id: &'static str| {
        let function = &function;
        async move { function.handle_at(&event, id, far, clock).await }
    };
    let paused = handle(
        json!({"action": "pause", "formation": NAME, "minutes": 30}),
        "r1",
    )
    .await
    .expect("paused");
    assert_eq!(paused["paused"]["name"], NAME, "{paused}");
    assert_eq!(paused["paused"]["paused_until"], "2026-01-05T12:30:00Z");
    let report = handle(json!({"id": "evt-1", "time": "2026-01-05T12:00:00Z"}), "r2")
        .await
        .expect("run");
    assert_eq!(report["addons"][0]["outcome"], "paused", "{report}");
    assert_eq!(
        report["addons"][0]["target"], "heroku-redis:premium-1",
        "{report}"
    );
    let status = handle(json!({"action": "status"}), "r3")
        .await
        .expect("status");
    assert_eq!(status["addons"][0]["name"], NAME, "{status}");
    assert_eq!(status["addons"][0]["plan"], "heroku-redis:mini", "{status}");
    assert_eq!(status["addons"][0]["paused_until"], "2026-01-05T12:30:00Z");
    assert_eq!(status["formations"][0]["name"], "shop-app/web");
    let resumed = handle(json!({"action": "resume", "formation": NAME}), "r4")
        .await
        .expect("resumed");
    assert_eq!(resumed["resumed"]["paused_until"], Value::Null, "{resumed}");
    // A formation is still paused as before.
    let paused = handle(
        json!({"action": "pause", "formation": "shop-app/web", "minutes": 5}),
        "r5",
    )
    .await
    .expect("paused");
    assert_eq!(paused["paused"]["type"], "web", "{paused}");
}

fn dynopilot() -> Command {
    Command::cargo_bin("dynopilot").expect("binary built")
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&cmd.assert().success().get_output().stdout).into_owned()
}

#[test]
fn the_command_pauses_resumes_and_shows_an_addon_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let config = dir.path().join("dynopilot.toml");
    std::fs::write(
        &config,
        constant_config(&format!(
            "[state]\nkind = \"file\"\npath = \"{}\"",
            state.display()
        )),
    )
    .expect("write");
    let verb = |verb: &str| {
        let mut cmd = dynopilot();
        cmd.arg(verb).arg("--config").arg(&config);
        cmd
    };
    // Nothing ran yet.
    let text = stdout(&mut verb("status"));
    assert!(
        text.contains("shop-app/heroku-redis (the heroku-redis add-on of shop-app)")
            && text.contains("plan:     unknown (no run recorded yet)"),
        "{text}"
    );
    // One run moves it from mini (the local platform's start) to premium-1.
    let report: Value = serde_json::from_str(&stdout(verb("run").arg("--once"))).expect("JSON");
    assert_eq!(report["addons"][0]["outcome"], "scaled_up", "{report}");
    let text = stdout(&mut verb("status"));
    assert!(
        text.contains("plan:     heroku-redis:premium-1 (as of")
            && text.contains("changed:  heroku-redis:mini -> heroku-redis:premium-1 at")
            && text.contains("paused:   no"),
        "{text}"
    );
    // Paused by name: only the add-on.
    let text = stdout(verb("pause").args(["--for", "2h", "--formation", NAME]));
    assert!(
        text.starts_with("shop-app/heroku-redis: paused until") && !text.contains("shop-app/web"),
        "{text}"
    );
    let status: Value = serde_json::from_str(&stdout(verb("status").args([
        "--json",
        "--formation",
        NAME,
    ])))
    .expect("JSON");
    assert!(status["formations"].as_array().is_some_and(Vec::is_empty));
    assert!(status["addons"][0]["paused_until"].is_string(), "{status}");
    assert_eq!(
        status["addons"][0]["last_change"]["to"], "heroku-redis:premium-1",
        "{status}"
    );
    // A run (a new process: the local platform starts at mini again) is
    // paused: the plan is left as it is.
    let report: Value = serde_json::from_str(&stdout(verb("run").arg("--once"))).expect("JSON");
    assert_eq!(report["addons"][0]["outcome"], "paused", "{report}");
    let text = stdout(verb("resume").args(["--formation", NAME]));
    assert_eq!(text.trim(), "shop-app/heroku-redis: resumed");
    // An unknown name lists the add-ons among what the config has.
    let out = verb("pause")
        .args(["--for", "1h", "--formation", "shop-app/nope"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("shop-app/heroku-redis"), "{err}");
}

#[test]
fn an_addon_cannot_share_a_formations_name() {
    let text = constant_config("[state]\nkind = \"memory\"").replace(
        "service = \"heroku-redis\"",
        "service = \"heroku-redis\"\nname = \"shop-app/web\"",
    );
    let e = dynopilot::config::parse(&text).expect_err("refused");
    let errors: Vec<String> = e.field_errors().iter().map(|e| e.to_string()).collect();
    assert!(
        errors.iter().any(|e| e.starts_with("addons[0].name:")
            && e.contains("\"shop-app/web\" is also a formation's name")),
        "{errors:?}"
    );
}
