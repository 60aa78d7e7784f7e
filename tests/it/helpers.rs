//! Builders and fixtures shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::config::{self, Config};
use dynopilot::domain::{
    AverageRule, Bound, ConsecutiveRule, InputPolicy, InputWindow, Per, Policy, Rule, Sample,
    ScaleEvent, ScaleHistory, TargetRule, TrendRule, Window,
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
        rule: Rule::Capacity { per_dyno },
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
    pub store: Arc<MemoryStateStore>,
    pub scaler: Arc<MemoryScaler>,
    pub notifier: Arc<RecordingNotifier>,
}

/// An engine over memory fakes, with the given sources (one list per formation).
pub fn world(config: Config, sources: Vec<Vec<Arc<dyn MetricSource>>>) -> World {
    let store = Arc::new(MemoryStateStore::new());
    let scaler = Arc::new(MemoryScaler::new());
    let notifier = Arc::new(RecordingNotifier::new());
    let engine = Engine::new(
        Arc::new(config),
        sources,
        store.clone(),
        scaler.clone(),
        notifier.clone(),
    )
    .expect("one source per input");
    World {
        engine,
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
    Rule::Consecutive(ConsecutiveRule {
        max: 800.0,
        min: 300.0,
        fails_to_scale_up: 3,
        passes_to_scale_down: 5,
        increment: 1,
    })
}

/// autoscalebot 3.0's default of 3 samples, 300..800 ms band, increment 1.
pub fn average_rule() -> Rule {
    Rule::Average(AverageRule {
        max: 800.0,
        min: 300.0,
        samples: 3,
        increment: 1,
    })
}

/// dynopilot's trend defaults: 30 min, band 300..1000 ms, slopes ±20 ms/min.
pub fn trend_rule() -> Rule {
    Rule::Trend(TrendRule {
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
    Rule::Target(TargetRule {
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
            let engine = Engine::new(
                Arc::new(config),
                sources,
                Arc::new(MemoryStateStore::new()),
                scaler.clone(),
                notifier.clone(),
            )
            .expect("engine wiring");
            Self {
                engine,
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
        let described = world.engine.config().describe().to_string();
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
