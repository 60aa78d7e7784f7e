//! The real Lambda runtime loop: the built `dynopilot-lambda` binary polls the
//! Runtime API served by `cargo lambda watch --only-lambda-apis`, and every file
//! in events/ is sent with `cargo lambda invoke`, state in DynamoDB on moto.
//! (`--only-lambda-apis` because a nested `cargo build` inside `cargo test`
//! would wait on the build directory lock; the binary is already built.)

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::aws::{assert_dry_run_changed_nothing, aws, demo_config_on_heroku, moto_url, table};
use crate::helpers::HerokuFake;

pub(crate) fn cargo_lambda() -> PathBuf {
    std::env::var("DYNOPILOT_TEST_CARGO_LAMBDA").map(PathBuf::from).unwrap_or_else(|_| {
        panic!("DYNOPILOT_TEST_CARGO_LAMBDA is not set: run tests/run (it installs cargo-lambda into .venv)")
    })
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills the child when the test ends, pass or fail.
pub(crate) struct Guard(pub(crate) Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn wait_for(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

fn invoke(port: u16, file: &str) -> (bool, String) {
    let file = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    invoke_with(port, &["--data-file", &file])
}

/// `cargo lambda invoke` with these data arguments.
fn invoke_with(port: u16, data: &[&str]) -> (bool, String) {
    let out = Command::new(cargo_lambda())
        .args([
            "lambda",
            "invoke",
            "_",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .args(data)
        .output()
        .expect("cargo lambda invoke runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_file_through_the_lambda_runtime_gives_its_documented_response() {
    // GIVEN a table on moto, the Runtime API emulator and the function polling it
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let port = free_port();
    let _api = Guard(
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
    );
    wait_for(port).await;
    // Heroku reads: the scheduled run, the dry run and the paused evaluate.
    let token = "heroku-token-for-the-lambda-test";
    let heroku = HerokuFake::start(token).await;
    heroku.app("demo-app", &[("web", 1)], 3, 1).await;
    // A flat sine (500 all day: 5 dynos): scheduled.json's 2026-01-05 time is
    // far off the clock, so the run is at the clock, whatever minute that is.
    let demo = demo_config_on_heroku(&heroku.uri()).replace("amplitude = 400", "amplitude = 0");
    let _function = Guard(
        Command::new(env!("CARGO_BIN_EXE_dynopilot-lambda"))
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
            .env("DYNOPILOT_CONFIG", demo)
            .env("DYNOPILOT_TABLE", &name)
            .env("HEROKU_API_TOKEN", token)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the function starts"),
    );

    // WHEN each event file is invoked (THEN its documented response comes back)
    let (ok, out) = invoke(port, "scheduled.json");
    assert!(ok, "{out}");
    let scheduled = json(&out);
    assert_eq!(
        scheduled["event_id"],
        "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"
    );
    assert_eq!(
        scheduled["clock"]["reason"], "event_time_off_clock",
        "{scheduled}"
    );
    assert_eq!(
        scheduled["formations"][0]["outcome"], "scaled_up",
        "{scheduled}"
    );

    let (ok, out) = invoke(port, "scheduled.json");
    assert!(ok, "{out}");
    assert_eq!(json(&out)["formations"][0]["outcome"], "duplicate");

    assert_eq!(heroku.requests("PATCH").await.len(), 1, "one scale so far");

    // Someone scaled web to 0 by hand, below min 1: this run would scale up.
    heroku.set("demo-app", "web", 0);
    let (ok, out) = invoke(port, "evaluate-dry-run.json");
    assert!(ok, "{out}");
    let dry = json(&out);
    assert_dry_run_changed_nothing(&dry, &heroku).await;

    let (ok, out) = invoke(port, "pause.json");
    assert!(ok, "{out}");
    assert!(json(&out)["paused"]["paused_until"].is_string(), "{out}");

    let (ok, out) = invoke(port, "status.json");
    assert!(ok, "{out}");
    let status = json(&out);
    assert_eq!(status["formations"][0]["name"], "demo-app/web");
    assert_eq!(
        status["formations"][0]["last_scales"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let (ok, out) = invoke(port, "evaluate.json");
    assert!(ok, "{out}");
    assert_eq!(json(&out)["formations"][0]["outcome"], "paused");

    let (ok, out) = invoke(port, "resume.json");
    assert!(ok, "{out}");
    assert!(json(&out)["resumed"]["paused_until"].is_null(), "{out}");

    let (ok, out) = invoke(port, "invalid-unknown-action.json");
    assert!(!ok, "an unknown action must fail: {out}");
    assert!(
        out.contains("InvalidEvent") && out.contains("unknown action"),
        "{out}"
    );

    // A payload that is not JSON: the same stable error type, not the runtime's.
    let (ok, out) = invoke_with(port, &["--data-ascii", "this is not json"]);
    assert!(!ok, "a payload that is not JSON must fail: {out}");
    assert!(
        out.contains("InvalidEvent") && out.contains("not JSON"),
        "{out}"
    );

    // AND the DynamoDB item holds what the README says
    let item = client
        .get_item()
        .table_name(&name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("demo-app#web".into()),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("get")
        .item
        .expect("the formation's item");
    let state: Value =
        serde_json::from_str(item["state"].as_s().expect("state is a string")).expect("state JSON");
    assert_eq!(
        state["last_event"].as_str().map(str::len),
        Some(36),
        "the last event id: {state}"
    );
    assert_eq!(state["history"]["events"].as_array().map(Vec::len), Some(1));
    assert!(state["window"]["inputs"]["traffic"]["samples"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    assert!(state.get("paused_until").is_none(), "resumed: {state}");
    assert!(
        state.get("pending").is_none(),
        "no claim left behind: {state}"
    );
    assert!(
        item["version"]
            .as_n()
            .expect("N")
            .parse::<u64>()
            .expect("number")
            >= 5
    );
    assert!(item.contains_key("expires_at"));
    assert_eq!(heroku.quantity("demo-app", "web"), Some(0));
    heroku.verify().await;
}
