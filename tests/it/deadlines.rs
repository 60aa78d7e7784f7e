//! Every wait bounded by the invocation's deadline (issue 12, defect 6): a
//! slow input and a hanging Heroku cannot keep a run past its Lambda deadline,
//! and state is saved before it.
//!
//! The harness kills the invocation one second after its deadline, as Lambda
//! kills the function (the second absorbs a busy machine's scheduling); a run
//! that ignored the deadline would take the Heroku retry budget (30 s here).

use std::sync::Arc;
use std::time::Duration;

use dynopilot::config::EnvSecrets;
use dynopilot::engine::{Engine, Invocation, Outcome, Report};
use dynopilot::inputs::{BuildContext, ScriptedSource};
use dynopilot::notify::RecordingNotifier;
use dynopilot::scaler::HerokuScaler;
use dynopilot::store::MemoryStateStore;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const HANG: Duration = Duration::from_secs(60);
/// What the Lambda leaves the invocation.
const LEFT: Duration = Duration::from_secs(4);

fn heroku(server: &MockServer) -> Arc<HerokuScaler> {
    let http = dynopilot::wiring::http_client().expect("http client");
    Arc::new(
        HerokuScaler::new(
            http,
            &server.uri(),
            SecretString::from("heroku-token"),
            Duration::from_secs(30),
        )
        .expect("scaler"),
    )
}

fn formation(quantity: u32) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("RateLimit-Remaining", "4497")
        .set_body_json(json!([{"type": "web", "quantity": quantity}]))
}

/// Run one invocation with `LEFT` to its deadline, killed a second after it.
async fn invoke_killed_at_deadline(engine: &Engine) -> Option<Report> {
    let deadline = tokio::time::Instant::now() + LEFT;
    let invocation = Invocation {
        deadline: Some(deadline),
        ..Invocation::at(at(12, 0))
    };
    tokio::time::timeout_at(
        deadline + Duration::from_secs(1),
        engine.invoke(&invocation),
    )
    .await
    .ok()
}

#[tokio::test]
async fn a_slow_input_and_a_hanging_heroku_read_end_before_the_deadline_with_state_saved() {
    // GIVEN an app metric endpoint that answers after a minute (its URL holds
    // a key in the query) and a Heroku whose formation read hangs as long
    let metrics = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"rpm": 742}))
                .set_delay(HANG),
        )
        .mount(&metrics)
        .await;
    let platform = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apps/shop-app/formation"))
        .respond_with(formation(2).set_delay(HANG))
        .mount(&platform)
        .await;
    let toml = one_formation(1, 20).replace(
        "type = \"constant\"\nvalue = 0",
        &format!(
            "type = \"app_metric\"\nurl = \"{}/stats?key=s3cret-key\"\npointer = \"/rpm\"\ntimeout = \"30s\"",
            metrics.uri()
        ),
    );
    let config = config(&toml);
    let http = dynopilot::wiring::http_client().expect("http client");
    let sources = dynopilot::wiring::build_sources(
        &config,
        &BuildContext {
            secrets: &EnvSecrets,
            http: &http,
            drain: None,
            formation: None,
        },
    )
    .expect("sources");
    let store = Arc::new(MemoryStateStore::new());
    let engine = Engine::new(
        Arc::new(config),
        sources,
        store.clone(),
        heroku(&platform),
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");
    // WHEN one invocation runs with 4 s left
    let report = invoke_killed_at_deadline(&engine)
        .await
        .expect("the invocation ended before its deadline");
    // THEN the input timed out (naming its host, not its key) and the read failed
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Failed, "{f:?}");
    assert_eq!(f.errors[0].stage, "read_formation", "{f:?}");
    assert!(f.errors[0].message.contains("deadline"), "{f:?}");
    let error = f.inputs[0].error.as_ref().expect("input error");
    assert_eq!(error.kind, "timeout");
    assert!(error.message.contains("from 127.0.0.1 within"), "{error:?}");
    assert!(!error.message.contains("s3cret"), "{error:?}");
    assert!(
        !error
            .message
            .split_whitespace()
            .any(|w| w.ends_with("ns") || w.ends_with("us")),
        "rounded: {error:?}"
    );
    // AND the state was saved: the failed poll is stored as missing data
    let stored = store.snapshot("shop-app#web").expect("state saved");
    let load = &stored.value.window.inputs["load"];
    assert_eq!(load.failing_since, Some(at(12, 0)));
    assert_eq!(
        load.last_error.as_ref().map(|e| e.kind.as_str()),
        Some("timeout")
    );
}

#[tokio::test]
async fn a_scale_call_cut_at_the_deadline_keeps_its_claim_and_state_is_saved() {
    // GIVEN web at 2 dynos, load for 8, and a Heroku whose PATCH hangs
    let platform = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apps/shop-app/formation"))
        .respond_with(formation(2))
        .mount(&platform)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/apps/shop-app/formation/web"))
        .respond_with(formation(8).set_delay(HANG))
        .mount(&platform)
        .await;
    let store = Arc::new(MemoryStateStore::new());
    let engine = Engine::new(
        Arc::new(config(&one_formation(1, 20))),
        vec![vec![scripted(ScriptedSource::constant(742.0))]],
        store.clone(),
        heroku(&platform),
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine");
    // WHEN one invocation runs with 4 s left
    let report = invoke_killed_at_deadline(&engine)
        .await
        .expect("the invocation ended before its deadline");
    // THEN the scale is reported cut, and its claim stays stored for the next
    // run to settle from Heroku's count (the PATCH may have landed)
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Failed, "{f:?}");
    assert_eq!(
        (f.errors[0].stage, f.errors[0].kind.as_str()),
        ("scale", "timeout")
    );
    let stored = store.snapshot("shop-app#web").expect("state saved");
    assert_eq!(stored.version, 2, "claimed, then recorded");
    let pending = stored.value.pending.as_ref().expect("claim kept");
    assert_eq!((pending.from, pending.to), (2, 8));
    assert_eq!(stored.value.window.inputs["load"].samples.len(), 1);
}
