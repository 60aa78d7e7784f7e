//! Backtests: replay a load trace through the very same [`Engine`], minute by
//! minute, with a simulated clock and a simulated Heroku, and account for cost
//! and shortfall against a perfect-foresight oracle.
//!
//! Nobody should hand an autoscaler production's keys without seeing what it
//! would have done. The decision is never re-implemented here: every minute is
//! one [`Engine::invoke`] with [`Invocation::at`] over memory fakes, so cool-offs,
//! hysteresis, step limits, schedules and the missing-data rules all come from
//! the engine and the domain.
//!
//! # The model (fixed, so results are comparable)
//! - Minute t, from the trace's second row on: the engine runs with `now` = the
//!   start of minute t. Load inputs (`replay`, `new_relic`, `new_relic_nrql`,
//!   `google_analytics`, `app_metric`, `redis_queue`, `sine`, `constant`) read the
//!   trace value of minute t−1, the last complete minute; response-time inputs
//!   (`http_probe`, `pingdom`) read the modelled response time of minute t−1. An
//!   empty trace value makes every input fail that minute. Nothing touches the network.
//! - A scale-up ordered at minute t serves from t + boot; a scale-down takes
//!   effect at once ([`SimulatedScaler`]).
//! - Each ready dyno serves `capacity` units per minute: ρ = load / (ready ×
//!   capacity), response = `service_ms` / (1 − ρ), and 30,000 ms (Heroku's router
//!   timeout) when ρ ≥ 0.99 or no dyno is ready.
//! - Accounting per minute t ≥ 1: dyno-minutes += quantity (booting dynos cost);
//!   under-provisioned when load > ready × capacity; unserved += the excess. A
//!   minute without data keeps the last known load for accounting.
//! - Oracle: Σ clamp(ceil(load / capacity), min, max), with the bounds in force
//!   at that minute.
//!
//! The formation starts at its `min` in force at the first row, all dynos ready.
//!
//! With `sizes`: the formation starts at the ladder's first size; a ready dyno
//! serves `capacity` × its size's capacity (relative to the first); a size
//! change takes effect at once; cost is also reported in dollars, each dyno
//! minute at its size's list price / [`MONTH_MINUTES`], and dyno-minutes per
//! size. The oracle stays in dynos of the first size.

pub mod frontier_plot;
pub mod plot;
pub mod synthetic;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::engine::{Engine, Invocation, Outcome};
use crate::inputs::{Measure, MetricSource, ReplaySource, SourceError, SourceErrorKind};
use crate::notify::RecordingNotifier;
use crate::scaler::SimulatedScaler;
use crate::store::MemoryStateStore;

pub use crate::trace::{parse_minute, Trace, TraceError};
pub use plot::plot_svg;

/// Minutes in a month for list prices: Heroku prorates monthly prices over
/// 720 hours (30 days).
pub const MONTH_MINUTES: f64 = 30.0 * 24.0 * 60.0;

/// Heroku's router gives up on a request after 30 s: the worst response time.
pub const ROUTER_TIMEOUT_MS: f64 = 30_000.0;

/// Utilisation from which the queue is treated as never draining.
pub const SATURATED: f64 = 0.99;

/// The simulation's knobs (the CLI's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Load units one ready dyno serves per minute.
    pub capacity: f64,
    /// Minutes from ordering a dyno until it serves.
    pub boot_minutes: usize,
    /// Response time of an idle dyno, ms.
    pub service_ms: f64,
    /// Which formation to simulate; required when the config has several.
    pub formation: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            capacity: 40.0,
            boot_minutes: 1,
            service_ms: 100.0,
            formation: None,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Setup(String),
}

/// The modelled response time of a minute, ms.
pub fn response_ms(load: f64, ready: u32, capacity: f64, service_ms: f64) -> f64 {
    if ready == 0 || capacity <= 0.0 {
        return ROUTER_TIMEOUT_MS;
    }
    let rho = load / (f64::from(ready) * capacity);
    if rho >= SATURATED {
        ROUTER_TIMEOUT_MS
    } else {
        service_ms / (1.0 - rho)
    }
}

