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
use futures::future::join_all;
use secrecy::SecretString;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

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

    /// The answer for this fault; every body that has text echoes `secret`.
    fn answer(self, secret: &str) -> ResponseTemplate {
        let echo =
            format!("refused request with Authorization: Bearer {secret}, X-Api-Key: {secret}");
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
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fault.answer(&secret))
        .mount(&server)
        .await;
    let input = keys.replace("{var}", &var).replace("{url}", &server.uri());
    let config = shop_input_config(&format!("{input}\ntimeout = \"2s\""));
    let secrets = MapSecrets::default().with(&var, &secret);
    let world = InputWorld::new(&config, &secrets, 5);
    let (report, _) = world.run(at(9, 0)).await;
    let (lost, state) = state_lost(&world.engine).await;
    let outputs = format!(
        "{}\n{state}\n{:?}",
        serde_json::to_string(&report).unwrap_or_default(),
        world.notifier.sent()
    );
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
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            fault
                .answer(&secret)
                .insert_header("RateLimit-Remaining", "4000"),
        )
        .mount(&server)
        .await;
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
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fault.answer(&secret))
        .mount(&server)
        .await;
    let url = format!("{}/ping/{secret}", server.uri());
    dynopilot::redact::register(&url);
    let http = dynopilot::wiring::http_client().expect("http client");
    let heartbeat = HttpHeartbeat::new(
        http,
        SecretString::from(url),
        HeartbeatMethod::Get,
        Duration::from_secs(1),
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

fn constant(value: f64) -> Arc<dyn dynopilot::inputs::MetricSource> {
    Arc::new(dynopilot::inputs::ConstantSource { value })
}

fn table(cells: &[(Cell, Option<bool>)]) -> String {
    let mut out = String::from(
        "# Fault matrix\n\n\
Generated by `tests/it/fault_matrix.rs` (do not edit: the test fails when this file differs from what it generates; `DYNOPILOT_UPDATE_FAULT_MATRIX=1` rewrites it).\n\n\
Each row is one engine run with one formation standing at 5 dynos whose load needs 5, and one dependency failing as named. Every fault answer that has a body echoes the dependency's credential, as providers that quote the refused request do; \"secrets in output\" counts runs where it reached the report, the stored state, a mail or the logs. Timeouts: inputs 2 s (probe 1 s), Heroku's shortest request 2 s with a 1 s retry budget, heartbeat 1 s; the fake answers after 3 s. 429s carry `Retry-After: 120`.\n\n\
Outcome: the input's error kind (or the sample taken), then the formation's outcome `current→target`, then any stage error.\n\n\
Not generated yet: `redis_queue`, `google_analytics`, DynamoDB, SES and SSM (they need fault injection in front of redis-server, the GA4 fake and moto).\n\n\
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
        runs.push(Box::pin(heroku_cell(fault)));
    }
    for fault in FAULTS {
        runs.push(Box::pin(heartbeat_cell(fault)));
    }
    let results = join_all(runs).await;
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
