//! HerokuScaler against a wiremock fake of the Platform API v3 formation
//! endpoints, alone and driven by the engine.

use std::sync::Arc;
use std::time::Duration;

use dynopilot::engine::Outcome;
use dynopilot::notify::NotificationKind;
use dynopilot::scaler::{HerokuScaler, QuantityChange, ScaleErrorKind, Scaler};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::body_json;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{
    at, capture_logs, heroku_error, heroku_error_body, heroku_formation, heroku_list_formation,
    heroku_ok, heroku_patch, mount_heroku_fallback, HerokuFake, SecretMap, Wired, HEROKU_ACCEPT,
    USER_AGENT,
};

const TOKEN: &str = "01234567-89ab-cdef-0123-456789abcdef";
const APP: &str = "example-app";

/// A formation object of `APP` with the schema's full field set.
fn formation(process_type: &str, quantity: u32) -> Value {
    heroku_formation(APP, process_type, quantity)
}

fn ok(body: Value) -> ResponseTemplate {
    heroku_ok(body)
}

fn error(status: u16, id: &str, message: &str) -> ResponseTemplate {
    heroku_error(status, id, message)
}

/// GET the formation list of `APP`, with every header the contract asks for.
fn list_formation() -> wiremock::MockBuilder {
    heroku_list_formation(APP, TOKEN)
}

/// A PATCH with every header the contract asks for.
fn patch(at_path: String) -> wiremock::MockBuilder {
    heroku_patch(&at_path, TOKEN)
}

/// A Heroku fake with no mock yet: whatever a test does not mount gets
/// Heroku's JSON 401/406/404, as from the real API.
async fn heroku() -> MockServer {
    let server = MockServer::start().await;
    mount_heroku_fallback(&server, TOKEN).await;
    server
}

/// The PATCH requests the fake received, served or not: (path, body).
async fn patches(server: &MockServer) -> Vec<(String, Value)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .map(|r| {
            let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            (r.url.path().to_string(), body)
        })
        .collect()
}

fn scaler(server: &MockServer, budget: Duration) -> HerokuScaler {
    let http = dynopilot::wiring::http_client().expect("http client");
    HerokuScaler::new(http, &server.uri(), SecretString::from(TOKEN), budget)
        .expect("valid base url")
}

fn change(process_type: &str, quantity: u32) -> QuantityChange {
    QuantityChange {
        process_type: process_type.into(),
        quantity,
        size: None,
    }
}

/// One formation (min 1, max 10) with a constant input: `value / 100` dynos.
fn formation_toml(app: &str, process_type: &str, input: &str, value: u32) -> String {
    format!(
        r#"
[[formations]]
app = "{app}"
type = "{process_type}"
min = 1
max = 10

[[formations.inputs]]
name = "{input}"
type = "constant"
value = {value}
per_dyno = 100
"#
    )
}

/// web wants 4 dynos (400 rpm / 100), worker 2 (200 / 100).
fn two_formations(dry_run: bool) -> String {
    format!(
        "dry_run = {dry_run}\n\n[state]\nkind = \"memory\"\n{}{}",
        formation_toml(APP, "web", "traffic", 400),
        formation_toml(APP, "worker", "jobs", 200)
    )
}

/// One web formation per app, each wanting 4 dynos (400 rpm / 100).
fn web_wants_four(apps: &[&str]) -> String {
    let mut toml = String::from("[state]\nkind = \"memory\"\n");
    for app in apps {
        toml.push_str(&formation_toml(app, "web", "traffic", 400));
    }
    toml
}

fn engine(server: &MockServer, config: &str) -> Wired {
    Wired::new(
        config,
        &SecretMap::default(),
        Arc::new(scaler(server, Duration::from_secs(10))),
    )
}

