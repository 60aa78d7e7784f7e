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
                .map(|v| SecretString::from(v.clone()))
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
