//! The drain end to end, through the real runtime loop: Logplex POSTs (the
//! fake Logplex's framing and headers, `Authorization: Basic`) to the
//! `dynopilot-http` binary behind `cargo lambda watch`'s Function URL (which
//! delivers `application/logplex-1` bodies base64-encoded), aggregates in
//! DynamoDB on moto; then the `dynopilot-lambda` binary's scheduled run reads
//! the minute and scales the Heroku fake.
//!
//! After that run, `GET /status` through the same Function URL shows the page
//! of what it decided, behind its own Basic credentials.
//!
//! Two emulators (one per function) because each serves one function's
//! Runtime API; `--only-lambda-apis` because the binaries are already built.

use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{SubsecRound, Utc};
use serde_json::Value;

use crate::aws::{aws, moto_url, table};
use crate::helpers::HerokuFake;
use crate::lambda::{cargo_lambda, free_port, wait_for, Guard};
use crate::logplex::{self, Traffic};

const CREDENTIALS: &str = "drain:s3cret-pass";
const STATUS_CREDENTIALS: &str = "status:an0ther-s3cret";
const TOKEN_A: &str = "d.0a6b856b-3332-4546-93de-7d0ee272c3bd";
const TOKEN_B: &str = "d.0b6b856b-3332-4546-93de-7d0ee272c3bd";
const TOKEN_C: &str = "d.0c6b856b-3332-4546-93de-7d0ee272c3bd";

fn emulator(port: u16) -> Guard {
    Guard(
        Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch starts"),
    )
}

fn function(binary: &str, port: u16, config: &str, table: &str) -> Guard {
    Guard(
        Command::new(binary)
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_ENDPOINT_URL", moto_url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("DYNOPILOT_CONFIG", config)
            .env("DYNOPILOT_TABLE", table)
            .env("HEROKU_API_TOKEN", "heroku-token-for-the-drain-test")
            .env("DRAIN_CREDENTIALS", CREDENTIALS)
            .env("STATUS_CREDENTIALS", STATUS_CREDENTIALS)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the function starts"),
    )
}

fn config(heroku: &str) -> String {
    format!(
        r#"
[scaler]
kind = "heroku"
token = "env:HEROKU_API_TOKEN"
base_url = "{heroku}"

[[formations]]
app = "app-a"
type = "web"
min = 1
max = 10
[[formations.inputs]]
name = "rpm"
type = "heroku_router"
metric = "requests"
per_dyno = 600

[[formations]]
app = "app-b"
type = "web"
min = 1
max = 10
[[formations.inputs]]
name = "h12"
type = "heroku_router"
metric = "errors"
code = "H12"
rule = "consecutive"
min = 1
max = 5
fails_to_scale_up = 1

[[formations]]
app = "app-c"
type = "web"
min = 1
max = 10
[[formations.inputs]]
name = "rpm"
type = "heroku_router"
per_dyno = 600

[status_page]
credentials = "env:STATUS_CREDENTIALS"

[[drains]]
app = "app-a"
token = "{TOKEN_A}"
credentials = "env:DRAIN_CREDENTIALS"

[[drains]]
app = "app-b"
token = "{TOKEN_B}"
credentials = "env:DRAIN_CREDENTIALS"

[[drains]]
app = "app-c"
token = "{TOKEN_C}"
credentials = "env:DRAIN_CREDENTIALS"
"#
    )
}

/// A client that gives up on a hung request (a function that failed its
/// cold start leaves the emulator waiting).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// POST one fake-Logplex POST to the Function URL, with these credentials.
async fn send(
    http: &reqwest::Client,
    port: u16,
    post: &logplex::Post,
    user_pass: Option<&str>,
) -> reqwest::StatusCode {
    let mut request = http.post(format!("http://127.0.0.1:{port}/lambda-url/_/drain"));
    for (name, value) in &post.headers {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // reqwest writes it
        }
        request = request.header(name, value);
    }
    if let Some(up) = user_pass {
        let (u, p) = up.split_once(':').expect("user:pass");
        request = request.basic_auth(u, Some(p));
    }
    // The very first request may meet the function still starting: retry 5xx a
    // few times, as Logplex does (3 tries), and a few more for the start.
    for _ in 0..8 {
        match request
            .try_clone()
            .expect("clonable")
            .body(post.body.clone())
            .send()
            .await
        {
            Ok(r) if r.status().is_server_error() => {}
            Ok(r) => return r.status(),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the Function URL kept failing");
}

async fn item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get")
        .item
}

