//! Benchmarks of the function itself: reported figures, never assertions.
//! Run by `tests/bench`, which starts the moto server and builds the release
//! `bootstrap` first (it passes DYNOPILOT_TEST_MOTO_URL and DYNOPILOT_BENCH_BOOTSTRAP).
//!
//! 1. one invocation with 6 inputs that each answer after 200 ms, the Heroku
//!    fake and DynamoDB on moto: wall time, and its ratio to the slowest single
//!    path and to a measured sequential run of the same calls;
//! 2. start-up of the release bootstrap: process start to its first request
//!    for an event, and peak RSS over one invocation;
//! 3. size of the release bootstrap and of its zip;
//! 4. 100 formations over 50 apps in one invocation: wall time and calls per service.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use dynopilot::config::{self, SecretRef, SecretResolver};
use dynopilot::engine::{Engine, Invocation, Outcome};
use dynopilot::notify::ConsoleNotifier;
use dynopilot::store::{DynamoDbStateStore, FormationState, StateStore, StoreError, Versioned};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

// The Heroku account fake's formation objects, which the helpers build on.
#[path = "../fakes/heroku_account.rs"]
mod heroku_account;

// The integration tests' helpers, for the one contract-faithful Heroku fake.
#[path = "../it/helpers.rs"]
#[allow(unused_imports)]
mod helpers;
use helpers::HerokuFake;

/// What `Token` resolves every secret to, so the Heroku fake's bearer token.
const TOKEN: &str = "bench-token";

struct Token;
impl SecretResolver for Token {
    fn resolve(&self, _: &SecretRef) -> Result<SecretString, String> {
        Ok(SecretString::from(TOKEN.to_string()))
    }
}

fn fail(what: &str) -> ! {
    eprintln!("bench: {what}");
    std::process::exit(1)
}

fn moto_url() -> String {
    std::env::var("DYNOPILOT_TEST_MOTO_URL").unwrap_or_else(|_| {
        fail("DYNOPILOT_TEST_MOTO_URL is not set: run tests/bench (it starts the moto server)")
    })
}

async fn dynamodb() -> (aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&cfg);
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "dynopilot-bench-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let key = KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let attr = AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    if let Err(e) = client
        .create_table()
        .table_name(&name)
        .key_schema(key)
        .attribute_definitions(attr)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
    {
        fail(&format!("create table on moto: {e}"));
    }
    (client, name)
}

/// Counts store calls per key on the way through.
struct Counting<S> {
    inner: S,
    reads: Mutex<BTreeMap<String, usize>>,
    writes: Mutex<BTreeMap<String, usize>>,
}

impl<S> Counting<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            reads: Mutex::default(),
            writes: Mutex::default(),
        }
    }

    fn bump(map: &Mutex<BTreeMap<String, usize>>, key: &str) {
        if let Ok(mut m) = map.lock() {
            *m.entry(key.to_string()).or_default() += 1;
        }
    }

    /// (GetItem, PutItem) calls so far, all keys.
    fn totals(&self) -> (usize, usize) {
        let sum = |m: &Mutex<BTreeMap<String, usize>>| m.lock().map_or(0, |m| m.values().sum());
        (sum(&self.reads), sum(&self.writes))
    }

    fn per_key(map: &Mutex<BTreeMap<String, usize>>) -> BTreeMap<String, usize> {
        map.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl<S: StateStore> StateStore for Counting<S> {
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError> {
        Self::bump(&self.reads, key);
        self.inner.load(key).await
    }
    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        Self::bump(&self.writes, key);
        self.inner.save(key, state, expected).await
    }
}

