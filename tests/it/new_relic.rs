//! Input `new_relic` (REST API v2 metric data) against a wiremock fake.

use std::time::Duration;

use dynopilot::engine::Outcome;
use dynopilot::inputs::SourceErrorKind;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    assert_failure_holds_at_5, at, capture_logs, fetch_and_decide, one_input_config, SecretMap,
    USER_AGENT,
};

const KEY: &str = "NRAK-TESTKEY0123456789";
const APP_PATH: &str = "/v2/applications/12345/metrics/data.json";

fn secrets() -> SecretMap {
    SecretMap::of(&[("env:NEW_RELIC_API_KEY", KEY)])
}

fn config(server: &MockServer) -> String {
    one_input_config(&format!(
        r#"name = "rpm"
type = "new_relic"
app_id = 12345
api_key = "env:NEW_RELIC_API_KEY"
base_url = "{}"
timeout = "1s"
"#,
        server.uri()
    ))
}

/// The documented request for the 5 minutes before 10:00.
fn metric_request() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .and(header("x-api-key", KEY))
        .and(header("user-agent", USER_AGENT))
        .and(query_param("names[]", "HttpDispatcher"))
        .and(query_param("values[]", "requests_per_minute"))
        .and(query_param("from", "2026-01-05T09:55:00+00:00"))
        .and(query_param("to", "2026-01-05T10:00:00+00:00"))
        .and(query_param("summarize", "true"))
}

fn metric_data(rpm: Value) -> Value {
    json!({"metric_data": {
        "from": "2026-01-05T09:55:00+00:00", "to": "2026-01-05T10:00:00+00:00",
        "metrics_not_found": [], "metrics_found": ["HttpDispatcher"],
        "metrics": [{"name": "HttpDispatcher", "timeslices": [{
            "from": "2026-01-05T09:55:00+00:00", "to": "2026-01-05T10:00:00+00:00",
            "values": {"requests_per_minute": rpm}
        }]}]
    }})
}

#[tokio::test]
async fn reads_requests_per_minute_and_scales_by_150_rpm_per_dyno() {
    let server = MockServer::start().await;
    metric_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(metric_data(json!(900.0))))
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, scaler) =
        fetch_and_decide(&config(&server), &secrets(), 5, at(10, 0)).await;

    assert_eq!(fetched, Ok(900.0));
    let f = &report.formations[0];
    assert_eq!(
        (f.current, f.target, f.outcome),
        (Some(5), Some(6), Outcome::ScaledUp)
    );
    assert_eq!(scaler.quantity("example-app", "web"), Some(6));
}

async fn failing_with(response: ResponseTemplate, kind: SourceErrorKind) {
    let server = MockServer::start().await;
    metric_request()
        .respond_with(response)
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, scaler) =
        fetch_and_decide(&config(&server), &secrets(), 5, at(10, 0)).await;

    assert_failure_holds_at_5(&fetched, &report, &scaler, kind, KEY);
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_holds() {
    failing_with(ResponseTemplate::new(503), SourceErrorKind::Unavailable).await;
}

#[tokio::test]
async fn a_429_is_rate_limited_and_holds() {
    failing_with(ResponseTemplate::new(429), SourceErrorKind::RateLimited).await;
}

#[tokio::test]
async fn a_401_or_403_is_unauthorized_and_holds_and_the_key_is_never_logged() {
    let (logs, _guard) = capture_logs();
    let body = json!({"error": {"title": "The API key provided is invalid"}});
    failing_with(
        ResponseTemplate::new(401).set_body_json(&body),
        SourceErrorKind::Unauthorized,
    )
    .await;
    failing_with(
        ResponseTemplate::new(403).set_body_json(&body),
        SourceErrorKind::Unauthorized,
    )
    .await;

    let logged = logs.text();
    assert!(
        logged.contains("The API key provided is invalid"),
        "{logged}"
    );
    assert!(!logged.contains(KEY));
}

#[tokio::test]
async fn a_404_is_not_found_and_holds() {
    let body = json!({"error": {"title": "Application not found"}});
    failing_with(
        ResponseTemplate::new(404).set_body_json(body),
        SourceErrorKind::NotFound,
    )
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed_and_holds() {
    failing_with(
        ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
        SourceErrorKind::Malformed,
    )
    .await;
}

#[tokio::test]
async fn a_metric_not_found_is_empty_and_holds() {
    let body = json!({"metric_data": {
        "from": "2026-01-05T09:55:00+00:00", "to": "2026-01-05T10:00:00+00:00",
        "metrics_not_found": ["HttpDispatcher"], "metrics_found": [], "metrics": []
    }});
    failing_with(
        ResponseTemplate::new(200).set_body_json(body),
        SourceErrorKind::Empty,
    )
    .await;
}

#[tokio::test]
async fn a_metric_without_timeslices_is_empty_and_holds() {
    let body = json!({"metric_data": {
        "metrics_not_found": [], "metrics_found": ["HttpDispatcher"],
        "metrics": [{"name": "HttpDispatcher", "timeslices": []}]
    }});
    failing_with(
        ResponseTemplate::new(200).set_body_json(body),
        SourceErrorKind::Empty,
    )
    .await;
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_and_holds() {
    failing_with(
        ResponseTemplate::new(200)
            .set_body_json(metric_data(json!(900.0)))
            .set_delay(Duration::from_secs(3)),
        SourceErrorKind::Timeout,
    )
    .await;
}

#[test]
fn the_eu_region_uses_the_eu_host_and_periods_under_a_minute_are_refused() {
    let eu = dynopilot::config::parse(&one_input_config(
        r#"name = "rpm"
type = "new_relic"
app_id = "12345"
api_key = "env:NEW_RELIC_API_KEY"
region = "eu"
"#,
    ))
    .expect("valid");
    let settings = eu.describe()["formations"][0]["inputs"][0].clone();
    assert_eq!(
        settings["base_url"], "https://api.eu.newrelic.com",
        "{settings}"
    );
    assert_eq!(settings["region"], "eu");
    assert_eq!(settings["period"], "5m");
    assert_eq!(settings["rule"], "capacity");
    assert_eq!(settings["rpm_per_dyno"], json!(150.0));

    let short = dynopilot::config::parse(&one_input_config(
        r#"name = "rpm"
type = "new_relic"
app_id = 12345
api_key = "NRAK-literal"
region = "mars"
period = "30s"
"#,
    ))
    .expect_err("invalid");
    let text = short.to_string();
    assert!(
        text.contains("formations[0].inputs[0].period: must be at least 60s"),
        "{text}"
    );
    assert!(
        text.contains("formations[0].inputs[0].region: unknown New Relic region \"mars\""),
        "{text}"
    );
    assert!(
        text.contains("formations[0].inputs[0].api_key: must be a reference"),
        "{text}"
    );
}
