//! The fault matrix: every HTTP dependency × {timeout, 5xx, 429, malformed
//! body, oversize body, auth failure}, each run through the engine once, and
//! the table in docs/fault-matrix.md generated from what happened.
//!
//! Every fault answer echoes the dependency's credential (as providers that
//! quote the refused request do), so "secrets in output" is a real check: the
//! report, the stored state, the mails and the logs are searched for it.
//!
//! The test fails when the generated table differs from the file; run it with
//! `DYNOPILOT_UPDATE_FAULT_MATRIX=1` to rewrite the file.

use std::sync::Arc;
use std::time::Duration;

use dynopilot::config::HeartbeatMethod;
use dynopilot::engine::Report;
use dynopilot::heartbeat::HttpHeartbeat;
use dynopilot::scaler::{HerokuScaler, MemoryScaler};
use futures::StreamExt;
use secrecy::SecretString;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::*;

const DOC: &str = "docs/fault-matrix.md";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Timeout,
    ServerError,
    RateLimited,
    Malformed,
    Oversize,
    Auth,
}

const FAULTS: [Fault; 6] = [
    Fault::Timeout,
    Fault::ServerError,
    Fault::RateLimited,
    Fault::Malformed,
    Fault::Oversize,
    Fault::Auth,
];

impl Fault {
    fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::ServerError => "5xx",
            Self::RateLimited => "429",
            Self::Malformed => "malformed body",
            Self::Oversize => "oversize body (5 MB)",
            Self::Auth => "auth failure",
        }
    }

    /// The answer for this fault; every body that has text quotes `echo`.
    fn answer(self, echo: String) -> ResponseTemplate {
        match self {
            // Longer than every timeout below (inputs 1 s, Heroku's shortest
            // request 2 s, heartbeat 1 s).
            Self::Timeout => ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
            Self::ServerError => ResponseTemplate::new(503).set_body_string(echo),
            Self::RateLimited => ResponseTemplate::new(429)
                .insert_header("Retry-After", "120")
                .set_body_string(echo),
            Self::Malformed => ResponseTemplate::new(200).set_body_string(format!("<html>{echo}")),
            Self::Oversize => ResponseTemplate::new(200)
                .set_body_raw(vec![b'0'; 5 * 1024 * 1024], "application/json"),
            Self::Auth => ResponseTemplate::new(401).set_body_string(echo),
        }
    }
}

/// Answers every request with the fault, echoing the request's headers (as
/// providers that quote the refused request do) and `secret`.
struct FaultAnswer {
    fault: Fault,
    secret: String,
}

impl Respond for FaultAnswer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers = request
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join("; ");
        self.fault.answer(format!(
            "refused request ({headers}); credential {}",
            self.secret
        ))
    }
}

async fn faulty_server(fault: Fault, secret: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(FaultAnswer {
            fault,
            secret: secret.to_string(),
        })
        .mount(&server)
        .await;
    server
}

/// One row of the table.
struct Cell {
    dependency: &'static str,
    fault: Fault,
    outcome: String,
    /// `None` where the "fault" is a healthy answer for this dependency.
    wrong_scale_downs: Option<usize>,
    state_lost: usize,
    /// The credential the fault answers echo; `None` for a dependency that
    /// has none (the probe).
    secret: Option<String>,
}

