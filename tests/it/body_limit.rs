//! Every external body is read with a cap: an input (or Heroku) answering
//! megabytes fails with a clear error instead of taking the function's memory.
//!
//! Bodies without a `Content-Length` come from a raw TCP server that streams
//! without end: had the adapter buffered the whole body, the read would never
//! finish and the poll would end in a timeout, not in the size error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dynopilot::body_limit::INPUT_BODY_LIMIT;
use dynopilot::scaler::{HerokuScaler, ScaleErrorKind, Scaler};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const FIVE_MB: usize = 5 * 1024 * 1024;

/// A JSON array of `len` bytes: `[0,0,0,...]`.
fn big_json(len: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(len);
    body.push(b'[');
    while body.len() + 2 < len {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]");
    body
}

/// How a raw server frames its endless body.
#[derive(Clone, Copy)]
enum Framing {
    /// `Transfer-Encoding: chunked`, no `Content-Length`.
    Chunked,
    /// HTTP/1.0 style: no length at all, the body ends when the server closes.
    UntilClose,
}

/// A server answering every connection 200 with a JSON body that never ends;
/// returns its URL and the number of body bytes it managed to send.
async fn endless_server(framing: Framing) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = match framing {
                    Framing::Chunked => "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                    Framing::UntilClose => "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
                };
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let piece = vec![b'0'; 64 * 1024];
                loop {
                    let written = match framing {
                        Framing::Chunked => {
                            let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
                            frame.extend_from_slice(&piece);
                            frame.extend_from_slice(b"\r\n");
                            socket.write_all(&frame).await
                        }
                        Framing::UntilClose => socket.write_all(&piece).await,
                    };
                    if written.is_err() {
                        return; // the client hung up
                    }
                    counter.fetch_add(piece.len(), Ordering::Relaxed);
                }
            });
        }
    });
    (url, sent)
}

fn app_metric_config(url: &str) -> String {
    shop_input_config(&format!(
        r#"type = "app_metric"
url = "{url}/internal/metrics"
pointer = "/n"
per_dyno = 100
timeout = "20s""#
    ))
}

/// The input failed as malformed, naming the cap, and the formation held.
fn assert_too_large(formation: &dynopilot::engine::FormationReport) {
    let error = formation.inputs[0].error.clone().expect("the input failed");
    assert_eq!(error.kind, "malformed", "{}", error.message);
    assert!(
        error.message.contains("larger than 1 MiB"),
        "the error names the limit: {}",
        error.message
    );
    assert_held_for_missing_input(formation, 5);
}

#[tokio::test]
async fn an_input_answering_5_mb_fails_naming_the_1_mib_limit() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(big_json(FIVE_MB), "application/json"),
        )
        .mount(&server)
        .await;
    let world = InputWorld::new(&app_metric_config(&server.uri()), &MapSecrets::default(), 5);

    let (_, formation) = world.run(at(9, 0)).await;

    assert_too_large(&formation);
    let error = formation.inputs[0].error.clone().expect("failed");
    assert!(
        error.message.contains("app metric http://"),
        "names the input: {}",
        error.message
    );
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_still_read() {
    let server = MockServer::start().await;
    let mut body = b"{\"n\": 7, \"pad\": \"".to_vec();
    body.resize(INPUT_BODY_LIMIT - 2, b'x');
    body.extend_from_slice(b"\"}");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let config = valid_config(&app_metric_config(&server.uri()));
    let source = only_source(&config, &MapSecrets::default()).expect("source builds");

    assert_eq!(source.fetch(at(9, 0)).await, Ok(7.0));
}

#[tokio::test]
async fn an_endless_chunked_body_fails_at_the_limit_instead_of_being_buffered() {
    let (url, sent) = endless_server(Framing::Chunked).await;
    let world = InputWorld::new(&app_metric_config(&url), &MapSecrets::default(), 5);

    let (_, formation) = world.run(at(9, 0)).await;

    assert_too_large(&formation);
    assert!(
        sent.load(Ordering::Relaxed) < FIVE_MB * 4,
        "the read stopped early"
    );
}

#[tokio::test]
async fn a_body_without_any_length_fails_at_the_limit() {
    let (url, _) = endless_server(Framing::UntilClose).await;
    let world = InputWorld::new(&app_metric_config(&url), &MapSecrets::default(), 5);

    let (_, formation) = world.run(at(9, 0)).await;

    assert_too_large(&formation);
}

#[tokio::test]
async fn a_json_api_input_answering_an_endless_body_fails_at_the_limit() {
    // The shared JSON path (New Relic, NerdGraph, Pingdom).
    let (url, _) = endless_server(Framing::Chunked).await;
    let secrets = MapSecrets::default().with("BODY_LIMIT_NR_KEY", "NRAK-BODYLIMIT0123456789");
    let world = InputWorld::new(
        &shop_input_config(&format!(
            r#"type = "new_relic"
app_id = 12345
api_key = "env:BODY_LIMIT_NR_KEY"
base_url = "{url}"
timeout = "20s""#
        )),
        &secrets,
        5,
    );

    let (_, formation) = world.run(at(9, 0)).await;

    assert_too_large(&formation);
    let error = formation.inputs[0].error.clone().expect("failed");
    assert!(error.message.starts_with("New Relic"), "{}", error.message);
}

#[tokio::test]
async fn a_probe_of_an_endless_page_fails_at_the_limit() {
    let (url, _) = endless_server(Framing::Chunked).await;
    let world = InputWorld::new(
        &shop_input_config(&format!(
            r#"type = "http_probe"
url = "{url}/health"
probe_timeout = "15s"
timeout = "20s"
per_dyno = 100"#
        )),
        &MapSecrets::default(),
        5,
    );

    let (_, formation) = world.run(at(9, 0)).await;

    assert_too_large(&formation);
}

#[tokio::test]
async fn a_heroku_formation_list_of_5_mb_fails_the_read_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Remaining", "4000")
                .set_body_raw(big_json(FIVE_MB), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = heroku_formation_error(&server.uri()).await;

    assert_eq!(err.kind, ScaleErrorKind::Other, "{}", err.message);
    assert!(err.message.contains("larger than 1 MiB"), "{}", err.message);
    assert!(err.message.contains("example-app"), "{}", err.message);
}

#[tokio::test]
async fn an_endless_heroku_answer_fails_at_the_limit() {
    let (url, _) = endless_server(Framing::Chunked).await;
    let err = heroku_formation_error(&url).await;

    assert!(err.message.contains("larger than 1 MiB"), "{}", err.message);
}

/// `GET /apps/example-app/formation` against `base_url`, expected to fail.
async fn heroku_formation_error(base_url: &str) -> dynopilot::scaler::ScaleError {
    let http = dynopilot::wiring::http_client().expect("http client");
    let heroku = HerokuScaler::new(
        http,
        base_url,
        SecretString::from("heroku-body-limit-token"),
        Duration::from_secs(5),
    )
    .expect("valid base url");
    heroku
        .formation("example-app")
        .await
        .expect_err("too large")
}
