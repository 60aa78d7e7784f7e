//! The AWS adapters against the moto server (started by tests/run): DynamoDB
//! state with optimistic locking, exactly-once scaling over DynamoDB, SES mail,
//! SSM secrets, item sizes, and the Lambda handler with the files in events/.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use dynopilot::config::{self, SecretRef, SecretResolver, SsmSecrets};
use dynopilot::domain::{InputError, ScaleEvent};
use dynopilot::engine::{Engine, Invocation, Outcome};
use dynopilot::inputs::ScriptedSource;
use dynopilot::lambda::Function;
use dynopilot::notify::{ConsoleNotifier, Notifier, RecordingNotifier, SesNotifier};
use dynopilot::store::{
    encode_item, item_size, DynamoDbStateStore, FormationState, StateStore, StoreError,
};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::*;

pub fn moto_url() -> String {
    std::env::var("DYNOPILOT_TEST_MOTO_URL").unwrap_or_else(|_| {
        panic!("DYNOPILOT_TEST_MOTO_URL is not set: run tests/run (it starts the moto server)")
    })
}

pub async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "dynopilot-tests",
        ))
        .load()
        .await
}

static TABLES: AtomicUsize = AtomicUsize::new(0);

/// A fresh table with the deploy templates' schema (`pk` String, TTL on `expires_at`).
pub async fn table(cfg: &aws_config::SdkConfig) -> (aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    let client = aws_sdk_dynamodb::Client::new(cfg);
    let name = format!(
        "dynopilot-test-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst)
    );
    client
        .create_table()
        .table_name(&name)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("valid builder"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("valid builder"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table on moto at {}: {e:?}", moto_url()));
    client
        .update_time_to_live()
        .table_name(&name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .expect("valid builder"),
        )
        .send()
        .await
        .expect("enable TTL");
    (client, name)
}

#[tokio::test]
async fn the_dynamodb_store_keeps_the_state_store_contract() {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let store = DynamoDbStateStore::new(client.clone(), &name);
    // Absent, then created at version 1 only if absent.
    assert!(store.load("shop-app#web").await.expect("load").is_none());
    let mut state = FormationState::default();
    state.history.record(ScaleEvent {
        at: at(12, 0),
        from: 1,
        to: 3,
    });
    assert_eq!(
        store
            .save("shop-app#web", &state, None)
            .await
            .expect("create"),
        1
    );
    assert!(matches!(
        store.save("shop-app#web", &state, None).await,
        Err(StoreError::Conflict { .. })
    ));
    // Updated only at the version read.
    assert!(matches!(
        store.save("shop-app#web", &state, Some(7)).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store
            .save("shop-app#web", &state, Some(1))
            .await
            .expect("update"),
        2
    );
    let loaded = store
        .load("shop-app#web")
        .await
        .expect("load")
        .expect("present");
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.value, state);
    // The raw item has the documented attributes.
    let item = client
        .get_item()
        .table_name(&name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("shop-app#web".into()),
        )
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["expires_at", "pk", "state", "updated_at", "version"]
    );
    let expires: i64 = item["expires_at"]
        .as_n()
        .expect("N")
        .parse()
        .expect("number");
    let in_days = (expires - chrono::Utc::now().timestamp()) / 86_400;
    assert!((29..=30).contains(&in_days), "TTL {in_days} days out");
}

#[tokio::test]
async fn an_unreadable_item_is_reported_and_left_untouched() {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    client
        .put_item()
        .table_name(&name)
        .item(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("shop-app#web".into()),
        )
        .item(
            "version",
            aws_sdk_dynamodb::types::AttributeValue::N("4".into()),
        )
        .item(
            "state",
            aws_sdk_dynamodb::types::AttributeValue::S("{not json".into()),
        )
        .send()
        .await
        .expect("put");
    let store = Arc::new(DynamoDbStateStore::new(client.clone(), &name));
    let scaler = Arc::new(dynopilot::scaler::MemoryScaler::new());
    scaler.set("shop-app", "web", 2);
    let engine = Engine::new(
        Arc::new(config(&one_formation(1, 20))),
        vec![vec![scripted(ScriptedSource::constant(900.0))]],
        store.clone(),
        scaler.clone(),
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");
    let report = engine.invoke(&Invocation::at(at(12, 0))).await;
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Failed);
    assert_eq!(f.errors[0].kind, "corrupt");
    assert!(scaler.scales().is_empty());
    let raw = client
        .get_item()
        .table_name(&name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("shop-app#web".into()),
        )
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert_eq!(raw["state"].as_s().expect("S"), "{not json");
    assert_eq!(raw["version"].as_n().expect("N"), "4");
}

/// A Heroku formation endpoint with memory: GET shows the count, PATCH sets it.
struct StatefulFormation {
    quantity: Arc<AtomicU32>,
}

impl Respond for StatefulFormation {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.method.as_str() == "PATCH" {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            if let Some(q) = body["quantity"].as_u64() {
                self.quantity.store(q as u32, Ordering::SeqCst);
            }
            return ResponseTemplate::new(200)
                .insert_header("RateLimit-Remaining", "4000")
                .set_body_json(
                    json!({"type": "web", "quantity": self.quantity.load(Ordering::SeqCst)}),
                );
        }
        ResponseTemplate::new(200)
            .insert_header("RateLimit-Remaining", "4000")
            .set_body_json(json!([{"type": "web", "quantity": self.quantity.load(Ordering::SeqCst), "size": "Standard-1X"}]))
    }
}

