//! Builders and fixtures shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::config::{self, Config};
use dynopilot::domain::{
    AverageRule, Bound, CapacityRule, ConsecutiveRule, InputPolicy, InputWindow, Per, Policy, Rule,
    Sample, ScaleEvent, ScaleHistory, TargetRule, TrendRule, Window,
};
use dynopilot::engine::Engine;
use dynopilot::inputs::{MetricSource, ScriptedSource};
use dynopilot::notify::RecordingNotifier;
use dynopilot::scaler::MemoryScaler;
use dynopilot::store::MemoryStateStore;

/// A fixed, readable instant: 2026-01-05 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0)
        .single()
        .expect("valid fixed time")
}

pub fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// A policy with the documented defaults, bounds `[min, max]`, and one capacity
/// input `load` at 100 per dyno polled every minute.
pub fn policy(min: u32, max: u32) -> Policy {
    Policy {
        min: Bound::Fixed(min),
        max: Bound::Fixed(max),
        scale_up_cooloff: TimeDelta::zero(),
        scale_down_cooloff: TimeDelta::seconds(300),
        max_step_up: None,
        max_step_down: Some(1),
        hysteresis: TimeDelta::seconds(300),
        fallback_after: TimeDelta::seconds(600),
        fallback: None,
        inputs: vec![capacity_input("load", 100.0)],
    }
}

pub fn capacity_input(name: &str, per_dyno: f64) -> InputPolicy {
    InputPolicy {
        name: name.to_string(),
        interval: TimeDelta::seconds(60),
        rule: Rule::new(CapacityRule { per_dyno }),
    }
}

/// A window where input `name` was sampled with `values`, one per minute, the
/// last one at `now`.
pub fn window_with(name: &str, values: &[f64], now: DateTime<Utc>) -> Window {
    let mut input = InputWindow::default();
    let n = values.len() as i64;
    for (i, v) in values.iter().enumerate() {
        input.record_sample(now - TimeDelta::minutes(n - 1 - i as i64), *v);
    }
    let mut window = Window::default();
    window.inputs.insert(name.to_string(), input);
    window
}

/// A history whose only scale happened at `at`.
pub fn scaled_at(at: DateTime<Utc>, from: u32, to: u32) -> ScaleHistory {
    let mut h = ScaleHistory::default();
    h.record(ScaleEvent { at, from, to });
    h
}

/// Parse a config that must be valid.
pub fn config(toml: &str) -> Config {
    match config::parse(toml) {
        Ok(c) => c,
        Err(e) => panic!("test config is invalid: {e}"),
    }
}

/// A config with one formation `app/web` (min..max) and one input `load` at 100 per dyno.
pub fn one_formation(min: u32, max: u32) -> String {
    format!(
        r#"
[state]
kind = "memory"

[[formations]]
app = "shop-app"
type = "web"
min = {min}
max = {max}

[[formations.inputs]]
name = "load"
type = "constant"
value = 0
per_dyno = 100
"#
    )
}

/// The in-memory world around an engine.
pub struct World {
    pub engine: Engine,
    /// The config it was built from (for `describe`, metrics settings).
    pub config: Arc<Config>,
    pub store: Arc<MemoryStateStore>,
    pub scaler: Arc<MemoryScaler>,
    pub notifier: Arc<RecordingNotifier>,
}

/// An engine over memory fakes, with the given sources (one list per formation).
pub fn world(config: Config, sources: Vec<Vec<Arc<dyn MetricSource>>>) -> World {
    let store = Arc::new(MemoryStateStore::new());
    let scaler = Arc::new(MemoryScaler::new());
    let notifier = Arc::new(RecordingNotifier::new());
    let config = Arc::new(config);
    let engine = Engine::new(
        config.clone(),
        sources,
        store.clone(),
        scaler.clone(),
        notifier.clone(),
    )
    .expect("one source per input");
    World {
        engine,
        config,
        store,
        scaler,
        notifier,
    }
}

/// A scripted source as the engine wants it.
pub fn scripted(source: ScriptedSource) -> Arc<dyn MetricSource> {
    Arc::new(source)
}

