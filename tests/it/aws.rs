//! The AWS adapters against the moto server (started by tests/run): DynamoDB
//! state with optimistic locking, exactly-once scaling over DynamoDB, SES mail,
//! SSM secrets, item sizes, and the Lambda handler with the files in events/.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynopilot::config::{self, SecretRef, SecretResolver, SsmSecrets};
use dynopilot::domain::{InputError, ScaleEvent};
use dynopilot::engine::{Engine, Invocation, Outcome};
use dynopilot::inputs::ScriptedSource;
use dynopilot::lambda::Function;
use dynopilot::notify::{ConsoleNotifier, Notifier, RecordingNotifier, SesNotifier};
use dynopilot::store::{
    encode_item, item_size, DynamoDbStateStore, FormationState, StateStore, StoreError, Versioned,
};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
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

fn heroku_config(base_url: &str, extra: &str) -> String {
    format!(
        "{extra}\n[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"\nbase_url = \"{base_url}\"\n{}",
        one_formation(1, 20).replace("[state]\nkind = \"memory\"\n", "")
    )
}

/// The Heroku API token the tests' secrets resolve `env:HEROKU_API_TOKEN` to.
const HEROKU_TOKEN: &str = "heroku-token-for-tests";

fn secrets() -> MapSecrets {
    MapSecrets::default().with("HEROKU_API_TOKEN", HEROKU_TOKEN)
}

/// A store whose first `n` loads wait for each other before returning: `n`
/// overlapping invocations that all read the same stored state (the same
/// version) before any of them writes, however the runtime schedules them.
///
/// Its writes reach moto one at a time: moto evaluates a PutItem's condition
/// and then stores the item without a lock, so two truly simultaneous
/// conditional writes can both pass there (DynamoDB itself applies a
/// conditional write atomically per item). The race this store sets up is
/// dynopilot's: every run holds the same version when it writes.
pub struct RacingStore {
    inner: Arc<dyn StateStore>,
    waiting: AtomicUsize,
    all_loaded: tokio::sync::Barrier,
    one_write_at_a_time: tokio::sync::Mutex<()>,
}