fn heroku_config(base_url: &str, extra: &str) -> String {
    format!(
        "{extra}\n[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"\nbase_url = \"{base_url}\"\n{}",
        one_formation(1, 20).replace("[state]\nkind = \"memory\"\n", "")
    )
}

fn secrets() -> MapSecrets {
    MapSecrets::default().with("HEROKU_API_TOKEN", "heroku-token-for-tests")
}

/// A Heroku fake whose web dynos stand at `quantity` (2 at the start) and that
/// accepts exactly one PATCH (checked by `verify`), a DynamoDB table, and an
/// engine over both that sees 742 rpm (8 dynos).
struct ExactlyOnce {
    heroku: MockServer,
    quantity: Arc<AtomicU32>,
    store: Arc<DynamoDbStateStore>,
    engine: Arc<Engine>,
}

async fn exactly_once_world() -> ExactlyOnce {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let heroku = MockServer::start().await;
    let quantity = Arc::new(AtomicU32::new(2));
    Mock::given(method("GET"))
        .and(path("/apps/shop-app/formation"))
        .respond_with(StatefulFormation {
            quantity: quantity.clone(),
        })
        .mount(&heroku)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/apps/shop-app/formation/web"))
        .respond_with(StatefulFormation {
            quantity: quantity.clone(),
        })
        .expect(1)
        .mount(&heroku)
        .await;
    let config = config::parse(&heroku_config(&heroku.uri(), "")).expect("config");
    let scaler = dynopilot::wiring::heroku_scaler(
        &config.scaler,
        &secrets(),
        &dynopilot::wiring::http_client().expect("http"),
    )
    .expect("scaler");
    let store = Arc::new(DynamoDbStateStore::new(client, &name));
    // The config's constant input is 0; give the engine real load instead.
    let engine = Arc::new(
        Engine::new(
            Arc::new(config),
            vec![vec![scripted(ScriptedSource::constant(742.0))]],
            store.clone(),
            scaler,
            Arc::new(ConsoleNotifier),
        )
        .expect("engine"),
    );
    ExactlyOnce {
        heroku,
        quantity,
        store,
        engine,
    }
}

/// The scheduled event of 12:00 with this id.
fn event(id: &str) -> Invocation {
    Invocation {
        event_id: Some(id.to_string()),
        ..Invocation::at(at(12, 0))
    }
}