/// `ceil(load / capacity)` without float noise (2.0000000001 is 2 dynos).
fn dynos_for(load: f64, capacity: f64) -> u32 {
    let x = load / capacity;
    if x.is_nan() || x <= 0.0 {
        0
    } else {
        let d = (x - 1e-9).ceil();
        if d >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            d as u32
        }
    }
}

/// One simulated minute.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MinuteRow {
    pub at: DateTime<Utc>,
    /// The load accounted (the last known load when the trace has no data).
    pub load: f64,
    /// The trace had no data for this minute.
    pub missing: bool,
    /// What the rules asked for: the combined estimate clamped to min/max (the
    /// decision's target when every input was missing).
    pub target: u32,
    /// Dynos running after this minute's decision (booting ones included).
    pub quantity: u32,
    /// Dynos serving this minute.
    pub ready: u32,
    pub response_ms: f64,
}

/// The accounting of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    pub formation: String,
    /// First minute accounted (the trace's second row) and last.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub capacity: f64,
    pub boot_minutes: usize,
    pub service_ms: f64,
    /// Minutes simulated (the trace's rows minus the first).
    pub minutes: u64,
    /// Of those, minutes the trace had no data for.
    pub missing_minutes: u64,
    pub dyno_minutes: u64,
    pub oracle_dyno_minutes: u64,
    pub cost_vs_oracle: f64,
    pub under_provisioned_minutes: u64,
    pub under_provisioned_pct: f64,
    /// Load above the ready capacity, as % of all load.
    pub unserved_pct: f64,
    pub scale_events: u64,
    pub p95_response_ms: f64,
    /// Invocations whose outcome was `failed` (none expected: kept to prove it).
    pub failed_invocations: u64,
    /// With `sizes`: list-price cost of the run in dollars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_dollars: Option<f64>,
    /// With `sizes`: dyno-minutes per size.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub size_minutes: std::collections::BTreeMap<String, u64>,
}

/// A finished run: the report and the per-minute series.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub report: SimReport,
    pub series: Vec<MinuteRow>,
}

impl Simulation {
    /// `--series`: one CSV row per minute.
    pub fn series_csv(&self) -> String {
        let mut out = String::with_capacity(self.series.len() * 48);
        out.push_str("minute,load,target,quantity,ready,response_ms,missing\n");
        for r in &self.series {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.1},{}",
                r.at.format("%Y-%m-%d %H:%M"),
                r.load,
                r.target,
                r.quantity,
                r.ready,
                r.response_ms,
                u8::from(r.missing)
            );
        }
        out
    }
}

/// What the simulated sources read: the trace and the modelled response times.
struct Signals {
    trace: Arc<Trace>,
    /// Response time per minute, filled as the simulation advances.
    responses: Mutex<Vec<f64>>,
}

/// A response-time input (`http_probe`, `pingdom`) in the simulation: the
/// modelled response time of the last complete minute.
struct ModelledResponse {
    signals: Arc<Signals>,
}

#[async_trait]
impl MetricSource for ModelledResponse {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        let no_data = |why: &str| SourceError::new(SourceErrorKind::Empty, why.to_string());
        let previous = self
            .signals
            .trace
            .index_of(now)
            .and_then(|i| i.checked_sub(1))
            .ok_or_else(|| no_data("no simulated minute before now"))?;
        if self.signals.trace.values[previous].is_none() {
            return Err(no_data("the trace has no data for the last minute"));
        }
        let responses = self
            .signals
            .responses
            .lock()
            .map_err(|_| no_data("response series lock poisoned"))?;
        responses
            .get(previous)
            .copied()
            .ok_or_else(|| no_data("the last minute was not simulated"))
    }
}