/// "one per app" when every value is 1, else what it was.
fn per_label(counts: &BTreeMap<String, usize>, expected_keys: usize, what: &str) -> String {
    let (min, max) = (
        counts.values().min().copied().unwrap_or(0),
        counts.values().max().copied().unwrap_or(0),
    );
    if counts.len() == expected_keys && min == 1 && max == 1 {
        format!("one per {what}")
    } else {
        format!(
            "NOT one per {what}: {} of {expected_keys} {what}s, {min}..{max} each",
            counts.len()
        )
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The parts an engine is made of, built from a config text like the Lambda does.
struct Parts {
    config: config::Config,
    sources: Vec<Vec<Arc<dyn dynopilot::inputs::MetricSource>>>,
    scaler: Arc<dyn dynopilot::scaler::Scaler>,
}

fn parts(toml: &str) -> Parts {
    let config = config::parse(toml).unwrap_or_else(|e| fail(&e.to_string()));
    let http = dynopilot::wiring::http_client().unwrap_or_else(|e| fail(&e));
    let sources = dynopilot::wiring::build_sources(
        &config,
        &dynopilot::inputs::BuildContext {
            secrets: &Token,
            http: &http,
            drain: None,
            formation: None,
        },
    )
    .unwrap_or_else(|e| fail(&e));
    let scaler = dynopilot::wiring::heroku_scaler(&config.scaler, &Token, &http)
        .unwrap_or_else(|e| fail(&e));
    Parts {
        config,
        sources,
        scaler,
    }
}

fn engine_of(parts: Parts, store: Arc<dyn StateStore>) -> Engine {
    Engine::new(
        Arc::new(parts.config),
        parts.sources,
        store,
        parts.scaler,
        Arc::new(ConsoleNotifier),
    )
    .unwrap_or_else(|e| fail(&e))
}

/// Requests of `method` the server received so far.
async fn count(server: &MockServer, with_method: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == with_method)
        .count()
}

/// The calls one run made, counted at the fakes and the store.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Calls {
    inputs: usize,
    heroku_get: usize,
    heroku_patch: usize,
    get_item: usize,
    put_item: usize,
}

impl Calls {
    async fn now<S>(metrics: &MockServer, heroku: &HerokuFake, store: &Counting<S>) -> Self {
        let (get_item, put_item) = store.totals();
        Self {
            inputs: count(metrics, "GET").await,
            heroku_get: heroku.requests("GET").await.len(),
            heroku_patch: heroku.requests("PATCH").await.len(),
            get_item,
            put_item,
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            inputs: self.inputs - before.inputs,
            heroku_get: self.heroku_get - before.heroku_get,
            heroku_patch: self.heroku_patch - before.heroku_patch,
            get_item: self.get_item - before.get_item,
            put_item: self.put_item - before.put_item,
        }
    }

    fn describe(self) -> String {
        format!(
            "{} input calls, {} Heroku GET, {} Heroku PATCH, {} GetItem, {} PutItem",
            self.inputs, self.heroku_get, self.heroku_patch, self.get_item, self.put_item
        )
    }
}