#[tokio::test]
async fn reads_every_process_type_of_an_app_with_one_get() {
    let server = heroku().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2), formation("worker", 1)])))
        .expect(1)
        .mount(&server)
        .await;

    let counts = scaler(&server, Duration::from_secs(10))
        .formation(APP)
        .await
        .expect("formation read");

    assert_eq!(counts.get("web"), Some(&2));
    assert_eq!(counts.get("worker"), Some(&1));
}

#[tokio::test]
async fn parses_only_type_and_quantity_and_ignores_missing_or_extra_fields() {
    let server = heroku().await;
    list_formation()
        .respond_with(ok(json!([
            {"type": "web", "quantity": 3},
            {"type": "clock", "quantity": 0, "some_future_field": {"x": 1}}
        ])))
        .expect(1)
        .mount(&server)
        .await;

    let counts = scaler(&server, Duration::from_secs(10))
        .formation(APP)
        .await
        .expect("formation read");

    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        vec![("clock".to_string(), 0), ("web".to_string(), 3)]
    );
}

#[tokio::test]
async fn one_change_is_a_patch_of_that_process_type_with_only_quantity() {
    let server = heroku().await;
    patch(format!("/apps/{APP}/formation/web"))
        .and(body_json(json!({"quantity": 4})))
        .respond_with(ok(formation("web", 4)))
        .expect(1)
        .mount(&server)
        .await;

    scaler(&server, Duration::from_secs(10))
        .scale(APP, &[change("web", 4)])
        .await
        .expect("scaled");
}

#[tokio::test]
async fn an_invocation_reads_each_app_once_and_batches_two_changes_into_one_patch() {
    let server = heroku().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2), formation("worker", 1)])))
        .expect(1)
        .mount(&server)
        .await;
    patch(format!("/apps/{APP}/formation"))
        .and(body_json(json!({"updates": [
            {"type": "web", "quantity": 4},
            {"type": "worker", "quantity": 2}
        ]})))
        .respond_with(ok(json!([formation("web", 4), formation("worker", 2)])))
        .expect(1)
        .mount(&server)
        .await;

    let report = engine(&server, &two_formations(false)).run(at(10, 0)).await;

    let outcomes: Vec<_> = report
        .formations
        .iter()
        .map(|f| (f.current, f.target, f.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (Some(2), Some(4), Outcome::ScaledUp),
            (Some(1), Some(2), Outcome::ScaledUp)
        ]
    );
    let sent: Vec<String> = patches(&server).await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        sent,
        [format!("/apps/{APP}/formation")],
        "one batch PATCH, no single-type one"
    );
}

#[tokio::test]
async fn a_dry_run_reads_the_formation_but_never_patches() {
    let heroku = HerokuFake::start(TOKEN).await;
    heroku.app(APP, &[("web", 2), ("worker", 1)], 1, 0).await;

    let report = engine(&heroku.server, &two_formations(true))
        .run(at(10, 0))
        .await;

    assert!(report.dry_run);
    let outcomes: Vec<_> = report
        .formations
        .iter()
        .map(|f| (f.current, f.target, f.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (Some(2), Some(4), Outcome::WouldScaleUp),
            (Some(1), Some(2), Outcome::WouldScaleUp)
        ]
    );
    let sent = heroku.requests("PATCH").await;
    assert!(sent.is_empty(), "no PATCH at all: {sent:?}");
    assert_eq!(
        (heroku.quantity(APP, "web"), heroku.quantity(APP, "worker")),
        (Some(2), Some(1))
    );
    heroku.verify().await;
}

#[tokio::test]
async fn a_429_followed_by_success_is_retried_and_succeeds_within_the_budget() {
    let server = heroku().await;
    list_formation()
        .respond_with(error(
            429,
            "rate_limit",
            "Your account reached the API rate limit",
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2)])))
        .expect(1)
        .mount(&server)
        .await;

    let counts = scaler(&server, Duration::from_secs(10))
        .formation(APP)
        .await
        .expect("succeeds on the second attempt");

    assert_eq!(counts.get("web"), Some(&2));
}

