//! The dead-man's switch: pinged after each run in which nothing failed.

use std::sync::Arc;
use std::time::Duration;

use dynopilot::config::EnvSecrets;
use dynopilot::engine::{HeartbeatReport, Invocation, Outcome, Report};
use dynopilot::inputs::ScriptedSource;
use dynopilot::scaler::{ScaleError, ScaleErrorKind};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{at, capture_logs, config, one_formation, world, World};

/// A world whose config has `[heartbeat]` with these lines, wired as the CLI does.
fn world_with_heartbeat(heartbeat: &str) -> World {
    let toml = one_formation(1, 20) + "\n[heartbeat]\n" + heartbeat;
    let cfg = config(&toml);
    let http = dynopilot::wiring::http_client().expect("client");
    let ping = dynopilot::wiring::heartbeat(&cfg, &EnvSecrets, &http)
        .expect("heartbeat builds")
        .expect("heartbeat configured");
    let w = world(cfg, vec![vec![Arc::new(ScriptedSource::constant(742.0))]]);
    w.scaler.set("shop-app", "web", 2);
    World {
        engine: w.engine.with_heartbeat(ping),
        ..w
    }
}

async fn run(w: &World) -> Report {
    w.engine.invoke(&Invocation::at(at(12, 0))).await
}

#[tokio::test]
async fn a_good_run_pings_the_heartbeat_url_once_with_get() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping/0f1e2d3c"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .expect(1)
        .mount(&server)
        .await;
    let w = world_with_heartbeat(&format!("url = \"{}/ping/0f1e2d3c\"\n", server.uri()));

    let report = run(&w).await;

    assert_eq!(report.formations[0].outcome, Outcome::ScaledUp);
    assert_eq!(
        report.heartbeat,
        Some(HeartbeatReport {
            sent: true,
            error: None
        })
    );
}

#[tokio::test]
async fn method_post_pings_with_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ping/0f1e2d3c"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let w = world_with_heartbeat(&format!(
        "url = \"{}/ping/0f1e2d3c\"\nmethod = \"POST\"\n",
        server.uri()
    ));

    let report = run(&w).await;

    assert_eq!(report.heartbeat.map(|h| h.sent), Some(true));
}

#[tokio::test]
async fn a_run_with_a_failed_formation_does_not_ping() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let w = world_with_heartbeat(&format!("url = \"{}/ping/0f1e2d3c\"\n", server.uri()));
    w.scaler.fail_next_read(ScaleError::new(
        ScaleErrorKind::Unavailable,
        "Heroku answered 503",
    ));

    let report = run(&w).await;

    assert_eq!(report.formations[0].outcome, Outcome::Failed);
    assert_eq!(
        report.heartbeat,
        Some(HeartbeatReport {
            sent: false,
            error: None
        })
    );
}

#[tokio::test]
async fn a_500_from_the_monitor_is_reported_but_harmless() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping/0f1e2d3c"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .expect(1)
        .mount(&server)
        .await;
    let w = world_with_heartbeat(&format!("url = \"{}/ping/0f1e2d3c\"\n", server.uri()));

    let report = run(&w).await;

    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::ScaledUp);
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    assert_eq!(w.scaler.quantity("shop-app", "web"), Some(8));
    assert!(w.store.snapshot("shop-app#web").is_some());
    let heartbeat = report.heartbeat.expect("reported");
    assert!(!heartbeat.sent);
    assert_eq!(
        heartbeat.error.as_deref(),
        Some("heartbeat not accepted: the monitor answered 500 Internal Server Error")
    );
}

#[tokio::test]
async fn a_monitor_slower_than_the_timeout_is_reported_as_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&server)
        .await;
    let w = world_with_heartbeat(&format!(
        "url = \"{}/ping/0f1e2d3c\"\ntimeout = \"1s\"\n",
        server.uri()
    ));

    let report = run(&w).await;

    assert_eq!(report.formations[0].outcome, Outcome::ScaledUp);
    let heartbeat = report.heartbeat.expect("reported");
    assert_eq!(
        heartbeat.error.as_deref(),
        Some("heartbeat not accepted: no answer within 1s")
    );
}

#[tokio::test]
async fn a_heartbeat_url_by_reference_never_appears_in_reports_logs_or_config_output() {
    const CHECK_ID: &str = "5ec12e7-check-uuid";
    let (logs, _guard) = capture_logs();
    // A port nothing listens on: the connection error must not carry the URL.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    std::env::set_var(
        "DYNOPILOT_TEST_HEARTBEAT_URL",
        format!("http://127.0.0.1:{closed}/ping/{CHECK_ID}"),
    );
    let w = world_with_heartbeat("url = \"env:DYNOPILOT_TEST_HEARTBEAT_URL\"\n");

    let report = run(&w).await;

    let heartbeat = report.heartbeat.clone().expect("reported");
    assert!(!heartbeat.sent);
    assert!(heartbeat.error.is_some());
    let report_json = serde_json::to_string(&report).expect("serializes");
    assert!(
        logs.text().contains("heartbeat ping failed"),
        "logs were captured: {}",
        logs.text()
    );
    let described = w.config.describe().to_string();
    assert!(
        described.contains("env:DYNOPILOT_TEST_HEARTBEAT_URL"),
        "{described}"
    );
    for (what, text) in [
        ("report", report_json),
        ("logs", logs.text()),
        ("check-config output", described),
    ] {
        assert!(
            !text.contains(CHECK_ID),
            "the check id leaked into the {what}: {text}"
        );
    }
}

#[test]
fn a_plain_heartbeat_url_is_shown_by_its_host_only() {
    let cfg = config(
        &(one_formation(1, 4) + "\n[heartbeat]\nurl = \"https://hc-ping.example/5ec12e7\"\n"),
    );
    let described = cfg.describe();
    assert_eq!(described["heartbeat"]["url"], "https://hc-ping.example/...");
    assert_eq!(described["heartbeat"]["method"], "GET");
    assert_eq!(described["heartbeat"]["timeout"], "5s");
}

#[test]
fn bad_heartbeat_settings_are_refused_with_their_field_paths() {
    let toml = one_formation(1, 4)
        + "\n[heartbeat]\nurl = \"ftp://example/ping\"\nmethod = \"PUT\"\ntimeout = \"90s\"\n";
    let err = dynopilot::config::parse(&toml)
        .expect_err("refused")
        .to_string();
    for field in ["heartbeat.url", "heartbeat.method", "heartbeat.timeout"] {
        assert!(err.contains(field), "{field} not in {err}");
    }
}