async fn item_1_six_slow_inputs() {
    let metrics = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/metric/\d$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"load": 250}))
                .set_delay(Duration::from_millis(200)),
        )
        .mount(&metrics)
        .await;
    let heroku = HerokuFake::start(TOKEN).await;
    heroku.app("bench-app", &[("web", 1)], .., ..).await;
    let (client, table) = dynamodb().await;
    let mut toml = format!("[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"\nbase_url = \"{}\"\n\n[[formations]]\napp = \"bench-app\"\ntype = \"web\"\nmax = 50\n", heroku.uri());
    for i in 0..6 {
        toml += &format!("\n[[formations.inputs]]\nname = \"m{i}\"\ntype = \"app_metric\"\nurl = \"{}/metric/{i}\"\npointer = \"/load\"\nper_dyno = 100\n", metrics.uri());
    }
    let store = Arc::new(Counting::new(DynamoDbStateStore::new(client, &table)));
    let engine = engine_of(parts(&toml), store.clone());
    // Each path alone.
    let http = reqwest::Client::new();
    let t = Instant::now();
    let _ = http.get(format!("{}/metric/0", metrics.uri())).send().await;
    let input = t.elapsed();
    let single = parts(&toml);
    let t = Instant::now();
    if let Err(e) = single.scaler.formation("bench-app").await {
        fail(&format!("Heroku read: {e}"));
    }
    let heroku_read = t.elapsed();
    let t = Instant::now();
    let loaded = store.load("bench-probe#web").await;
    let db_read = t.elapsed();
    let t = Instant::now();
    let _ = store
        .save("bench-probe#web", &FormationState::default(), None)
        .await;
    let db_write = t.elapsed();
    drop(loaded);
    // Whole invocations, one per minute so every input is due; the calls of
    // each are counted at the fakes.
    let start = Utc
        .with_ymd_and_hms(2026, 1, 5, 12, 0, 0)
        .single()
        .unwrap_or_else(|| fail("time"));
    let mut walls = Vec::new();
    let mut calls = Vec::new();
    for m in 0..10 {
        let before = Calls::now(&metrics, &heroku, &store).await;
        let t = Instant::now();
        let report = engine
            .invoke(&Invocation::at(start + TimeDelta::minutes(m)))
            .await;
        walls.push(t.elapsed());
        calls.push(Calls::now(&metrics, &heroku, &store).await.since(before));
        if report.formations[0].outcome == Outcome::Failed {
            fail(&format!(
                "invocation failed: {:?}",
                report.formations[0].errors
            ));
        }
    }
    // The invocation the median stands for: a minute that held (the first one scaled).
    let hold_calls = calls[calls.len() - 1];
    let same_calls = calls[1..].iter().all(|c| *c == hold_calls);
    let wall = median(walls);
    // The same calls as one held invocation, one after another, measured: read
    // the state, poll each input, read the formation, save the state.
    let sequential_parts = parts(&toml);
    let key = "bench-app#web";
    let mut sequential_walls = Vec::new();
    let mut sequential_calls = None;
    for m in 10..20 {
        let now = start + TimeDelta::minutes(m);
        let before = Calls::now(&metrics, &heroku, &store).await;
        let t = Instant::now();
        let state = store
            .load(key)
            .await
            .unwrap_or_else(|e| fail(&e.to_string()));
        for source in &sequential_parts.sources[0] {
            let _ = source.fetch(now).await;
        }
        if let Err(e) = sequential_parts.scaler.formation("bench-app").await {
            fail(&format!("Heroku read: {e}"));
        }
        let (value, version) = state.map_or((FormationState::default(), None), |v| {
            (v.value, Some(v.version))
        });
        if let Err(e) = store.save(key, &value, version).await {
            fail(&format!("save: {e}"));
        }
        sequential_walls.push(t.elapsed());
        sequential_calls = Some(Calls::now(&metrics, &heroku, &store).await.since(before));
    }
    let sequential = median(sequential_walls);
    let sequential_calls = sequential_calls.unwrap_or_else(|| fail("no sequential run"));
    let paths = [
        (input, "one input"),
        (heroku_read, "Heroku GET"),
        (db_read, "DynamoDB read"),
        (db_write, "DynamoDB write"),
    ];
    let (slowest, slowest_name) = paths
        .into_iter()
        .max_by_key(|(d, _)| *d)
        .unwrap_or((Duration::ZERO, "none"));
    println!("1. invocation, 6 inputs answering after 200 ms + Heroku fake + DynamoDB (moto), median of 10:");
    println!("   wall time                      {}", ms(wall));
    println!(
        "   calls of a held invocation     {}{}",
        hold_calls.describe(),
        if same_calls {
            " (the same in minutes 2-10)"
        } else {
            " (NOT the same in every held minute)"
        }
    );
    println!(
        "   slowest single path            {} ({slowest_name})",
        ms(slowest)
    );
    println!(
        "   sequential run, same calls     {} (median of 10; {}{})",
        ms(sequential),
        sequential_calls.describe(),
        if sequential_calls == hold_calls {
            ", as the held invocation"
        } else {
            ", NOT those of the held invocation"
        }
    );
    println!(
        "   wall / slowest path            {:.2}",
        wall.as_secs_f64() / slowest.as_secs_f64()
    );
    println!(
        "   wall / sequential run          {:.2}",
        wall.as_secs_f64() / sequential.as_secs_f64()
    );
}

