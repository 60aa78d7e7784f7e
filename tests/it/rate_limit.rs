//! Heroku's rate limit as a budget: `Retry-After` honoured, formation reads
//! paced to `RateLimit-Remaining`, every scale preceded by a fresh read, and a
//! manual `ps:scale` noticed within the stated bound. Against a stateful fake
//! of one Heroku account (tests/fakes/heroku_account.rs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dynopilot::engine::pacing::{self, staleness_bound};
use dynopilot::engine::Report;
use dynopilot::scaler::{CallBudget, HerokuScaler, ScaleErrorKind, Scaler};
use dynopilot::store::FormationState;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{at, minutes, SecretMap, Wired};
use crate::heroku_account::HerokuAccount;

fn heroku(server: &MockServer, budget: Duration) -> HerokuScaler {
    let http = dynopilot::wiring::http_client().expect("http client");
    HerokuScaler::new(
        http,
        &server.uri(),
        SecretString::from("rate-limit-test-token"),
        budget,
    )
    .expect("valid base url")
}

fn rate_limited(retry_after: &str) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("RateLimit-Remaining", "0")
        .insert_header("Retry-After", retry_after)
        .set_body_json(
            json!({"id": "rate_limit", "message": "Your account reached the API rate limit"}),
        )
}

fn formation_list(quantity: u32) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("RateLimit-Remaining", "4321")
        .set_body_json(json!([{"type": "web", "quantity": quantity}]))
}

// ---------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_429_asking_for_later_than_the_budget_fails_at_once_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apps/shop/formation"))
        .respond_with(rate_limited("120"))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();

    let err = heroku(&server, Duration::from_secs(10))
        .formation("shop")
        .await
        .expect_err("rate limited");

    assert_eq!(err.kind, ScaleErrorKind::RateLimited, "{}", err.message);
    assert!(err.message.contains("retry after 2m"), "{}", err.message);
    assert!(err.message.contains("not retried"), "{}", err.message);
    // Reported, not asserted: the budget was not spent waiting.
    eprintln!("failed after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_429_with_an_http_date_is_measured_against_the_answers_date() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apps/shop/formation"))
        .respond_with(
            rate_limited("Mon, 05 Jan 2026 09:05:00 GMT")
                .insert_header("Date", "Mon, 05 Jan 2026 09:00:00 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let err = heroku(&server, Duration::from_secs(10))
        .formation("shop")
        .await
        .expect_err("rate limited");

    assert_eq!(err.kind, ScaleErrorKind::RateLimited);
    assert!(err.message.contains("retry after 5m"), "{}", err.message);
}

#[tokio::test]
async fn a_429_asking_for_a_wait_within_the_budget_is_waited_out_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apps/shop/formation"))
        .respond_with(rate_limited("1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apps/shop/formation"))
        .respond_with(formation_list(3))
        .expect(1)
        .mount(&server)
        .await;
    let scaler = heroku(&server, Duration::from_secs(10));

    let counts = scaler.formation("shop").await.expect("second attempt");

    assert_eq!(counts.get("web"), Some(&3));
    let requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 2, "one wait, one retry");
}

#[tokio::test]
async fn the_scaler_reports_the_pool_heroku_last_announced() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(formation_list(3))
        .mount(&server)
        .await;
    let scaler = heroku(&server, Duration::from_secs(10));
    assert_eq!(scaler.call_budget(), Some(CallBudget { remaining: None }));

    scaler.formation("shop").await.expect("reads");

    assert_eq!(
        scaler.call_budget(),
        Some(CallBudget {
            remaining: Some(4321)
        })
    );
}

// ---------------------------------------------------------------------------
// Pacing, driven by the engine
// ---------------------------------------------------------------------------

/// `apps` one-formation apps (`app-0`...), each with a constant load of
/// `load` (100 per dyno), bounds 1..=20, no hysteresis or cool-off.
fn config(apps: usize, load: f64) -> String {
    let mut text = String::from("[state]\nkind = \"memory\"\n");
    for i in 0..apps {
        text.push_str(&format!(
            r#"
[[formations]]
app = "app-{i}"
type = "web"
min = 1
max = 20
hysteresis = "0s"
scale_down_cooloff = "0s"

[[formations.inputs]]
name = "load"
type = "constant"
value = {load}
per_dyno = 100
"#
        ));
    }
    text
}