// ---------------------------------------------------------------------------
// Decision rules and schedules
// ---------------------------------------------------------------------------

/// A policy that lets a rule's estimate through untouched: bounds 0..=100, no
/// cool-offs, no step limits, one input `rt` polled every minute.
pub fn rule_policy(rule: Rule) -> Policy {
    Policy {
        min: Bound::Fixed(0),
        max: Bound::Fixed(100),
        scale_up_cooloff: TimeDelta::zero(),
        scale_down_cooloff: TimeDelta::zero(),
        max_step_up: None,
        max_step_down: None,
        hysteresis: TimeDelta::minutes(5),
        fallback_after: TimeDelta::minutes(10),
        fallback: None,
        inputs: vec![InputPolicy {
            name: "rt".into(),
            interval: TimeDelta::minutes(1),
            rule,
        }],
    }
}

/// autoscalebot's defaults (3 fails up, 5 passes down, increment 1) with a
/// 300..800 ms band.
pub fn consecutive_rule() -> Rule {
    Rule::new(ConsecutiveRule {
        max: 800.0,
        min: 300.0,
        fails_to_scale_up: 3,
        passes_to_scale_down: 5,
        increment: 1,
    })
}

/// autoscalebot 3.0's default of 3 samples, 300..800 ms band, increment 1.
pub fn average_rule() -> Rule {
    Rule::new(AverageRule {
        max: 800.0,
        min: 300.0,
        samples: 3,
        increment: 1,
    })
}

/// dynopilot's trend defaults: 30 min, band 300..1000 ms, slopes ±20 ms/min.
pub fn trend_rule() -> Rule {
    Rule::new(TrendRule {
        window: TimeDelta::minutes(30),
        high: 1000.0,
        low: 300.0,
        trend_high: 20.0,
        trend_low: -20.0,
        increment: 1,
    })
}

/// HPA's default tolerance 0.1 around `target`.
pub fn target_rule(target: f64, per: Per) -> Rule {
    Rule::new(TargetRule {
        target,
        tolerance: 0.1,
        per,
    })
}

/// One sample per minute, oldest first, the last one at `now`.
pub fn per_minute(now: DateTime<Utc>, values: &[f64]) -> Vec<Sample> {
    let n = values.len() as i64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Sample {
            at: now - TimeDelta::minutes(n - 1 - i as i64),
            value: *v,
        })
        .collect()
}

/// A window holding `samples` for input `name`.
pub fn window_of(name: &str, samples: Vec<Sample>) -> Window {
    let mut window = Window::default();
    window.inputs.insert(
        name.to_string(),
        InputWindow {
            last_poll: samples.last().map(|s| s.at),
            samples,
            ..InputWindow::default()
        },
    );
    window
}
// ---------------------------------------------------------------------------
// HTTP inputs and the Heroku scaler (wiremock-driven tests)
// ---------------------------------------------------------------------------

pub use http_fakes::*;

/// Helpers of the wiremock-driven tests (HTTP inputs, Heroku scaler), in their
/// own module so their imports stay apart from the other helpers'.
mod http_fakes {
    use chrono::{DateTime, Utc};
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use dynopilot::config::{SecretRef, SecretResolver};
    use dynopilot::engine::{Engine, Invocation, Report};
    use dynopilot::inputs::{BuildContext, SourceError};
    use dynopilot::notify::RecordingNotifier;
    use dynopilot::scaler::{MemoryScaler, Scaler};
    use dynopilot::store::MemoryStateStore;
    use secrecy::SecretString;

    /// The User-Agent the shared HTTP client sends, as the fakes expect it.
    pub const USER_AGENT: &str = concat!("dynopilot/", env!("CARGO_PKG_VERSION"));

    /// Resolves secret references from a fixed map, so tests never touch the
    /// process environment (tests run in parallel threads).
    #[derive(Debug, Default)]
    pub struct SecretMap(BTreeMap<String, String>);

    impl SecretMap {
        /// `pairs` of reference as written (`env:NAME`) and value.
        pub fn of(pairs: &[(&str, &str)]) -> Self {
            Self(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }
    }

