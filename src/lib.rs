//! dynopilot: a Heroku dyno autoscaler that runs as an AWS Lambda function every
//! minute, keeping no process alive between runs.
//!
//! # Layout
//!
//! ```text
//! src/
//!   domain/      the pure core: Policy, Window, ScaleHistory, decide() -> Decision.
//!                No I/O, no clock: `now` is an argument.
//!   config/      TOML config -> validated domain values; every error with its
//!                field path; secrets by reference (env:, ssm:), never printable.
//!   inputs/      port MetricSource + one module per input type + the registry
//!                keyed on the config's `type`; demo inputs (sine, constant),
//!                replay (a recorded CSV trace) and the ScriptedSource fake.
//!   store/       port StateStore (versioned, optimistic locking) + FileStateStore
//!                (one JSON file, atomic rename) + DynamoDbStateStore + MemoryStateStore.
//!   scaler/      port Scaler (read all process types, batch scale) + HerokuScaler
//!                (Platform API v3, retries within a budget) + LocalScaler
//!                (counts in the state file) + MemoryScaler (fake with faults)
//!                + SimulatedScaler (dynos that boot, for the simulator).
//!   notify/      port Notifier + SesNotifier + ConsoleNotifier + RecordingNotifier;
//!                episodes (pure: which mails a run sends, deduplicated) and texts.
//!   metrics/     a Report as CloudWatch Embedded Metric Format lines.
//!   heartbeat/   port Heartbeat (dead-man's switch) + HttpHeartbeat + RecordingHeartbeat.
//!   engine/      one invocation: poll, load, decide, claim, scale, notify, record,
//!                heartbeat, report.
//!   simulate/    backtests: replays a load trace (or a synthetic one) through
//!                the same Engine with a simulated Heroku, minute by minute;
//!                accounting against the ideal, series CSV and SVG plot.
//!   lambda/      the Lambda function: event parsing, cold-start wiring
//!                (DynamoDB store, SES notifier, SSM secrets), the handler.
//!   wiring.rs    builds sources, scalers and the heartbeat from a config; the local world.
//!   error_text.rs  errors as one readable line: AWS SDK errors, error cause chains.
//!   redact.rs    every secret the process holds, scrubbed from texts that quote a provider.
//!   body_limit.rs  every external body read with a size cap (1 MiB for inputs and Heroku).
//!   bin/         entry points only: `dynopilot` (CLI), `dynopilot-lambda`.
//! ```
//!
//! # The decision, by example
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use dynopilot::domain::{decide, Action, Bound, InputPolicy, InputWindow, Policy, ReasonCode, Rule, ScaleHistory, Window};
//!
//! let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
//! let policy = Policy {
//!     min: Bound::Fixed(1), max: Bound::Fixed(10),
//!     scale_up_cooloff: TimeDelta::zero(), scale_down_cooloff: TimeDelta::minutes(5),
//!     max_step_up: None, max_step_down: Some(1),
//!     hysteresis: TimeDelta::minutes(5),
//!     fallback_after: TimeDelta::minutes(10), fallback: None,
//!     inputs: vec![InputPolicy {
//!         name: "rpm".into(),
//!         interval: TimeDelta::minutes(1),
//!         rule: Rule::Capacity { per_dyno: 150.0 },
//!     }],
//! };
//! let mut rpm = InputWindow::default();
//! rpm.record_sample(now, 742.0);
//! let mut window = Window::default();
//! window.inputs.insert("rpm".into(), rpm);
//!
//! let decision = decide(&policy, &window, 2, &ScaleHistory::default(), now);
//! assert_eq!(decision.target, 5); // ceil(742 / 150)
//! assert_eq!(decision.action, Action::ScaleUp);
//! assert_eq!(decision.reason.code, ReasonCode::LoadAbove);
//! assert_eq!(decision.reason.text, "rpm: capacity: max 742 over 5m / 150 per dyno = 5");
//! ```
//!
//! Ports are named by capability, adapters by technology; every port's fake
//! lives beside its real adapter and is always compiled, so integration tests
//! in `tests/` can use them.

pub mod body_limit;
pub mod config;
pub mod domain;
pub mod engine;
mod error_text;
pub mod heartbeat;
pub mod inputs;
pub mod lambda;
pub mod metrics;
pub mod notify;
pub mod redact;
pub mod scaler;
pub mod simulate;
pub mod store;
pub mod wiring;
