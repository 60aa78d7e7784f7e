//! `redis_queue` against a real redis-server started by tests/run (plain, TLS
//! with a self-signed certificate, and a second instance with a password).
//! Every test writes under its own key prefix, so they run in parallel.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::helpers::*;

/// An address exported by tests/run.
fn service(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{var} is not set: run tests/run (it starts redis-server)"),
    }
}

fn plain_url() -> String {
    service("DYNOPILOT_TEST_REDIS_URL")
}

/// A connection for arranging data, after clearing every key under `prefix`.
fn seed(prefix: &str) -> redis::Connection {
    let client = redis::Client::open(plain_url()).expect("redis url");
    let mut con = client.get_connection().expect("redis-server answers");
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut con)
        .expect("KEYS");
    for key in keys {
        let _: () = redis::cmd("DEL").arg(key).query(&mut con).expect("DEL");
    }
    con
}

fn lpush(con: &mut redis::Connection, key: &str, items: &[String]) {
    for item in items {
        let _: () = redis::cmd("LPUSH")
            .arg(key)
            .arg(item)
            .query(con)
            .expect("LPUSH");
    }
}

fn jobs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{{\"id\":{i}}}")).collect()
}

fn queue_config(extra: &str) -> String {
    shop_input_config(&format!(
        r#"type = "redis_queue"
url = "env:REDIS_URL"
{extra}"#
    ))
}

fn secrets(url: &str) -> MapSecrets {
    MapSecrets::default().with("REDIS_URL", url)
}

async fn fetch(
    url: &str,
    extra: &str,
    now: DateTime<Utc>,
) -> Result<f64, dynopilot::inputs::SourceError> {
    let config = valid_config(&queue_config(extra));
    let source = only_source(&config, &secrets(url)).expect("source builds");
    source.fetch(now).await
}

async fn assert_fails_and_holds(
    url: &str,
    extra: &str,
    kind: &str,
) -> (InputWorld, dynopilot::engine::Report) {
    let world = InputWorld::new(&queue_config(extra), &secrets(url), 5);
    let (report, formation) = world.run(at(9, 0)).await;
    assert_eq!(
        input_error_kind(&formation).as_deref(),
        Some(kind),
        "{}",
        formation.summary()
    );
    assert_held_for_missing_input(&formation, 5);
    assert!(world.scaler.scales().is_empty());
    (world, report)
}

/// A Sidekiq job as Sidekiq < 8 writes it: times in float epoch seconds.
fn sidekiq7_job(enqueued_at: DateTime<Utc>) -> String {
    json!({"class": "HardWorker", "args": [1], "jid": "b4a577edbccf1d805744efa9",
           "created_at": enqueued_at.timestamp_millis() as f64 / 1000.0 - 5.0,
           "enqueued_at": enqueued_at.timestamp_millis() as f64 / 1000.0})
    .to_string()
}

/// A Sidekiq job as Sidekiq >= 8 writes it: times in integer epoch ms.
fn sidekiq8_job(enqueued_at: DateTime<Utc>) -> String {
    json!({"class": "HardWorker", "args": [1], "jid": "0f5e3b1c2d4a6b8c9d0e1f2a",
           "created_at": enqueued_at.timestamp_millis() - 5000,
           "enqueued_at": enqueued_at.timestamp_millis()})
    .to_string()
}

#[tokio::test]
async fn celery_length_sums_each_queue_and_its_priority_sub_queues() {
    let mut con = seed("t-celery-sum:");
    lpush(&mut con, "t-celery-sum:celery", &jobs(3));
    lpush(&mut con, "t-celery-sum:celery\x06\x163", &jobs(2));
    lpush(&mut con, "t-celery-sum:celery\x06\x166", &jobs(1));
    lpush(&mut con, "t-celery-sum:celery\x06\x169", &jobs(4));
    lpush(&mut con, "t-celery-sum:mail", &jobs(2));
    // Lists kombu keeps beside the queues are not waiting jobs.
    lpush(&mut con, "t-celery-sum:unacked_index", &jobs(7));
    lpush(&mut con, "t-celery-sum:other", &jobs(9));
    let world = InputWorld::new(
        &queue_config(
            r#"flavor = "celery"
queues = ["celery", "mail"]
key_prefix = "t-celery-sum:"
per_dyno = 4"#,
        ),
        &secrets(&plain_url()),
        1,
    );

    let (_, formation) = world.run(at(9, 0)).await;

    // 3 + 2 + 1 + 4 + 2 = 12 jobs at 4 per dyno: 3 dynos.
    assert_eq!(formation.inputs[0].sample, Some(12.0));
    assert_eq!(formation.target, Some(3), "{}", formation.summary());
    assert_eq!(world.quantity(), Some(3));
}

