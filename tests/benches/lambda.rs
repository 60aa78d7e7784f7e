//! Benchmarks of the function itself: reported figures, never assertions.
//! Run by `tests/bench`, which starts the moto server and builds the release
//! `bootstrap` first (it passes DYNOPILOT_TEST_MOTO_URL and DYNOPILOT_BENCH_BOOTSTRAP).
//!
//! 1. one invocation with 6 inputs that each answer after 200 ms, a Heroku fake
//!    and DynamoDB on moto: wall time, and its ratio to the slowest single path
//!    and to the sequential sum of all paths;
//! 2. start-up of the release bootstrap: process start to its first request
//!    for an event, and peak RSS over one invocation;
//! 3. size of the release bootstrap and of its zip;
//! 4. 100 formations over 50 apps in one invocation: wall time and calls per service.

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

struct Token;
impl SecretResolver for Token {
    fn resolve(&self, _: &SecretRef) -> Result<SecretString, String> {
        Ok(SecretString::from("bench-token".to_string()))
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

/// Counts store calls on the way through.
struct Counting<S> {
    inner: S,
    reads: AtomicUsize,
    writes: AtomicUsize,
}

#[async_trait]
impl<S: StateStore> StateStore for Counting<S> {
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }
    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.save(key, state, expected).await
    }
}