async fn item_4_hundred_formations() {
    let metrics = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/metric/.*$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"load": 250})))
        .mount(&metrics)
        .await;
    let heroku = HerokuFake::start(TOKEN).await;
    let apps: Vec<String> = (0..50).map(|a| format!("bench-app-{a}")).collect();
    for app in &apps {
        heroku.app(app, &[("web", 1), ("worker", 1)], .., ..).await;
    }
    let (client, table) = dynamodb().await;
    let mut toml = format!(
        "[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"\nbase_url = \"{}\"\n",
        heroku.uri()
    );
    for app in &apps {
        for ptype in ["web", "worker"] {
            toml += &format!("\n[[formations]]\napp = \"{app}\"\ntype = \"{ptype}\"\nmax = 50\n[[formations.inputs]]\nname = \"load\"\ntype = \"app_metric\"\nurl = \"{}/metric/{app}/{ptype}\"\npointer = \"/load\"\nper_dyno = 100\n", metrics.uri());
        }
    }
    let store = Arc::new(Counting::new(DynamoDbStateStore::new(client, &table)));
    let engine = engine_of(parts(&toml), store.clone());
    let now = Utc
        .with_ymd_and_hms(2026, 1, 5, 12, 0, 0)
        .single()
        .unwrap_or_else(|| fail("time"));
    let t = Instant::now();
    let report = engine.invoke(&Invocation::at(now)).await;
    let wall = t.elapsed();
    let formations = report.formations.len();
    let scaled = report
        .formations
        .iter()
        .filter(|f| f.outcome == Outcome::ScaledUp)
        .count();
    let failed = report
        .formations
        .iter()
        .filter(|f| f.outcome == Outcome::Failed)
        .count();
    let one_to_three = report
        .formations
        .iter()
        .filter(|f| (f.current, f.target) == (Some(1), Some(3)))
        .count();
    let scales = if one_to_three == formations {
        "every formation scales 1 → 3".to_string()
    } else {
        format!("{one_to_three} of {formations} formations scale 1 → 3")
    };
    // Heroku calls per app, from the fake's log.
    let mut gets: BTreeMap<String, usize> = BTreeMap::new();
    for (p, _) in heroku.requests("GET").await {
        *gets.entry(p).or_default() += 1;
    }
    let patch_log = heroku.requests("PATCH").await;
    let mut patches: BTreeMap<String, usize> = BTreeMap::new();
    for (p, _) in &patch_log {
        *patches.entry(p.clone()).or_default() += 1;
    }
    let batches_of_two = patch_log
        .iter()
        .filter(|(p, body)| {
            p.matches('/').count() == 3 && body["updates"].as_array().map(Vec::len) == Some(2)
        })
        .count();
    let patch_label = if batches_of_two == patch_log.len() {
        format!(
            "{}, each a batch of web + worker",
            per_label(&patches, apps.len(), "app")
        )
    } else {
        format!(
            "{}; {batches_of_two} of them batches of web + worker",
            per_label(&patches, apps.len(), "app")
        )
    };
    let reads = Counting::<DynamoDbStateStore>::per_key(&store.reads);
    let writes = Counting::<DynamoDbStateStore>::per_key(&store.writes);
    let two_writes = writes.values().filter(|n| **n == 2).count();
    let write_label = if two_writes == scaled && writes.len() == formations {
        "claim + record per scaling formation".to_string()
    } else {
        format!("{two_writes} formations written twice, {scaled} scaled")
    };
    let (get_items, put_items) = store.totals();
    let metric_calls = metrics.received_requests().await.map_or(0, |r| r.len());
    println!("4. 100 formations over 50 apps (web + worker each, 1 input each), one invocation ({scales}):");
    println!("   wall time                      {}", ms(wall));
    println!("   formations scaled / failed     {scaled} / {failed}");
    println!(
        "   Heroku calls                   {} GET ({}), {} PATCH ({patch_label})",
        gets.values().sum::<usize>(),
        per_label(&gets, apps.len(), "app"),
        patch_log.len()
    );
    println!(
        "   DynamoDB calls                 {get_items} GetItem ({}), {put_items} PutItem ({write_label})",
        per_label(&reads, formations, "formation")
    );
    println!("   input calls                    {metric_calls}");
}

/// A Runtime API that hands out one event, then keeps the function waiting.
struct RuntimeApi {
    calls: AtomicUsize,
    /// When the function first asked for an event.
    first_next: Mutex<Option<Instant>>,
}

struct Handle(Arc<RuntimeApi>);