    impl SecretResolver for SecretMap {
        fn resolve(&self, reference: &SecretRef) -> Result<SecretString, String> {
            let name = reference.describe();
            self.0
                .get(&name)
                // Like every resolver, it registers what it hands out for redaction.
                .map(|v| SecretString::from(dynopilot::redact::keep(v.clone())))
                .ok_or_else(|| format!("{name} is not set"))
        }
    }

    /// An engine built from a config text with in-memory state, the given
    /// scaler and a recording notifier.
    pub struct Wired {
        pub engine: Engine,
        pub notifier: Arc<RecordingNotifier>,
    }

    impl Wired {
        pub fn new(config: &str, secrets: &SecretMap, scaler: Arc<dyn Scaler>) -> Self {
            let config = dynopilot::config::parse(config).expect("test config is valid");
            let http = dynopilot::wiring::http_client().expect("http client");
            let sources = dynopilot::wiring::build_sources(
                &config,
                &BuildContext {
                    secrets,
                    http: &http,
                    drain: None,
                    formation: None,
                },
            )
            .expect("sources build");
            let notifier = Arc::new(RecordingNotifier::new());
            let engine = Engine::new(
                Arc::new(config),
                sources,
                Arc::new(MemoryStateStore::new()),
                scaler,
                notifier.clone(),
            )
            .expect("engine wires");
            Self { engine, notifier }
        }

        pub async fn run(&self, now: DateTime<Utc>) -> Report {
            self.engine.invoke(&Invocation::at(now)).await
        }
    }

    /// Fetch the config's first input once directly, then run one invocation of
    /// an engine whose formation `example-app web` stands at `current` on a
    /// [`MemoryScaler`]: the parsed value (or error) and the decision it leads to.
    pub async fn fetch_and_decide(
        config: &str,
        secrets: &SecretMap,
        current: u32,
        now: DateTime<Utc>,
    ) -> (Result<f64, SourceError>, Report, Arc<MemoryScaler>) {
        let parsed = dynopilot::config::parse(config).expect("test config is valid");
        let http = dynopilot::wiring::http_client().expect("http client");
        let source = parsed.formations[0].inputs[0]
            .spec
            .build(&BuildContext {
                secrets,
                http: &http,
                drain: None,
                formation: None,
            })
            .expect("source builds");
        let fetched = source.fetch(now).await;
        let scaler = Arc::new(MemoryScaler::new());
        scaler.set("example-app", "web", current);
        let wired = Wired::new(config, secrets, scaler.clone());
        let report = wired.run(now).await;
        (fetched, report, scaler)
    }

    /// A config with one formation `example-app web` (min 1, max 10) and the
    /// given input table body (the lines after `[[formations.inputs]]`).
    pub fn one_input_config(input: &str) -> String {
        format!(
            r#"
    [state]
    kind = "memory"

    [[formations]]
    app = "example-app"
    type = "web"
    min = 1
    max = 10

    [[formations.inputs]]
    {input}
    "#
        )
    }

    /// Everything written through `tracing` while the guard lives (this thread).
    #[derive(Clone, Default)]
    pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

    impl LogBuffer {
        pub fn text(&self) -> String {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    impl Write for LogBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
        type Writer = LogBuffer;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Capture every event and span (TRACE and up, span fields included) of the
    /// current thread; a `#[tokio::test]` runtime runs on that one thread.
    pub fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
        // tracing caches each callsite's interest process-wide. While exactly one
        // dispatcher is registered, a callsite first reached by a sibling test's
        // thread (which has no subscriber) is cached as "never" and this capture
        // misses it. A second dispatcher that lives forever makes tracing union
        // the interest of all dispatchers instead (tokio-rs/tracing#3611).
        static ANCHOR: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        ANCHOR.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
        let buffer = LogBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (buffer, guard)
    }

