//! Input `pingdom` (API 3.1 summary.average) against a wiremock fake.

use std::time::Duration;

use dynopilot::engine::Outcome;
use dynopilot::inputs::SourceErrorKind;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    assert_failure_holds_at_5, at, fetch_and_decide, one_input_config, SecretMap, USER_AGENT,
};

const TOKEN: &str = "pingdom-token-ofSomeLength0123456789";

fn secrets() -> SecretMap {
    SecretMap::of(&[("env:PINGDOM_API_TOKEN", TOKEN)])
}

fn config(server: &MockServer) -> String {
    one_input_config(&format!(
        r#"name = "latency"
type = "pingdom"
check_id = 85975
token = "env:PINGDOM_API_TOKEN"
base_url = "{}"
per_dyno = 100
timeout = "1s"
"#,
        server.uri()
    ))
}

/// 10:00 on 2026-01-05 and 5 minutes before, in epoch seconds.
const TO: i64 = 1_767_607_200;
const FROM: i64 = TO - 300;

fn average_request() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/summary.average/85975"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("user-agent", USER_AGENT))
        .and(query_param("from", FROM.to_string().as_str()))
        .and(query_param("to", TO.to_string().as_str()))
}

fn summary(avg: Value) -> Value {
    json!({"summary": {"responsetime": {"from": FROM, "to": TO, "avgresponse": avg}}})
}

fn pingdom_error(status: u16, desc: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(
        json!({"error": {"statuscode": status, "statusdesc": desc, "errormessage": message}}),
    )
}

#[tokio::test]
async fn reads_the_average_response_time_of_the_last_five_minutes() {
    assert_eq!(at(10, 0).timestamp(), TO);
    let server = MockServer::start().await;
    average_request()
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Req-Limit-Short", "Remaining: 394 Time until reset: 3589")
                .set_body_json(summary(json!(658))),
        )
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, scaler) =
        fetch_and_decide(&config(&server), &secrets(), 5, at(10, 0)).await;

    assert_eq!(fetched, Ok(658.0));
    let f = &report.formations[0];
    assert_eq!(
        (f.current, f.target, f.outcome),
        (Some(5), Some(7), Outcome::ScaledUp)
    );
    assert_eq!(scaler.quantity("example-app", "web"), Some(7));
}

async fn failing_with(response: ResponseTemplate, kind: SourceErrorKind) -> String {
    let server = MockServer::start().await;
    average_request()
        .respond_with(response)
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, scaler) =
        fetch_and_decide(&config(&server), &secrets(), 5, at(10, 0)).await;

    assert_failure_holds_at_5(&fetched, &report, &scaler, kind, TOKEN);
    fetched.expect_err("failed").message
}

#[tokio::test]
async fn a_429_is_rate_limited_and_holds() {
    let message = failing_with(
        pingdom_error(
            429,
            "Too Many Requests",
            "Request limit exceeded, try again later",
        ),
        SourceErrorKind::RateLimited,
    )
    .await;
    assert!(message.contains("Request limit exceeded"), "{message}");
}

#[tokio::test]
async fn a_401_or_403_is_unauthorized_and_holds() {
    failing_with(
        pingdom_error(401, "Unauthorized", "Invalid token"),
        SourceErrorKind::Unauthorized,
    )
    .await;
    let message = failing_with(
        pingdom_error(
            403,
            "Forbidden",
            "Something went wrong! This user does not have access to this check.",
        ),
        SourceErrorKind::Unauthorized,
    )
    .await;
    assert!(
        message.contains("Forbidden: Something went wrong!"),
        "{message}"
    );
}

#[tokio::test]
async fn a_404_is_not_found_and_holds() {
    failing_with(
        pingdom_error(404, "Not Found", "Check not found"),
        SourceErrorKind::NotFound,
    )
    .await;
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_holds() {
    failing_with(
        pingdom_error(500, "Internal Server Error", "Internal error"),
        SourceErrorKind::Unavailable,
    )
    .await;
}

#[tokio::test]
async fn a_body_without_the_summary_is_malformed_and_holds() {
    failing_with(
        ResponseTemplate::new(200).set_body_json(json!({"summary": {}})),
        SourceErrorKind::Malformed,
    )
    .await;
    failing_with(
        ResponseTemplate::new(200).set_body_string("{"),
        SourceErrorKind::Malformed,
    )
    .await;
}

#[tokio::test]
async fn an_average_of_zero_means_no_results_and_is_empty() {
    failing_with(
        ResponseTemplate::new(200).set_body_json(summary(json!(0))),
        SourceErrorKind::Empty,
    )
    .await;
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_and_holds() {
    failing_with(
        ResponseTemplate::new(200)
            .set_body_json(summary(json!(658)))
            .set_delay(Duration::from_secs(3)),
        SourceErrorKind::Timeout,
    )
    .await;
}

#[test]
fn check_id_token_and_per_dyno_are_required_and_defaults_are_api_3_1_five_minutes_and_the_input_timeout(
) {
    let err = dynopilot::config::parse(&one_input_config(
        r#"name = "latency"
type = "pingdom"
"#,
    ))
    .expect_err("invalid");
    let text = err.to_string();
    for key in ["per_dyno", "check_id", "token"] {
        assert!(
            text.contains(&format!("formations[0].inputs[0].{key}: is required")),
            "{key}: {text}"
        );
    }

    let config = dynopilot::config::parse(&one_input_config(
        r#"name = "latency"
type = "pingdom"
check_id = 85975
token = "env:PINGDOM_API_TOKEN"
per_dyno = 200
timeout = "4s"
"#,
    ))
    .expect("valid");
    let input = config.describe()["formations"][0]["inputs"][0].clone();
    assert_eq!(
        input["base_url"], "https://api.pingdom.com/api/3.1",
        "{input}"
    );
    assert_eq!(input["period"], "5m", "{input}");
    assert_eq!(input["timeout"], "4s", "{input}");
}