/// The HTTP inputs: name, the input's keys (`{url}` for the fake's URL and
/// `{var}` for the secret's variable).
const INPUTS: [(&str, &str); 5] = [
    (
        "input new_relic",
        "type = \"new_relic\"\napp_id = 12345\napi_key = \"env:{var}\"\nbase_url = \"{url}\"",
    ),
    (
        "input new_relic_nrql",
        "type = \"new_relic_nrql\"\naccount_id = 777\nquery = \"SELECT rate(count(*), 1 minute) AS rpm FROM Transaction SINCE 5 minutes ago\"\napi_key = \"env:{var}\"\nbase_url = \"{url}\"\nper_dyno = 100",
    ),
    (
        "input pingdom",
        "type = \"pingdom\"\ncheck_id = 4242\ntoken = \"env:{var}\"\nbase_url = \"{url}\"\nper_dyno = 100",
    ),
    (
        "input app_metric",
        "type = \"app_metric\"\nurl = \"{url}/metric\"\npointer = \"/n\"\ntoken = \"env:{var}\"\nper_dyno = 100",
    ),
    (
        "input http_probe",
        "type = \"http_probe\"\nurl = \"{url}/health\"\nprobe_timeout = \"1s\"\nper_dyno = 100",
    ),
];

fn secret_for(dependency: &str, fault: Fault) -> String {
    let tag: String = format!("{dependency}-{}", fault.label())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("fm-secret-{tag}-0123456789")
}

/// Scale-downs the memory scaler was asked for (from 5: any is wrong, as the
/// only dependency failed).
fn downs(scaler: &MemoryScaler) -> usize {
    scaler
        .scales()
        .iter()
        .flat_map(|s| &s.changes)
        .filter(|c| c.quantity < 5)
        .count()
}

/// Whether the run saved the formation's state: a failed dependency must
/// never cost the window and history.
async fn state_lost(engine: &dynopilot::engine::Engine) -> (usize, String) {
    let status = engine.status().await;
    let saved = status
        .iter()
        .all(|s| s.version.is_some() && s.error.is_none());
    let text = serde_json::to_string(&status).unwrap_or_default();
    (usize::from(!saved), text)
}

/// One run of `world`: its report, whether state was lost, and every output a
/// secret could reach (the report, the stored state, the mails).
async fn run_once(world: &InputWorld) -> (Report, usize, String) {
    let (report, _) = world.run(at(9, 0)).await;
    let (lost, state) = state_lost(&world.engine).await;
    let outputs = format!(
        "{}\n{state}\n{:?}",
        serde_json::to_string(&report).unwrap_or_default(),
        world.notifier.sent()
    );
    (report, lost, outputs)
}

fn summary(report: &Report) -> String {
    let f = &report.formations[0];
    let count = |c: Option<u32>| c.map_or("?".to_string(), |c| c.to_string());
    let mut out = format!(
        "{} {}→{}",
        f.outcome.as_str(),
        count(f.current),
        count(f.target)
    );
    if let Some(e) = f.inputs.first().and_then(|i| i.error.as_ref()) {
        out = format!("input {}; {out}", e.kind);
    } else if let Some(v) = f.inputs.first().and_then(|i| i.sample) {
        out = format!("sample {v:.0}; {out}");
    }
    for e in &f.errors {
        out.push_str(&format!("; {} {}", e.stage, e.kind));
    }
    out
}

async fn input_cell(dependency: &'static str, keys: &str, fault: Fault) -> (Cell, String) {
    let secret = secret_for(dependency, fault);
    let var = format!("FM_{}", secret.to_uppercase().replace('-', "_"));
    let server = faulty_server(fault, &secret).await;
    let input = keys.replace("{var}", &var).replace("{url}", &server.uri());
    let config = shop_input_config(&format!("{input}\ntimeout = \"2s\""));
    let secrets = MapSecrets::default().with(&var, &secret);
    let world = InputWorld::new(&config, &secrets, 5);
    let (report, lost, outputs) = run_once(&world).await;
    let has_credential = keys.contains("{var}");
    // The probe times any 200, whatever its body: a healthy answer, not a
    // fault. Its figure (and so the target, up or down) is the time the fake
    // took, which varies run to run.
    let healthy = !has_credential && fault == Fault::Malformed;
    let outcome = if healthy {
        "not a fault for the probe: a 200 is timed as a sample, the body is not read".to_string()
    } else {
        summary(&report)
    };
    let cell = Cell {
        dependency,
        fault,
        outcome,
        wrong_scale_downs: (!healthy).then(|| downs(&world.scaler)),
        state_lost: lost,
        secret: has_credential.then_some(secret),
    };
    (cell, outputs)
}