#[tokio::test]
async fn celery_reads_the_celery_queue_by_default() {
    let mut con = seed("t-celery-default:");
    lpush(&mut con, "t-celery-default:celery", &jobs(5));

    let jobs = fetch(
        &plain_url(),
        "flavor = \"celery\"\nkey_prefix = \"t-celery-default:\"\nper_dyno = 1",
        at(9, 0),
    )
    .await;

    assert_eq!(jobs, Ok(5.0));
}

#[tokio::test]
async fn sidekiq_length_sums_the_queue_lists() {
    let mut con = seed("t-sk-len:");
    lpush(&mut con, "t-sk-len:queue:default", &jobs(4));
    lpush(&mut con, "t-sk-len:queue:critical", &jobs(3));
    lpush(&mut con, "t-sk-len:queue:low", &jobs(50));
    let world = InputWorld::new(
        &queue_config(
            r#"flavor = "sidekiq"
queues = ["default", "critical"]
key_prefix = "t-sk-len:"
per_dyno = 2"#,
        ),
        &secrets(&plain_url()),
        1,
    );

    let (_, formation) = world.run(at(9, 0)).await;

    assert_eq!(formation.inputs[0].sample, Some(7.0));
    assert_eq!(formation.target, Some(4), "{}", formation.summary());
}

#[tokio::test]
async fn sidekiq_reads_the_default_queue_by_default() {
    let mut con = seed("t-sk-default:");
    lpush(&mut con, "t-sk-default:queue:default", &jobs(2));

    let jobs = fetch(
        &plain_url(),
        "flavor = \"sidekiq\"\nkey_prefix = \"t-sk-default:\"\nper_dyno = 1",
        at(9, 0),
    )
    .await;

    assert_eq!(jobs, Ok(2.0));
}

#[tokio::test]
async fn sidekiq_latency_is_the_oldest_jobs_age_max_over_queues_in_both_time_formats() {
    let now = at(9, 0);
    let mut con = seed("t-sk-lat:");
    // LPUSH puts new jobs at the head, so the first pushed is the oldest (index -1).
    lpush(
        &mut con,
        "t-sk-lat:queue:default",
        &[
            sidekiq7_job(now - TimeDelta::milliseconds(42_500)),
            sidekiq7_job(now - TimeDelta::seconds(1)),
        ],
    );
    lpush(
        &mut con,
        "t-sk-lat:queue:mailers",
        &[
            sidekiq8_job(now - TimeDelta::seconds(90)),
            sidekiq8_job(now - TimeDelta::seconds(2)),
        ],
    );
    let settings = r#"flavor = "sidekiq"
metric = "latency"
key_prefix = "t-sk-lat:"
per_dyno = 30"#;

    let default_only = fetch(
        &plain_url(),
        &format!("{settings}\nqueues = [\"default\"]"),
        now,
    )
    .await;
    let mailers_only = fetch(
        &plain_url(),
        &format!("{settings}\nqueues = [\"mailers\"]"),
        now,
    )
    .await;
    let world = InputWorld::new(
        &queue_config(&format!("{settings}\nqueues = [\"default\", \"mailers\"]")),
        &secrets(&plain_url()),
        1,
    );
    let (_, formation) = world.run(now).await;

    assert_eq!(default_only, Ok(42.5), "float epoch seconds (Sidekiq < 8)");
    assert_eq!(mailers_only, Ok(90.0), "integer epoch ms (Sidekiq >= 8)");
    // The max, 90 s, at 30 s per dyno: 3 dynos.
    assert_eq!(formation.inputs[0].sample, Some(90.0));
    assert_eq!(formation.target, Some(3), "{}", formation.summary());
}