/// Eight invocations of the same minute at once, with ids evt-0..evt-7.
async fn eight_overlapping_runs(engine: &Arc<Engine>) -> Vec<Outcome> {
    let runs = (0..8).map(|i| {
        let engine = engine.clone();
        tokio::spawn(async move { engine.invoke(&event(&format!("evt-{i}"))).await })
    });
    futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("task").formations[0].outcome)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_dynamodb_a_repeated_event_and_eight_overlapping_runs_send_one_patch() {
    // GIVEN a DynamoDB table, a Heroku fake with web at 2, and 742 rpm (8 dynos)
    let world = exactly_once_world().await;
    // WHEN the same scheduled event arrives twice in a row...
    let first = world.engine.invoke(&event("evt-a")).await;
    let again = world.engine.invoke(&event("evt-a")).await;
    assert_eq!(
        first.formations[0].outcome,
        Outcome::ScaledUp,
        "{:?}",
        first.formations[0]
    );
    assert_eq!(again.formations[0].outcome, Outcome::Duplicate);
    // ...and 8 more invocations overlap for the same minute
    let outcomes = eight_overlapping_runs(&world.engine).await;
    // THEN Heroku saw exactly one PATCH (checked by the mock) and one scale is recorded
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Hold | Outcome::LostRace)),
        "{outcomes:?}"
    );
    let stored = world
        .store
        .load("shop-app#web")
        .await
        .expect("load")
        .expect("state");
    assert_eq!(stored.value.history.events.len(), 1);
    assert_eq!(stored.value.pending, None);
    assert_eq!(world.quantity.load(Ordering::SeqCst), 8);
    world.heroku.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_overlapping_first_runs_over_dynamodb_scale_once() {
    let world = exactly_once_world().await;

    let outcomes = eight_overlapping_runs(&world.engine).await;

    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::ScaledUp).count(),
        1,
        "{outcomes:?}"
    );
    let stored = world
        .store
        .load("shop-app#web")
        .await
        .expect("load")
        .expect("state");
    assert_eq!(stored.value.history.events.len(), 1);
    assert_eq!(world.quantity.load(Ordering::SeqCst), 8);
    world.heroku.verify().await;
}

