//! Input `new_relic_nrql` (NerdGraph) against a wiremock fake.

use std::time::Duration;

use dynopilot::engine::Outcome;
use dynopilot::inputs::SourceErrorKind;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{
    assert_failure_holds_at_5, at, fetch_and_decide, one_input_config, SecretMap, USER_AGENT,
};

const KEY: &str = "NRAK-NERDGRAPHKEY0123";
/// A quote and a backslash: they must reach NerdGraph intact, as a variable.
const NRQL: &str = r#"SELECT rate(count(*), 1 minute) AS rpm FROM Transaction WHERE appName = 'shop "eu"\1' SINCE 5 minutes ago"#;

fn secrets() -> SecretMap {
    SecretMap::of(&[("env:NEW_RELIC_USER_KEY", KEY)])
}

fn config(server: &MockServer, extra: &str) -> String {
    one_input_config(&format!(
        r#"name = "nrql"
type = "new_relic_nrql"
account_id = 1234567
query = '''{NRQL}'''
api_key = "env:NEW_RELIC_USER_KEY"
base_url = "{}"
per_dyno = 100
timeout = "1s"
{extra}
"#,
        server.uri()
    ))
}

/// The query document never contains the NRQL itself: it travels as `$nrql`.
fn document_uses_variables(request: &Request) -> bool {
    serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|b| b["query"].as_str().map(str::to_string))
        .is_some_and(|q| q.contains("$nrql") && q.contains("$accountId") && !q.contains("SELECT"))
}

fn graphql_request() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(header("api-key", KEY))
        .and(header("content-type", "application/json"))
        .and(header("user-agent", USER_AGENT))
        .and(body_partial_json(
            json!({"variables": {"accountId": 1234567, "nrql": NRQL}}),
        ))
        .and(document_uses_variables)
}

fn results(rows: Value) -> Value {
    json!({"data": {"actor": {"account": {"nrql": {"results": rows}}}}})
}

#[tokio::test]
async fn reads_the_single_number_of_the_first_row_and_scales_by_per_dyno() {
    let server = MockServer::start().await;
    graphql_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(results(json!([{"rpm": 720.5}]))))
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, scaler) =
        fetch_and_decide(&config(&server, ""), &secrets(), 5, at(10, 0)).await;

    assert_eq!(fetched, Ok(720.5));
    let f = &report.formations[0];
    assert_eq!(
        (f.current, f.target, f.outcome),
        (Some(5), Some(8), Outcome::ScaledUp)
    );
    assert_eq!(scaler.quantity("example-app", "web"), Some(8));
}

#[tokio::test]
async fn result_key_picks_one_of_several_numbers() {
    let server = MockServer::start().await;
    let row = json!([{"rpm": 300, "errors": 2, "beginTimeSeconds": 1767607200}]);
    graphql_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(results(row)))
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, _) = fetch_and_decide(
        &config(&server, r#"result_key = "rpm""#),
        &secrets(),
        5,
        at(10, 0),
    )
    .await;

    assert_eq!(fetched, Ok(300.0));
    // 300 / 100 = 3 dynos; down one step (max_step_down 1) from 5.
    let f = &report.formations[0];
    assert_eq!(
        (f.estimate, f.target, f.outcome),
        (Some(3), Some(4), Outcome::ScaledDown)
    );
}

#[tokio::test]
async fn several_numbers_without_result_key_are_an_error_that_names_them() {
    let server = MockServer::start().await;
    graphql_request()
        .respond_with(
            ResponseTemplate::new(200).set_body_json(results(json!([{"rpm": 300, "errors": 2}]))),
        )
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, scaler) =
        fetch_and_decide(&config(&server, ""), &secrets(), 5, at(10, 0)).await;

    assert_failure_holds_at_5(&fetched, &report, &scaler, SourceErrorKind::Setup, KEY);
    let message = fetched.expect_err("ambiguous").message;
    assert!(
        message.contains("errors, rpm") && message.contains("result_key"),
        "{message}"
    );
}

async fn failing_with(response: ResponseTemplate, kind: SourceErrorKind) {
    let server = MockServer::start().await;
    graphql_request()
        .respond_with(response)
        .expect(2)
        .mount(&server)
        .await;

    let (fetched, report, scaler) =
        fetch_and_decide(&config(&server, ""), &secrets(), 5, at(10, 0)).await;

    assert_failure_holds_at_5(&fetched, &report, &scaler, kind, KEY);
}

#[tokio::test]
async fn graphql_errors_with_http_200_are_failures_labelled_by_their_message() {
    let unauthorized = json!({"errors": [{"message": "Unauthorized", "extensions": {"errorClass": "UNAUTHORIZED"}}], "data": null});
    failing_with(
        ResponseTemplate::new(200).set_body_json(unauthorized),
        SourceErrorKind::Unauthorized,
    )
    .await;
    let timed_out = json!({"errors": [{"message": "NRDB query timed out"}], "data": {"actor": {"account": {"nrql": null}}}});
    failing_with(
        ResponseTemplate::new(200).set_body_json(timed_out),
        SourceErrorKind::Unavailable,
    )
    .await;
    let syntax = json!({"errors": [{"message": "NRQL Syntax Error: Error at line 1 position 7"}], "data": {"actor": {"account": {"nrql": null}}}});
    failing_with(
        ResponseTemplate::new(200).set_body_json(syntax),
        SourceErrorKind::Malformed,
    )
    .await;
}

#[tokio::test]
async fn http_errors_map_to_their_kinds_and_hold() {
    failing_with(ResponseTemplate::new(500), SourceErrorKind::Unavailable).await;
    failing_with(ResponseTemplate::new(429), SourceErrorKind::RateLimited).await;
    failing_with(ResponseTemplate::new(401), SourceErrorKind::Unauthorized).await;
    failing_with(ResponseTemplate::new(403), SourceErrorKind::Unauthorized).await;
    failing_with(ResponseTemplate::new(404), SourceErrorKind::NotFound).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_malformed_and_holds() {
    failing_with(
        ResponseTemplate::new(200).set_body_string("not json"),
        SourceErrorKind::Malformed,
    )
    .await;
}

#[tokio::test]
async fn no_rows_or_a_null_value_is_empty_and_holds() {
    failing_with(
        ResponseTemplate::new(200).set_body_json(results(json!([]))),
        SourceErrorKind::Empty,
    )
    .await;
    failing_with(
        ResponseTemplate::new(200).set_body_json(results(json!([{"rpm": null}]))),
        SourceErrorKind::Empty,
    )
    .await;
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_and_holds() {
    failing_with(
        ResponseTemplate::new(200)
            .set_body_json(results(json!([{"rpm": 1}])))
            .set_delay(Duration::from_secs(3)),
        SourceErrorKind::Timeout,
    )
    .await;
}

#[test]
fn per_dyno_account_id_query_and_api_key_are_required() {
    let err = dynopilot::config::parse(&one_input_config(
        r#"name = "nrql"
type = "new_relic_nrql"
"#,
    ))
    .expect_err("invalid");
    let text = err.to_string();
    for key in ["per_dyno", "account_id", "query", "api_key"] {
        assert!(
            text.contains(&format!("formations[0].inputs[0].{key}: is required")),
            "{key}: {text}"
        );
    }
}