#[tokio::test]
async fn sidekiq_latency_of_empty_queues_is_zero() {
    seed("t-sk-empty:");

    let latency = fetch(
        &plain_url(),
        "flavor = \"sidekiq\"\nmetric = \"latency\"\nkey_prefix = \"t-sk-empty:\"\nqueues = [\"default\", \"low\"]\nper_dyno = 30",
        at(9, 0),
    )
    .await;

    assert_eq!(latency, Ok(0.0));
}

#[tokio::test]
async fn a_sidekiq_job_without_an_epoch_time_is_malformed() {
    let mut con = seed("t-sk-badjob:");
    lpush(
        &mut con,
        "t-sk-badjob:queue:default",
        &["not json at all".to_string()],
    );

    let err = expect_kind(
        fetch(
            &plain_url(),
            "flavor = \"sidekiq\"\nmetric = \"latency\"\nkey_prefix = \"t-sk-badjob:\"\nper_dyno = 30",
            at(9, 0),
        )
        .await,
        "malformed",
    );

    assert!(err.message.contains("queue:default"), "{err}");
}

#[tokio::test]
async fn a_queue_key_that_is_not_a_list_is_malformed_and_holds() {
    let mut con = seed("t-wrongtype:");
    let _: () = redis::cmd("SET")
        .arg("t-wrongtype:queue:default")
        .arg("surprise")
        .query(&mut con)
        .expect("SET");

    let (_, report) = assert_fails_and_holds(
        &plain_url(),
        "flavor = \"sidekiq\"\nkey_prefix = \"t-wrongtype:\"\nper_dyno = 2",
        "malformed",
    )
    .await;

    let message = &report.formations[0].inputs[0]
        .error
        .as_ref()
        .expect("error")
        .message;
    assert!(message.contains("WRONGTYPE"), "{message}");
}

#[tokio::test]
async fn rediss_with_tls_insecure_reads_a_server_with_a_self_signed_certificate() {
    let url = service("DYNOPILOT_TEST_REDISS_URL");
    let mut con = seed("t-tls-ok:");
    lpush(&mut con, "t-tls-ok:queue:default", &jobs(6));

    let jobs = fetch(
        &url,
        "flavor = \"sidekiq\"\nkey_prefix = \"t-tls-ok:\"\ntls_insecure = true\nper_dyno = 2",
        at(9, 0),
    )
    .await;

    assert_eq!(jobs, Ok(6.0));
}