    /// The fetch failed with `kind`, the engine recorded that kind for the input,
    /// and the formation standing at 5 stayed at 5 without a scale call (missing
    /// data never lowers the target). Neither the error nor the report holds `secret`.
    pub fn assert_failure_holds_at_5(
        fetched: &Result<f64, SourceError>,
        report: &Report,
        scaler: &MemoryScaler,
        kind: dynopilot::inputs::SourceErrorKind,
        secret: &str,
    ) {
        let err = fetched.as_ref().expect_err("the fetch fails");
        assert_eq!(err.kind, kind, "{}", err.message);
        assert!(!err.message.contains(secret), "secret in {}", err.message);
        let f = &report.formations[0];
        let input_error = f.inputs[0]
            .error
            .as_ref()
            .expect("the input error is reported");
        assert_eq!(input_error.kind, kind.as_str());
        assert_eq!(
            (f.current, f.target, f.outcome),
            (Some(5), Some(5), dynopilot::engine::Outcome::Hold),
            "{f:?}"
        );
        assert!(scaler.scales().is_empty());
        let json = serde_json::to_string(report).expect("report serializes");
        assert!(!json.contains(secret), "secret in the report");
    }
}

pub use input_fakes::*;

/// Support for the input tests (GA4, HTTP probe, app metric, Redis), in their
/// own module so their imports stay apart from the other helpers'.
mod input_fakes {
    #![allow(unused_imports)]
    use super::*;

    // ---------------------------------------------------------------------------
    // Inputs: building a one-formation world around a real input and running it.
    // ---------------------------------------------------------------------------

    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use dynopilot::config::{self, Config, SecretRef, SecretResolver};
    use dynopilot::engine::{Engine, FormationReport, Invocation, Report};
    use dynopilot::inputs::{BuildContext, MetricSource, SourceError};
    use dynopilot::notify::RecordingNotifier;
    use dynopilot::scaler::MemoryScaler;
    use dynopilot::store::MemoryStateStore;
    use secrecy::SecretString;

    /// Resolves `env:NAME` references from a map, so tests set no process-wide
    /// environment variables (tests run in parallel).
    #[derive(Debug, Default, Clone)]
    pub struct MapSecrets(pub BTreeMap<String, String>);

    impl MapSecrets {
        pub fn with(mut self, name: &str, value: &str) -> Self {
            self.0.insert(name.to_string(), value.to_string());
            self
        }
    }

    impl SecretResolver for MapSecrets {
        fn resolve(&self, reference: &SecretRef) -> Result<SecretString, String> {
            match reference {
                SecretRef::Env(name) => self
                    .0
                    .get(name)
                    // Like every resolver, it registers what it hands out for redaction.
                    .map(|v| SecretString::from(dynopilot::redact::keep(v.clone())))
                    .ok_or_else(|| format!("environment variable {name} is not set")),
                SecretRef::Ssm(path) => Err(format!("ssm:{path} is not available in tests")),
            }
        }
    }

    /// A config with one formation `shop/web` (min 1, max 10, memory state) whose
    /// only input is `input` (the TOML keys of one `[[formations.inputs]]` table,
    /// without `name`, which is `load`).
    pub fn shop_input_config(input: &str) -> String {
        format!(
            r#"
[state]
kind = "memory"

[[formations]]
app = "shop"
type = "web"
min = 1
max = 10

[[formations.inputs]]
name = "load"
{input}
"#
        )
    }

    /// Parse a config the test knows to be valid.
    pub fn valid_config(text: &str) -> Config {
        match config::parse(text) {
            Ok(c) => c,
            Err(e) => panic!("test config should be valid: {e}"),
        }
    }

    /// The field errors of a config the test knows to be invalid, as `path: message`.
    pub fn config_errors(text: &str) -> Vec<String> {
        match config::parse(text) {
            Ok(_) => panic!("config should have been refused"),
            Err(e) => e.field_errors().iter().map(|e| e.to_string()).collect(),
        }
    }

    /// Build the only input's source of a one-input config.
    pub fn only_source(
        config: &Config,
        secrets: &MapSecrets,
    ) -> Result<Arc<dyn MetricSource>, String> {
        let http = dynopilot::wiring::http_client()?;
        config.formations[0].inputs[0].spec.build(&BuildContext {
            secrets,
            http: &http,
            drain: None,
            formation: None,
        })
    }

    /// The error of building a source the test expects to be refused.
    pub fn build_error(result: Result<Arc<dyn MetricSource>, String>) -> String {
        match result {
            Ok(_) => panic!("the source should not have been built"),
            Err(e) => e,
        }
    }