#[tokio::test]
async fn server_errors_are_retried_until_the_budget_is_spent_then_reported_unavailable() {
    let server = heroku().await;
    list_formation()
        .respond_with(error(503, "unavailable", "Heroku is down"))
        .expect(2..=4)
        .mount(&server)
        .await;

    let err = scaler(&server, Duration::from_secs(1))
        .formation(APP)
        .await
        .expect_err("never succeeds");

    assert_eq!(err.kind, ScaleErrorKind::Unavailable);
    assert!(
        err.message.contains("503 unavailable: Heroku is down"),
        "{}",
        err.message
    );
    assert!(err.message.contains("retry budget"), "{}", err.message);
}

#[tokio::test]
async fn an_unreachable_api_is_reported_unavailable_after_the_budget() {
    // wiremock pools its servers (a dropped one keeps listening), so take a
    // port from a listener that is closed again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let uri = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let http = dynopilot::wiring::http_client().expect("http client");
    let scaler = HerokuScaler::new(
        http,
        &uri,
        SecretString::from(TOKEN),
        Duration::from_millis(300),
    )
    .expect("valid url");

    let err = scaler.formation(APP).await.expect_err("nothing listens");

    assert_eq!(err.kind, ScaleErrorKind::Unavailable);
    assert!(
        err.message.contains("cannot reach Heroku"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn client_errors_are_never_retried_and_keep_herokus_id_and_message() {
    let cases = [
        (
            401,
            "unauthorized",
            "Invalid credentials provided.",
            ScaleErrorKind::Unauthorized,
        ),
        (
            402,
            "delinquent",
            "Please verify your account.",
            ScaleErrorKind::Forbidden,
        ),
        (
            403,
            "forbidden",
            "You do not have access to the app example-app.",
            ScaleErrorKind::Forbidden,
        ),
        (
            404,
            "not_found",
            "Couldn't find that formation.",
            ScaleErrorKind::NotFound,
        ),
        (
            422,
            "invalid_params",
            "Cannot use the following dyno types in the same app: Basic and Standard-1X",
            ScaleErrorKind::Rejected,
        ),
    ];
    for (status, id, message, kind) in cases {
        let server = heroku().await;
        patch(format!("/apps/{APP}/formation/web"))
            .and(body_json(json!({"quantity": 3})))
            .respond_with(error(status, id, message))
            .expect(1)
            .mount(&server)
            .await;

        let err = scaler(&server, Duration::from_secs(10))
            .scale(APP, &[change("web", 3)])
            .await
            .expect_err("refused");

        assert_eq!(err.kind, kind, "status {status}");
        assert!(
            err.message.contains(&format!("{status} {id}: {message}")),
            "{}",
            err.message
        );
        server.verify().await;
    }
}

/// Heroku's 422 for a quantity above the account's limit for a dyno size, as
/// logged by an autoscaler asking for 11 dynos (flowhub/guv issue 16, 2017;
/// an older body with the same id and `limit`/`size` is in
/// montrealrb/Montreal.rb issue 140). Not in the platform-api schema.
fn above_the_dyno_limit() -> ResponseTemplate {
    heroku_error_body(
        422,
        json!({
            "limit": 2, "size": 11, "id": "cannot_run_above_limit",
            "message": "Cannot run more than 2 Free size dynos.",
            "url": "https://devcenter.heroku.com/articles/dyno-size#default-scaling-limits"
        }),
    )
}

#[tokio::test]
async fn a_422_above_the_dyno_limit_says_so_plainly() {
    let server = heroku().await;
    patch(format!("/apps/{APP}/formation/web"))
        .and(body_json(json!({"quantity": 11})))
        .respond_with(above_the_dyno_limit())
        .expect(1)
        .mount(&server)
        .await;

    let err = scaler(&server, Duration::from_secs(10))
        .scale(APP, &[change("web", 11)])
        .await
        .expect_err("refused");

    assert_eq!(err.kind, ScaleErrorKind::Rejected);
    assert!(
        err.message.starts_with("Heroku refused quantity 11 for web of app example-app: above your account's dyno limit — ask Heroku support to raise it"),
        "{}",
        err.message
    );
    assert!(
        err.message
            .contains("422 cannot_run_above_limit: Cannot run more than 2 Free size dynos."),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_rejected_scale_sends_one_scale_failed_notification_per_episode_and_keeps_the_count() {
    let server = heroku().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2)])))
        .expect(2)
        .mount(&server)
        .await;
    patch(format!("/apps/{APP}/formation/web"))
        .and(body_json(json!({"quantity": 4})))
        .respond_with(above_the_dyno_limit())
        .expect(2)
        .mount(&server)
        .await;
    let wired = engine(&server, &web_wants_four(&[APP]));

    let report = wired.run(at(10, 0)).await;

    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Failed);
    assert_eq!((f.current, f.target), (Some(2), Some(4)));
    assert_eq!(f.errors[0].stage, "scale");
    assert_eq!(f.errors[0].kind, "rejected");
    let sent = wired.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, NotificationKind::ScaleFailed);
    assert!(
        sent[0].body.contains("above your account's dyno limit"),
        "{}",
        sent[0].body
    );

    // The next minute tries again; the failure is the same episode, so no
    // second mail (see tests/it/notifications.rs for the whole episode).
    let next = wired.run(at(10, 1)).await;
    assert_eq!(next.formations[0].outcome, Outcome::Failed);
    assert_eq!(wired.notifier.sent().len(), 1);
}

