//! `app_metric` against a wiremock fake of the app's own JSON endpoint.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const TOKEN: &str = "app-metric-token-5f0c2e9b";

async fn endpoint(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/internal/metrics"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/json"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn secrets() -> MapSecrets {
    MapSecrets::default().with("APP_METRIC_TOKEN", TOKEN)
}

fn metric_config(url: &str, pointer: &str, extra: &str) -> String {
    shop_input_config(&format!(
        r#"type = "app_metric"
url = "{url}/internal/metrics"
pointer = "{pointer}"
token = "env:APP_METRIC_TOKEN"
per_dyno = 100
{extra}"#
    ))
}

fn world(url: &str, pointer: &str, extra: &str, current: u32) -> InputWorld {
    InputWorld::new(&metric_config(url, pointer, extra), &secrets(), current)
}

async fn fetch(server: &MockServer, pointer: &str) -> Result<f64, dynopilot::inputs::SourceError> {
    let config = valid_config(&metric_config(&server.uri(), pointer, ""));
    let source = only_source(&config, &secrets()).expect("source builds");
    source.fetch(at(9, 0)).await
}

async fn assert_fails_and_holds(
    server: &MockServer,
    pointer: &str,
    extra: &str,
    kind: &str,
) -> String {
    let world = world(&server.uri(), pointer, extra, 5);
    let (_, formation) = world.run(at(9, 0)).await;
    assert_eq!(
        input_error_kind(&formation).as_deref(),
        Some(kind),
        "{}",
        formation.summary()
    );
    assert_held_for_missing_input(&formation, 5);
    assert!(world.scaler.scales().is_empty());
    formation.inputs[0]
        .error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_number_at_the_pointer_scales_the_formation() {
    let server = endpoint(ResponseTemplate::new(200).set_body_json(json!({
        "queue": {"time_ms": 420, "depth": 3},
        "version": "1.2.3",
    })))
    .await;
    let world = world(&server.uri(), "/queue/time_ms", "", 2);

    let (_, formation) = world.run(at(9, 0)).await;

    // 420 at 100 per dyno: 5 dynos.
    assert_eq!(formation.inputs[0].sample, Some(420.0));
    assert_eq!(formation.target, Some(5), "{}", formation.summary());
    assert_eq!(world.quantity(), Some(5));
}

#[tokio::test]
async fn a_number_in_a_string_is_accepted() {
    let server = endpoint(
        ResponseTemplate::new(200).set_body_json(json!({"jobs": ["x", {"waiting": "42"}]})),
    )
    .await;

    assert_eq!(fetch(&server, "/jobs/1/waiting").await, Ok(42.0));
}

#[tokio::test]
async fn a_pointer_that_finds_nothing_is_empty_and_holds() {
    let server = endpoint(ResponseTemplate::new(200).set_body_json(json!({"queue": {}}))).await;

    let message = assert_fails_and_holds(&server, "/queue/time_ms", "", "empty").await;

    assert!(message.contains("/queue/time_ms"), "{message}");
}

#[tokio::test]
async fn a_value_that_is_not_a_number_is_malformed_naming_the_pointer() {
    let server =
        endpoint(ResponseTemplate::new(200).set_body_json(json!({"queue": {"time_ms": "slow"}})))
            .await;

    let message = assert_fails_and_holds(&server, "/queue/time_ms", "", "malformed").await;

    assert!(message.contains("/queue/time_ms"), "{message}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed_and_holds() {
    let server = endpoint(ResponseTemplate::new(200).set_body_string("{\"queue\": ")).await;

    assert_fails_and_holds(&server, "/queue/time_ms", "", "malformed").await;
}

#[tokio::test]
async fn an_answer_slower_than_the_timeout_is_a_timeout_and_holds() {
    let server = endpoint(
        ResponseTemplate::new(200)
            .set_body_json(json!({"queue": {"time_ms": 900}}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;

    assert_fails_and_holds(&server, "/queue/time_ms", r#"timeout = "1s""#, "timeout").await;
}

#[tokio::test]
async fn a_5xx_is_unavailable_and_holds() {
    let server =
        endpoint(ResponseTemplate::new(500).set_body_string("Internal Server Error")).await;

    assert_fails_and_holds(&server, "/queue/time_ms", "", "unavailable").await;
}

#[tokio::test]
async fn a_401_is_unauthorized_and_holds() {
    let server =
        endpoint(ResponseTemplate::new(401).set_body_json(json!({"error": "bad token"}))).await;

    assert_fails_and_holds(&server, "/queue/time_ms", "", "unauthorized").await;
}

#[tokio::test]
async fn a_429_is_rate_limited_and_holds() {
    let server = endpoint(ResponseTemplate::new(429)).await;

    assert_fails_and_holds(&server, "/queue/time_ms", "", "rate_limited").await;
}

#[tokio::test]
async fn without_a_token_no_authorization_header_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/internal/metrics"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"n": 1})))
        .expect(1)
        .mount(&server)
        .await;
    let config = valid_config(&shop_input_config(&format!(
        r#"type = "app_metric"
url = "{}/internal/metrics"
pointer = "/n"
per_dyno = 1"#,
        server.uri()
    )));
    let source = only_source(&config, &MapSecrets::default()).expect("source builds");

    assert_eq!(source.fetch(at(9, 0)).await, Ok(1.0));
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn the_token_never_reaches_errors_logs_or_the_report() {
    // The app echoes what it got; a careless adapter would quote it.
    let server =
        endpoint(ResponseTemplate::new(401).set_body_string(format!("token {TOKEN} rejected")))
            .await;
    let world = world(&server.uri(), "/n", "", 5);
    let (logs, _guard) = LogCapture::start();

    let (report, formation) = world.run(at(9, 0)).await;

    assert_eq!(
        input_error_kind(&formation).as_deref(),
        Some("unauthorized")
    );
    let text = logs.text();
    assert!(text.contains("poll failed"), "logs were captured: {text}");
    assert_secret_absent(TOKEN, &report, &text, &world);
    assert!(!format!("{:?}", world.config).contains(TOKEN));
}

#[test]
fn pointer_must_start_with_a_slash_and_token_must_be_a_reference() {
    let errors = config_errors(&shop_input_config(
        r#"type = "app_metric"
url = "https://shop.example.com/internal/metrics"
pointer = "queue.time_ms"
token = "hunter2""#,
    ));

    let has = |needle: &str| errors.iter().any(|e| e.starts_with(needle));
    assert!(
        has("formations[0].inputs[0].pointer: must be a JSON pointer starting with \"/\""),
        "{errors:?}"
    );
    assert!(
        has("formations[0].inputs[0].token: must be a reference"),
        "{errors:?}"
    );
    assert!(
        has("formations[0].inputs[0].per_dyno: is required"),
        "{errors:?}"
    );
    assert!(errors.iter().all(|e| !e.contains("hunter2")), "{errors:?}");
}