    /// One formation `shop/web` at `current` dynos, driven by real sources.
    pub struct InputWorld {
        pub engine: Engine,
        /// The config it was built from.
        pub config: Arc<Config>,
        pub scaler: Arc<MemoryScaler>,
        pub notifier: Arc<RecordingNotifier>,
    }

    impl InputWorld {
        pub fn new(config_text: &str, secrets: &MapSecrets, current: u32) -> Self {
            let config = valid_config(config_text);
            let http = dynopilot::wiring::http_client().expect("http client");
            let sources = dynopilot::wiring::build_sources(
                &config,
                &BuildContext {
                    secrets,
                    http: &http,
                    drain: None,
                    formation: None,
                },
            )
            .expect("sources build");
            Self::with_sources(config, sources, current)
        }

        pub fn with_sources(
            config: Config,
            sources: Vec<Vec<Arc<dyn MetricSource>>>,
            current: u32,
        ) -> Self {
            let scaler = Arc::new(MemoryScaler::new());
            for f in &config.formations {
                scaler.set(&f.app, &f.process_type, current);
            }
            let notifier = Arc::new(RecordingNotifier::new());
            let config = Arc::new(config);
            let engine = Engine::new(
                config.clone(),
                sources,
                Arc::new(MemoryStateStore::new()),
                scaler.clone(),
                notifier.clone(),
            )
            .expect("engine wiring");
            Self {
                engine,
                config,
                scaler,
                notifier,
            }
        }

        /// One scheduled invocation at `now`; returns the report and the only formation's line.
        pub async fn run(&self, now: DateTime<Utc>) -> (Report, FormationReport) {
            let report = self.engine.invoke(&Invocation::at(now)).await;
            let formation = report.formations[0].clone();
            (report, formation)
        }

        pub fn quantity(&self) -> Option<u32> {
            self.scaler.quantity("shop", "web")
        }
    }

    /// The stable kind of the only input's error in a formation report.
    pub fn input_error_kind(formation: &FormationReport) -> Option<String> {
        formation.inputs[0].error.as_ref().map(|e| e.kind.clone())
    }

    /// Asserts the formation was held at `at` because its only input is missing:
    /// missing data never lowers (or raises) the target.
    pub fn assert_held_for_missing_input(formation: &FormationReport, at: u32) {
        assert_eq!(formation.current, Some(at), "{}", formation.summary());
        assert_eq!(formation.target, Some(at), "{}", formation.summary());
        assert_eq!(
            formation.reason.as_ref().map(|r| r.code.as_str()),
            Some("all_inputs_missing"),
            "{}",
            formation.summary()
        );
    }

    /// Asserts `fetch` failed with `kind` and returns the error.
    pub fn expect_kind(result: Result<f64, SourceError>, kind: &str) -> SourceError {
        match result {
            Ok(v) => panic!("expected a {kind} failure, got the value {v}"),
            Err(e) => {
                assert_eq!(e.kind.as_str(), kind, "{e}");
                e
            }
        }
    }

    /// Everything logged (any level, any target) while the guard lives, on this
    /// thread: `#[tokio::test]`'s runtime polls the engine on the test's thread.
    #[derive(Clone, Default)]
    pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

    impl LogCapture {
        pub fn start() -> (Self, tracing::subscriber::DefaultGuard) {
            let capture = Self::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            let guard = tracing::subscriber::set_default(subscriber);
            (capture, guard)
        }