struct Account {
    account: HerokuAccount,
    wired: Wired,
    _server: MockServer,
}

impl Account {
    /// Every app at `quantity`; every answer says `remaining` calls are left.
    async fn new(apps: usize, load: f64, quantity: u32, remaining: u64) -> Self {
        let server = MockServer::start().await;
        let account = HerokuAccount::new(at(9, 0));
        for i in 0..apps {
            account.set(&format!("app-{i}"), "web", quantity);
        }
        account.say_remaining(remaining);
        account.mount(&server).await;
        let scaler = Arc::new(heroku(&server, Duration::from_secs(5)));
        let wired = Wired::new(&config(apps, load), &SecretMap::default(), scaler);
        Self {
            account,
            wired,
            _server: server,
        }
    }

    async fn run(&self, minute: i64) -> Report {
        let now = at(9, 0) + minutes(minute);
        self.account.advance_to(now);
        self.wired.run(now).await
    }

    fn gets(&self, app: &str) -> usize {
        self.account
            .calls()
            .iter()
            .filter(|c| c.method == "GET" && c.app == app)
            .count()
    }
}

#[tokio::test]
async fn a_nearly_empty_pool_spreads_the_reads_and_trusts_the_stored_counts() {
    // GIVEN three apps holding at 5 dynos on an account whose pool is nearly
    // empty (others are spending it)
    let world = Account::new(3, 500.0, 5, 4).await;

    // WHEN the function runs every minute for 24 minutes
    let mut reports = Vec::new();
    for minute in 0..24 {
        reports.push(world.run(minute).await);
    }

    // THEN the first run reads every app (nothing stored), the later ones read
    // each app about once per period and decide on the stored count between
    let every = reports[1].reads.as_ref().expect("paced").pace.read_every;
    assert_eq!(every, pacing::pace(3, Some(4), 0).read_every);
    assert!(every > 1);
    for i in 0..3 {
        let gets = world.gets(&format!("app-{i}"));
        assert!(
            (2..=1 + 24 / every as usize + 1).contains(&gets),
            "app-{i}: {gets} reads in 24 runs at every {every} minutes"
        );
    }
    assert!(
        world.account.calls().len() < 3 * 24 / 2,
        "{:?}",
        world.account.calls()
    );
    let later = &reports[5];
    let reads = later.reads.as_ref().expect("paced");
    assert!(reads.paced);
    assert_eq!(reads.pace.remaining, Some(4));
    assert!(
        reads.note.contains(&format!("every {every} minutes")),
        "{}",
        reads.note
    );
    assert!(reads.counts_trusted >= 1, "{reads:?}");
    let trusted = later
        .formations
        .iter()
        .find(|f| f.notes.iter().any(|n| n.contains("paced")))
        .expect("a formation decided on its stored count says so");
    assert_eq!(trusted.current, Some(5));
    // ... and the metrics carry it.
    let lines = dynopilot::metrics::emf_lines(
        later,
        &dynopilot::config::MetricsConfig {
            enabled: true,
            namespace: "Dynopilot".into(),
            formation_dimension: "Formation".into(),
            input_dimension: "Input".into(),
        },
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"FormationReadEveryMinutes\":")
                && l.contains("\"HerokuRateLimitRemaining\":4")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_full_pool_reads_every_app_every_minute() {
    let world = Account::new(3, 500.0, 5, 4400).await;

    for minute in 0..5 {
        let report = world.run(minute).await;
        let reads = report.reads.expect("heroku reports its reads");
        assert!(!reads.paced);
        assert_eq!(reads.counts_trusted, 0);
    }

    assert_eq!(world.gets("app-0"), 5);
}

#[tokio::test]
async fn every_scale_on_a_paced_token_is_preceded_by_a_fresh_read() {
    // Load 0 and no hysteresis: each run wants one dyno less.
    let world = Account::new(1, 0.0, 8, 4).await;

    for minute in 0..5 {
        world.run(minute).await;
    }

    let calls = world.account.calls();
    let patches: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 5, "{calls:?}");
    for i in patches {
        assert!(i > 0, "{calls:?}");
        let before = &calls[i - 1];
        assert_eq!(
            (before.method.as_str(), before.at),
            ("GET", calls[i].at),
            "the PATCH at {} follows a read in the same run: {calls:?}",
            calls[i].at
        );
    }
    assert_eq!(world.account.quantity("app-0", "web"), Some(3));
}

