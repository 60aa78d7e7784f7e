//! The fault matrix: every external dependency × {timeout, 5xx, 429,
//! malformed body, oversize body, auth failure}, each cell a real run against a
//! fake that answers that way (echoing the request's headers where a provider
//! would), measured for: the outcome, wrong scale-downs, state lost and
//! secrets in any output (report, logs, mail, stored state).
//!
//! The table is written to docs/fault-matrix.md; the test fails when the file
//! differs (regenerate with `DYNOPILOT_BLESS_DOCS=1 cargo test --test it
//! fault_matrix`) or when any cell scales down wrongly, loses state or leaks
//! a secret.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::config::HeartbeatMethod;
use dynopilot::domain::{ScaleEvent, ScaleHistory};
use dynopilot::engine::{Engine, Invocation, Report};
use dynopilot::heartbeat::HttpHeartbeat;
use dynopilot::inputs::{BuildContext, MetricSource, ScriptedSource};
use dynopilot::notify::{Notifier, RecordingNotifier, SesNotifier};
use dynopilot::scaler::{HerokuScaler, MemoryScaler, Scaler};
use dynopilot::secrets::SecretRef;
use dynopilot::store::{DynamoDbStateStore, FormationState, MemoryStateStore, StateStore};
use secrecy::SecretString;
use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Timeout,
    ServerError,
    RateLimited,
    Malformed,
    Oversize,
    AuthFailure,
}

const FAULTS: [Fault; 6] = [
    Fault::Timeout,
    Fault::ServerError,
    Fault::RateLimited,
    Fault::Malformed,
    Fault::Oversize,
    Fault::AuthFailure,
];

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::ServerError => "5xx",
            Self::RateLimited => "429",
            Self::Malformed => "malformed body",
            Self::Oversize => "oversize body",
            Self::AuthFailure => "auth failure",
        }
    }
}

/// What one cell measured.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cell {
    outcome: String,
    wrong_scale_downs: usize,
    state_lost: usize,
    secrets_in_output: usize,
}

impl Cell {
    fn not_applicable(why: &str) -> Self {
        Self {
            outcome: format!("n/a: {why}"),
            wrong_scale_downs: 0,
            state_lost: 0,
            secrets_in_output: 0,
        }
    }
}

/// The `now` of every run: a fixed minute, so the table is the same every time.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

/// Five minutes of load that needs 5 dynos (500 at 100 per dyno; 500 ms for
/// the response-time rules) and a scale two hours ago: what a run must keep.
fn seeded_state(input: &str) -> FormationState {
    let mut state = FormationState {
        window: window_of(
            input,
            per_minute(now() - TimeDelta::minutes(1), &[500.0; 5]),
        ),
        history: ScaleHistory::default(),
        ..FormationState::default()
    };
    state.history.events.push(ScaleEvent {
        at: now() - TimeDelta::hours(2),
        from: 4,
        to: 5,
    });
    state
}

/// Samples and scales of `before` missing from `after`.
fn lost(before: &FormationState, after: Option<&FormationState>) -> usize {
    let Some(after) = after else {
        return before.history.events.len()
            + before
                .window
                .inputs
                .values()
                .map(|w| w.samples.len())
                .sum::<usize>();
    };
    let samples: usize = before
        .window
        .inputs
        .iter()
        .map(|(name, w)| {
            let kept = after.window.inputs.get(name);
            w.samples
                .iter()
                .filter(|s| !kept.is_some_and(|k| k.samples.iter().any(|x| x.at == s.at)))
                .count()
        })
        .sum();
    let scales = before
        .history
        .events
        .iter()
        .filter(|e| !after.history.events.contains(e))
        .count();
    samples + scales
}

fn occurrences(secret: &str, texts: &[&str]) -> usize {
    texts.iter().map(|t| t.matches(secret).count()).sum()
}