        pub fn text(&self) -> String {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    impl Write for LogCapture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Asserts `secret` appears in none of: the report (as JSON), the logs, the
    /// config's normalized description, the notifications.
    pub fn assert_secret_absent(secret: &str, report: &Report, logs: &str, world: &InputWorld) {
        assert!(!secret.is_empty());
        let report_json = serde_json::to_string(report).expect("report serializes");
        assert!(
            !report_json.contains(secret),
            "secret in report: {report_json}"
        );
        assert!(!logs.contains(secret), "secret in logs: {logs}");
        let described = world.config.describe().to_string();
        assert!(!described.contains(secret), "secret in config description");
        let sent = format!("{:?}", world.notifier.sent());
        assert!(!sent.contains(secret), "secret in notifications");
    }

    /// An address where nothing listens (bound, then released).
    pub fn closed_port_url(scheme: &str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        format!("{scheme}://127.0.0.1:{port}")
    }
}

pub use heroku_fake::*;

/// The one fake of the Heroku Platform API v3 formation endpoints, shared by
/// every test that talks to "Heroku" over HTTP (contracts §1): it answers only
/// requests with `Authorization: Bearer <token>`, the v3 `Accept` header, the
/// shared client's User-Agent and, on PATCH, `Content-Type: application/json`;
/// every answer carries `RateLimit-Remaining`; errors are Heroku's JSON
/// `{"id","message"}`; anything it does not serve gets Heroku's JSON 401, 406
/// or 404 `not_found`, never an empty body.
///
/// PATCH bodies are checked as Heroku's update schema does
/// (`additionalProperties: false`): a body with an unknown key, or without
/// `quantity`, gets 422 `invalid_params`. Heroku also accepts `dyno_size`, the
/// legacy `size` and string quantities; dynopilot must never change a dyno size
/// and always sends an integer, so the fake refuses those too.
mod heroku_fake {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use serde_json::{json, Map, Value};
    use wiremock::matchers::{header, method, path, path_regex};
    use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate, Times};

    use super::USER_AGENT;

    /// The media type that selects API version 3.
    pub const HEROKU_ACCEPT: &str = "application/vnd.heroku+json; version=3";

    /// A formation object with the schema's full field set (values illustrative).
    pub fn heroku_formation(app: &str, process_type: &str, quantity: u32) -> Value {
        crate::heroku_account::formation_json(app, process_type, quantity)
    }

    /// A 200 as Heroku sends it: JSON with the pool's remaining tokens.
    pub fn heroku_ok(body: Value) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .insert_header("RateLimit-Remaining", "4497")
            .insert_header("RateLimit-Multiplier", "1")
            .set_body_json(body)
    }

    /// An error as Heroku sends it: `{"id","message"}` and `RateLimit-Remaining`.
    pub fn heroku_error(status: u16, id: &str, message: &str) -> ResponseTemplate {
        heroku_error_body(status, json!({"id": id, "message": message}))
    }

    /// An error with a whole body of the test's choosing (some carry more keys).
    pub fn heroku_error_body(status: u16, body: Value) -> ResponseTemplate {
        ResponseTemplate::new(status)
            .insert_header("RateLimit-Remaining", "4496")
            .insert_header("RateLimit-Multiplier", "1")
            .set_body_json(body)
    }

    /// Heroku's 404 for an app it does not know (fixture from public test code).
    pub fn heroku_not_found() -> ResponseTemplate {
        heroku_error_body(
            404,
            json!({"resource": "app", "id": "not_found", "message": "Couldn't find that app."}),
        )
    }

    /// `GET /apps/{app}/formation` with every header the contract asks for.
    pub fn heroku_list_formation(app: &str, token: &str) -> MockBuilder {
        Mock::given(method("GET"))
            .and(path(format!("/apps/{app}/formation")))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .and(header("accept", HEROKU_ACCEPT))
            .and(header("user-agent", USER_AGENT))
    }

    /// A PATCH of `at_path` with every header the contract asks for.
    pub fn heroku_patch(at_path: &str, token: &str) -> MockBuilder {
        Mock::given(method("PATCH"))
            .and(path(at_path))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .and(header("accept", HEROKU_ACCEPT))
            .and(header("content-type", "application/json"))
            .and(header("user-agent", USER_AGENT))
    }

    /// What Heroku answers a request no mock serves: 401 without the right
    /// bearer token, 406 without the v3 `Accept`, else 404 `not_found`.
    struct Unserved {
        token: String,
    }

    impl Respond for Unserved {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let header = |name: &str| {
                request
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            if header("authorization") != format!("Bearer {}", self.token) {
                return heroku_error(401, "unauthorized", "Invalid credentials provided.");
            }
            if header("accept") != HEROKU_ACCEPT {
                // Message illustrative; the id is Dev Center's.
                return heroku_error(
                    406,
                    "not_acceptable",
                    "Please set Accept: application/vnd.heroku+json; version=3 header and try again.",
                );
            }
            heroku_not_found()
        }
    }

