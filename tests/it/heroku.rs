//! HerokuScaler against a wiremock fake of the Platform API v3 formation
//! endpoints, alone and driven by the engine.

use std::sync::Arc;
use std::time::Duration;

use dynopilot::engine::Outcome;
use dynopilot::notify::NotificationKind;
use dynopilot::scaler::{HerokuScaler, QuantityChange, ScaleErrorKind, Scaler};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{at, capture_logs, SecretMap, Wired, USER_AGENT};

const TOKEN: &str = "01234567-89ab-cdef-0123-456789abcdef";
const APP: &str = "example-app";
const ACCEPT: &str = "application/vnd.heroku+json; version=3";

/// A formation object with the schema's full field set (values illustrative).
fn formation(process_type: &str, quantity: u32) -> Value {
    json!({
        "app": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": APP},
        "command": "bundle exec puma -C config/puma.rb",
        "created_at": "2012-01-01T12:00:00Z",
        "dyno_size": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "Standard-1X"},
        "id": "01234567-89ab-cdef-0123-456789abcdef",
        "quantity": quantity,
        "size": "Standard-1X",
        "type": process_type,
        "updated_at": "2012-01-01T12:00:00Z"
    })
}

/// Heroku always sends the pool's remaining tokens.
fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("RateLimit-Remaining", "4497")
        .insert_header("RateLimit-Multiplier", "1")
        .set_body_json(body)
}

fn error(status: u16, id: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("RateLimit-Remaining", "4496")
        .set_body_json(json!({"id": id, "message": message}))
}

/// GET the formation list, with every header the contract asks for.
fn list_formation() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/apps/{APP}/formation")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", ACCEPT))
        .and(header("user-agent", USER_AGENT))
}

/// A PATCH with every header the contract asks for.
fn patch(at_path: String) -> wiremock::MockBuilder {
    Mock::given(method("PATCH"))
        .and(path(at_path))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", ACCEPT))
        .and(header("content-type", "application/json"))
        .and(header("user-agent", USER_AGENT))
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
    let server = MockServer::start().await;
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
    let server = MockServer::start().await;
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
    let server = MockServer::start().await;
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
    let server = MockServer::start().await;
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
    Mock::given(method("PATCH"))
        .and(path_regex(format!("^/apps/{APP}/formation/.+$")))
        .respond_with(error(500, "internal", "should not be called"))
        .expect(0)
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
}

#[tokio::test]
async fn a_dry_run_reads_the_formation_but_never_patches() {
    let server = MockServer::start().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2), formation("worker", 1)])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(ok(json!([])))
        .expect(0)
        .mount(&server)
        .await;

    let report = engine(&server, &two_formations(true)).run(at(10, 0)).await;

    assert!(report.dry_run);
    let outcomes: Vec<_> = report.formations.iter().map(|f| f.outcome).collect();
    assert_eq!(outcomes, vec![Outcome::WouldScaleUp, Outcome::WouldScaleUp]);
}

#[tokio::test]
async fn a_429_followed_by_success_is_retried_and_succeeds_within_the_budget() {
    let server = MockServer::start().await;
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
    let server = MockServer::start().await;
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
        let server = MockServer::start().await;
        patch(format!("/apps/{APP}/formation/web"))
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

#[tokio::test]
async fn a_422_above_the_dyno_limit_says_so_plainly() {
    let server = MockServer::start().await;
    patch(format!("/apps/{APP}/formation/web"))
        .and(body_json(json!({"quantity": 12})))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "limit": 10, "size": 11, "id": "cannot_run_above_limit",
            "message": "Cannot run more than 10 Standard-1X size dynos.",
            "url": "https://devcenter.heroku.com/articles/dyno-size#default-scaling-limits"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let err = scaler(&server, Duration::from_secs(10))
        .scale(APP, &[change("web", 12)])
        .await
        .expect_err("refused");

    assert_eq!(err.kind, ScaleErrorKind::Rejected);
    assert!(
        err.message.starts_with("Heroku refused quantity 12 for web of app example-app: above your account's dyno limit — ask Heroku support to raise it"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_rejected_scale_sends_one_scale_failed_notification_per_episode_and_keeps_the_count() {
    let server = MockServer::start().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2)])))
        .expect(2)
        .mount(&server)
        .await;
    patch(format!("/apps/{APP}/formation/web"))
        .respond_with(error(
            422,
            "cannot_run_above_limit",
            "Cannot run more than 2 Basic size dynos.",
        ))
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
    let server = MockServer::start().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2)])))
        .expect(1)
        .mount(&server)
        .await;
    patch(format!("/apps/{APP}/formation/web"))
        .respond_with(error(401, "unauthorized", "Invalid credentials provided."))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apps/other-app/formation"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
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
    let server = MockServer::start().await;
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

#[tokio::test]
async fn the_fake_refuses_keys_other_than_quantity_like_heroku_would() {
    // Guards the fake itself: a PATCH body with `size` would be 422 here, and
    // the scaler's body passes, so the scaler sends only `quantity`.
    let server = MockServer::start().await;
    patch(format!("/apps/{APP}/formation/web"))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let only_quantity = body
                .as_object()
                .is_some_and(|o| o.keys().all(|k| k == "quantity") && o.contains_key("quantity"));
            if only_quantity {
                ok(formation("web", 5))
            } else {
                error(422, "invalid_params", "Invalid params")
            }
        })
        .expect(1)
        .mount(&server)
        .await;

    let result = scaler(&server, Duration::from_secs(10))
        .scale(APP, &[change("web", 5)])
        .await;

    assert_eq!(result, Ok(()));
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
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(json!([])))
        .expect(0)
        .mount(&server)
        .await;
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
}

#[tokio::test]
async fn build_local_wires_the_heroku_scaler_with_the_token_from_the_environment() {
    let server = MockServer::start().await;
    list_formation()
        .respond_with(ok(json!([formation("web", 2)])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(ok(json!([])))
        .expect(0)
        .mount(&server)
        .await;
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
        server.uri()
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
}
