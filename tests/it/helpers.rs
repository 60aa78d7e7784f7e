//! Builders and fixtures shared by the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};

/// A fixed, readable instant: 2026-01-05 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0)
        .single()
        .expect("valid fixed time")
}

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
                .map(|v| SecretString::from(v.clone()))
                .ok_or_else(|| format!("environment variable {name} is not set")),
            SecretRef::Ssm(path) => Err(format!("ssm:{path} is not available in tests")),
        }
    }
}

/// A config with one formation `shop/web` (min 1, max 10, memory state) whose
/// only input is `input` (the TOML keys of one `[[formations.inputs]]` table,
/// without `name`, which is `load`).
pub fn one_input_config(input: &str) -> String {
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
pub fn only_source(config: &Config, secrets: &MapSecrets) -> Result<Arc<dyn MetricSource>, String> {
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