#[tokio::test]
async fn rediss_without_tls_insecure_refuses_the_self_signed_certificate_and_holds() {
    let url = service("DYNOPILOT_TEST_REDISS_URL");
    seed("t-tls-refused:");

    let (_, report) = assert_fails_and_holds(
        &url,
        "flavor = \"sidekiq\"\nkey_prefix = \"t-tls-refused:\"\nper_dyno = 2",
        "setup",
    )
    .await;

    let message = &report.formations[0].inputs[0]
        .error
        .as_ref()
        .expect("error")
        .message;
    assert!(message.contains("certificate"), "{message}");
    assert!(message.contains("tls_insecure = true"), "{message}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_holds() {
    assert_fails_and_holds(
        &closed_port_url("redis"),
        "flavor = \"celery\"\nper_dyno = 2",
        "unavailable",
    )
    .await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_holds() {
    // Accepts connections and says nothing, like a server behind a dead link.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("redis://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });

    assert_fails_and_holds(
        &url,
        "flavor = \"celery\"\nper_dyno = 2\ntimeout = \"1s\"",
        "timeout",
    )
    .await;
}

/// The password-protected instance's URL with its password replaced.
fn auth_url_with_password(password: &str) -> (String, String) {
    let url = service("DYNOPILOT_TEST_REDIS_AUTH_URL");
    let rest = url
        .strip_prefix("redis://:")
        .expect("redis://:PASSWORD@host:port");
    let (real, host) = rest.split_once('@').expect("password@host");
    (format!("redis://:{password}@{host}"), real.to_string())
}

#[tokio::test]
async fn the_right_password_reads_the_queues() {
    // GIVEN 5 jobs in the default queue and 2 at priority 3, on the instance
    // that wants a password (arranged with that password)
    let good = service("DYNOPILOT_TEST_REDIS_AUTH_URL");
    let client = redis::Client::open(good.as_str()).expect("url");
    let mut con = client.get_connection().expect("auth instance answers");
    for key in ["t-auth-ok:celery", "t-auth-ok:celery\x06\x163"] {
        let _: () = redis::cmd("DEL").arg(key).query(&mut con).expect("DEL");
    }
    lpush(&mut con, "t-auth-ok:celery", &jobs(5));
    lpush(&mut con, "t-auth-ok:celery\x06\x163", &jobs(2));

    let read = fetch(
        &good,
        "flavor = \"celery\"\nkey_prefix = \"t-auth-ok:\"\nper_dyno = 2",
        at(9, 0),
    )
    .await;

    assert_eq!(read, Ok(7.0));
}

#[tokio::test]
async fn a_wrong_password_is_unauthorized_holds_and_is_never_shown() {
    let wrong = "wrong-horse-battery-staple";
    let (url, real) = auth_url_with_password(wrong);
    let (logs, _guard) = LogCapture::start();

    let (world, report) =
        assert_fails_and_holds(&url, "flavor = \"celery\"\nper_dyno = 2", "unauthorized").await;

    let text = logs.text();
    assert!(text.contains("poll failed"), "logs were captured: {text}");
    assert_secret_absent(wrong, &report, &text, &world);
    assert_secret_absent(&real, &report, &text, &world);
}

#[tokio::test]
async fn no_password_for_a_server_that_wants_one_is_unauthorized() {
    let (_, real) = auth_url_with_password("x");
    let url = service("DYNOPILOT_TEST_REDIS_AUTH_URL").replace(&format!(":{real}@"), "");

    let err = expect_kind(
        fetch(&url, "flavor = \"celery\"\nper_dyno = 2", at(9, 0)).await,
        "unauthorized",
    );

    assert!(!err.message.contains(&real));
}

#[tokio::test]
async fn a_redis_error_with_the_right_password_never_shows_it() {
    // Arrange a WRONGTYPE error on the password-protected instance.
    let good = service("DYNOPILOT_TEST_REDIS_AUTH_URL");
    let (_, real) = auth_url_with_password("x");
    let client = redis::Client::open(good.as_str()).expect("url");
    let mut con = client.get_connection().expect("auth instance answers");
    let _: () = redis::cmd("SET")
        .arg("t-auth-err:celery")
        .arg("x")
        .query(&mut con)
        .expect("SET");
    let (logs, _guard) = LogCapture::start();

    let (world, report) = assert_fails_and_holds(
        &good,
        "flavor = \"celery\"\nkey_prefix = \"t-auth-err:\"\nper_dyno = 2",
        "malformed",
    )
    .await;

    assert_secret_absent(&real, &report, &logs.text(), &world);
    assert!(!format!("{:?}", world.config).contains(&real));
}

#[test]
fn latency_is_refused_for_celery_and_other_mistakes_name_their_field() {
    let errors = config_errors(&queue_config(
        r#"flavor = "celery"
metric = "latency"
per_dyno = 2"#,
    ));
    assert!(
        errors.iter().any(|e| e
            .starts_with("formations[0].inputs[0].metric: latency is only available for sidekiq")),
        "{errors:?}"
    );

    let errors = config_errors(&shop_input_config(
        r#"type = "redis_queue"
url = "redis://:hunter2@example.com:6379"
flavor = "resque"
queues = []
per_dyno = 2"#,
    ));
    let has = |needle: &str| errors.iter().any(|e| e.starts_with(needle));
    assert!(
        has("formations[0].inputs[0].url: must be a reference"),
        "{errors:?}"
    );
    assert!(
        has("formations[0].inputs[0].flavor: unknown queue flavor \"resque\""),
        "{errors:?}"
    );
    assert!(
        has("formations[0].inputs[0].queues: must name at least one queue"),
        "{errors:?}"
    );
    assert!(errors.iter().all(|e| !e.contains("hunter2")), "{errors:?}");
}

#[test]
fn a_redis_url_that_does_not_parse_is_refused_without_quoting_it() {
    let config = valid_config(&queue_config("flavor = \"celery\"\nper_dyno = 2"));

    let err = build_error(only_source(
        &config,
        &secrets("http://:hunter2@example.com"),
    ));

    assert!(err.contains("env:REDIS_URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