impl RacingStore {
    pub fn new(inner: Arc<dyn StateStore>, n: usize) -> Self {
        Self {
            inner,
            waiting: AtomicUsize::new(n),
            all_loaded: tokio::sync::Barrier::new(n),
            one_write_at_a_time: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl StateStore for RacingStore {
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError> {
        let loaded = self.inner.load(key).await;
        let gated = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if gated {
            self.all_loaded.wait().await;
        }
        loaded
    }

    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let _one = self.one_write_at_a_time.lock().await;
        self.inner.save(key, state, expected).await
    }
}

/// The shared Heroku fake with web dynos of shop-app at 2, a DynamoDB table
/// whose first 8 loads race (see [`RacingStore`]), and an engine over both
/// that sees 742 rpm (8 dynos).
struct ExactlyOnce {
    heroku: HerokuFake,
    store: Arc<RacingStore>,
    engine: Arc<Engine>,
}

/// `gets` formation reads and `patches` updates are expected at the fake.
async fn exactly_once_world(gets: u64, patches: u64) -> ExactlyOnce {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let heroku = HerokuFake::start(HEROKU_TOKEN).await;
    heroku.app("shop-app", &[("web", 2)], gets, patches).await;
    let config = config::parse(&heroku_config(&heroku.uri(), "")).expect("config");
    let scaler = dynopilot::wiring::heroku_scaler(
        &config.scaler,
        &secrets(),
        &dynopilot::wiring::http_client().expect("http"),
    )
    .expect("scaler");
    let store = Arc::new(RacingStore::new(
        Arc::new(DynamoDbStateStore::new(client, &name)),
        8,
    ));
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

/// Eight invocations of the same minute at once, with ids evt-0..evt-7; all
/// of them have read the stored state before any writes.
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

/// Exactly one run scaled 2 -> 8; every other one lost the race.
fn assert_one_scaled_and_seven_lost(outcomes: &[Outcome]) -> usize {
    let winners: Vec<usize> = (0..outcomes.len())
        .filter(|&i| outcomes[i] == Outcome::ScaledUp)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::LostRace).count(),
        7,
        "{outcomes:?}"
    );
    winners[0]
}

/// The fake's PATCH log: exactly one, of web to 8 dynos.
async fn assert_one_patch_to_8(heroku: &HerokuFake) {
    assert_eq!(
        heroku.requests("PATCH").await,
        vec![(
            "/apps/shop-app/formation/web".to_string(),
            json!({"quantity": 8})
        )]
    );
    assert_eq!(heroku.quantity("shop-app", "web"), Some(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_dynamodb_a_repeated_event_and_eight_overlapping_runs_send_one_patch() {
    // GIVEN a stored state, a Heroku fake with web at 2, and 742 rpm (8 dynos);
    // each of the 8 runs reads the formation once, the repeated event never
    let world = exactly_once_world(8, 1).await;
    let stored = world
        .store
        .save("shop-app#web", &FormationState::default(), None)
        .await
        .expect("seed the state");
    // WHEN 8 invocations of the same minute overlap, all from that same state
    let outcomes = eight_overlapping_runs(&world.engine).await;
    // THEN one scales and the other seven lose the race for the claim
    let winner = assert_one_scaled_and_seven_lost(&outcomes);
    // WHEN the winner's scheduled event arrives again
    let again = world.engine.invoke(&event(&format!("evt-{winner}"))).await;
    // THEN it is a no-op
    assert_eq!(
        again.formations[0].outcome,
        Outcome::Duplicate,
        "{:?}",
        again.formations[0]
    );
    // AND Heroku saw exactly one PATCH, and one scale is recorded
    assert_one_patch_to_8(&world.heroku).await;
    let state = world
        .store
        .load("shop-app#web")
        .await
        .expect("load")
        .expect("state");
    assert_eq!(
        state.version,
        stored + 2,
        "the winner's claim and record only"
    );
    assert_eq!(state.value.history.events.len(), 1);
    assert_eq!(state.value.pending, None);
    assert_eq!(
        state.value.last_event.as_deref(),
        Some(format!("evt-{winner}").as_str())
    );
    world.heroku.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_overlapping_first_runs_over_dynamodb_scale_once() {
    // GIVEN no stored state yet: the claim is a create-if-absent
    let world = exactly_once_world(8, 1).await;

    let outcomes = eight_overlapping_runs(&world.engine).await;

    assert_one_scaled_and_seven_lost(&outcomes);
    assert_one_patch_to_8(&world.heroku).await;
    let state = world
        .store
        .load("shop-app#web")
        .await
        .expect("load")
        .expect("state");
    assert_eq!(state.version, 2, "the winner's claim and record only");
    assert_eq!(state.value.history.events.len(), 1);
    world.heroku.verify().await;
}

/// The mail moto keeps. Its `data.json` dumps every backend and can fail
/// (a 500 page, not JSON) while other tests write to moto at the same time,
/// so a failed dump is asked for again, a few times.
async fn moto_mail() -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", moto_url());
    let mut last = String::new();
    let mut data = None;
    for _ in 0..5 {
        let response = reqwest::get(&url).await.expect("moto answers");
        let status = response.status();
        let text = response.text().await.expect("moto data");
        match serde_json::from_str::<Value>(&text) {
            Ok(v) if status.is_success() => {
                data = Some(v);
                break;
            }
            _ => last = format!("{status}: {}", text.chars().take(300).collect::<String>()),
        }
    }
    let data = data.unwrap_or_else(|| panic!("moto's data.json never answered JSON: {last}"));
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

/// A forwarding HTTP/1.1 proxy in front of the moto server that logs the
/// operation of every request it passes on (`X-Amz-Target`, the AWS JSON
/// protocol's `Service.Operation`), so a test can count AWS calls.
struct CountingProxy {
    url: String,
    operations: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let operations: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let log = operations.clone();
        let http = reqwest::Client::new();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(forward(stream, upstream.clone(), http.clone(), log.clone()));
            }
        });
        Self {
            url,
            operations,
            task,
        }
    }

    fn operations(&self) -> Vec<String> {
        self.operations
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve one keep-alive connection: each request is logged, sent on to
/// `upstream`, and the answer written back with a Content-Length.
async fn forward(
    stream: tokio::net::TcpStream,
    upstream: String,
    http: reqwest::Client,
    log: Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(verb), Some(target)) = (parts.next(), parts.next()) else {
            return;
        };
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_string(), value.trim().to_string());
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let operation = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-target"))
            .map_or_else(|| format!("{verb} {target}"), |(_, v)| v.clone());
        if let Ok(mut log) = log.lock() {
            log.push(operation);
        }
        let Ok(verb) = reqwest::Method::from_bytes(verb.as_bytes()) else {
            return;
        };
        let mut request = http.request(verb, format!("{upstream}{target}"));
        for (name, value) in &headers {
            let hop = ["host", "content-length", "connection", "transfer-encoding"];
            if !hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        let Ok(response) = request.body(body).send().await else {
            return;
        };
        let mut head = format!("HTTP/1.1 {}\r\n", response.status());
        for (name, value) in response.headers() {
            let skip = ["content-length", "connection", "transfer-encoding"];
            if !skip.contains(&name.as_str()) {
                head += &format!("{name}: {}\r\n", value.to_str().unwrap_or_default());
            }
        }
        let Ok(bytes) = response.bytes().await else {
            return;
        };
        head += &format!("content-length: {}\r\n\r\n", bytes.len());
        if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&bytes).await.is_err()
        {
            return;
        }
    }
}

