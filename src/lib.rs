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
//!                keyed on the config's `type`; demo inputs (sine, constant) and
//!                the ScriptedSource fake.
//!   store/       port StateStore (versioned, optimistic locking) + FileStateStore
//!                (one JSON file, atomic rename) + MemoryStateStore.
//!   scaler/      port Scaler (read all process types, batch scale) + HerokuScaler
//!                (Platform API v3, retries within a budget) + LocalScaler
//!                (counts in the state file) + MemoryScaler (fake with faults).
//!   notify/      port Notifier + ConsoleNotifier + RecordingNotifier.
//!   engine/      one invocation: poll, load, decide, scale, save, notify, report.
//!   wiring.rs    builds an Engine from a config for local runs.
//!   bin/         entry points only: `dynopilot` (CLI).
//! ```
//!
//! Ports are named by capability, adapters by technology; every port's fake
//! lives beside its real adapter and is always compiled, so integration tests
//! in `tests/` can use them.

pub mod config;
pub mod domain;
pub mod engine;
pub mod inputs;
pub mod notify;
pub mod scaler;
pub mod store;
pub mod wiring;