/// Heroku's formation list for any app: `web` and `worker` at 1.
async fn heroku_fake() -> MockServer {
    let heroku = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/apps/[^/]+/formation$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Remaining", "4000")
                .set_body_json(json!([
                    {"type": "web", "quantity": 1}, {"type": "worker", "quantity": 1}
                ])),
        )
        .mount(&heroku)
        .await;
    Mock::given(method("PATCH"))
        .and(path_regex(r"^/apps/[^/]+/formation(/[^/]+)?$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Remaining", "4000")
                .set_body_json(json!([])),
        )
        .mount(&heroku)
        .await;
    heroku
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn engine_for(toml: &str, store: Arc<dyn StateStore>) -> Engine {
    let config = config::parse(toml).unwrap_or_else(|e| fail(&e.to_string()));
    let http = dynopilot::wiring::http_client().unwrap_or_else(|e| fail(&e));
    let sources = dynopilot::wiring::build_sources(
        &config,
        &dynopilot::inputs::BuildContext {
            secrets: &Token,
            http: &http,
        },
    )
    .unwrap_or_else(|e| fail(&e));
    let scaler = dynopilot::wiring::heroku_scaler(&config.scaler, &Token, &http)
        .unwrap_or_else(|e| fail(&e));
    Engine::new(
        Arc::new(config),
        sources,
        store,
        scaler,
        Arc::new(ConsoleNotifier),
    )
    .unwrap_or_else(|e| fail(&e))
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
    let heroku = heroku_fake().await;
    let (client, table) = dynamodb().await;
    let mut toml = format!("[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"\nbase_url = \"{}\"\n\n[[formations]]\napp = \"bench-app\"\ntype = \"web\"\nmax = 50\n", heroku.uri());
    for i in 0..6 {
        toml += &format!("\n[[formations.inputs]]\nname = \"m{i}\"\ntype = \"app_metric\"\nurl = \"{}/metric/{i}\"\npointer = \"/load\"\nper_dyno = 100\n", metrics.uri());
    }
    let store = Arc::new(DynamoDbStateStore::new(client, &table));
    let engine = engine_for(&toml, store.clone()).await;
    // Each path alone.
    let http = reqwest::Client::new();
    let t = Instant::now();
    let _ = http.get(format!("{}/metric/0", metrics.uri())).send().await;
    let input = t.elapsed();
    let t = Instant::now();
    let _ = http
        .get(format!("{}/apps/bench-app/formation", heroku.uri()))
        .send()
        .await;
    let heroku_read = t.elapsed();
    let t = Instant::now();
    let loaded = store.load("bench-app#web").await;
    let db_read = t.elapsed();
    let t = Instant::now();
    let _ = store
        .save("bench-probe#web", &FormationState::default(), None)
        .await;
    let db_write = t.elapsed();
    drop(loaded);
    // Whole invocations, one per minute so every input is due.
    let start = Utc
        .with_ymd_and_hms(2026, 1, 5, 12, 0, 0)
        .single()
        .unwrap_or_else(|| fail("time"));
    let mut walls = Vec::new();
    for m in 0..10 {
        let t = Instant::now();
        let report = engine
            .invoke(&Invocation::at(start + TimeDelta::minutes(m)))
            .await;
        walls.push(t.elapsed());
        if report.formations[0].outcome == Outcome::Failed {
            fail(&format!(
                "invocation failed: {:?}",
                report.formations[0].errors
            ));
        }
    }
    let wall = median(walls);
    let slowest = [input, heroku_read, db_read, db_write]
        .into_iter()
        .max()
        .unwrap_or_default();
    let sequential = input * 6 + heroku_read + db_read + db_write * 2;
    println!("1. invocation, 6 inputs answering after 200 ms + Heroku fake + DynamoDB (moto), median of 10:");
    println!("   wall time                      {}", ms(wall));
    println!(
        "   slowest single path            {} (one input)",
        ms(slowest)
    );
    println!(
        "   sequential sum of all paths    {} (6 inputs, Heroku GET, DynamoDB read + 2 writes)",
        ms(sequential)
    );
    println!(
        "   wall / slowest path            {:.2}",
        wall.as_secs_f64() / slowest.as_secs_f64()
    );
    println!(
        "   wall / sequential sum          {:.2}",
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
    let heroku = heroku_fake().await;
    let (client, table) = dynamodb().await;
    let mut toml = format!(
        "[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"\nbase_url = \"{}\"\n",
        heroku.uri()
    );
    for app in 0..50 {
        for ptype in ["web", "worker"] {
            toml += &format!("\n[[formations]]\napp = \"bench-app-{app}\"\ntype = \"{ptype}\"\nmax = 50\n[[formations.inputs]]\nname = \"load\"\ntype = \"app_metric\"\nurl = \"{}/metric/{app}/{ptype}\"\npointer = \"/load\"\nper_dyno = 100\n", metrics.uri());
        }
    }
    let store = Arc::new(Counting {
        inner: DynamoDbStateStore::new(client, &table),
        reads: AtomicUsize::new(0),
        writes: AtomicUsize::new(0),
    });
    let engine = engine_for(&toml, store.clone()).await;
    let now = Utc
        .with_ymd_and_hms(2026, 1, 5, 12, 0, 0)
        .single()
        .unwrap_or_else(|| fail("time"));
    let t = Instant::now();
    let report = engine.invoke(&Invocation::at(now)).await;
    let wall = t.elapsed();
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
    let requests = heroku.received_requests().await.unwrap_or_default();
    let gets = requests
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    let patches = requests
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .count();
    let metric_calls = metrics.received_requests().await.map_or(0, |r| r.len());
    println!("4. 100 formations over 50 apps (web + worker each, 1 input each), one invocation (every formation scales 1 → 3):");
    println!("   wall time                      {}", ms(wall));
    println!("   formations scaled / failed     {scaled} / {failed}");
    println!("   Heroku calls                   {gets} GET (one per app), {patches} PATCH (one batch per app)");
    println!("   DynamoDB calls                 {} GetItem, {} PutItem (claim + record per scaling formation)", store.reads.load(Ordering::SeqCst), store.writes.load(Ordering::SeqCst));
    println!("   input calls                    {metric_calls}");
}

/// A Runtime API that hands out one event, then keeps the function waiting.
struct RuntimeApi {
    started: Instant,
    calls: AtomicUsize,
    first_next: Mutex<Option<Duration>>,
}

struct Handle(Arc<RuntimeApi>);

impl Respond for Handle {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.0.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            if let Ok(mut first) = self.0.first_next.lock() {
                *first = Some(self.0.started.elapsed());
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
            started: Instant::now(),
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
        // `started` of the RuntimeApi was taken just before spawning, like `started` here.
        ready.push(first);
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