async fn moto_mail() -> Vec<Value> {
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", moto_url()))
        .await
        .expect("moto data")
        .json()
        .await
        .expect("json");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_scale_is_mailed_through_ses() {
    let cfg = aws().await;
    let sesv2 = aws_sdk_sesv2::Client::new(&cfg);
    // A sender of this test process only, so mail kept by a reused moto server is not counted.
    let sender = format!("autoscaler-{}@dynopilot-test.example", std::process::id());
    sesv2
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("verify identity");
    let notifier = Arc::new(SesNotifier::new(
        sesv2,
        &sender,
        vec!["ops@dynopilot-test.example".into()],
    ));
    let toml = one_formation(1, 20).replace("app = \"shop-app\"", "app = \"mail-app\"")
        + "\n[notifications]\non_scale = true\n";
    let scaler = Arc::new(dynopilot::scaler::MemoryScaler::new());
    scaler.set("mail-app", "web", 2);
    let engine = Engine::new(
        Arc::new(config(&toml)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
        Arc::new(dynopilot::store::MemoryStateStore::new()),
        scaler,
        notifier,
    )
    .expect("engine");
    let report = engine.invoke(&Invocation::at(at(12, 0))).await;
    assert_eq!(report.formations[0].outcome, Outcome::ScaledUp);
    assert!(
        report.formations[0].errors.is_empty(),
        "{:?}",
        report.formations[0].errors
    );
    let mail = moto_mail().await;
    let ours: Vec<&Value> = mail
        .iter()
        .filter(|m| m["source"] == sender.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{mail:#?}");
    assert!(
        ours[0]["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("[dynopilot] mail-app web 2→8")),
        "{}",
        ours[0]["subject"]
    );
    assert_eq!(
        ours[0]["destinations"]["ToAddresses"][0],
        "ops@dynopilot-test.example"
    );
    assert!(
        ours[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("Reason (load_above)")),
        "{}",
        ours[0]["body"]
    );
}

#[tokio::test]
async fn a_failing_ses_send_still_scales_and_saves_state() {
    // GIVEN a sender that was never verified: SES answers MessageRejected
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let notifier: Arc<dyn Notifier> = Arc::new(SesNotifier::new(
        aws_sdk_sesv2::Client::new(&cfg),
        "nobody@unverified-dynopilot.example",
        vec!["ops@example.com".into()],
    ));
    let toml = one_formation(1, 20) + "\n[notifications]\non_scale = true\n";
    let scaler = Arc::new(dynopilot::scaler::MemoryScaler::new());
    scaler.set("shop-app", "web", 2);
    let store = Arc::new(DynamoDbStateStore::new(client, &name));
    let engine = Engine::new(
        Arc::new(config(&toml)),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
        store.clone(),
        scaler.clone(),
        notifier,
    )
    .expect("engine");
    // WHEN it scales
    let report = engine.invoke(&Invocation::at(at(12, 0))).await;
    // THEN the scale happened, state is saved, and the failed mail is reported
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::ScaledUp);
    assert_eq!(scaler.quantity("shop-app", "web"), Some(8));
    assert_eq!(f.errors.len(), 1, "{:?}", f.errors);
    assert_eq!(f.errors[0].stage, "notify");
    assert!(
        f.errors[0].message.contains("MessageRejected"),
        "{}",
        f.errors[0].message
    );
    let stored = store
        .load("shop-app#web")
        .await
        .expect("load")
        .expect("state");
    assert_eq!(stored.value.history.events.len(), 1);
}

#[tokio::test]
async fn ssm_secrets_are_read_once_at_start_and_never_printed() {
    let cfg = aws().await;
    let ssm = aws_sdk_ssm::Client::new(&cfg);
    let path = format!("/dynopilot-test/{}/heroku", std::process::id());
    ssm.put_parameter()
        .name(&path)
        .value("ssm-secret-token-value")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter");
    let text = format!("[scaler]\nkind = \"heroku\"\ntoken = \"ssm:{path}\"\n");
    let refs = config::secret_references(&text);
    assert_eq!(refs, [SecretRef::Ssm(path.clone())]);
    let secrets = SsmSecrets::load(&ssm, &refs).await.expect("load");
    let value = secrets
        .resolve(&SecretRef::Ssm(path.clone()))
        .expect("resolved");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&value),
        "ssm-secret-token-value"
    );
    assert!(!format!("{secrets:?} {value:?}").contains("ssm-secret-token-value"));
    let missing = SsmSecrets::load(&ssm, &[SecretRef::Ssm("/dynopilot-test/missing".into())])
        .await
        .expect_err("missing");
    assert!(
        missing.contains("/dynopilot-test/missing") && missing.contains("ParameterNotFound"),
        "{missing}"
    );
}

/// Item sizes for the README: a typical formation and the largest the bounds allow.
#[test]
fn item_sizes_stay_far_below_dynamodb_limits() {
    let now = at(12, 0);
    // Typical: one capacity input, 5 minutes of samples, a few scales and decisions.
    let typical = run_minutes(1, 5, 10);
    // Worst: 6 inputs with 4 hours of samples (the longest a rule may keep),
    // full scale history and decision log, every input failing with an error.
    let mut worst = run_minutes(6, 240, 200);
    for input in worst.window.inputs.values_mut() {
        input.record_failure(
            now,
            InputError {
                kind: "unavailable".into(),
                message: "x".repeat(200),
            },
        );
    }
    let size = |s: &FormationState| {
        item_size(
            &encode_item(
                "a-long-heroku-app-name-here#worker-high-priority",
                s,
                123_456,
                now,
            )
            .expect("encode"),
        )
    };
    let (t, w) = (size(&typical), size(&worst));
    println!("dynamodb item size: typical {t} bytes, worst {w} bytes");
    assert!(
        t < 4_096,
        "typical item {t} bytes: more than one 4 KB write unit"
    );
    assert!(w < 400 * 1024 / 4, "worst item {w} bytes");
}

fn run_minutes(inputs: usize, samples: usize, decisions: usize) -> FormationState {
    let now = at(12, 0);
    let mut state = FormationState::default();
    for i in 0..inputs {
        let w = state.window.inputs.entry(format!("input-{i}")).or_default();
        for m in (0..samples).rev() {
            w.record_sample(now - minutes(m as i64), 1234.5678 + m as f64);
        }
    }
    let d = dynopilot::domain::decide(&policy(1, 20), &state.window, 3, &Default::default(), now);
    for m in 0..decisions {
        state.record_decision(now - minutes(m as i64), &d, m % 3 == 0);
        state.history.record(ScaleEvent {
            at: now - minutes(m as i64),
            from: 3,
            to: 4,
        });
    }
    state.last_event = Some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into());
    state
}

/// The handler, in process, with every file in events/: the documented responses.
#[tokio::test]
async fn every_event_file_gets_its_documented_response() {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let store = Arc::new(DynamoDbStateStore::new(client, &name));
    let demo = config::DEMO_CONFIG.replace("dry_run = true", "dry_run = false");
    let config = config::parse(&demo).expect("demo config");
    let function = Function::build(config, &secrets(), store.clone(), Arc::new(ConsoleNotifier))
        .expect("function");
    let event = |file: &str| -> Value {
        let text = std::fs::read_to_string(format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR")))
            .expect("event file");
        serde_json::from_str(&text).expect("event JSON")
    };
    let far = (chrono::Utc::now().timestamp_millis() + 30_000) as u64;
    // The clock 20 s after scheduled.json's minute, as when EventBridge delivers it.
    let clock = chrono::DateTime::parse_from_rfc3339("2026-01-05T12:00:20Z")
        .expect("time")
        .to_utc();
    // scheduled.json: a run at the event's time, keyed by its id.
    let scheduled = function
        .handle_at(&event("scheduled.json"), "req-1", far, clock)
        .await
        .expect("ok");
    assert_eq!(
        scheduled["event_id"],
        "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"
    );
    assert_eq!(scheduled["now"], "2026-01-05T12:00:00Z");
    assert_eq!(scheduled["formations"][0]["outcome"], "scaled_up");
    // the same event again: a no-op
    let again = function
        .handle_at(&event("scheduled.json"), "req-2", far, clock)
        .await
        .expect("ok");
    assert_eq!(again["formations"][0]["outcome"], "duplicate");
    // evaluate-dry-run.json: decides, changes nothing
    let dry = function
        .handle_at(&event("evaluate-dry-run.json"), "req-3", far, clock)
        .await
        .expect("ok");
    assert_eq!(dry["dry_run"], true);
    // pause.json / status.json / resume.json
    let paused = function
        .handle_at(&event("pause.json"), "req-4", far, clock)
        .await
        .expect("ok");
    assert!(paused["paused"]["paused_until"].is_string(), "{paused}");
    let status = function
        .handle_at(&event("status.json"), "req-5", far, clock)
        .await
        .expect("ok");
    assert!(status["formations"][0]["paused_until"].is_string());
    assert_eq!(
        status["formations"][0]["last_scales"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let evaluated = function
        .handle_at(&event("evaluate.json"), "req-6", far, clock)
        .await
        .expect("ok");
    assert_eq!(evaluated["formations"][0]["outcome"], "paused");
    let resumed = function
        .handle_at(&event("resume.json"), "req-7", far, clock)
        .await
        .expect("ok");
    assert!(resumed["resumed"]["paused_until"].is_null());
    // invalid-unknown-action.json: a clear error, nothing written
    let before = store
        .load("demo-app#web")
        .await
        .expect("load")
        .expect("state")
        .version;
    let err = function
        .handle_at(&event("invalid-unknown-action.json"), "req-8", far, clock)
        .await
        .expect_err("refused");
    assert_eq!(err.error_type, "InvalidEvent");
    assert!(
        err.message.contains("unknown action \"scale-everything\""),
        "{}",
        err.message
    );
    assert_eq!(
        store
            .load("demo-app#web")
            .await
            .expect("load")
            .expect("state")
            .version,
        before
    );
}