    /// Mount the answer for every request no other mock serves, at the lowest
    /// priority, so an unexpected request gets Heroku's JSON, not an empty 404.
    pub async fn mount_heroku_fallback(server: &MockServer, token: &str) {
        Mock::given(wiremock::matchers::any())
            .respond_with(Unserved {
                token: token.to_string(),
            })
            .with_priority(u8::MAX)
            .named("Heroku: anything not served")
            .mount(server)
            .await;
    }

    /// A non-negative integer `quantity`, or why not.
    fn quantity_of(update: &Map<String, Value>) -> Result<u32, String> {
        match update.get("quantity") {
            None => Err("quantity is required".into()),
            Some(q) => q
                .as_u64()
                .and_then(|q| u32::try_from(q).ok())
                .ok_or_else(|| format!("quantity must be a non-negative integer, got {q}")),
        }
    }

    /// Keys outside `allowed`, as Heroku's `additionalProperties: false` refuses them.
    fn unknown_keys(update: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
        let unknown: Vec<&str> = update
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("unknown keys: {}", unknown.join(", ")))
        }
    }

    /// The changes a PATCH body asks for (`process_type` set for a single-type
    /// PATCH, `None` for a batch), or the 4xx Heroku answers.
    pub fn parse_formation_update(
        process_type: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<(String, u32)>, Box<ResponseTemplate>> {
        let invalid = |message: String| Box::new(heroku_error(422, "invalid_params", &message));
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return Err(Box::new(heroku_error(
                400,
                "bad_request",
                "Invalid JSON body.",
            )));
        };
        let Some(body) = body.as_object() else {
            return Err(invalid("the body must be an object".into()));
        };
        match process_type {
            Some(t) => {
                unknown_keys(body, &["quantity"]).map_err(invalid)?;
                Ok(vec![(t.to_string(), quantity_of(body).map_err(invalid)?)])
            }
            None => {
                unknown_keys(body, &["updates"]).map_err(invalid)?;
                let Some(updates) = body.get("updates").and_then(Value::as_array) else {
                    return Err(invalid("updates is required".into()));
                };
                let mut changes = Vec::new();
                for update in updates {
                    let Some(update) = update.as_object() else {
                        return Err(invalid("each update must be an object".into()));
                    };
                    unknown_keys(update, &["type", "quantity"]).map_err(invalid)?;
                    let Some(t) = update.get("type").and_then(Value::as_str) else {
                        return Err(invalid("type is required".into()));
                    };
                    changes.push((t.to_string(), quantity_of(update).map_err(invalid)?));
                }
                Ok(changes)
            }
        }
    }

    /// Process type -> quantity, per app.
    type Counts = Arc<Mutex<BTreeMap<String, BTreeMap<String, u32>>>>;

    /// One app's formation with memory: GET lists it, PATCH changes it.
    struct Formations {
        app: String,
        counts: Counts,
        /// The account's token pool, one token per call (contracts §1).
        pool: Arc<AtomicU32>,
    }

    impl Formations {
        fn ok(&self, body: Value) -> ResponseTemplate {
            let left = self.pool.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Remaining", left.to_string().as_str())
                .insert_header("RateLimit-Multiplier", "1")
                .set_body_json(body)
        }
    }