/// The request's headers as a provider's error page may echo them.
fn echo(request: &Request) -> String {
    request
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A body far above any cap: 5 MiB of a JSON array.
fn oversize_body() -> String {
    let mut body = String::with_capacity(5 * 1024 * 1024 + 16);
    body.push('[');
    while body.len() < 5 * 1024 * 1024 {
        body.push_str("1,");
    }
    body.push_str("1]");
    body
}

/// Answers every request with the fault, the way an HTTP API would.
struct HttpFault(Fault);

impl Respond for HttpFault {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let echoed = json!({"error": "request failed", "request": {"headers": echo(request)}});
        match self.0 {
            Fault::Timeout => ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(4))
                .set_body_json(json!({})),
            Fault::ServerError => ResponseTemplate::new(503).set_body_json(echoed),
            Fault::RateLimited => ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_json(echoed),
            Fault::Malformed => ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/json")
                .set_body_string("{\"unexpected\": [1, 2"),
            Fault::Oversize => ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/json")
                .set_body_string(oversize_body()),
            Fault::AuthFailure => ResponseTemplate::new(401).set_body_json(echoed),
        }
    }
}

async fn http_fake(fault: Fault) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(HttpFault(fault))
        .mount(&server)
        .await;
    server
}

/// A formation `shop/web` at 5 dynos with one input, its state seeded, run once.
async fn input_cell(input: &str, secrets: &MapSecrets, secret: Option<&str>) -> Cell {
    let config = valid_config(&shop_input_config(&format!("{input}\ntimeout = \"2s\"")));
    let http = dynopilot::wiring::http_client().expect("http client");
    let sources = dynopilot::wiring::build_sources(
        &config,
        &BuildContext {
            secrets,
            http: &http,
        },
    )
    .expect("sources build");
    let store = Arc::new(MemoryStateStore::new());
    let before = seeded_state("load");
    store.save("shop#web", &before, None).await.expect("seed");
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop", "web", 5);
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = Engine::new(
        config,
        sources,
        store.clone(),
        scaler.clone(),
        notifier.clone(),
    )
    .expect("engine");
    let (logs, guard) = capture_logs();
    let report = engine.invoke(&Invocation::at(now())).await;
    drop(guard);
    let after = store.load("shop#web").await.expect("load").map(|v| v.value);
    measure(
        &report,
        &logs.text(),
        &notifier,
        after.as_ref(),
        &before,
        scaler
            .quantity("shop", "web")
            .map_or(1, |q| usize::from(q < 5)),
        secret,
    )
}

fn measure(
    report: &Report,
    logs: &str,
    notifier: &RecordingNotifier,
    after: Option<&FormationState>,
    before: &FormationState,
    wrong_scale_downs: usize,
    secret: Option<&str>,
) -> Cell {
    let f = &report.formations[0];
    let mut outcome = f.outcome.as_str().to_string();
    if let Some(target) = f.target {
        let _ = write!(outcome, " at {target}");
    }
    for input in &f.inputs {
        if let Some(e) = &input.error {
            let _ = write!(outcome, "; input {}", e.kind);
        }
    }
    for e in &f.errors {
        let _ = write!(outcome, "; {} {}", e.stage, e.kind);
    }
    if let Some(h) = &report.heartbeat {
        if !h.sent {
            outcome.push_str("; heartbeat not sent");
        }
    }
    let report_json = serde_json::to_string(report).expect("report json");
    let mail = format!("{:?}", notifier.sent());
    let state = after
        .map(|s| serde_json::to_string(s).expect("state json"))
        .unwrap_or_default();
    Cell {
        outcome,
        wrong_scale_downs,
        state_lost: lost(before, after),
        secrets_in_output: secret
            .map_or(0, |s| occurrences(s, &[&report_json, logs, &mail, &state])),
    }
}

const NR_KEY: &str = "NRAK-FAULTMATRIX0000000000000001";
const PINGDOM_TOKEN: &str = "pingdom-faultmatrix-token-0001";
const APP_TOKEN: &str = "app-metric-faultmatrix-token-0001";
const HEROKU_TOKEN: &str = "heroku-faultmatrix-token-0001";
const AWS_SECRET: &str = "aws-faultmatrix-secret-access-key-0001";

async fn new_relic(fault: Fault) -> Cell {
    let fake = http_fake(fault).await;
    let secrets = MapSecrets::default().with("NR_KEY", NR_KEY);
    let input = format!(
        "type = \"new_relic\"\napp_id = 1234\napi_key = \"env:NR_KEY\"\nbase_url = \"{}\"\nrpm_per_dyno = 100",
        fake.uri()
    );
    input_cell(&input, &secrets, Some(NR_KEY)).await
}