/// Replay `trace` through the engine for one formation of `config`.
///
/// The config's `dry_run` and notifications are switched off (a dry run would
/// never scale), its state goes to memory and its scaler is the simulated one;
/// every input is fed by the simulation, none touches the network.
///
/// # Errors
/// [`SimError::Setup`] when the formation cannot be chosen, an input type is
/// unknown to the simulator, or the trace has fewer than two rows.
pub fn run(
    config: Config,
    trace: Arc<Trace>,
    options: &SimOptions,
) -> Result<Simulation, SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| SimError::Setup(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run_async(config, trace, options))
}

fn setup(message: impl Into<String>) -> SimError {
    SimError::Setup(message.into())
}

/// [`run`] inside a caller's runtime.
///
/// # Errors
/// As [`run`].
pub async fn run_async(
    mut config: Config,
    trace: Arc<Trace>,
    options: &SimOptions,
) -> Result<Simulation, SimError> {
    if trace.len() < 2 {
        return Err(setup(
            "the trace needs at least two minutes (the first only feeds the inputs)",
        ));
    }
    if !(options.capacity > 0.0 && options.capacity.is_finite()) {
        return Err(setup("capacity must be a number > 0"));
    }
    match &options.formation {
        Some(name) => {
            if !config.formations.iter().any(|f| &f.name == name) {
                let names: Vec<&str> = config.formations.iter().map(|f| f.name.as_str()).collect();
                return Err(setup(format!(
                    "no formation named {name:?} (the config has: {})",
                    names.join(", ")
                )));
            }
            config.formations.retain(|f| &f.name == name);
        }
        None if config.formations.len() > 1 => {
            let names: Vec<&str> = config.formations.iter().map(|f| f.name.as_str()).collect();
            return Err(setup(format!(
                "the config has {} formations; choose one with --formation ({})",
                names.len(),
                names.join(", ")
            )));
        }
        None => {}
    }
    config.dry_run = false;
    config.notifications.on_scale = false;
    config.notifications.on_scale_failed = false;

    let signals = Arc::new(Signals {
        trace: trace.clone(),
        responses: Mutex::new(Vec::with_capacity(trace.len())),
    });
    let formation = config
        .formations
        .first()
        .ok_or_else(|| setup("the config has no formation"))?;
    let mut sources: Vec<Arc<dyn MetricSource>> = Vec::new();
    for input in &formation.inputs {
        let source: Arc<dyn MetricSource> = match input.measure {
            Measure::Load => Arc::new(ReplaySource::new(trace.clone())),
            Measure::ResponseTime => Arc::new(ModelledResponse {
                signals: signals.clone(),
            }),
        };
        sources.push(source);
    }
    let policy = formation.policy.clone();
    let name = formation.name.clone();
    let bounds = |at: DateTime<Utc>| {
        let max = policy.max.resolve(at).value;
        (policy.min.resolve(at).value.min(max), max)
    };
    let (initial, _) = bounds(trace.start);
    let ladder = formation.sizes.clone();
    let mut platform = SimulatedScaler::new(
        &formation.app,
        &formation.process_type,
        initial,
        options.boot_minutes,
    );
    if let Some(first) = ladder.as_ref().and_then(|l| l.steps.first()) {
        platform = platform.with_size(&first.name);
    }
    let platform = Arc::new(platform);
    // A ready dyno's capacity at the platform's current size, and that size.
    let size_now = |base: f64| match (&ladder, platform.size()) {
        (Some(l), Some(size)) => {
            let factor = l.index_of(&size).map_or(1.0, |i| l.steps[i].capacity);
            (base * factor, Some(size))
        }
        _ => (base, None),
    };
    let (mut dollars, mut size_minutes) = (0.0f64, std::collections::BTreeMap::new());
    let engine = Engine::new(
        Arc::new(config),
        vec![sources],
        Arc::new(MemoryStateStore::new()),
        platform.clone(),
        Arc::new(RecordingNotifier::new()),
    )
    .map_err(setup)?;

    let (capacity, service_ms) = (options.capacity, options.service_ms);
    let mut last_load = trace.values[0].unwrap_or(0.0);
    if let Ok(mut r) = signals.responses.lock() {
        r.push(response_ms(last_load, initial, capacity, service_ms));
    }
    let minutes = trace.len() - 1;
    let mut series = Vec::with_capacity(minutes);
    let (mut dyno_minutes, mut oracle, mut under, mut missing, mut failed) = (0u64, 0, 0, 0, 0);
    let (mut total_load, mut unserved) = (0.0f64, 0.0f64);
    for t in 1..trace.len() {
        let now = trace.minute(t);
        platform.set_minute(t);
        let report = engine.invoke(&Invocation::at(now)).await;
        let formation = report.formations.first();
        if formation.is_none_or(|f| f.outcome == Outcome::Failed) {
            failed += 1;
        }
        let (quantity, ready) = platform.counts();
        let (per_dyno, size) = size_now(capacity);
        if let Some(size) = &size {
            *size_minutes
                .entry(size.to_ascii_lowercase())
                .or_insert(0u64) += u64::from(quantity);
            dollars += f64::from(quantity)
                * f64::from(crate::domain::sizes::monthly_price(size).unwrap_or(0))
                / MONTH_MINUTES;
        }
        let (min, max) = bounds(now);
        let is_missing = trace.values[t].is_none();
        let load = trace.values[t].unwrap_or(last_load);
        last_load = load;
        let response = response_ms(load, ready, per_dyno, service_ms);
        if let Ok(mut r) = signals.responses.lock() {
            r.push(response);
        }
        let served = f64::from(ready) * per_dyno;
        dyno_minutes += u64::from(quantity);
        oracle += u64::from(dynos_for(load, capacity).clamp(min, max));
        if load > served {
            under += 1;
            unserved += load - served;
        }
        total_load += load;
        missing += u64::from(is_missing);
        let target = formation
            .and_then(|f| f.estimate.map(|e| e.clamp(min, max)).or(f.target))
            .unwrap_or(quantity);
        series.push(MinuteRow {
            at: now,
            load,
            missing: is_missing,
            target,
            quantity,
            ready,
            response_ms: response,
        });
    }
    let minutes_f = minutes as f64;
    let report = SimReport {
        formation: name,
        from: trace.minute(1),
        to: trace.minute(minutes),
        capacity,
        boot_minutes: options.boot_minutes,
        service_ms,
        minutes: minutes as u64,
        missing_minutes: missing,
        dyno_minutes,
        oracle_dyno_minutes: oracle,
        cost_vs_oracle: if oracle == 0 {
            0.0
        } else {
            dyno_minutes as f64 / oracle as f64
        },
        under_provisioned_minutes: under,
        under_provisioned_pct: 100.0 * under as f64 / minutes_f,
        unserved_pct: if total_load > 0.0 {
            100.0 * unserved / total_load
        } else {
            0.0
        },
        scale_events: platform.scale_events(),
        p95_response_ms: p95(series.iter().map(|r| r.response_ms).collect()),
        failed_invocations: failed,
        cost_dollars: ladder.is_some().then_some(dollars),
        size_minutes,
    };
    Ok(Simulation { report, series })
}

/// Nearest-rank 95th percentile.
fn p95(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = (0.95 * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_time_follows_the_queueing_model() {
        assert_eq!(response_ms(20.0, 1, 40.0, 100.0), 200.0);
        assert_eq!(response_ms(0.0, 2, 40.0, 100.0), 100.0);
        assert_eq!(response_ms(39.6, 1, 40.0, 100.0), ROUTER_TIMEOUT_MS);
        assert_eq!(response_ms(1.0, 0, 40.0, 100.0), ROUTER_TIMEOUT_MS);
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(p95(values), 19.0);
        assert_eq!(p95(vec![5.0]), 5.0);
    }

    #[test]
    fn dynos_for_ignores_float_noise() {
        assert_eq!(dynos_for(80.0, 40.0), 2);
        assert_eq!(dynos_for(80.1, 40.0), 3);
        assert_eq!(dynos_for(0.0, 40.0), 0);
    }
}
