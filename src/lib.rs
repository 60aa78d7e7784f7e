//! dynopilot: a Heroku dyno autoscaler that runs as an AWS Lambda function every
//! minute, keeping no process alive between runs.
//!
//! # Layout
//!
//! ```text
//! src/
//!   domain/      the pure core: Policy, Window, ScaleHistory, decide() -> Decision;
//!                plans.rs: an add-on's plan ladder, decide_plan() -> PlanDecision.
//!                No I/O, no clock: `now` is an argument.
//!     rules/     the rule registry (RULES): one file per rule with its settings,
//!                its behaviour (RuleLogic), its keys and its parser.
//!   drain/       pure: Logplex drain POST bodies (octet-counted frames) to
//!                per-minute additive counters (router, runtime metrics, HireFire
//!                queue line, L10); mergeable histograms. No I/O, no clock.
//!   fields.rs    leaf: the TOML field walker (every error with its field path),
//!                documented keys (KeyDoc), durations as users write them.
//!   secrets/     port SecretResolver + EnvSecrets + SsmSecrets + MemorySecrets (fake);
//!                references (env:, ssm:) in the config, never values.
//!   config/      TOML config -> validated domain values, one file per concern
//!                (top level, formation + inputs, add-ons, notifications, platform:
//!                state/scaler/metrics/heartbeat), each with its reader,
//!                defaults, keys and describe; reference.rs makes the docs'
//!                key tables from those keys.
//!   inputs/      port MetricSource + the input registry (INPUT_TYPES): one file
//!                per input type with its settings, keys, parser, adapter and
//!                what the simulator feeds it; demo inputs, replay and the
//!                ScriptedSource fake. Port UsageSource (an add-on's use per
//!                dimension): redis_info, any input via MetricUsage, FixedUsage fake.
//!   trace.rs     leaf: per-minute load traces (CSV), for replay and simulate.
//!   store/       port StateStore (versioned, optimistic locking) + FileStateStore
//!                (one JSON file, atomic rename) + DynamoDbStateStore + MemoryStateStore;
//!                schema.rs versions the stored JSON (migrate older, refuse newer);
//!                tuning.rs: what `tune` keeps (its choice and evidence).
//!   history/     port HistoryStore: each formation's per-minute record, an hour
//!                per item (DynamoDB with TTL, files, memory); read_minutes.
//!   scaler/      port Scaler (read all process types, batch scale) + HerokuScaler
//!                (Platform API v3, retries within a budget) + LocalScaler
//!                (counts in the state file) + MemoryScaler (fake with faults)
//!                + SimulatedScaler (dynos that boot, for the simulator);
//!                port AddonPlans (an add-on's plan) on HerokuScaler + MemoryAddons;
//!                app.rs: an app's generation (GET /apps/{app}).
//!   notify/      port Notifier + SesNotifier + ConsoleNotifier + RecordingNotifier;
//!                episodes (pure: which mails a run sends, deduplicated) and texts.
//!   metrics/     a Report as CloudWatch Embedded Metric Format lines.
//!   drain_store/ port DrainStore (per-minute log-drain aggregates, one request
//!                per POST, frame ids once) + DynamoDbDrainStore + FileDrainStore
//!                + MemoryDrainStore.
//!   http/        the HTTP function (Function URL): a router by method and path,
//!                Basic auth, `POST /drain` (Heroku log drains).
//!   heartbeat/   port Heartbeat (dead-man's switch) + HttpHeartbeat + RecordingHeartbeat.
//!   engine/      one invocation: poll, load, decide, claim, scale, notify, record,
//!                heartbeat, report; status and pause (for the Lambda and the CLI);
//!                addons.rs: the same steps for add-on plans; addon_status.rs:
//!                their status and pause; generation.rs: size ladders against
//!                the app's generation; tuning.rs: the `tune` event and the
//!                rule parameters in force (`tuning`).
//!   wiring.rs    the one place an Engine is assembled from a config (the Lambda
//!                and the CLI call it); state stores for local runs.
//!   simulate/    backtests: replays a load trace (or a synthetic one) through
//!                the same Engine with a simulated Heroku, minute by minute;
//!                accounting against the ideal, series CSV and SVG plot
//!                (plot.rs: the one chart function, also used by status_page).
//!   status_page/ the operator's HTML page: a view from the stored state, the
//!                config and the history; a pure renderer with inline SVG charts.
//!   tune/        `tune`: a pure grid search of rule parameters replayed on a
//!                formation's history through decide(); the frontier and the choice.
//!   lambda/      the Lambda function: event parsing, cold start (DynamoDB store,
//!                SES notifier, SSM secrets), the handler.
//!   init.rs      `dynopilot init`: a starter config from the app's formation.
//!   error_text.rs  leaf: errors as one readable line (AWS SDK errors, cause chains).
//!   redact.rs    leaf: every secret the process holds, scrubbed from texts that quote a provider.
//!   body_limit.rs  leaf: every external body read with a size cap (1 MiB for inputs and Heroku).
//!   bin/         entry points only: `dynopilot` (CLI), `dynopilot-lambda`,
//!                `dynopilot-http` (the drain receiver).
//! ```
//!
//! No two of these import each other (`python3 tests/import_cycles.py` lists
//! the imports and fails on a cycle; `tests/run` runs it).
//!
//! # The decision, by example
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use dynopilot::domain::{decide, Action, Bound, CapacityRule, InputPolicy, InputWindow, Policy, ReasonCode, Rule, ScaleHistory, Window};
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
//!         rule: Rule::new(CapacityRule { per_dyno: 150.0 }),
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
pub mod drain;
pub mod drain_store;
pub mod engine;
mod error_text;
pub mod fields;
pub mod heartbeat;
pub mod history;
pub mod http;
pub mod init;
pub mod inputs;
pub mod lambda;
pub mod metrics;
pub mod notify;
pub mod redact;
pub mod scaler;
pub mod secrets;
pub mod simulate;
pub mod status_page;
pub mod store;
pub mod trace;
pub mod tune;
pub mod wiring;