async fn new_relic_nrql(fault: Fault) -> Cell {
    let fake = http_fake(fault).await;
    let secrets = MapSecrets::default().with("NR_KEY", NR_KEY);
    let input = format!(
        "type = \"new_relic_nrql\"\naccount_id = 1234\nquery = \"SELECT count(*) FROM Transaction SINCE 1 minute ago\"\napi_key = \"env:NR_KEY\"\nbase_url = \"{}\"\nper_dyno = 100",
        fake.uri()
    );
    input_cell(&input, &secrets, Some(NR_KEY)).await
}

async fn pingdom(fault: Fault) -> Cell {
    let fake = http_fake(fault).await;
    let secrets = MapSecrets::default().with("PD_TOKEN", PINGDOM_TOKEN);
    let input = format!(
        "type = \"pingdom\"\ncheck_id = 85975\ntoken = \"env:PD_TOKEN\"\nbase_url = \"{}\"\nrule = \"consecutive\"\nmin = 200\nmax = 1000",
        fake.uri()
    );
    input_cell(&input, &secrets, Some(PINGDOM_TOKEN)).await
}

async fn google_analytics(fault: Fault) -> Cell {
    // The fault is at the token endpoint, the first call a GA4 poll makes; the
    // key file's private key is the secret.
    let fake = http_fake(fault).await;
    let key = ga_private_key();
    let key_file = json!({
        "type": "service_account", "client_email": "dynopilot@shop.iam.gserviceaccount.com",
        "private_key_id": "0123456789abcdef", "private_key": key,
        "token_uri": format!("{}/token", fake.uri()),
    });
    let secrets = MapSecrets::default().with("GA_KEY", &key_file.to_string());
    let input = format!(
        "type = \"google_analytics\"\nproperty_id = \"123456789\"\ncredentials = \"env:GA_KEY\"\nbase_url = \"{}\"",
        fake.uri()
    );
    let marker = key.lines().nth(3).unwrap_or_default().to_string();
    input_cell(&input, &secrets, Some(&marker)).await
}

fn ga_private_key() -> &'static str {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .expect("rsa key")
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem")
            .to_string()
    })
}

async fn http_probe(fault: Fault) -> Cell {
    if fault == Fault::Malformed {
        return Cell::not_applicable("it times the answer and reads no value from the body");
    }
    let fake = http_fake(fault).await;
    let input = format!(
        "type = \"http_probe\"\nurl = \"{}/health\"\nprobe_timeout = \"1s\"\nrule = \"consecutive\"\nmin = 200\nmax = 1000",
        fake.uri()
    );
    input_cell(&input, &MapSecrets::default(), None).await
}

async fn app_metric(fault: Fault) -> Cell {
    let fake = http_fake(fault).await;
    let secrets = MapSecrets::default().with("APP_TOKEN", APP_TOKEN);
    let input = format!(
        "type = \"app_metric\"\nurl = \"{}/metrics\"\npointer = \"/load\"\ntoken = \"env:APP_TOKEN\"\nper_dyno = 100",
        fake.uri()
    );
    input_cell(&input, &secrets, Some(APP_TOKEN)).await
}

/// A TCP peer that accepts and then says `reply` (or nothing) and holds on.
fn tcp_peer(reply: Option<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut buf);
            if let Some(reply) = reply {
                let _ = stream.write_all(reply);
            }
            held.push(stream);
            if held.len() > 16 {
                break;
            }
        }
    });
    format!("127.0.0.1:{port}")
}

async fn redis_queue(fault: Fault) -> Cell {
    let url = match fault {
        Fault::Timeout => format!("redis://{}", tcp_peer(None)),
        Fault::Malformed => format!(
            "redis://{}",
            tcp_peer(Some(b"HTTP/1.1 200 OK\r\n\r\n<html>"))
        ),
        Fault::AuthFailure => {
            let auth = std::env::var("DYNOPILOT_TEST_REDIS_AUTH_URL").unwrap_or_else(|_| {
                panic!("DYNOPILOT_TEST_REDIS_AUTH_URL is not set: run tests/run (it starts redis-server)")
            });
            let at = auth.find('@').expect("a password in the URL");
            format!("redis://:wrong-faultmatrix-password{}", &auth[at..])
        }
        Fault::ServerError | Fault::RateLimited | Fault::Oversize => {
            return Cell::not_applicable("Redis's protocol has no such answer to LLEN/ZCARD")
        }
    };
    let secrets = MapSecrets::default().with("REDIS_URL", &url);
    let input =
        "type = \"redis_queue\"\nurl = \"env:REDIS_URL\"\nflavor = \"sidekiq\"\nper_dyno = 100";
    let secret = (fault == Fault::AuthFailure).then_some("wrong-faultmatrix-password");
    input_cell(input, &secrets, secret).await
}