/// A Lambda Runtime API that hands the function `events` one per
/// `GET .../invocation/next` (then keeps it waiting), and passes on every
/// response, error or init error the function posts.
struct RuntimeApi {
    server: MockServer,
    posted: tokio::sync::mpsc::UnboundedReceiver<(String, Value)>,
}

struct NextEvent(std::sync::Mutex<std::collections::VecDeque<(String, Value)>>);

impl Respond for NextEvent {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let next = self.0.lock().ok().and_then(|mut q| q.pop_front());
        let Some((request_id, event)) = next else {
            // No more events: the function waits here until it is stopped.
            return ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(300));
        };
        let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
        ResponseTemplate::new(200)
            .insert_header("Lambda-Runtime-Aws-Request-Id", request_id.as_str())
            .insert_header("Lambda-Runtime-Deadline-Ms", deadline.to_string().as_str())
            .insert_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:dynopilot",
            )
            .set_body_json(event)
    }
}

struct Posted(tokio::sync::mpsc::UnboundedSender<(String, Value)>);

impl Respond for Posted {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let _ = self.0.send((request.url.path().to_string(), body));
        ResponseTemplate::new(202)
    }
}

impl RuntimeApi {
    async fn start(events: Vec<(String, Value)>) -> Self {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/2018-06-01/runtime/invocation/next"))
            .respond_with(NextEvent(std::sync::Mutex::new(events.into())))
            .mount(&server)
            .await;
        let (tx, posted) = tokio::sync::mpsc::unbounded_channel();
        Mock::given(method("POST"))
            .and(path_regex(
                r"^/2018-06-01/runtime/(invocation/[^/]+/(response|error)|init/error)$",
            ))
            .respond_with(Posted(tx))
            .mount(&server)
            .await;
        Self { server, posted }
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` wants it.
    fn address(&self) -> String {
        self.server.address().to_string()
    }

    /// The next `n` posts (path, JSON body); panics with the function's
    /// stderr if it exits first.
    async fn posts(
        &mut self,
        n: usize,
        function: &mut std::process::Child,
        stderr: &std::path::Path,
    ) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for _ in 0..1200 {
            if out.len() == n {
                return out;
            }
            match tokio::time::timeout(std::time::Duration::from_millis(100), self.posted.recv())
                .await
            {
                Ok(Some(post)) => out.push(post),
                Ok(None) => break,
                Err(_) => {
                    if let Ok(Some(status)) = function.try_wait() {
                        panic!(
                            "the function exited ({status}): {}",
                            std::fs::read_to_string(stderr).unwrap_or_default()
                        );
                    }
                }
            }
        }
        panic!("only {} of {n} answers came back: {out:?}", out.len());
    }
}

/// Kills the child when the test ends, pass or fail.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The scheduled event of 12:`minute` with this id.
fn scheduled_event(id: &str, minute: u32) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": format!("2026-01-05T12:{minute:02}:00Z"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/dynopilot-every-minute"],
        "detail": {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssm_secrets_are_read_once_at_start_and_never_printed() {
    // GIVEN the Heroku token in SSM as a SecureString, an SSM endpoint that
    // counts the calls on their way to moto, and a Heroku fake that serves
    // only that token (3 formation reads, one PATCH: 742 rpm wants 8 dynos)
    let cfg = aws().await;
    let ssm = aws_sdk_ssm::Client::new(&cfg);
    let secret = "ssm-secret-token-value";
    let path = format!("/dynopilot-test/{}/heroku", std::process::id());
    ssm.put_parameter()
        .name(&path)
        .value(secret)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put parameter");
    let proxy = CountingProxy::start(moto_url()).await;
    let (_, table_name) = table(&cfg).await;
    let heroku = HerokuFake::start(secret).await;
    heroku.app("shop-app", &[("web", 2)], 3, 1).await;
    let text = format!(
        "[scaler]\nkind = \"heroku\"\ntoken = \"ssm:{path}\"\nbase_url = \"{}\"\n{}",
        heroku.uri(),
        one_formation(1, 20)
            .replace("[state]\nkind = \"memory\"\n", "")
            .replace("value = 0", "value = 742")
    );
    assert_eq!(
        config::secret_references(&text),
        [SecretRef::Ssm(path.clone())]
    );
    let mut runtime = RuntimeApi::start(
        (0..3)
            .map(|m| (format!("req-{m}"), scheduled_event(&format!("evt-{m}"), m)))
            .collect(),
    )
    .await;
    let logs = tempfile::tempdir().expect("temp dir");
    let (stdout, stderr) = (logs.path().join("stdout"), logs.path().join("stderr"));
    // WHEN the function starts once and handles three scheduled events
    let mut function = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_dynopilot-lambda"))
            .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "dynopilot")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_ENDPOINT_URL", moto_url())
            .env("AWS_ENDPOINT_URL_SSM", &proxy.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("DYNOPILOT_CONFIG", &text)
            .env("DYNOPILOT_TABLE", &table_name)
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("the function starts"),
    );
    let posts = runtime.posts(3, &mut function.0, &stderr).await;
    drop(function);
    // THEN each event got its report, scaled once with the token from SSM...
    let outcomes: Vec<(String, String)> = posts
        .iter()
        .map(|(p, body)| {
            let outcome = body["formations"][0]["outcome"].as_str().unwrap_or("-");
            (p.clone(), outcome.to_string())
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                "/2018-06-01/runtime/invocation/req-0/response".to_string(),
                "scaled_up".to_string()
            ),
            (
                "/2018-06-01/runtime/invocation/req-1/response".to_string(),
                "hold".to_string()
            ),
            (
                "/2018-06-01/runtime/invocation/req-2/response".to_string(),
                "hold".to_string()
            ),
        ],
        "{posts:?}"
    );
    assert_eq!(heroku.quantity("shop-app", "web"), Some(8));
    heroku.verify().await;
    // ...SSM was called once, at start, for the one parameter...
    assert_eq!(proxy.operations(), ["AmazonSSM.GetParameter"]);
    // ...and the value is in no answer and no log line
    let output = std::fs::read_to_string(&stdout).unwrap_or_default()
        + &std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(
        output.contains("evt-2"),
        "the function's logs were captured: {output}"
    );
    assert!(
        !output.contains(secret),
        "the secret is in the function's logs"
    );
    assert!(
        !format!("{posts:?}").contains(secret),
        "the secret is in an answer"
    );

    // The resolver itself: the value only through expose_secret, and a
    // missing parameter named in the error, each for one SSM call.
    let counted = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&cfg)
            .endpoint_url(&proxy.url)
            .build(),
    );
    let secrets = SsmSecrets::load(&counted, &[SecretRef::Ssm(path.clone())])
        .await
        .expect("load");
    let value = secrets
        .resolve(&SecretRef::Ssm(path.clone()))
        .expect("resolved");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&value), secret);
    assert!(!format!("{secrets:?} {value:?}").contains(secret));
    let missing = SsmSecrets::load(
        &counted,
        &[SecretRef::Ssm("/dynopilot-test/missing".into())],
    )
    .await
    .expect_err("missing");
    assert!(
        missing.contains("/dynopilot-test/missing") && missing.contains("ParameterNotFound"),
        "{missing}"
    );
    assert_eq!(proxy.operations().len(), 3, "{:?}", proxy.operations());
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

/// The demo config, not dry, scaling through the Heroku fake at `base_url`
/// with the token `env:HEROKU_API_TOKEN`.
pub fn demo_config_on_heroku(base_url: &str) -> String {
    let mut demo: toml::Table = config::DEMO_CONFIG
        .parse()
        .expect("the demo config is TOML");
    demo.insert("dry_run".into(), toml::Value::Boolean(false));
    let mut scaler = toml::Table::new();
    scaler.insert("kind".into(), "heroku".into());
    scaler.insert("token".into(), "env:HEROKU_API_TOKEN".into());
    scaler.insert("base_url".into(), base_url.into());
    demo.insert("scaler".into(), toml::Value::Table(scaler));
    toml::to_string(&demo).expect("TOML")
}

/// The handler, in process, with every file in events/: the documented responses.
#[tokio::test]
async fn every_event_file_gets_its_documented_response() {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let store = Arc::new(DynamoDbStateStore::new(client, &name));
    // Heroku reads: the scheduled run, the dry run and the paused evaluate.
    let heroku = HerokuFake::start(HEROKU_TOKEN).await;
    heroku.app("demo-app", &[("web", 1)], 3, 1).await;
    let config = config::parse(&demo_config_on_heroku(&heroku.uri())).expect("demo config");
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
    assert_eq!(heroku.requests("PATCH").await.len(), 1, "one scale so far");
    // evaluate-dry-run.json: decides, changes nothing. Someone scaled web to 0
    // by hand, below min 1, so this run would certainly scale up.
    heroku.set("demo-app", "web", 0);
    let dry = function
        .handle_at(&event("evaluate-dry-run.json"), "req-3", far, clock)
        .await
        .expect("ok");
    assert_dry_run_changed_nothing(&dry, &heroku).await;
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
    assert_eq!(heroku.quantity("demo-app", "web"), Some(0));
    heroku.verify().await;
}

/// The dry run of `evaluate-dry-run.json` with web at 0 (below min 1): it
/// would scale up, and nothing changed at the Heroku fake (one PATCH so far,
/// from the scheduled run).
pub async fn assert_dry_run_changed_nothing(dry: &Value, heroku: &HerokuFake) {
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["formations"][0]["outcome"], "would_scale_up", "{dry}");
    assert_eq!(dry["formations"][0]["current"], 0, "{dry}");
    assert_eq!(
        heroku.requests("PATCH").await.len(),
        1,
        "no PATCH in the dry run"
    );
    assert_eq!(heroku.quantity("demo-app", "web"), Some(0));
}