/// A config whose one input is constant at 500 (5 dynos at 100 each).
fn steady_config() -> dynopilot::config::Config {
    valid_config(&shop_input_config(
        "type = \"constant\"\nvalue = 500\nper_dyno = 100",
    ))
}

async fn heroku_cell(fault: Fault) -> (Cell, String) {
    let secret = secret_for("heroku", fault);
    dynopilot::redact::register(&secret); // as the resolver would
    let server = faulty_server(fault, &secret).await;
    let http = dynopilot::wiring::http_client().expect("http client");
    let heroku = HerokuScaler::new(
        http,
        &server.uri(),
        SecretString::from(secret.clone()),
        Duration::from_secs(1),
    )
    .expect("valid base url");
    let wired = Wired::new(
        &one_formation(1, 10).replace("value = 0", "value = 500"),
        &SecretMap::default(),
        Arc::new(heroku),
    );
    let report = wired.run(at(9, 0)).await;
    let (lost, state) = state_lost(&wired.engine).await;
    let patches_down = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .count();
    let outputs = format!(
        "{}\n{state}\n{:?}",
        serde_json::to_string(&report).unwrap_or_default(),
        wired.notifier.sent()
    );
    let cell = Cell {
        dependency: "Heroku (formation read)",
        fault,
        outcome: summary(&report),
        wrong_scale_downs: Some(patches_down),
        state_lost: lost,
        secret: Some(secret),
    };
    (cell, outputs)
}

async fn heartbeat_cell(fault: Fault) -> (Cell, String) {
    let secret = secret_for("heartbeat", fault);
    let server = faulty_server(fault, &secret).await;
    let url = format!("{}/ping/{secret}", server.uri());
    dynopilot::redact::register(&url);
    let http = dynopilot::wiring::http_client().expect("http client");
    let heartbeat = HttpHeartbeat::new(
        http,
        SecretString::from(url),
        HeartbeatMethod::Get,
        Duration::from_secs(2),
    )
    .expect("valid url");
    let World {
        engine,
        scaler,
        notifier,
        ..
    } = world(steady_config(), vec![vec![constant(500.0)]]);
    scaler.set("shop", "web", 5);
    let engine = engine.with_heartbeat(Arc::new(heartbeat));
    let report = engine
        .invoke(&dynopilot::engine::Invocation::at(at(9, 0)))
        .await;
    let (lost, state) = state_lost(&engine).await;
    let ping = match &report.heartbeat {
        Some(h) if h.sent => "ping sent".to_string(),
        Some(_) => "ping failed (reported, run unaffected)".to_string(),
        None => "no ping".to_string(),
    };
    let outputs = format!(
        "{}\n{state}\n{:?}",
        serde_json::to_string(&report).unwrap_or_default(),
        notifier.sent()
    );
    let cell = Cell {
        dependency: "heartbeat",
        fault,
        outcome: format!("{ping}; {}", summary(&report)),
        wrong_scale_downs: Some(downs(&scaler)),
        state_lost: lost,
        secret: Some(secret),
    };
    (cell, outputs)
}

async fn google_analytics_cell(fault: Fault) -> (Cell, String) {
    let google = crate::google_analytics::Google::start().await;
    google.mount_token_endpoint(1).await;
    // The report endpoint fails; the token endpoint works.
    Mock::given(any())
        .respond_with(FaultAnswer {
            fault,
            secret: String::new(),
        })
        .mount(&google.api)
        .await;
    let world = google.world("timeout = \"2s\"", 5);
    let (report, lost, outputs) = run_once(&world).await;
    let cell = Cell {
        dependency: "input google_analytics (report)",
        fault,
        outcome: summary(&report),
        wrong_scale_downs: Some(downs(&world.scaler)),
        state_lost: lost,
        // The access token the fake token endpoint issued, echoed back.
        secret: Some("ya29.token-1".to_string()),
    };
    (cell, outputs)
}