/// A formation at `current` over the Heroku fake; its load (a scripted 500)
/// needs 5.
async fn heroku_cell(fault: Fault, on_patch: bool) -> Cell {
    let fake = MockServer::start().await;
    let current = if on_patch { 3 } else { 5 };
    let formation = |q: u32| {
        json!([{"app": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "shop"}, "command": "puma",
            "created_at": "2026-01-01T12:00:00Z", "id": "01234567-89ab-cdef-0123-456789abcde0",
            "quantity": q, "size": "Standard-1X", "type": "web", "updated_at": "2026-01-01T12:00:00Z"}])
    };
    let get = Mock::given(wiremock::matchers::method("GET"));
    let patch = Mock::given(wiremock::matchers::method("PATCH"));
    if on_patch {
        get.respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Remaining", "4000")
                .set_body_json(formation(current)),
        )
        .mount(&fake)
        .await;
        patch.respond_with(HttpFault(fault)).mount(&fake).await;
    } else {
        get.respond_with(HttpFault(fault)).mount(&fake).await;
        patch
            .respond_with(ResponseTemplate::new(200).set_body_json(formation(5)))
            .mount(&fake)
            .await;
    }
    let scaler = HerokuScaler::new(
        dynopilot::wiring::http_client().expect("http"),
        &fake.uri(),
        SecretString::from(HEROKU_TOKEN.to_string()),
        Duration::from_secs(2),
    )
    .expect("scaler");
    let config = config(&one_formation(1, 10).replace("shop-app", "shop"));
    let store = Arc::new(MemoryStateStore::new());
    let before = seeded_state("load");
    store.save("shop#web", &before, None).await.expect("seed");
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = Engine::new(
        config,
        vec![vec![
            Arc::new(ScriptedSource::constant(500.0)) as Arc<dyn MetricSource>
        ]],
        store.clone(),
        Arc::new(scaler) as Arc<dyn Scaler>,
        notifier.clone(),
    )
    .expect("engine");
    let (logs, guard) = capture_logs();
    let report = engine.invoke(&Invocation::at(now())).await;
    drop(guard);
    let lowered = fake
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method == wiremock::http::Method::PATCH)
        .filter(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|b| {
                    b["updates"][0]["quantity"]
                        .as_u64()
                        .or(b["quantity"].as_u64())
                })
                .is_some_and(|q| q < 5)
        })
        .count();
    let after = store.load("shop#web").await.expect("load").map(|v| v.value);
    measure(
        &report,
        &logs.text(),
        &notifier,
        after.as_ref(),
        &before,
        lowered,
        Some(HEROKU_TOKEN),
    )
}

/// An AWS SDK config pointing at `endpoint` with a secret key that must never
/// be printed, and bounded timeouts and retries (as the Lambda's).
async fn aws_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "AKIAFAULTMATRIX",
            AWS_SECRET,
            None,
            None,
            "fault-matrix",
        ))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(2))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

/// AWS's JSON protocols answer errors with `__type`; the same fault per API.
struct AwsFault(Fault);

impl Respond for AwsFault {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let error = |status: u16, kind: &str| {
            ResponseTemplate::new(status)
                .insert_header("Content-Type", "application/x-amz-json-1.0")
                .insert_header("x-amzn-ErrorType", kind)
                .set_body_json(
                    json!({"__type": kind, "message": format!("request {}", echo(request))}),
                )
        };
        match self.0 {
            Fault::Timeout => ResponseTemplate::new(200).set_delay(Duration::from_secs(5)),
            Fault::ServerError => error(500, "InternalServerError"),
            Fault::RateLimited => error(400, "ThrottlingException"),
            Fault::Malformed => ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/x-amz-json-1.0")
                .set_body_string("{\"Item\": 12"),
            Fault::Oversize => ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/x-amz-json-1.0")
                .set_body_string(oversize_body()),
            Fault::AuthFailure => error(400, "UnrecognizedClientException"),
        }
    }
}