impl Respond for Handle {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.0.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            if let Ok(mut first) = self.0.first_next.lock() {
                *first = Some(Instant::now());
            }
            let deadline = Utc::now().timestamp_millis() + 30_000;
            return ResponseTemplate::new(200)
                .insert_header("Lambda-Runtime-Aws-Request-Id", "bench-request")
                .insert_header("Lambda-Runtime-Deadline-Ms", deadline.to_string().as_str())
                .insert_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:dynopilot",
                )
                .set_body_json(json!({"action": "evaluate", "dry_run": true}));
        }
        ResponseTemplate::new(200).set_delay(Duration::from_secs(120))
    }
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn item_2_and_3_bootstrap() {
    let Ok(bootstrap) = std::env::var("DYNOPILOT_BENCH_BOOTSTRAP") else {
        fail("DYNOPILOT_BENCH_BOOTSTRAP is not set: run tests/bench (it builds the release bootstrap)");
    };
    let size = std::fs::metadata(&bootstrap)
        .map(|m| m.len())
        .unwrap_or_else(|e| fail(&format!("{bootstrap}: {e}")));
    let dir = std::env::temp_dir().join(format!("dynopilot-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let zip = dir.join("bootstrap.zip");
    let _ = std::fs::remove_file(&zip);
    let zipped = std::process::Command::new("zip")
        .arg("-j")
        .arg("-q")
        .arg("-9")
        .arg(&zip)
        .arg(&bootstrap)
        .status();
    let zip_size = match zipped {
        Ok(s) if s.success() => std::fs::metadata(&zip).map(|m| m.len()).ok(),
        _ => None,
    };
    println!("3. release bootstrap (x86_64, cargo lambda build --release):");
    println!(
        "   binary                         {:.1} MB ({size} bytes)",
        size as f64 / 1e6
    );
    match zip_size {
        Some(z) => println!(
            "   zip (deployment package)       {:.1} MB ({z} bytes)",
            z as f64 / 1e6
        ),
        None => {
            println!("   zip                            (the zip command failed or is missing)")
        }
    }

    let (_, table) = dynamodb().await;
    let demo = config::DEMO_CONFIG.replace("dry_run = true", "dry_run = false");
    let mut ready = Vec::new();
    let mut answered = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..5 {
        let api = MockServer::start().await;
        let runtime = Arc::new(RuntimeApi {
            calls: AtomicUsize::new(0),
            first_next: Mutex::new(None),
        });
        Mock::given(method("GET"))
            .and(path("/2018-06-01/runtime/invocation/next"))
            .respond_with(Handle(runtime.clone()))
            .mount(&api)
            .await;
        Mock::given(method("POST"))
            .and(path(
                "/2018-06-01/runtime/invocation/bench-request/response",
            ))
            .respond_with(ResponseTemplate::new(202))
            .mount(&api)
            .await;
        let address = api.address().to_string();
        // Both timers start here, with the mocks mounted: process start.
        let started = Instant::now();
        let mut child = std::process::Command::new(&bootstrap)
            .env("AWS_LAMBDA_RUNTIME_API", &address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "dynopilot")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_ENDPOINT_URL", moto_url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("DYNOPILOT_CONFIG", &demo)
            .env("DYNOPILOT_TABLE", &table)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| fail(&format!("start {bootstrap}: {e}")));
        let mut done = None;
        for _ in 0..400 {
            let posted = api
                .received_requests()
                .await
                .unwrap_or_default()
                .iter()
                .any(|r| r.method.as_str() == "POST");
            if posted {
                done = Some(started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let peak = peak_rss_kb(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let (Some(first), Some(done)) = (runtime.first_next.lock().ok().and_then(|f| *f), done)
        else {
            fail("the bootstrap never asked for or answered an event");
        };
        ready.push(first.saturating_duration_since(started));
        answered.push(done);
        if let Some(kb) = peak {
            rss.push(kb);
        }
    }
    rss.sort_unstable();
    println!("2. start-up of the release bootstrap (median of 5 cold starts, config + SDK + HTTP clients built, DynamoDB on moto):");
    println!(
        "   process start → ready for the first event   {}",
        ms(median(ready))
    );
    println!(
        "   process start → first response posted       {} (one dry-run evaluate)",
        ms(median(answered))
    );
    match rss.get(rss.len() / 2) {
        Some(kb) => println!(
            "   peak RSS over one invocation                {:.1} MB",
            *kb as f64 / 1024.0
        ),
        None => {
            println!("   peak RSS                                    (not readable from /proc)")
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    runtime.block_on(async {
        item_1_six_slow_inputs().await;
        println!();
        item_2_and_3_bootstrap().await;
        println!();
        item_4_hundred_formations().await;
    });
}
