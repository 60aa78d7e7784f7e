//! Dyno sizes end to end: the `sizes` keys and their refusals, and a sized
//! formation over the Heroku account fake (formation reads carry `size`, one
//! PATCH carries both `quantity` and `size`, a refused update is notified and
//! nothing is stored as done).

use std::sync::Arc;
use std::time::Duration;

use dynopilot::config;
use dynopilot::engine::Outcome;
use dynopilot::notify::NotificationKind;
use dynopilot::scaler::HerokuScaler;
use secrecy::SecretString;
use serde_json::json;
use wiremock::MockServer;

use crate::helpers::{at, SecretMap, Wired};
use crate::heroku_account::{GenerationShape, HerokuAccount};

fn errors(toml: &str) -> Vec<String> {
    match config::parse(toml) {
        Ok(_) => panic!("config should have been refused:\n{toml}"),
        Err(e) => e.field_errors().iter().map(|e| e.to_string()).collect(),
    }
}

/// One formation `shop-app web` with these extra keys and a constant load
/// (`per_dyno` 100: load 1400 needs 14 standard-1x dynos).
fn formation(keys: &str, load: u32) -> String {
    format!(
        r#"
[state]
kind = "memory"

[scaler]
kind = "heroku"
token = "env:HEROKU_API_TOKEN"

[[formations]]
app = "shop-app"
type = "web"
max = 10
{keys}

[[formations.inputs]]
name = "load"
type = "constant"
value = {load}
per_dyno = 100
"#
    )
}

const LADDER: &str = r#"sizes = ["standard-1x", "standard-2x", "performance-m"]"#;

#[test]
fn a_ladder_is_read_with_the_table_s_capacities() {
    let c = config::parse(&formation(LADDER, 1)).expect("valid");
    let ladder = c.formations[0].sizes.as_ref().expect("sizes");
    let caps: Vec<f64> = ladder.steps.iter().map(|s| s.capacity).collect();
    assert_eq!(caps, vec![1.0, 2.0, 12.0]);
    let shown = c.describe();
    assert_eq!(
        shown["formations"][0]["sizes"],
        json!(["standard-1x", "standard-2x", "performance-m"])
    );
    assert_eq!(shown["formations"][0]["size_down_delay"], json!("1h"));
    // Own capacities and per-size limits.
    let c = config::parse(&formation(
        &format!("{LADDER}\nsize_capacity = {{ \"performance-m\" = 10 }}\nsize_max = {{ \"standard-1x\" = 4 }}"),
        1,
    ))
    .expect("valid");
    let ladder = c.formations[0].sizes.as_ref().expect("sizes");
    assert_eq!(ladder.steps[2].capacity, 10.0);
    assert_eq!(ladder.steps[0].max, Some(4));
}