async fn dynamodb(fault: Fault) -> Cell {
    let fake = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(AwsFault(fault))
        .mount(&fake)
        .await;
    let aws = aws_at(&fake.uri()).await;
    let store = Arc::new(DynamoDbStateStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        "dynopilot",
    ));
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop", "web", 5);
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = Engine::new(
        config(&one_formation(1, 10).replace("shop-app", "shop")),
        vec![vec![
            Arc::new(ScriptedSource::constant(100.0)) as Arc<dyn MetricSource>
        ]],
        store,
        scaler.clone(),
        notifier.clone(),
    )
    .expect("engine");
    let (logs, guard) = capture_logs();
    let report = engine.invoke(&Invocation::at(now())).await;
    drop(guard);
    // The table is the store: a write after a failed read would overwrite it.
    let writes = fake
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.headers
                .get("x-amz-target")
                .is_some_and(|t| t.to_str().unwrap_or("").ends_with("PutItem"))
        })
        .count();
    let mut cell = measure(
        &report,
        &logs.text(),
        &notifier,
        None,
        &FormationState::default(),
        usize::from(scaler.quantity("shop", "web") != Some(5)),
        Some(AWS_SECRET),
    );
    cell.state_lost = writes;
    cell
}

async fn ses(fault: Fault) -> Cell {
    let fake = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(AwsFault(fault))
        .mount(&fake)
        .await;
    let aws = aws_at(&fake.uri()).await;
    let notifier: Arc<dyn Notifier> = Arc::new(SesNotifier::new(
        aws_sdk_sesv2::Client::new(&aws),
        "dynopilot@example.com",
        vec!["ops@example.com".into()],
    ));
    let text =
        one_formation(1, 10).replace("shop-app", "shop") + "\n[notifications]\non_scale = true\n";
    let store = Arc::new(MemoryStateStore::new());
    let before = seeded_state("load");
    store.save("shop#web", &before, None).await.expect("seed");
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop", "web", 3);
    let engine = Engine::new(
        config(&text),
        vec![vec![
            Arc::new(ScriptedSource::constant(500.0)) as Arc<dyn MetricSource>
        ]],
        store.clone(),
        scaler.clone(),
        notifier,
    )
    .expect("engine");
    let (logs, guard) = capture_logs();
    let report = engine.invoke(&Invocation::at(now())).await;
    drop(guard);
    let after = store.load("shop#web").await.expect("load").map(|v| v.value);
    measure(
        &report,
        &logs.text(),
        &RecordingNotifier::new(),
        after.as_ref(),
        &before,
        usize::from(scaler.quantity("shop", "web").is_some_and(|q| q < 3)),
        Some(AWS_SECRET),
    )
}

async fn ssm(fault: Fault) -> Cell {
    let fake = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(AwsFault(fault))
        .mount(&fake)
        .await;
    let aws = aws_at(&fake.uri()).await;
    let (logs, guard) = capture_logs();
    let loaded = dynopilot::secrets::SsmSecrets::load(
        &aws_sdk_ssm::Client::new(&aws),
        &[SecretRef::Ssm("/dynopilot/heroku-token".into())],
    )
    .await;
    drop(guard);
    let message = match &loaded {
        Ok(_) => "loaded".to_string(),
        Err(e) => e.clone(),
    };
    let named = message.contains("/dynopilot/heroku-token");
    Cell {
        outcome: if loaded.is_err() && named {
            "cold start refused, naming the parameter; nothing runs".into()
        } else {
            format!("unexpected: {message}")
        },
        wrong_scale_downs: 0,
        state_lost: 0,
        secrets_in_output: occurrences(AWS_SECRET, &[&message, &logs.text()]),
    }
}

async fn heartbeat(fault: Fault) -> Cell {
    let fake = http_fake(fault).await;
    let ping = format!("{}/ping/hb-faultmatrix-check-0001", fake.uri());
    let beat = HttpHeartbeat::new(
        dynopilot::wiring::http_client().expect("http"),
        SecretString::from(ping),
        HeartbeatMethod::Get,
        Duration::from_secs(1),
    )
    .expect("heartbeat");
    let store = Arc::new(MemoryStateStore::new());
    let before = seeded_state("load");
    store.save("shop#web", &before, None).await.expect("seed");
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop", "web", 5);
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = Engine::new(
        config(&one_formation(1, 10).replace("shop-app", "shop")),
        vec![vec![
            Arc::new(ScriptedSource::constant(500.0)) as Arc<dyn MetricSource>
        ]],
        store.clone(),
        scaler.clone(),
        notifier.clone(),
    )
    .expect("engine")
    .with_heartbeat(Arc::new(beat));
    let (logs, guard) = capture_logs();
    let report = engine.invoke(&Invocation::at(now())).await;
    drop(guard);
    let after = store.load("shop#web").await.expect("load").map(|v| v.value);
    measure(
        &report,
        &logs.text(),
        &notifier,
        after.as_ref(),
        &before,
        usize::from(scaler.quantity("shop", "web") != Some(5)),
        Some("hb-faultmatrix-check-0001"),
    )
}