fn n(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn scan_count(client: &aws_sdk_dynamodb::Client, table: &str) -> usize {
    client
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scan")
        .items()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_posts_through_the_function_url_get_the_status_logplex_needs_and_a_scheduled_run_scales_on_them(
) {
    // GIVEN a table on moto, the Heroku fake, both functions behind their emulators
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let heroku = HerokuFake::start("heroku-token-for-the-drain-test").await;
    heroku.app("app-a", &[("web", 2)], 1.., 1).await;
    heroku.app("app-b", &[("web", 2)], 1.., 1).await;
    heroku.app("app-c", &[("web", 2)], 1.., 0).await;
    let config = config(&heroku.uri());
    let (http_port, run_port) = (free_port(), free_port());
    let _http_api = emulator(http_port);
    let _run_api = emulator(run_port);
    wait_for(http_port).await;
    wait_for(run_port).await;
    let _http_fn = function(
        env!("CARGO_BIN_EXE_dynopilot-http"),
        http_port,
        &config,
        &name,
    );
    let _run_fn = function(
        env!("CARGO_BIN_EXE_dynopilot-lambda"),
        run_port,
        &config,
        &name,
    );
    let http = http_client();

    // The scheduled run will be at `now`; its last complete minute is `minute`.
    let now = Utc::now().trunc_subsecs(0);
    let minute = dynopilot::inputs::last_complete_minute(now);

    // WHEN app-a's router lines come at 3x its capacity (2 dynos x 600 rpm)
    let traffic_a = Traffic {
        start: minute,
        requests_per_second: 60.0,
        seed: 11,
        ..Traffic::default()
    };
    let generated = traffic_a.generate();
    let posts = logplex::batch(&generated.messages, TOKEN_A, 11);
    assert!(posts.len() > 3, "several POSTs: {}", posts.len());
    for post in &posts {
        assert_eq!(send(&http, http_port, post, Some(CREDENTIALS)).await, 200);
    }
    // AND one of them is resent (same frame id): 200, counted once
    assert_eq!(
        send(&http, http_port, &posts[0], Some(CREDENTIALS)).await,
        200
    );
    let a = item(&client, &name, &format!("drain#app-a#{minute}"))
        .await
        .expect("app-a's minute item");
    let truth = &generated.truth[&minute];
    assert_eq!(n(&a, "fr"), truth.frames, "every frame counted once");
    assert!(a.contains_key("expires_at"), "TTL on every item");
    let web = item(&client, &name, &format!("drain#app-a#{minute}#web"))
        .await
        .expect("app-a's web item");
    assert!(web.contains_key("expires_at"));
    // Nothing but counters: no path, host, IP or request id anywhere.
    let dump = format!("{a:?}{web:?}");
    for secret in ["herokuapp", "203.0.113", "request_id", "path"] {
        assert!(!dump.contains(secret), "{secret} stored: {dump}");
    }

    // AND app-b's router lines hold H12s (10 rps, 20 % H12: 120 a minute)
    let traffic_b = Traffic {
        start: minute,
        requests_per_second: 10.0,
        h12_share: 0.2,
        seed: 12,
        ..Traffic::default()
    };
    for post in logplex::batch(&traffic_b.generate().messages, TOKEN_B, 12) {
        assert_eq!(send(&http, http_port, &post, Some(CREDENTIALS)).await, 200);
    }
    // AND app-c sends nothing.

    // THEN the refused POSTs are refused with what Logplex needs, storing nothing
    let before = scan_count(&client, &name).await;
    let one = logplex::post(
        logplex::frame("<158>1 2026-11-22T07:40:01+00:00 host heroku router - at=info method=GET path=\"/\" host=x.herokuapp.com request_id=1 fwd=\"203.0.113.7\" dyno=web.1 connect=0ms service=42ms status=200 bytes=1 protocol=https\n"),
        1,
        TOKEN_C,
        "AAAA0000AAAA0000AAAA0000AAAA0001".into(),
    );
    assert_eq!(send(&http, http_port, &one, Some("drain:wrong")).await, 401);
    assert_eq!(send(&http, http_port, &one, None).await, 401);
    let wrong_token = logplex::post(
        one.body.clone(),
        1,
        TOKEN_A.replace("0a", "ff").as_str(),
        "AAAA0000AAAA0000AAAA0000AAAA0002".into(),
    );
    assert_eq!(
        send(&http, http_port, &wrong_token, Some(CREDENTIALS)).await,
        403
    );
    let big = logplex::post(
        one.body
            .repeat(dynopilot::http::DRAIN_BODY_LIMIT / one.body.len() + 1),
        0,
        TOKEN_C,
        "AAAA0000AAAA0000AAAA0000AAAA0003".into(),
    );
    assert_eq!(send(&http, http_port, &big, Some(CREDENTIALS)).await, 413);
    assert_eq!(scan_count(&client, &name).await, before, "nothing stored");

    // AND garbage is 200 with nothing stored (a 4xx would only lose it for good)
    let garbage = logplex::post(
        b"\x00\x01 not a frame at all ### 99999".to_vec(),
        1,
        TOKEN_C,
        "AAAA0000AAAA0000AAAA0000AAAA0004".into(),
    );
    assert_eq!(
        send(&http, http_port, &garbage, Some(CREDENTIALS)).await,
        200
    );
    assert_eq!(
        scan_count(&client, &name).await,
        before,
        "garbage stores nothing"
    );

    // THEN the scheduled run reads the minute: app-a 3x capacity -> up to 6;
    // app-b's H12s with `consecutive` -> up; app-c, no frame -> held, saying why
    let event = serde_json::json!({
        "version": "0",
        "id": "0c2b4e7e-6a55-4cf0-9d5e-7b1f4f1a2b3c",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "detail": {}
    });
    let out = Command::new(cargo_lambda())
        .args([
            "lambda",
            "invoke",
            "_",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(run_port.to_string())
        .args(["--data-ascii", &event.to_string()])
        .output()
        .expect("cargo lambda invoke runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(text.trim()).expect("the report is JSON");
    let formation = |app: &str| -> &Value {
        report["formations"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == format!("{app}/web")))
            .unwrap_or_else(|| panic!("{app} in {report}"))
    };
    assert_eq!(formation("app-a")["outcome"], "scaled_up", "{report}");
    assert_eq!(heroku.quantity("app-a", "web"), Some(6), "ceil(3600 / 600)");
    assert_eq!(formation("app-b")["outcome"], "scaled_up", "{report}");
    assert!(heroku.quantity("app-b", "web") > Some(2));
    assert_eq!(heroku.quantity("app-c", "web"), Some(2), "held: {report}");
    let c = formation("app-c").to_string();
    assert!(
        c.contains("no log frame from app-c"),
        "the reason says why: {c}"
    );
    heroku.verify().await;

    // AND GET /status through the Function URL: 401 without the page's own
    // credentials (a drain's do not open it), the page of that run with them
    let status_url = format!("http://127.0.0.1:{http_port}/lambda-url/_/status");
    for user_pass in [None, Some(CREDENTIALS), Some("status:wrong")] {
        let mut request = http.get(&status_url);
        if let Some((u, p)) = user_pass.and_then(|up| up.split_once(':')) {
            request = request.basic_auth(u, Some(p));
        }
        let answer = request.send().await.expect("GET /status");
        assert_eq!(answer.status(), 401, "{user_pass:?}");
        let challenge = answer
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(challenge.starts_with("Basic realm="), "{challenge:?}");
        assert!(!answer.text().await.unwrap_or_default().contains("app-a"));
    }
    let (u, p) = STATUS_CREDENTIALS.split_once(':').expect("user:pass");
    let answer = http
        .get(&status_url)
        .basic_auth(u, Some(p))
        .send()
        .await
        .expect("GET /status");
    assert_eq!(answer.status(), 200);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("cache-control"), "no-store");
    assert!(
        header("content-type").starts_with("text/html"),
        "{}",
        header("content-type")
    );
    let page = answer.text().await.expect("the page");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    for app in ["app-a/web", "app-b/web", "app-c/web"] {
        assert!(page.contains(app), "{app} on the page");
    }
    assert!(page.contains("<svg"), "a chart of the run");
    assert!(
        page.contains("no log frame from app-c"),
        "the last decision's reason is on the page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frames_duplicates_and_l10_through_the_function_url() {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let config = config("http://127.0.0.1:9");
    let port = free_port();
    let _api = emulator(port);
    wait_for(port).await;
    let _fn = function(env!("CARGO_BIN_EXE_dynopilot-http"), port, &config, &name);
    let http = http_client();
    let minute = dynopilot::inputs::last_complete_minute(Utc::now());
    let at = chrono::DateTime::<Utc>::from_timestamp(minute + 5, 0)
        .expect("time")
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string();
    let line = format!("<158>1 {at} host heroku router - at=info method=GET path=\"/\" host=x.herokuapp.com request_id=1 fwd=\"203.0.113.7\" dyno=web.1 connect=0ms service=42ms status=200 bytes=1 protocol=https\n");

    // A truncated frame after two good ones: 200, the two counted.
    let mut body = logplex::frame(&line);
    body.extend(logplex::frame(&line));
    body.extend(format!("{} {}", line.len() + 40, line).into_bytes());
    let truncated = logplex::post(body, 3, TOKEN_C, "BBBB0000BBBB0000BBBB0000BBBB0001".into());
    assert_eq!(send(&http, port, &truncated, Some(CREDENTIALS)).await, 200);
    let key = format!("drain#app-c#{minute}");
    assert_eq!(n(&item(&client, &name, &key).await.expect("item"), "fr"), 2);

    // The same frame id again: 200, nothing added.
    assert_eq!(send(&http, port, &truncated, Some(CREDENTIALS)).await, 200);
    assert_eq!(n(&item(&client, &name, &key).await.expect("item"), "fr"), 2);

    // An L10 frame (no trailing newline): 200, the minute marked incomplete.
    let l10 = format!("<172>1 {at} host heroku logplex - Error L10 (output buffer overflow): 7 messages dropped since {at}.");
    let post = logplex::post(
        logplex::frame(&l10),
        1,
        TOKEN_C,
        "BBBB0000BBBB0000BBBB0000BBBB0002".into(),
    );
    assert_eq!(send(&http, port, &post, Some(CREDENTIALS)).await, 200);
    let stored = item(&client, &name, &key).await.expect("item");
    assert_eq!(n(&stored, "l10"), 7);
    assert_eq!(n(&stored, "fr"), 3);
}