#[tokio::test]
async fn a_manual_ps_scale_is_noticed_within_the_stated_bound() {
    let world = Account::new(3, 500.0, 5, 4).await;
    world.run(0).await;
    let every = world.run(1).await.reads.expect("paced").pace.read_every;

    // Behind dynopilot's back: `heroku ps:scale web=9 -a app-1`.
    world.account.set("app-1", "web", 9);
    let mut noticed = None;
    for minute in 2..60 {
        let report = world.run(minute).await;
        let f = report
            .formations
            .iter()
            .find(|f| f.app == "app-1")
            .expect("app-1");
        if f.current == Some(9) {
            noticed = Some(minute - 1);
            break;
        }
    }

    let noticed = noticed.expect("the manual scale is noticed");
    eprintln!(
        "noticed after {noticed} minutes (every {every}, bound {})",
        staleness_bound(every)
    );
    assert!(
        noticed <= i64::from(staleness_bound(every)),
        "noticed after {noticed} minutes, bound {}",
        staleness_bound(every)
    );
}

#[tokio::test]
async fn a_scale_up_on_a_stale_count_is_decided_again_on_the_fresh_one() {
    // GIVEN an app at 5 with a load of 500 that its own endpoint reports, paced
    let metric = MockServer::start().await;
    let answer = |n: f64| {
        Mock::given(method("GET"))
            .and(path("/metric"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "n": n })))
    };
    answer(500.0).mount(&metric).await;
    let server = MockServer::start().await;
    let account = HerokuAccount::new(at(9, 0));
    account.set("app-0", "web", 5);
    account.say_remaining(4);
    account.mount(&server).await;
    let scaler = Arc::new(heroku(&server, Duration::from_secs(5)));
    let text = config(1, 0.0).replace(
        "type = \"constant\"\nvalue = 0",
        &format!(
            "type = \"app_metric\"\nurl = \"{}/metric\"\npointer = \"/n\"",
            metric.uri()
        ),
    );
    let wired = Wired::new(&text, &SecretMap::default(), scaler);
    let run = |m: i64| {
        let now = at(9, 0) + minutes(m);
        account.advance_to(now);
        wired.run(now)
    };
    run(0).await;
    let mut last_read = at(9, 0);
    let mut minute = 1;
    let every = loop {
        let report = run(minute).await;
        let every = report
            .reads
            .expect("heroku reports its reads")
            .pace
            .read_every;
        if report.formations[0]
            .notes
            .iter()
            .all(|n| !n.contains("paced"))
        {
            last_read = at(9, 0) + minutes(minute);
        }
        minute += 1;
        assert!(
            minute < 60,
            "no minute in an hour when app-0 is not due: not paced"
        );
        if !pacing::due("app-0", last_read, at(9, 0) + minutes(minute), every) {
            break every;
        }
    };
    assert!(every > 1, "paced");

    // WHEN someone raises the count to 9 by hand, and in the next run (in
    // which the app is not due) the load needs 7 dynos: 5 → 7 on the stored count
    account.set("app-0", "web", 9);
    metric.reset().await;
    answer(700.0).mount(&metric).await;
    let report = run(minute).await;

    // THEN the app is read afresh and decided on 9: a PATCH to 7 would cut
    // two dynos below the manual scale, past max_step_down
    let f = &report.formations[0];
    assert!(
        f.notes.iter().any(|n| n.contains("not the stored 5")),
        "{:?}",
        f.notes
    );
    assert_eq!(f.current, Some(9));
    let now = account.quantity("app-0", "web");
    assert!(
        matches!(now, Some(8 | 9)),
        "at most one step down from 9: {now:?}"
    );
}

#[test]
fn state_stored_before_pacing_still_loads() {
    let old = r#"{"window":{"inputs":{}},"history":{"events":[]},"decisions":[]}"#;
    let state: FormationState = serde_json::from_str(old).expect("old state loads");
    assert_eq!(state.last_read, None);
    let now: DateTime<Utc> = at(9, 0);
    let mut new = state.clone();
    new.last_read = Some(dynopilot::store::CountRead {
        at: now,
        quantity: 4,
    });
    let text = serde_json::to_string(&new).expect("serializes");
    assert!(text.contains("\"last_read\""), "{text}");
    assert_eq!(
        serde_json::from_str::<FormationState>(&text).expect("loads"),
        new
    );
}