async fn cell(dependency: &str, fault: Fault) -> Cell {
    match dependency {
        "input new_relic" => new_relic(fault).await,
        "input new_relic_nrql" => new_relic_nrql(fault).await,
        "input pingdom" => pingdom(fault).await,
        "input google_analytics (token endpoint)" => google_analytics(fault).await,
        "input http_probe" => http_probe(fault).await,
        "input app_metric" => app_metric(fault).await,
        "input redis_queue" => redis_queue(fault).await,
        "Heroku GET formation" => heroku_cell(fault, false).await,
        "Heroku PATCH formation" => heroku_cell(fault, true).await,
        "DynamoDB (state)" => dynamodb(fault).await,
        "SES (mail)" => ses(fault).await,
        "SSM (secrets at cold start)" => ssm(fault).await,
        "heartbeat" => heartbeat(fault).await,
        other => panic!("no cell for {other}"),
    }
}

const DEPENDENCIES: &[&str] = &[
    "input new_relic",
    "input new_relic_nrql",
    "input pingdom",
    "input google_analytics (token endpoint)",
    "input http_probe",
    "input app_metric",
    "input redis_queue",
    "Heroku GET formation",
    "Heroku PATCH formation",
    "DynamoDB (state)",
    "SES (mail)",
    "SSM (secrets at cold start)",
    "heartbeat",
];

fn render(cells: &BTreeMap<(usize, usize), Cell>) -> String {
    let mut out = String::from(
        "# Fault matrix\n\n\
         Generated by `tests/it/fault_matrix.rs` (regenerate with `DYNOPILOT_BLESS_DOCS=1 cargo\n\
         test --test it fault_matrix`): each cell is one run against a fake of the dependency\n\
         answering with that fault (providers' error bodies echo the request's headers, secrets\n\
         included). Inputs and Heroku: a formation at 5 dynos whose stored window needs 5;\n\
         Heroku PATCH and SES: a formation at 3 that needs 5. Columns: the outcome as the report\n\
         gives it, then wrong scale-downs / state lost (stored samples or scales missing after the\n\
         run; for DynamoDB, writes after a failed read) / secrets found in the report, logs, mail\n\
         and stored state. Every one of the last three must be 0.\n\n\
         | dependency | fault | outcome | wrong scale-downs | state lost | secrets in output |\n\
         |---|---|---|---:|---:|---:|\n",
    );
    for (d, dependency) in DEPENDENCIES.iter().enumerate() {
        for (f, fault) in FAULTS.iter().enumerate() {
            let c = &cells[&(d, f)];
            let _ = writeln!(
                out,
                "| {dependency} | {} | {} | {} | {} | {} |",
                fault.label(),
                c.outcome,
                c.wrong_scale_downs,
                c.state_lost,
                c.secrets_in_output
            );
        }
    }
    out
}

#[tokio::test]
async fn every_dependency_under_every_fault_scales_no_one_down_loses_nothing_and_leaks_nothing() {
    let mut cells = BTreeMap::new();
    for (d, dependency) in DEPENDENCIES.iter().enumerate() {
        for (f, fault) in FAULTS.iter().enumerate() {
            cells.insert((d, f), cell(dependency, *fault).await);
        }
    }
    let table = render(&cells);
    let bad: Vec<String> = cells
        .iter()
        .filter(|(_, c)| c.wrong_scale_downs + c.state_lost + c.secrets_in_output > 0)
        .map(|((d, f), c)| format!("{} × {}: {c:?}", DEPENDENCIES[*d], FAULTS[*f].label()))
        .collect();
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/fault-matrix.md");
    if std::env::var("DYNOPILOT_BLESS_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &table).expect("write the fault matrix");
    }
    assert!(
        bad.is_empty(),
        "cells that must be 0:\n{}\n\n{table}",
        bad.join("\n")
    );
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == table,
        "docs/fault-matrix.md is out of date (DYNOPILOT_BLESS_DOCS=1 cargo test --test it fault_matrix):\n{table}"
    );
}