#[tokio::test]
async fn the_token_never_appears_in_logs_reports_or_notifications() {
    let (logs, _guard) = capture_logs();
    let server = heroku().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2)])))
        .expect(1)
        .mount(&server)
        .await;
    patch(format!("/apps/{APP}/formation/web"))
        .and(body_json(json!({"quantity": 4})))
        .respond_with(error(401, "unauthorized", "Invalid credentials provided."))
        .expect(1)
        .mount(&server)
        .await;
    heroku_list_formation("other-app", TOKEN)
        .respond_with(error(401, "unauthorized", "Invalid credentials provided."))
        .expect(1)
        .mount(&server)
        .await;
    let wired = engine(&server, &web_wants_four(&[APP, "other-app"]));

    let report = wired.run(at(10, 0)).await;

    let report_json = serde_json::to_string(&report).expect("report serializes");
    let notifications = format!("{:?}", wired.notifier.sent());
    let logged = logs.text();
    assert!(
        report_json.contains("unauthorized"),
        "the 401 is reported: {report_json}"
    );
    assert!(
        logged.contains("scale failed"),
        "logs were captured: {logged}"
    );
    assert!(!wired.notifier.sent().is_empty());
    for (what, text) in [
        ("report", &report_json),
        ("notifications", &notifications),
        ("logs", &logged),
    ] {
        assert!(!text.contains(TOKEN), "token leaked into {what}");
    }
}

#[tokio::test]
async fn the_remaining_rate_limit_is_logged_and_a_low_one_warns() {
    let (logs, _guard) = capture_logs();
    let server = heroku().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2)])).insert_header("RateLimit-Remaining", "42"))
        .expect(1)
        .mount(&server)
        .await;

    scaler(&server, Duration::from_secs(10))
        .formation(APP)
        .await
        .expect("read");

    let logged = logs.text();
    assert!(logged.contains("rate_limit_remaining=42"), "{logged}");
    assert!(logged.contains("WARN"), "{logged}");
    assert!(logged.contains("rate limit nearly used up"), "{logged}");
}