#[test]
fn what_heroku_refuses_is_refused_at_load_time_naming_the_field() {
    let e = errors(&formation(r#"sizes = ["basic", "standard-1x"]"#, 1));
    assert!(
        e.iter().any(|e| e
            .starts_with("formations[0].sizes: basic and standard-1x cannot run in the same app")),
        "{e:?}"
    );
    let e = errors(&formation(r#"sizes = ["standard-2x", "dyno-2c-4gb"]"#, 1));
    assert!(
        e.iter().any(|e| e.starts_with("formations[0].sizes:")
            && e.contains("Cedar")
            && e.contains("Fir")),
        "{e:?}"
    );
    let e = errors(&formation(r#"sizes = ["standard-2x", "standard-1x"]"#, 1));
    assert!(e.iter().any(|e| e.contains("must grow")), "{e:?}");
    let e = errors(&formation(r#"sizes = ["standard-1x", "mega-9x"]"#, 1));
    assert!(
        e.iter()
            .any(|e| e.starts_with("formations[0].sizes: mega-9x") && e.contains("size_capacity")),
        "{e:?}"
    );
    let e = errors(&formation(r#"size_max = { "standard-1x" = 4 }"#, 1));
    assert!(
        e.iter()
            .any(|e| e == "formations[0].size_max: needs `sizes`"),
        "{e:?}"
    );
    // Two formations of one app: eco on one, standard on the other.
    let two = format!(
        "{}\n[[formations]]\napp = \"shop-app\"\ntype = \"worker\"\nmax = 2\nsizes = [\"eco\"]\n\n[[formations.inputs]]\nname = \"q\"\ntype = \"constant\"\nvalue = 1\nper_dyno = 1\n",
        formation(LADDER, 1)
    );
    let e = errors(&two);
    assert!(
        e.iter()
            .any(|e| e.starts_with("formations[1].sizes: app shop-app: eco and standard-1x")),
        "{e:?}"
    );
}

struct Sized {
    account: HerokuAccount,
    wired: Wired,
    _server: MockServer,
}

async fn sized(load: u32, quantity: u32, size: &str) -> Sized {
    let server = MockServer::start().await;
    let account = HerokuAccount::new(at(9, 0));
    account.set("shop-app", "web", quantity);
    account.set_size("shop-app", "web", size);
    account.mount(&server).await;
    let http = dynopilot::wiring::http_client().expect("http client");
    let scaler = HerokuScaler::new(
        http,
        &server.uri(),
        SecretString::from("sizes-test-token"),
        Duration::from_secs(2),
    )
    .expect("url");
    let wired = Wired::new(
        &formation(LADDER, load),
        &SecretMap::default(),
        Arc::new(scaler),
    );
    Sized {
        account,
        wired,
        _server: server,
    }
}

fn patches(account: &HerokuAccount) -> Vec<serde_json::Value> {
    account
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH")
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn a_need_above_max_at_standard_1x_is_one_update_to_standard_2x_with_the_right_count() {
    // 14 standard-1x dynos needed, max 10: 7 standard-2x, in one PATCH.
    let s = sized(1400, 10, "Standard-1X").await;
    let report = s.wired.run(at(9, 0)).await;
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::ScaledUp, "{f:?}");
    assert_eq!(
        patches(&s.account),
        vec![json!({"quantity": 7, "size": "standard-2x"})]
    );
    assert_eq!(s.account.quantity("shop-app", "web"), Some(7));
    assert_eq!(s.account.size("shop-app", "web"), "Standard-2X");
    // The next run reads Standard-2X and 7: held, no further update.
    let report = s.wired.run(at(9, 1)).await;
    assert_eq!(
        report.formations[0].outcome,
        Outcome::Hold,
        "{:?}",
        report.formations[0]
    );
    assert_eq!(patches(&s.account).len(), 1);
}

#[tokio::test]
async fn a_refused_size_change_is_notified_and_nothing_is_stored_as_done() {
    let s = sized(1400, 10, "Standard-1X").await;
    s.account.refuse_size(
        "standard-2x",
        "Cannot use the following dyno types in the same app: Basic and Standard-2X",
    );
    let report = s.wired.run(at(9, 0)).await;
    let f = &report.formations[0];
    assert_ne!(f.outcome, Outcome::ScaledUp, "{f:?}");
    assert!(
        f.errors
            .iter()
            .any(|e| e.stage == "scale" && e.kind == "rejected"),
        "{f:?}"
    );
    assert_eq!(s.account.quantity("shop-app", "web"), Some(10));
    assert_eq!(s.account.size("shop-app", "web"), "Standard-1X");
    let sent = s.wired.notifier.sent();
    assert!(
        sent.iter().any(|n| n.kind == NotificationKind::ScaleFailed
            && n.body.contains("Cannot use the following dyno types")),
        "{sent:?}"
    );
    let status = s.wired.engine.status().await;
    assert!(
        status[0].last_scales.is_empty(),
        "{:?}",
        status[0].last_scales
    );
    assert!(status[0].pending.is_none());
    // Not done, so the next run asks again.
    let _ = s.wired.run(at(9, 1)).await;
    assert_eq!(patches(&s.account).len(), 2);
}

#[tokio::test]
async fn the_account_fake_takes_both_update_shapes_and_string_quantities() {
    // contracts-round2 §15.2 / pitfall 6: the CLI sends `size` and string
    // quantities (`"+1"`), the schema `dyno_size`; the fake takes all of them.
    let s = sized(100, 2, "Standard-1X").await;
    let http = reqwest::Client::new();
    let base = s._server.uri();
    let send = |path: String, body: serde_json::Value| {
        let http = http.clone();
        async move {
            http.patch(path)
                .json(&body)
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        }
    };
    let web = format!("{base}/apps/shop-app/formation/web");
    let batch = format!("{base}/apps/shop-app/formation");
    assert_eq!(
        send(
            web.clone(),
            json!({"quantity": 3, "dyno_size": {"name": "Standard-2X"}})
        )
        .await,
        200
    );
    assert_eq!(
        (
            s.account.quantity("shop-app", "web"),
            s.account.size("shop-app", "web")
        ),
        (Some(3), "Standard-2X".into())
    );
    assert_eq!(
        send(
            batch.clone(),
            json!({"updates": [{"type": "web", "quantity": "+1", "size": "performance-m"}]})
        )
        .await,
        200
    );
    assert_eq!(
        (
            s.account.quantity("shop-app", "web"),
            s.account.size("shop-app", "web")
        ),
        (Some(4), "Performance-M".into())
    );
    s.account.refuse_size(
        "eco",
        "Cannot use the following dyno types in the same app: Eco and Standard-1X",
    );
    assert_eq!(
        send(
            batch,
            json!({"updates": [{"type": "web", "quantity": 1, "size": "eco"}]})
        )
        .await,
        422
    );
    assert_eq!(
        s.account.quantity("shop-app", "web"),
        Some(4),
        "a refused update changes nothing"
    );
}

#[test]
fn the_simulator_moves_sizes_and_reports_dollars_and_minutes_per_size() {
    use dynopilot::simulate::{self, SimOptions, Trace, MONTH_MINUTES};
    let config = crate::helpers::config(
        r#"
[state]
kind = "memory"

[[formations]]
app = "hand-app"
type = "web"
min = 1
max = 2
hysteresis = "0s"
sizes = ["standard-1x", "standard-2x"]

[[formations.inputs]]
name = "rpm"
type = "replay"
file = "ignored-by-the-simulator.csv"
per_dyno = 40
"#,
    );
    // 200 rpm at 40 per standard-1x: 5 needed, max 2 -> 2 standard-2x (the top, capped).
    let trace = Arc::new(
        Trace::parse("m,r\n2026-01-05 10:00,30\n2026-01-05 10:01,30\n2026-01-05 10:02,200\n2026-01-05 10:03,200\n2026-01-05 10:04,200\n")
            .expect("trace"),
    );
    let sim = simulate::run(config, trace, &SimOptions::default()).expect("runs");
    let r = &sim.report;
    assert_eq!(
        r.size_minutes,
        [
            ("standard-1x".to_string(), 2),
            ("standard-2x".to_string(), 4)
        ]
        .into()
    );
    let dollars = r.cost_dollars.expect("dollars with sizes");
    assert!(
        (dollars - (2.0 * 25.0 + 4.0 * 50.0) / MONTH_MINUTES).abs() < 1e-9,
        "{dollars}"
    );
    // Two standard-2x dynos serve 160 of the 200: the capacity is per size.
    assert_eq!(
        sim.series.last().map(|m| (m.quantity, m.ready)),
        Some((2, 2))
    );
    // Unserved: 200-40 (1 standard-1x), 200-80 (1 of 2 standard-2x ready), 200-160, of 630.
    assert!(
        (r.unserved_pct - 100.0 * 320.0 / 630.0).abs() < 1e-9,
        "{}",
        r.unserved_pct
    );
    let json = serde_json::to_value(r).expect("json");
    assert!(json.get("cost_dollars").is_some());
}

// --- The app's generation (contracts-round2 §15.5): read once per app per
// run, as an object or a string, and every ladder checked against it.

const FIR_LADDER: &str = r#"sizes = ["dyno-1c-0.5gb", "dyno-2c-1gb"]"#;

/// `shop-app web` with `ladder` at `quantity` dynos of `size`, on an app
/// whose generation the fake answers as `shape`; load 1400 at 100 per dyno of
/// the first size (14 needed, max 10: the next size).
async fn on_generation(ladder: &str, size: &str, shape: GenerationShape) -> Sized {
    let server = MockServer::start().await;
    let account = HerokuAccount::new(at(9, 0));
    account.set("shop-app", "web", 10);
    account.set_size("shop-app", "web", size);
    account.set_generation("shop-app", shape);
    account.mount(&server).await;
    let http = dynopilot::wiring::http_client().expect("http client");
    let scaler = HerokuScaler::new(
        http,
        &server.uri(),
        SecretString::from("sizes-test-token"),
        Duration::from_secs(2),
    )
    .expect("url");
    let wired = Wired::new(
        &formation(ladder, 1400),
        &SecretMap::default(),
        Arc::new(scaler),
    );
    Sized {
        account,
        wired,
        _server: server,
    }
}

/// The app reads (`GET /apps/shop-app`) the fake answered.
fn app_reads(account: &HerokuAccount) -> usize {
    account
        .calls()
        .iter()
        .filter(|c| c.method == "GET" && c.path == "/apps/shop-app")
        .count()
}

fn mismatch(f: &dynopilot::engine::FormationReport) -> String {
    f.errors
        .iter()
        .find(|e| e.stage == "sizes" && e.kind == "generation_mismatch")
        .map(|e| e.message.clone())
        .unwrap_or_else(|| panic!("no generation_mismatch error: {f:?}"))
}

#[tokio::test]
async fn cedar_sizes_on_a_fir_app_are_refused_naming_the_app_its_generation_and_the_sizes() {
    // The schema's shape: {"id", "name": "fir"}.
    let s = on_generation(LADDER, "Standard-1X", GenerationShape::Object("fir".into())).await;
    let report = s.wired.run(at(9, 0)).await;
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::Failed, "{f:?}");
    let e = mismatch(f);
    assert!(
        e.contains("app shop-app")
            && e.contains("\"fir\"")
            && e.contains("runs on Fir")
            && e.contains("Cedar sizes standard-1x, standard-2x, performance-m"),
        "{e}"
    );
    assert!(patches(&s.account).is_empty(), "nothing is scaled");
    assert_eq!(app_reads(&s.account), 1);
    let mails: Vec<_> = s
        .wired
        .notifier
        .sent()
        .into_iter()
        .filter(|n| n.kind == NotificationKind::ScaleFailed)
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].body.contains("runs on Fir") && mails[0].body.contains("standard-2x"),
        "{}",
        mails[0].body
    );
    // The next run reads the app again (once), refuses again, mails no more.
    let report = s.wired.run(at(9, 1)).await;
    assert_eq!(report.formations[0].outcome, Outcome::Failed);
    assert_eq!(app_reads(&s.account), 2);
    assert!(patches(&s.account).is_empty());
    let failed = s
        .wired
        .notifier
        .sent()
        .into_iter()
        .filter(|n| n.kind == NotificationKind::ScaleFailed)
        .count();
    assert_eq!(failed, 1, "one mail per episode");
}

#[tokio::test]
async fn fir_sizes_on_a_cedar_app_are_refused_too() {
    // The CLI's shape: a plain string.
    let s = on_generation(
        FIR_LADDER,
        "dyno-1c-0.5gb",
        GenerationShape::Name("cedar".into()),
    )
    .await;
    let report = s.wired.run(at(9, 0)).await;
    let e = mismatch(&report.formations[0]);
    assert!(
        e.contains("app shop-app")
            && e.contains("\"cedar\"")
            && e.contains("runs on Cedar")
            && e.contains("Fir sizes dyno-1c-0.5gb, dyno-2c-1gb")
            && e.contains("like standard-2x"),
        "{e}"
    );
    assert!(patches(&s.account).is_empty());
}

#[tokio::test]
async fn fir_sizes_on_a_fir_app_scale_whichever_shape_the_generation_has() {
    for shape in [
        GenerationShape::Name("fir".into()),
        GenerationShape::Object("Fir".into()),
    ] {
        let s = on_generation(FIR_LADDER, "dyno-1c-0.5gb", shape.clone()).await;
        let report = s.wired.run(at(9, 0)).await;
        let f = &report.formations[0];
        assert_eq!(f.outcome, Outcome::ScaledUp, "{shape:?}: {f:?}");
        // 14 dyno-1c-0.5gb needed, max 10: 7 dyno-2c-1gb (2 vCPUs each).
        assert_eq!(
            patches(&s.account),
            vec![json!({"quantity": 7, "size": "dyno-2c-1gb"})]
        );
    }
}

#[tokio::test]
async fn an_app_without_a_generation_is_taken_as_cedar_and_the_report_says_so() {
    let s = on_generation(LADDER, "Standard-1X", GenerationShape::Absent).await;
    let report = s.wired.run(at(9, 0)).await;
    let f = &report.formations[0];
    assert_eq!(f.outcome, Outcome::ScaledUp, "{f:?}");
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("no generation: taken as Cedar")),
        "{:?}",
        f.notes
    );
    // And so Fir names on it are refused, saying why.
    let s = on_generation(FIR_LADDER, "dyno-1c-0.5gb", GenerationShape::Absent).await;
    let report = s.wired.run(at(9, 0)).await;
    let e = mismatch(&report.formations[0]);
    assert!(e.contains("not reported, taken as Cedar"), "{e}");
    assert!(patches(&s.account).is_empty());
}

#[tokio::test]
async fn the_generation_is_read_once_per_app_per_run_not_per_formation() {
    let server = MockServer::start().await;
    let account = HerokuAccount::new(at(9, 0));
    account.set("shop-app", "web", 2);
    account.set("shop-app", "worker", 2);
    account.set("other-app", "web", 2);
    account.mount(&server).await;
    let http = dynopilot::wiring::http_client().expect("http client");
    let scaler = HerokuScaler::new(
        http,
        &server.uri(),
        SecretString::from("sizes-test-token"),
        Duration::from_secs(2),
    )
    .expect("url");
    // Two sized formations of shop-app; other-app has no sizes: not read.
    let config = format!(
        "{}\n[[formations]]\napp = \"shop-app\"\ntype = \"worker\"\nmax = 4\n{LADDER}\n\n[[formations.inputs]]\nname = \"q\"\ntype = \"constant\"\nvalue = 200\nper_dyno = 100\n\n[[formations]]\napp = \"other-app\"\ntype = \"web\"\nmax = 4\n\n[[formations.inputs]]\nname = \"q\"\ntype = \"constant\"\nvalue = 200\nper_dyno = 100\n",
        formation(LADDER, 200)
    );
    let wired = Wired::new(&config, &SecretMap::default(), Arc::new(scaler));
    let report = wired.run(at(9, 0)).await;
    assert!(
        report.formations.iter().all(|f| f.errors.is_empty()),
        "{:?}",
        report.formations
    );
    let reads = |path: &str| {
        account
            .calls()
            .iter()
            .filter(|c| c.method == "GET" && c.path == path)
            .count()
    };
    assert_eq!(reads("/apps/shop-app"), 1);
    assert_eq!(reads("/apps/other-app"), 0);
    assert_eq!(reads("/apps/shop-app/formation"), 1);
}

#[tokio::test]
async fn an_app_that_cannot_be_read_is_not_scaled_on_a_guess() {
    let s = on_generation(
        LADDER,
        "Standard-1X",
        GenerationShape::Object("cedar".into()),
    )
    .await;
    // An answer that cannot be understood (an empty generation name): the
    // sizes cannot be checked, so nothing is scaled this run.
    s.account
        .set_generation("shop-app", GenerationShape::Name(String::new()));
    let report = s.wired.run(at(9, 0)).await;
    let f = &report.formations[0];
    assert!(patches(&s.account).is_empty(), "{f:?}");
    assert!(
        f.errors.iter().any(|e| e.stage == "read_app"),
        "{:?}",
        f.errors
    );
}

// --- Settling a claimed size change: a claim that changes the size and not
// the count is settled on the size the platform reports, not on the count.

/// A platform (memory) whose `scale` never returns while `crash` is set, as
/// if the process died there; with `apply_first` the change lands first.
struct CrashingSized {
    inner: dynopilot::scaler::MemoryScaler,
    crash: std::sync::atomic::AtomicBool,
    apply_first: bool,
}

#[async_trait::async_trait]
impl dynopilot::scaler::Scaler for CrashingSized {
    async fn formation(
        &self,
        app: &str,
    ) -> Result<std::collections::BTreeMap<String, u32>, dynopilot::scaler::ScaleError> {
        self.inner.formation(app).await
    }
    async fn formation_detail(
        &self,
        app: &str,
    ) -> Result<
        std::collections::BTreeMap<String, dynopilot::scaler::FormationRead>,
        dynopilot::scaler::ScaleError,
    > {
        self.inner.formation_detail(app).await
    }
    async fn scale(
        &self,
        app: &str,
        changes: &[dynopilot::scaler::QuantityChange],
    ) -> Result<(), dynopilot::scaler::ScaleError> {
        if self.crash.load(std::sync::atomic::Ordering::SeqCst) {
            if self.apply_first {
                self.inner.scale(app, changes).await?;
            }
            std::future::pending::<()>().await;
        }
        self.inner.scale(app, changes).await
    }
}

/// 2 standard-2x, `min = 2`, a need of 1 standard-1x: the 12:00 run claims
/// 2 standard-2x → 2 standard-1x (the same count, a smaller size) and dies in
/// the platform call.
async fn crashed_size_change(
    apply_first: bool,
) -> (
    Arc<dynopilot::store::MemoryStateStore>,
    Arc<CrashingSized>,
    dynopilot::engine::Engine,
) {
    let toml = r#"
[state]
kind = "memory"

[[formations]]
app = "shop-app"
type = "web"
min = 2
max = 10
hysteresis = "0s"
sizes = ["standard-1x", "standard-2x"]
size_down_delay = "0s"

[[formations.inputs]]
name = "load"
type = "constant"
value = 100
per_dyno = 100
"#;
    let store = Arc::new(dynopilot::store::MemoryStateStore::new());
    let scaler = Arc::new(CrashingSized {
        inner: dynopilot::scaler::MemoryScaler::new(),
        crash: std::sync::atomic::AtomicBool::new(true),
        apply_first,
    });
    scaler.inner.set("shop-app", "web", 2);
    scaler.inner.set_size("shop-app", "web", "Standard-2X");
    let engine = dynopilot::engine::Engine::new(
        Arc::new(crate::helpers::config(toml)),
        vec![vec![crate::helpers::scripted(
            dynopilot::inputs::ScriptedSource::constant(100.0),
        )]],
        store.clone(),
        scaler.clone(),
        Arc::new(dynopilot::notify::RecordingNotifier::new()),
    )
    .expect("engine");
    let crashed = tokio::time::timeout(
        Duration::from_secs(30),
        engine.invoke(&dynopilot::engine::Invocation::at(at(12, 0))),
    )
    .await;
    assert!(crashed.is_err(), "the run was cut off in the platform call");
    let claim = store.snapshot("shop-app#web").expect("claim stored");
    let pending = claim.value.pending.as_ref().expect("a claim");
    assert_eq!((pending.from, pending.to), (2, 2), "the same count");
    (store, scaler, engine)
}

#[tokio::test(start_paused = true)]
async fn a_claimed_size_change_that_did_not_happen_is_not_settled_as_done_on_an_equal_count() {
    let (store, scaler, engine) = crashed_size_change(false).await;
    scaler
        .crash
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        scaler.inner.size("shop-app", "web").as_deref(),
        Some("Standard-2X")
    );
    // After the claim timed out, the next run reads 2 Standard-2X: the count
    // matches the claim, the size does not, so it did not happen...
    let report = engine
        .invoke(&dynopilot::engine::Invocation::at(at(12, 2)))
        .await;
    let f = &report.formations[0];
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("did not happen") && n.contains("Standard-2X")),
        "{:?}",
        f.notes
    );
    // ...and the change is made now (no cool-off from a change that never was).
    assert_eq!(f.outcome, Outcome::ScaledDown, "{f:?}");
    assert_eq!(
        scaler.inner.size("shop-app", "web").as_deref(),
        Some("standard-1x")
    );
    let stored = store.snapshot("shop-app#web").expect("state");
    assert_eq!(stored.value.history.events.len(), 1, "one real change");
    assert_eq!(stored.value.history.events[0].at, at(12, 2));
    assert!(stored.value.pending.is_none());
    let mark = stored.value.size.clone().expect("size mark");
    assert_eq!(mark.pending_size, None, "cleared with the claim");
    assert_eq!(mark.changed_at, Some(at(12, 2)));
}

#[tokio::test(start_paused = true)]
async fn a_claimed_size_change_that_happened_is_recorded_with_its_time() {
    let (store, scaler, engine) = crashed_size_change(true).await;
    scaler
        .crash
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let report = engine
        .invoke(&dynopilot::engine::Invocation::at(at(12, 2)))
        .await;
    let f = &report.formations[0];
    assert!(
        f.notes.iter().any(|n| n.contains("it happened")),
        "{:?}",
        f.notes
    );
    assert_eq!(scaler.inner.scales().len(), 1, "not made twice");
    let stored = store.snapshot("shop-app#web").expect("state");
    let mark = stored.value.size.clone().expect("size mark");
    assert_eq!(mark.current.as_deref(), Some("standard-1x"));
    assert_eq!(
        mark.changed_at,
        Some(at(12, 0)),
        "the size-down delay counts from it"
    );
    assert_eq!(stored.value.history.events.len(), 1);
}

#[tokio::test]
async fn the_app_is_read_as_the_cli_reads_it_for_its_generation() {
    use dynopilot::scaler::{AppGeneration, ScaleErrorKind, Scaler};
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, ResponseTemplate};
    // contracts-round2 §15.5: the CLI asks with `version=3.sdk` whenever it
    // needs the generation; only that request is answered here.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/apps/shop-app"))
        .and(header(
            "accept",
            "application/vnd.heroku+json; version=3.sdk",
        ))
        .and(header("authorization", "Bearer sizes-test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "shop-app",
            "generation": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "fir"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/apps/gone-app"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"id": "not_found", "message": "Couldn't find that app."})),
        )
        .mount(&server)
        .await;
    let scaler = HerokuScaler::new(
        dynopilot::wiring::http_client().expect("http client"),
        &server.uri(),
        SecretString::from("sizes-test-token"),
        Duration::from_secs(2),
    )
    .expect("url");
    assert_eq!(
        scaler.generation("shop-app").await,
        Ok(Some(AppGeneration::Named("fir".into())))
    );
    let e = scaler.generation("gone-app").await.unwrap_err();
    assert_eq!(e.kind, ScaleErrorKind::NotFound, "{e}");
    assert!(e.message.contains("app gone-app"), "{e}");
}