/// An AWS SDK config for a fake endpoint: one-second attempts, two attempts.
async fn aws_at(uri: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(uri)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "AKIDFAULTMATRIX",
            "fault-matrix-aws-secret-key",
            None,
            None,
            "fault-matrix",
        ))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(1))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

async fn dynamodb_cell(fault: Fault) -> (Cell, String) {
    let server = faulty_server(fault, "").await;
    let aws = aws_at(&server.uri()).await;
    let store = Arc::new(dynopilot::store::DynamoDbStateStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        "dynopilot-state",
    ));
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop", "web", 5);
    let notifier = Arc::new(dynopilot::notify::RecordingNotifier::new());
    let engine = dynopilot::engine::Engine::new(
        Arc::new(steady_config()),
        vec![vec![constant(500.0)]],
        store,
        scaler.clone(),
        notifier.clone(),
    )
    .expect("engine wires");
    let report = engine
        .invoke(&dynopilot::engine::Invocation::at(at(9, 0)))
        .await;
    // State is lost if anything was written after a read that failed.
    let writes = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| !t.ends_with("GetItem"))
        })
        .count();
    let outputs = format!(
        "{}\n{:?}",
        serde_json::to_string(&report).unwrap_or_default(),
        notifier.sent()
    );
    let cell = Cell {
        dependency: "DynamoDB (state)",
        fault,
        outcome: summary(&report),
        wrong_scale_downs: Some(downs(&scaler)),
        state_lost: usize::from(writes > 0),
        secret: Some("fault-matrix-aws-secret-key".to_string()),
    };
    (cell, outputs)
}

async fn ses_cell(fault: Fault) -> (Cell, String) {
    let server = faulty_server(fault, "").await;
    let aws = aws_at(&server.uri()).await;
    let ses = dynopilot::notify::SesNotifier::new(
        aws_sdk_sesv2::Client::new(&aws),
        "dynopilot@example.com",
        vec!["ops@example.com".to_string()],
    );
    // The load needs 7: the run scales 5 → 7 and mails about it.
    let config = valid_config(&format!(
        "[notifications]\non_scale = true\n{}",
        shop_input_config("type = \"constant\"\nvalue = 700\nper_dyno = 100")
    ));
    let store = Arc::new(dynopilot::store::MemoryStateStore::new());
    let scaler = Arc::new(MemoryScaler::new());
    scaler.set("shop", "web", 5);
    let engine = dynopilot::engine::Engine::new(
        Arc::new(config),
        vec![vec![constant(700.0)]],
        store,
        scaler.clone(),
        Arc::new(ses),
    )
    .expect("engine wires");
    let report = engine
        .invoke(&dynopilot::engine::Invocation::at(at(9, 0)))
        .await;
    let (lost, state) = state_lost(&engine).await;
    let outputs = format!(
        "{}\n{state}",
        serde_json::to_string(&report).unwrap_or_default()
    );
    let cell = Cell {
        dependency: "SES (mail)",
        fault,
        outcome: summary(&report),
        wrong_scale_downs: Some(downs(&scaler)),
        state_lost: lost,
        secret: Some("fault-matrix-aws-secret-key".to_string()),
    };
    (cell, outputs)
}

