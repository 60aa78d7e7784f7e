//! The operator's verbs (`status`, `pause`, `resume`, `init`) run as the
//! `dynopilot` process: over the file store, over DynamoDB on moto, and `init`
//! against a Heroku fake that follows the contract.

use assert_cmd::Command;
use chrono::{TimeDelta, Utc};
use dynopilot::store::{DynamoDbStateStore, StateStore};
use predicates::prelude::PredicateBooleanExt;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::aws::{aws, moto_url, table};

fn dynopilot() -> Command {
    Command::cargo_bin("dynopilot").expect("binary built")
}

/// A formation `shop-api/web` at 250 requests per minute, 100 per dyno: a run
/// scales it from 1 to 3. State in `state`, the local scaler.
fn file_config(state: &std::path::Path) -> String {
    format!(
        r#"
[state]
kind = "file"
path = "{}"

[[formations]]
app = "shop-api"
type = "web"
min = 1
max = 10

[[formations.inputs]]
name = "rpm"
type = "constant"
value = 250
per_dyno = 100
"#,
        state.display()
    )
}

fn json_out(cmd: &mut Command) -> Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

fn text_out(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&cmd.assert().success().get_output().stdout).into_owned()
}

#[test]
fn status_pause_and_resume_over_the_file_store() {
    // GIVEN a config whose formation one run scales from 1 to 3
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dynopilot.toml");
    std::fs::write(&config, file_config(&dir.path().join("state.json"))).expect("write");
    let with_config = |verb: &str| {
        let mut cmd = dynopilot();
        cmd.arg(verb).arg("--config").arg(&config);
        cmd
    };

    // WHEN nothing ran yet, status says so
    let before = text_out(&mut with_config("status"));
    assert!(before.contains("shop-api/web (shop-api web)"), "{before}");
    assert!(
        before.contains("count:    unknown (no run recorded yet)"),
        "{before}"
    );

    // WHEN one run scales it
    let report = json_out(with_config("run").arg("--once"));
    assert_eq!(report["formations"][0]["outcome"], "scaled_up", "{report}");

    // THEN status shows the count, the decision with its reason, no pause
    let status = json_out(with_config("status").arg("--json"));
    let f = &status["formations"][0];
    assert_eq!(f["name"], "shop-api/web");
    assert_eq!(f["current"]["quantity"], 3, "{f}");
    assert_eq!(f["paused_until"], Value::Null);
    let decision = &f["last_decisions"][0];
    assert_eq!(
        (decision["current"].as_u64(), decision["target"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(decision["reason"]["code"], "load_above", "{decision}");
    let table = text_out(&mut with_config("status"));
    assert!(table.contains("count:    3 (as of "), "{table}");
    assert!(table.contains("paused:   no"), "{table}");
    assert!(
        table.contains("1 -> 3  load_above: rpm: capacity"),
        "{table}"
    );

    // WHEN it is paused for 2h
    let paused = text_out(with_config("pause").args(["--for", "2h"]));
    assert!(
        paused.starts_with("shop-api/web: paused until "),
        "{paused}"
    );
    let status = json_out(with_config("status").arg("--json"));
    let until: chrono::DateTime<Utc> =
        serde_json::from_value(status["formations"][0]["paused_until"].clone()).expect("a time");
    let left = until - Utc::now();
    assert!(
        left > TimeDelta::minutes(119) && left <= TimeDelta::hours(2),
        "{left}"
    );
    assert!(text_out(&mut with_config("status")).contains("paused:   until "));

    // THEN a run reports the pause (it decides, but would not scale)
    let report = json_out(with_config("run").arg("--once"));
    assert_eq!(report["formations"][0]["outcome"], "paused", "{report}");

    // WHEN resumed, the pause is gone and the next run scales
    assert_eq!(
        text_out(&mut with_config("resume")),
        "shop-api/web: resumed\n"
    );
    let status = json_out(with_config("status").arg("--json"));
    assert_eq!(status["formations"][0]["paused_until"], Value::Null);
    let report = json_out(with_config("run").arg("--once"));
    assert_eq!(report["formations"][0]["outcome"], "hold", "{report}");
}

#[test]
fn an_unknown_formation_is_refused_by_name_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dynopilot.toml");
    let state = dir.path().join("state.json");
    std::fs::write(&config, file_config(&state)).expect("write");
    dynopilot()
        .args([
            "pause",
            "--for",
            "1h",
            "--formation",
            "shop-api/worker",
            "--config",
        ])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(
            predicates::str::contains("\"shop-api/worker\"")
                .and(predicates::str::contains("shop-api/web")),
        );
    assert!(!state.exists(), "nothing may be written");
    dynopilot()
        .args(["pause", "--for", "0s", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--for must be more than 0"));
    assert!(!state.exists(), "nothing may be written");
}

#[tokio::test]
async fn status_pause_and_resume_over_dynamodb_on_moto() {
    // GIVEN a config keeping state in a DynamoDB table on moto
    let aws = aws().await;
    let (client, name) = table(&aws).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dynopilot.toml");
    std::fs::write(
        &config,
        file_config(&dir.path().join("unused.json")).replace(
            &format!(
                "kind = \"file\"\npath = \"{}\"",
                dir.path().join("unused.json").display()
            ),
            &format!("kind = \"dynamodb\"\ntable = \"{name}\""),
        ),
    )
    .expect("write");
    let store = DynamoDbStateStore::new(client, name);
    let cli = |args: &[&str]| {
        let mut cmd = dynopilot();
        cmd.args(args)
            .arg("--config")
            .arg(&config)
            .env("AWS_ENDPOINT_URL", moto_url())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("DYNOPILOT_TABLE");
        cmd
    };

    // WHEN paused for 30 minutes
    let out = text_out(&mut cli(&["pause", "--for", "30m"]));
    assert!(out.starts_with("shop-api/web: paused until "), "{out}");

    // THEN the item in the table holds the pause
    let stored = store
        .load("shop-api#web")
        .await
        .expect("load")
        .expect("item written");
    let left = stored.value.paused_until.expect("paused") - Utc::now();
    assert!(
        left > TimeDelta::minutes(29) && left <= TimeDelta::minutes(30),
        "{left}"
    );
    let status = json_out(&mut cli(&["status", "--json"]));
    assert_eq!(
        status["formations"][0]["paused_until"],
        json!(stored.value.paused_until),
        "{status}"
    );
    assert_eq!(status["formations"][0]["version"], json!(stored.version));

    // WHEN resumed, the item no longer holds a pause
    assert_eq!(text_out(&mut cli(&["resume"])), "shop-api/web: resumed\n");
    let stored = store
        .load("shop-api#web")
        .await
        .expect("load")
        .expect("item");
    assert_eq!(stored.value.paused_until, None);
    assert_eq!(stored.version, 2);
}

/// `dynopilot init --app shop-api --token-env VAR --out FILE`.
fn init_shop_api(token_env: &str, out: &std::path::Path) -> Command {
    let mut cmd = dynopilot();
    cmd.args([
        "init",
        "--app",
        "shop-api",
        "--token-env",
        token_env,
        "--out",
    ])
    .arg(out);
    cmd
}

fn formation(kind: &str, quantity: u32) -> Value {
    json!({
        "app": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "shop-api"},
        "command": "bundle exec puma", "created_at": "2026-01-01T12:00:00Z",
        "dyno_size": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "Standard-1X"},
        "id": "01234567-89ab-cdef-0123-456789abcde0", "quantity": quantity,
        "size": "Standard-1X", "type": kind, "updated_at": "2026-01-01T12:00:00Z"
    })
}

#[tokio::test]
async fn init_with_a_token_writes_one_block_per_process_type_that_passes_check_config() {
    // GIVEN a Heroku app with a web and a worker process type
    let heroku = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apps/shop-api/formation"))
        .and(header("Authorization", "Bearer init-test-token"))
        .and(header("Accept", "application/vnd.heroku+json; version=3"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Remaining", "4499")
                .set_body_json(json!([formation("web", 3), formation("worker", 1)])),
        )
        .expect(1)
        .mount(&heroku)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("dynopilot.toml");

    // WHEN init reads it
    init_shop_api("INIT_TEST_TOKEN", &out)
        .args(["--base-url", &heroku.uri()])
        .env("INIT_TEST_TOKEN", "init-test-token")
        .assert()
        .success();

    // THEN the config has both types, passes check-config, and holds no token
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(!text.contains("init-test-token"));
    assert!(text.contains("token = \"env:INIT_TEST_TOKEN\""), "{text}");
    let described = json_out(dynopilot().arg("check-config").arg(&out));
    let formations = described["formations"].as_array().expect("formations");
    let shape: Vec<(String, Value, Value, String)> = formations
        .iter()
        .map(|f| {
            (
                f["type"].as_str().unwrap_or_default().to_string(),
                f["min"].clone(),
                f["max"].clone(),
                f["inputs"][0]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("web".into(), json!(1), json!(6), "http_probe".into()),
            ("worker".into(), json!(1), json!(3), "redis_queue".into())
        ]
    );
    assert_eq!(described["dry_run"], true);

    // AND it never overwrites a file without --force
    dynopilot()
        .args(["init", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--force"));
}

#[test]
fn init_without_a_token_writes_the_demo_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("demo.toml");
    init_shop_api("DYNOPILOT_TEST_UNSET_TOKEN", &out)
        .env_remove("DYNOPILOT_TEST_UNSET_TOKEN")
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "DYNOPILOT_TEST_UNSET_TOKEN is not set",
        ));
    assert_eq!(
        std::fs::read_to_string(&out).expect("written"),
        dynopilot::config::DEMO_CONFIG
    );
    dynopilot().arg("check-config").arg(&out).assert().success();
}

#[test]
fn every_operator_verb_has_help_with_an_example() {
    for verb in ["status", "pause", "resume", "init"] {
        let help = String::from_utf8_lossy(
            &dynopilot()
                .args([verb, "--help"])
                .assert()
                .success()
                .get_output()
                .stdout,
        )
        .into_owned();
        assert!(
            help.contains("Example:") && help.contains(&format!("dynopilot {verb}")),
            "{verb}: {help}"
        );
    }
}
