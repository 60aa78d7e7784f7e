//! `http_probe` against a wiremock heartbeat: slow and 5xx answers are samples
//! at `probe_timeout`, a refused connection is a failure.

use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

async fn heartbeat(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/heartbeat"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    server
}

fn probe_config(url: &str, extra: &str) -> String {
    shop_input_config(&format!(
        r#"type = "http_probe"
url = "{url}/heartbeat"
per_dyno = 250
{extra}"#
    ))
}

fn world(url: &str, extra: &str, current: u32) -> InputWorld {
    InputWorld::new(&probe_config(url, extra), &MapSecrets::default(), current)
}

#[tokio::test]
async fn the_value_is_the_measured_response_time_in_ms() {
    let server = heartbeat(ResponseTemplate::new(200).set_delay(Duration::from_millis(300))).await;
    let config = valid_config(&probe_config(&server.uri(), ""));
    let source = only_source(&config, &MapSecrets::default()).expect("source builds");

    let ms = source.fetch(at(9, 0)).await.expect("a sample");

    // At least the server's delay, and less than the 5 s probe timeout.
    assert!((300.0..5000.0).contains(&ms), "{ms}");
}

#[tokio::test]
async fn a_numeric_service_header_is_used_instead_of_the_measured_time() {
    let server =
        heartbeat(ResponseTemplate::new(200).insert_header("X-Service-Time", "1100ms")).await;
    let world = world(&server.uri(), r#"service_header = "X-Service-Time""#, 2);

    let (_, formation) = world.run(at(9, 0)).await;

    // 1100 ms at 250 per dyno: 5 dynos.
    assert_eq!(formation.inputs[0].sample, Some(1100.0));
    assert_eq!(formation.target, Some(5), "{}", formation.summary());
    assert_eq!(world.quantity(), Some(5));
}

#[tokio::test]
async fn a_plain_number_in_the_service_header_is_ms_too() {
    let server = heartbeat(ResponseTemplate::new(200).insert_header("X-Service-Time", "123")).await;
    let config = valid_config(&probe_config(
        &server.uri(),
        r#"service_header = "X-Service-Time""#,
    ));
    let source = only_source(&config, &MapSecrets::default()).expect("source builds");

    assert_eq!(source.fetch(at(9, 0)).await, Ok(123.0));
}

#[tokio::test]
async fn a_service_header_that_is_not_a_number_falls_back_to_the_measured_time() {
    let server = heartbeat(
        ResponseTemplate::new(200)
            .insert_header("X-Service-Time", "fast")
            .set_delay(Duration::from_millis(200)),
    )
    .await;
    let config = valid_config(&probe_config(
        &server.uri(),
        r#"service_header = "X-Service-Time""#,
    ));
    let source = only_source(&config, &MapSecrets::default()).expect("source builds");

    let ms = source.fetch(at(9, 0)).await.expect("a sample");

    assert!((200.0..5000.0).contains(&ms), "{ms}");
}

#[tokio::test]
async fn an_answer_slower_than_probe_timeout_counts_as_probe_timeout_ms_and_scales_up() {
    let server = heartbeat(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))).await;
    let world = world(&server.uri(), "probe_timeout = \"1s\"\ntimeout = \"2s\"", 2);

    let (_, formation) = world.run(at(9, 0)).await;

    // A real sample of 1000 ms, not a failure: 1000 / 250 = 4 dynos.
    assert_eq!(formation.inputs[0].sample, Some(1000.0));
    assert_eq!(formation.inputs[0].error, None);
    assert_eq!(formation.target, Some(4), "{}", formation.summary());
    assert_eq!(world.quantity(), Some(4));
}

#[tokio::test]
async fn a_5xx_counts_as_probe_timeout_ms_and_scales_up() {
    let server = heartbeat(ResponseTemplate::new(503).set_body_string("Application Error")).await;
    let world = world(&server.uri(), r#"probe_timeout = "2s""#, 2);

    let (_, formation) = world.run(at(9, 0)).await;

    assert_eq!(formation.inputs[0].sample, Some(2000.0));
    assert_eq!(formation.target, Some(8), "{}", formation.summary());
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_and_holds() {
    let world = world(&closed_port_url("http"), "", 5);

    let (_, formation) = world.run(at(9, 0)).await;

    assert_eq!(input_error_kind(&formation).as_deref(), Some("unavailable"));
    assert_held_for_missing_input(&formation, 5);
    assert!(world.scaler.scales().is_empty());
}

#[tokio::test]
async fn a_401_is_unauthorized_and_holds() {
    let server = heartbeat(ResponseTemplate::new(401).set_body_string("who are you")).await;
    let world = world(&server.uri(), "", 5);

    let (_, formation) = world.run(at(9, 0)).await;

    assert_eq!(
        input_error_kind(&formation).as_deref(),
        Some("unauthorized")
    );
    assert_held_for_missing_input(&formation, 5);
}

#[tokio::test]
async fn a_429_is_rate_limited_and_holds() {
    let server = heartbeat(ResponseTemplate::new(429)).await;
    let world = world(&server.uri(), "", 5);

    let (_, formation) = world.run(at(9, 0)).await;

    assert_eq!(
        input_error_kind(&formation).as_deref(),
        Some("rate_limited")
    );
    assert_held_for_missing_input(&formation, 5);
}

#[test]
fn probe_timeout_must_be_shorter_than_the_inputs_timeout() {
    let errors = config_errors(&probe_config(
        "http://127.0.0.1:1",
        "probe_timeout = \"10s\"\ntimeout = \"10s\"",
    ));

    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "formations[0].inputs[0].probe_timeout: must be shorter than the input's timeout (10s)"
        ),
        "{errors:?}"
    );
}

#[test]
fn probe_timeout_defaults_to_5s_and_per_dyno_is_required() {
    let config = valid_config(&probe_config("http://127.0.0.1:1", ""));
    let input = config.describe()["formations"][0]["inputs"][0].clone();
    assert_eq!(input["probe_timeout"], "5s", "{input}");

    let errors = config_errors(&shop_input_config(
        r#"type = "http_probe"
url = "ftp://example.com/heartbeat""#,
    ));
    let has = |needle: &str| errors.iter().any(|e| e.starts_with(needle));
    assert!(
        has("formations[0].inputs[0].per_dyno: is required"),
        "{errors:?}"
    );
    assert!(
        has("formations[0].inputs[0].url: must be an http:// or https:// URL"),
        "{errors:?}"
    );
}