async fn ssm_cell(fault: Fault) -> (Cell, String) {
    let server = faulty_server(fault, "").await;
    let aws = aws_at(&server.uri()).await;
    let loaded = dynopilot::config::SsmSecrets::load(
        &aws_sdk_ssm::Client::new(&aws),
        &[dynopilot::config::SecretRef::Ssm(
            "/dynopilot/heroku-token".into(),
        )],
    )
    .await;
    let (outcome, outputs) = match loaded {
        Ok(_) => ("secrets loaded".to_string(), String::new()),
        Err(e) => (
            "cold start refused: the function does not run without its secrets".to_string(),
            e,
        ),
    };
    let cell = Cell {
        dependency: "SSM (secrets at cold start)",
        fault,
        outcome,
        wrong_scale_downs: Some(0),
        state_lost: 0,
        secret: Some("fault-matrix-aws-secret-key".to_string()),
    };
    (cell, outputs)
}

/// A server speaking just enough of Redis's protocol to fail as `fault`:
/// it answers every command with the fault, quoting what it was sent (an
/// AUTH command carries the password).
async fn faulty_redis(fault: Fault) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let n = match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let sent = String::from_utf8_lossy(&buffer[..n]).replace(['\r', '\n'], " ");
                    let one: Vec<u8> = match fault {
                        Fault::Timeout => continue, // never answers
                        Fault::ServerError => {
                            format!("-ERR internal error after {sent}\r\n").into_bytes()
                        }
                        Fault::RateLimited => {
                            format!("-BUSY Redis is busy, refused {sent}\r\n").into_bytes()
                        }
                        Fault::Malformed => format!("<html>{sent}</html>\r\n").into_bytes(),
                        Fault::Oversize => {
                            let size = 5 * 1024 * 1024;
                            let mut r = format!("${size}\r\n").into_bytes();
                            r.resize(r.len() + size, b'0');
                            r.extend_from_slice(b"\r\n");
                            r
                        }
                        Fault::Auth => {
                            format!("-WRONGPASS invalid password in {sent}\r\n").into_bytes()
                        }
                    };
                    // One answer per command (clients pipeline AUTH and the rest).
                    let raw = &buffer[..n];
                    let commands = raw
                        .iter()
                        .enumerate()
                        .filter(|(i, b)| **b == b'*' && (*i == 0 || raw[i - 1] == b'\n'))
                        .count()
                        .max(1);
                    let reply = one.repeat(commands);
                    if socket.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("127.0.0.1:{}", address.port())
}

async fn redis_cell(fault: Fault) -> (Cell, String) {
    let secret = secret_for("redis", fault);
    let address = faulty_redis(fault).await;
    let url = format!("redis://:{secret}@{address}");
    let config = shop_input_config(
        "type = \"redis_queue\"\nurl = \"env:FM_REDIS_URL\"\nflavor = \"sidekiq\"\nper_dyno = 100\ntimeout = \"2s\"",
    );
    let world = InputWorld::new(
        &config,
        &MapSecrets::default().with("FM_REDIS_URL", &url),
        5,
    );
    let (report, lost, outputs) = run_once(&world).await;
    let cell = Cell {
        dependency: "input redis_queue",
        fault,
        outcome: summary(&report),
        wrong_scale_downs: Some(downs(&world.scaler)),
        state_lost: lost,
        secret: Some(secret),
    };
    (cell, outputs)
}

fn constant(value: f64) -> Arc<dyn dynopilot::inputs::MetricSource> {
    Arc::new(dynopilot::inputs::ConstantSource { value })
}