/// Send `body` as a PATCH of `at_path` with every header the contract asks
/// for; Heroku's status and JSON answer.
async fn send_patch(fake: &HerokuFake, at_path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .patch(format!("{}{at_path}", fake.uri()))
        .bearer_auth(TOKEN)
        .header("accept", HEROKU_ACCEPT)
        .header("user-agent", USER_AGENT)
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    assert!(
        response.headers().contains_key("ratelimit-remaining"),
        "every answer carries RateLimit-Remaining"
    );
    (status, response.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn the_fake_refuses_keys_other_than_quantity_like_heroku_would() {
    // Guards the shared fake itself: Heroku's update schema refuses unknown
    // keys (`additionalProperties: false`), so does the fake, and a body
    // without `quantity` changes nothing here. Only then does the scaler's
    // accepted PATCH below prove it sends nothing but `quantity`.
    let fake = HerokuFake::start(TOKEN).await;
    fake.app(APP, &[("web", 2), ("worker", 1)], 0, 7).await;
    let web = format!("/apps/{APP}/formation/web");
    let batch = format!("/apps/{APP}/formation");

    let refused = [
        (web.as_str(), json!({"quantity": 5, "process": "web"})),
        (web.as_str(), json!({"quantity": 5, "size": "Standard-2X"})),
        (web.as_str(), json!({"dyno_size": {"name": "Standard-2X"}})),
        (
            batch.as_str(),
            json!({"updates": [{"type": "web", "quantity": 5, "size": "Standard-2X"}]}),
        ),
        (batch.as_str(), json!({"updates": [{"type": "web"}]})),
    ];
    for (at_path, body) in refused {
        let (status, answer) = send_patch(&fake, at_path, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {answer}");
        assert_eq!(answer["id"], "invalid_params", "{body} -> {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    assert_eq!(
        (fake.quantity(APP, "web"), fake.quantity(APP, "worker")),
        (Some(2), Some(1)),
        "a refused PATCH changes nothing"
    );

    let result = scaler(&fake.server, Duration::from_secs(10))
        .scale(APP, &[change("web", 5)])
        .await;

    assert_eq!(result, Ok(()));
    assert_eq!(fake.quantity(APP, "web"), Some(5));
    let (status, answer) = send_patch(&fake, &web, json!({"quantity": 3})).await;
    assert_eq!(
        (status, answer["type"].as_str(), answer["quantity"].as_u64()),
        (200, Some("web"), Some(3))
    );
    fake.verify().await;
}

#[tokio::test]
async fn requests_the_fake_does_not_serve_get_herokus_json_errors() {
    let fake = HerokuFake::start(TOKEN).await;
    fake.app(APP, &[("web", 2)], 0, 0).await;
    let get = |url: String| {
        reqwest::Client::new()
            .get(url)
            .header("user-agent", USER_AGENT)
    };

    let unknown_app = get(format!("{}/apps/no-such-app/formation", fake.uri()))
        .bearer_auth(TOKEN)
        .header("accept", HEROKU_ACCEPT);
    let wrong_token = get(format!("{}/apps/{APP}/formation", fake.uri()))
        .bearer_auth("another-token")
        .header("accept", HEROKU_ACCEPT);
    let no_accept = get(format!("{}/apps/{APP}/formation", fake.uri())).bearer_auth(TOKEN);
    let mut answers = Vec::new();
    for request in [unknown_app, wrong_token, no_accept] {
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON body");
        answers.push((status, body["id"].as_str().map(str::to_string)));
    }

    assert_eq!(
        answers,
        [
            (404, Some("not_found".to_string())),
            (401, Some("unauthorized".to_string())),
            (406, Some("not_acceptable".to_string())),
        ]
    );
    fake.verify().await;
}

#[test]
fn the_heroku_scaler_config_requires_a_token_reference_and_describes_only_the_reference() {
    let base = |scaler: &str| {
        format!(
            r#"
{scaler}

[[formations]]
app = "example-app"
type = "web"
max = 3

[[formations.inputs]]
name = "t"
type = "constant"
value = 1
per_dyno = 1
"#
        )
    };
    let missing =
        dynopilot::config::parse(&base("[scaler]\nkind = \"heroku\"")).expect_err("token required");
    assert!(
        missing.to_string().contains("scaler.token: is required"),
        "{missing}"
    );
    let literal = dynopilot::config::parse(&base(&format!(
        "[scaler]\nkind = \"heroku\"\ntoken = \"{TOKEN}\""
    )))
    .expect_err("literal token refused");
    assert!(literal.to_string().contains("scaler.token"), "{literal}");
    assert!(!literal.to_string().contains(TOKEN), "{literal}");

    let config = dynopilot::config::parse(&base(
        "[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"",
    ))
    .expect("valid");
    let described = config.describe();

    assert_eq!(
        described["scaler"],
        json!({"kind": "heroku", "token": "env:HEROKU_API_TOKEN", "base_url": "https://api.heroku.com", "retry_budget": "10s"})
    );
}

#[test]
fn an_unresolvable_token_is_reported_as_scaler_token() {
    let config = dynopilot::config::parse(
        r#"
[scaler]
kind = "heroku"
token = "env:DYNOPILOT_TEST_HEROKU_TOKEN_NEVER_SET"
retry_budget = "3s"

[state]
kind = "memory"

[[formations]]
app = "example-app"
type = "web"
max = 3

[[formations.inputs]]
name = "t"
type = "constant"
value = 1
per_dyno = 1
"#,
    )
    .expect("valid");

    let err = dynopilot::wiring::build_local(config, None)
        .err()
        .expect("token does not resolve");

    assert!(err.contains("scaler.token"), "{err}");
    assert!(
        err.contains("DYNOPILOT_TEST_HEROKU_TOKEN_NEVER_SET"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_that_cannot_be_a_header_fails_at_once_without_a_request() {
    let server = heroku().await;
    let http = dynopilot::wiring::http_client().expect("http client");
    let scaler = HerokuScaler::new(
        http,
        &server.uri(),
        SecretString::from("line\nbreak-token"),
        Duration::from_secs(10),
    )
    .expect("valid url");

    let err = scaler.formation(APP).await.expect_err("refused");

    assert_eq!(err.kind, ScaleErrorKind::Unauthorized);
    assert!(err.message.contains("scaler.token"), "{}", err.message);
    assert!(!err.message.contains("break-token"), "{}", err.message);
    let received = server.received_requests().await.unwrap_or_default();
    assert!(received.is_empty(), "no request: {received:?}");
}

#[tokio::test]
async fn build_local_wires_the_heroku_scaler_with_the_token_from_the_environment() {
    let heroku = HerokuFake::start(TOKEN).await;
    heroku.app(APP, &[("web", 2)], 1, 0).await;
    // A variable name no other test uses: tests run in parallel threads.
    std::env::set_var("DYNOPILOT_TEST_HEROKU_TOKEN_WIRING", format!("{TOKEN}\n"));
    let config = dynopilot::config::parse(&format!(
        r#"
[scaler]
kind = "heroku"
token = "env:DYNOPILOT_TEST_HEROKU_TOKEN_WIRING"
base_url = "{}"

[state]
kind = "memory"

[[formations]]
app = "{APP}"
type = "web"
max = 10

[[formations.inputs]]
name = "traffic"
type = "constant"
value = 400
per_dyno = 100
"#,
        heroku.uri()
    ))
    .expect("valid");
    let engine = dynopilot::wiring::build_local(config, None).expect("wires");

    let mut invocation = dynopilot::engine::Invocation::at(at(10, 0));
    invocation.dry_run = true;
    let report = engine.invoke(&invocation).await;

    let f = &report.formations[0];
    assert_eq!(
        (f.current, f.target, f.outcome),
        (Some(2), Some(4), Outcome::WouldScaleUp)
    );
    assert!(report.dry_run);
    let sent = heroku.requests("PATCH").await;
    assert!(sent.is_empty(), "no PATCH at all: {sent:?}");
    assert_eq!(heroku.quantity(APP, "web"), Some(2));
    heroku.verify().await;
}