    impl Respond for Formations {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let Ok(mut counts) = self.counts.lock() else {
                return heroku_error(500, "internal", "fake poisoned");
            };
            let types = counts.entry(self.app.clone()).or_default();
            if request.method.as_str() == "GET" {
                let list: Vec<Value> = types
                    .iter()
                    .map(|(t, q)| heroku_formation(&self.app, t, *q))
                    .collect();
                return self.ok(Value::Array(list));
            }
            let prefix = format!("/apps/{}/formation", self.app);
            let rest = request.url.path().strip_prefix(&prefix).unwrap_or_default();
            let single = rest.strip_prefix('/').filter(|t| !t.is_empty());
            let changes = match parse_formation_update(single, &request.body) {
                Ok(changes) => changes,
                Err(refusal) => return *refusal,
            };
            if let Some((missing, _)) = changes.iter().find(|(t, _)| !types.contains_key(t)) {
                return heroku_error_body(
                    404,
                    json!({"resource": "formation", "id": "not_found",
                           "message": format!("Couldn't find that formation ({missing}).")}),
                );
            }
            for (t, q) in &changes {
                types.insert(t.clone(), *q);
            }
            let updated: Vec<Value> = changes
                .iter()
                .map(|(t, q)| heroku_formation(&self.app, t, *q))
                .collect();
            match single {
                // A single-type update answers the formation object...
                Some(_) => self.ok(updated.into_iter().next().unwrap_or(Value::Null)),
                // ...a batch update the array of the updated formations.
                None => self.ok(Value::Array(updated)),
            }
        }
    }

    /// A Heroku account with apps whose formations have memory, behind one
    /// token. Call [`HerokuFake::app`] per app; check counts with `quantity`,
    /// and what was sent with `requests`.
    pub struct HerokuFake {
        pub server: MockServer,
        token: String,
        counts: Counts,
        pool: Arc<AtomicU32>,
    }

    impl HerokuFake {
        pub async fn start(token: &str) -> Self {
            let server = MockServer::start().await;
            mount_heroku_fallback(&server, token).await;
            Self {
                server,
                token: token.to_string(),
                counts: Arc::default(),
                pool: Arc::new(AtomicU32::new(4500)),
            }
        }

        pub fn uri(&self) -> String {
            self.server.uri()
        }

        /// Serve `app` with these process types and counts, expecting `gets`
        /// formation reads and `patches` updates (single-type and batch),
        /// checked by [`HerokuFake::verify`] and when the fake is dropped.
        pub async fn app(
            &self,
            app: &str,
            formation: &[(&str, u32)],
            gets: impl Into<Times>,
            patches: impl Into<Times>,
        ) {
            if let Ok(mut counts) = self.counts.lock() {
                counts.insert(
                    app.to_string(),
                    formation.iter().map(|(t, q)| (t.to_string(), *q)).collect(),
                );
            }
            let responder = || Formations {
                app: app.to_string(),
                counts: self.counts.clone(),
                pool: self.pool.clone(),
            };
            heroku_list_formation(app, &self.token)
                .respond_with(responder())
                .expect(gets)
                .named(format!("Heroku: GET /apps/{app}/formation"))
                .mount(&self.server)
                .await;
            Mock::given(method("PATCH"))
                .and(path_regex(format!("^/apps/{app}/formation(/[^/]+)?$")))
                .and(header(
                    "authorization",
                    format!("Bearer {}", self.token).as_str(),
                ))
                .and(header("accept", HEROKU_ACCEPT))
                .and(header("content-type", "application/json"))
                .and(header("user-agent", USER_AGENT))
                .respond_with(responder())
                .expect(patches)
                .named(format!("Heroku: PATCH /apps/{app}/formation[/type]"))
                .mount(&self.server)
                .await;
        }

        /// The count Heroku holds now.
        pub fn quantity(&self, app: &str, process_type: &str) -> Option<u32> {
            self.counts
                .lock()
                .ok()
                .and_then(|c| c.get(app).and_then(|t| t.get(process_type)).copied())
        }

        /// Change a count behind dynopilot's back (someone used the dashboard).
        pub fn set(&self, app: &str, process_type: &str, quantity: u32) {
            if let Ok(mut counts) = self.counts.lock() {
                counts
                    .entry(app.to_string())
                    .or_default()
                    .insert(process_type.to_string(), quantity);
            }
        }

        /// Every request received with this method (served or not), in order:
        /// its path and its body as JSON (`null` when empty or not JSON).
        pub async fn requests(&self, with_method: &str) -> Vec<(String, Value)> {
            self.server
                .received_requests()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.method.as_str() == with_method)
                .map(|r| {
                    let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                    (r.url.path().to_string(), body)
                })
                .collect()
        }

        /// Panics when an expected count of GETs or PATCHes was not met.
        pub async fn verify(&self) {
            self.server.verify().await;
        }
    }
}