fn table(cells: &[(Cell, Option<bool>)]) -> String {
    let mut out = String::from(
        "# Fault matrix\n\n\
Generated by `tests/it/fault_matrix.rs` (do not edit: the test fails when this file differs from what it generates; `DYNOPILOT_UPDATE_FAULT_MATRIX=1` rewrites it).\n\n\
Each row is one engine run with one formation standing at 5 dynos whose load needs 5, and one dependency failing as named. Every fault answer that has a body echoes the dependency's credential, as providers that quote the refused request do; \"secrets in output\" counts runs where it reached the report, the stored state, a mail or the logs. Timeouts: inputs 2 s (probe 1 s), Heroku's shortest request 2 s with a 1 s retry budget, heartbeat 2 s, AWS SDK attempts 1 s; the fake answers after 3 s. 429s carry `Retry-After: 120`.\n\n\
Outcome: the input's error kind (or the sample taken), then the formation's outcome `current→target`, then any stage error.\n\n\
`redis_queue` talks to a fake Redis that answers every command with the fault (5xx: `-ERR`, 429: `-BUSY`, malformed: not RESP, oversize: a 5 MB bulk string, auth: `-WRONGPASS`), quoting the command it got. The AWS services (DynamoDB, SES, SSM) are faked by an HTTP server answering every request with the fault, the SDK set to 1 s attempts and 2 attempts; their \"secret\" is the AWS secret key (SigV4 never sends it), and for DynamoDB \"state lost\" counts writes after a failed read.\n\n\
| dependency | fault | outcome | wrong scale-downs | state lost | secrets in output |\n\
|---|---|---|---|---|---|\n",
    );
    for (c, leaked) in cells {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.dependency,
            c.fault.label(),
            c.outcome,
            c.wrong_scale_downs
                .map_or("n/a".to_string(), |n| n.to_string()),
            c.state_lost,
            leaked.map_or("n/a (no credential)".to_string(), |l| usize::from(l)
                .to_string())
        ));
    }
    out
}

#[tokio::test]
async fn the_fault_matrix_in_the_docs_is_what_the_dependencies_do() {
    // The GA4 fake's RSA key takes seconds of CPU to generate: made before the
    // runs start, so that it does not stall the others into timeouts.
    drop(crate::google_analytics::Google::start().await);
    let (logs, _guard) = LogCapture::start();
    let mut runs = Vec::new();
    for (dependency, keys) in INPUTS {
        for fault in FAULTS {
            runs.push(Box::pin(input_cell(dependency, keys, fault))
                as std::pin::Pin<
                    Box<dyn std::future::Future<Output = (Cell, String)>>,
                >);
        }
    }
    for fault in FAULTS {
        runs.push(Box::pin(google_analytics_cell(fault)));
    }
    for fault in FAULTS {
        runs.push(Box::pin(redis_cell(fault)));
    }
    for fault in FAULTS {
        runs.push(Box::pin(heroku_cell(fault)));
    }
    for fault in FAULTS {
        runs.push(Box::pin(heartbeat_cell(fault)));
    }
    for fault in FAULTS {
        runs.push(Box::pin(dynamodb_cell(fault)));
    }
    for fault in FAULTS {
        runs.push(Box::pin(ses_cell(fault)));
    }
    for fault in FAULTS {
        runs.push(Box::pin(ssm_cell(fault)));
    }
    // A few at a time: all 72 at once starve each other (one thread) into
    // timeouts that are not the fault's.
    let results: Vec<(Cell, String)> = futures::stream::iter(runs).buffered(6).collect().await;
    let logged = logs.text();
    let cells: Vec<(Cell, Option<bool>)> = results
        .into_iter()
        .map(|(cell, outputs)| {
            let leaked = cell
                .secret
                .as_ref()
                .map(|s| outputs.contains(s) || logged.contains(s));
            (cell, leaked)
        })
        .collect();

    let generated = table(&cells);
    if std::env::var_os("DYNOPILOT_UPDATE_FAULT_MATRIX").is_some() {
        std::fs::write(DOC, &generated).expect("write the fault matrix");
    }
    let written = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        written == generated,
        "{DOC} differs from the generated table; rerun with DYNOPILOT_UPDATE_FAULT_MATRIX=1 and review the diff:\n{generated}"
    );
    // The table's promises.
    for (c, leaked) in &cells {
        let row = format!("{} × {}: {}", c.dependency, c.fault.label(), c.outcome);
        assert_eq!(c.wrong_scale_downs.unwrap_or(0), 0, "{row}");
        assert_eq!(c.state_lost, 0, "{row}");
        assert_ne!(*leaked, Some(true), "secret in output: {row}");
    }
}
