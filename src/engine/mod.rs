//! One invocation: fetch, load, decide, scale, save, notify, report.
//!
//! The Lambda handler, the CLI and tests all call [`Engine::invoke`]. It never
//! panics on external input and isolates failures: one input's error is missing
//! data for its formation, one formation's error leaves the others untouched.
//!
//! Order per invocation:
//! 1. load every selected formation's state (in parallel);
//! 2. poll every due input of those formations concurrently, each within its
//!    `timeout` and the invocation's fetch deadline;
//! 3. read the current counts, one `formation` read per app;
//! 4. decide per formation (pure, [`crate::domain::decide`]);
//! 5. scale: one batch call per app for the formations that change (not in dry run);
//! 6. save each formation's pruned state, conditional on the version read;
//! 7. notify, never letting a failed notification undo anything.

mod messages;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tracing::{info, warn, Instrument};

use crate::config::{Config, FormationConfig};
use crate::domain::{decide, Action, Decision, InputError, ScaleEvent};
use crate::inputs::{MetricSource, SourceError, SourceErrorKind};
use crate::notify::{Notification, Notifier};
use crate::scaler::{QuantityChange, ScaleError, Scaler};
use crate::store::{FormationState, StateStore, StoreError, Versioned};

pub use report::{FormationReport, InputReport, Outcome, Report, StageError};

/// What one invocation is asked to do.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The decision time: the scheduled event's `time`, or the clock read once.
    pub now: DateTime<Utc>,
    /// Force a dry run (the config's `dry_run` also makes every run dry).
    pub dry_run: bool,
    /// Only these formations (by name); `None`: all.
    pub formations: Option<Vec<String>>,
    /// Time left for polling inputs, if shorter than the config's `fetch_deadline`
    /// (the Lambda's remaining time minus what saving needs).
    pub fetch_budget: Option<Duration>,
}

impl Invocation {
    /// A plain scheduled run at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            dry_run: false,
            formations: None,
            fetch_budget: None,
        }
    }
}

/// The configured world: config, one source per input, and the ports.
pub struct Engine {
    config: Arc<Config>,
    /// `sources[f][i]` serves `config.formations[f].inputs[i]`.
    sources: Vec<Vec<Arc<dyn MetricSource>>>,
    store: Arc<dyn StateStore>,
    scaler: Arc<dyn Scaler>,
    notifier: Arc<dyn Notifier>,
}

/// A formation's work in progress through the steps.
struct Work<'a> {
    index: usize,
    config: &'a FormationConfig,
    state: FormationState,
    version: Option<u64>,
    polled: BTreeSet<String>,
    current: Option<u32>,
    decision: Option<Decision>,
    outcome: Outcome,
    errors: Vec<StageError>,
    /// False once something makes saving unsafe or pointless (state unreadable).
    save: bool,
}

impl Engine {
    /// Wire an engine from already-built parts.
    ///
    /// # Errors
    /// When `sources` does not have one source per configured input.
    pub fn new(
        config: Arc<Config>,
        sources: Vec<Vec<Arc<dyn MetricSource>>>,
        store: Arc<dyn StateStore>,
        scaler: Arc<dyn Scaler>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Self, String> {
        let shape_ok = sources.len() == config.formations.len()
            && sources
                .iter()
                .zip(&config.formations)
                .all(|(s, f)| s.len() == f.inputs.len());
        if !shape_ok {
            return Err("one source per configured input is required".into());
        }
        Ok(Self {
            config,
            sources,
            store,
            scaler,
            notifier,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Run one invocation. Never fails as a whole: problems are in the report.
    pub async fn invoke(&self, invocation: &Invocation) -> Report {
        let now = invocation.now;
        let dry_run = self.config.dry_run || invocation.dry_run;
        let span = tracing::info_span!("invocation", now = %now, dry_run);
        async move {
            let mut errors = Vec::new();
            let selected = self.select(invocation.formations.as_deref(), &mut errors);
            let mut work = self.load(&selected).await;
            self.poll(&mut work, invocation).await;
            self.read_current(&mut work).await;
            for w in &mut work {
                if let Some(current) = w.current {
                    let decision = decide(
                        &w.config.policy,
                        &w.state.window,
                        current,
                        &w.state.history,
                        now,
                    );
                    info!(
                        formation = %w.config.name,
                        current,
                        target = decision.target,
                        reason = decision.reason.code.as_str(),
                        "decided"
                    );
                    w.decision = Some(decision);
                }
            }
            let notifications = self.apply(&mut work, now, dry_run).await;
            self.save(&mut work, now).await;
            self.notify(&mut work, notifications).await;
            Report {
                now,
                dry_run,
                formations: work.iter().map(|w| self.report(w)).collect(),
                errors,
            }
        }
        .instrument(span)
        .await
    }

    fn select(&self, filter: Option<&[String]>, errors: &mut Vec<String>) -> Vec<usize> {
        let all = 0..self.config.formations.len();
        let Some(filter) = filter else {
            return all.collect();
        };
        for name in filter {
            if !self.config.formations.iter().any(|f| &f.name == name) {
                errors.push(format!("unknown formation {name:?}"));
            }
        }
        all.filter(|&i| filter.contains(&self.config.formations[i].name))
            .collect()
    }

    /// Step 1.
    async fn load(&self, selected: &[usize]) -> Vec<Work<'_>> {
        let loads = selected.iter().map(|&i| {
            let key = self.config.formations[i].key();
            async move { self.store.load(&key).await }
        });
        let results = join_all(loads).await;
        selected
            .iter()
            .zip(results)
            .map(|(&index, loaded)| {
                let config = &self.config.formations[index];
                let mut work = Work {
                    index,
                    config,
                    state: FormationState::default(),
                    version: None,
                    polled: BTreeSet::new(),
                    current: None,
                    decision: None,
                    outcome: Outcome::Hold,
                    errors: Vec::new(),
                    save: true,
                };
                match loaded {
                    Ok(Some(Versioned { value, version })) => {
                        work.state = value;
                        work.version = Some(version);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        warn!(formation = %config.name, error = %e, "state load failed");
                        work.fail("load_state", store_kind(&e), e.to_string());
                        work.save = false;
                    }
                }
                work
            })
            .collect()
    }

    /// Step 2.
    async fn poll(&self, work: &mut [Work<'_>], invocation: &Invocation) {
        let now = invocation.now;
        let mut deadline = self
            .config
            .fetch_deadline
            .to_std()
            .unwrap_or(Duration::from_secs(25));
        if let Some(budget) = invocation.fetch_budget {
            deadline = deadline.min(budget);
        }
        let mut jobs = Vec::new();
        for (w_index, w) in work.iter().enumerate() {
            if !w.save {
                continue;
            }
            for (i_index, input) in w.config.inputs.iter().enumerate() {
                let stored = w.state.window.inputs.get(&input.name);
                if stored.is_some_and(|s| !s.is_due(now, input.interval)) {
                    continue;
                }
                let source = self.sources[w.index][i_index].clone();
                let limit = input.timeout.to_std().unwrap_or(deadline).min(deadline);
                let span = tracing::info_span!("poll", formation = %w.config.name, input = %input.name, kind = input.type_name);
                jobs.push(
                    async move {
                        let result = match tokio::time::timeout(limit, source.fetch(now)).await {
                            Ok(Ok(v)) if !v.is_finite() || v < 0.0 => Err(SourceError::new(
                                SourceErrorKind::Malformed,
                                format!("value {v} is not a load (must be a finite number >= 0)"),
                            )),
                            Ok(result) => result,
                            Err(_) => Err(SourceError::new(
                                SourceErrorKind::Timeout,
                                format!("no answer within {}", humantime::format_duration(limit)),
                            )),
                        };
                        match &result {
                            Ok(v) => info!(value = v, "polled"),
                            Err(e) => warn!(error = %e, "poll failed"),
                        }
                        (w_index, i_index, result)
                    }
                    .instrument(span),
                );
            }
        }
        for (w_index, i_index, result) in join_all(jobs).await {
            let w = &mut work[w_index];
            let name = w.config.inputs[i_index].name.clone();
            let window = w.state.window.inputs.entry(name.clone()).or_default();
            match result {
                Ok(value) => window.record_sample(now, value),
                Err(e) => window.record_failure(
                    now,
                    InputError {
                        kind: e.kind.as_str().to_string(),
                        message: e.message,
                    },
                ),
            }
            w.polled.insert(name);
        }
    }

    /// Step 3: one read per app, shared by its formations.
    async fn read_current(&self, work: &mut [Work<'_>]) {
        let apps: BTreeSet<&str> = work
            .iter()
            .filter(|w| w.save)
            .map(|w| w.config.app.as_str())
            .collect();
        let reads = apps
            .iter()
            .map(|app| async move { (*app, self.scaler.formation(app).await) });
        let counts: BTreeMap<&str, Result<BTreeMap<String, u32>, ScaleError>> =
            join_all(reads).await.into_iter().collect();
        for w in work.iter_mut().filter(|w| w.save) {
            match counts.get(w.config.app.as_str()) {
                Some(Ok(types)) => match types.get(&w.config.process_type) {
                    Some(q) => w.current = Some(*q),
                    None => w.fail(
                        "read_formation",
                        "not_found".into(),
                        format!(
                            "app {} has no process type {:?} (it has: {})",
                            w.config.app,
                            w.config.process_type,
                            types.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ),
                },
                Some(Err(e)) => w.fail("read_formation", e.kind.as_str().into(), e.message.clone()),
                None => {}
            }
        }
    }

    /// Step 5: one batch scale per app. Returns the notifications to send.
    async fn apply(
        &self,
        work: &mut [Work<'_>],
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Vec<(usize, Notification)> {
        let mut by_app: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, w) in work.iter_mut().enumerate() {
            let Some(d) = &w.decision else { continue };
            w.outcome = match (d.action, dry_run) {
                (Action::Hold, _) => Outcome::Hold,
                (Action::ScaleUp, true) => Outcome::WouldScaleUp,
                (Action::ScaleDown, true) => Outcome::WouldScaleDown,
                (_, false) => {
                    by_app.entry(w.config.app.clone()).or_default().push(i);
                    continue;
                }
            };
            if dry_run && d.action != Action::Hold {
                info!(formation = %w.config.name, from = d.current, to = d.target, "dry run: would scale");
            }
            w.state.record_decision(now, d, false);
        }
        let calls = by_app.iter().map(|(app, members)| {
            let changes: Vec<QuantityChange> = members
                .iter()
                .filter_map(|&i| {
                    let w = &work[i];
                    w.decision.as_ref().map(|d| QuantityChange {
                        process_type: w.config.process_type.clone(),
                        quantity: d.target,
                    })
                })
                .collect();
            async move { self.scaler.scale(app, &changes).await }
        });
        let results = join_all(calls).await;
        let mut notifications = Vec::new();
        for ((_, members), result) in by_app.iter().zip(results) {
            for &i in members {
                let w = &mut work[i];
                let Some(d) = w.decision.clone() else {
                    continue;
                };
                match &result {
                    Ok(()) => {
                        info!(formation = %w.config.name, from = d.current, to = d.target, "scaled");
                        w.outcome = if d.action == Action::ScaleUp {
                            Outcome::ScaledUp
                        } else {
                            Outcome::ScaledDown
                        };
                        w.state.history.record(ScaleEvent {
                            at: now,
                            from: d.current,
                            to: d.target,
                        });
                        w.state.record_decision(now, &d, true);
                        if self.config.notifications.on_scale {
                            notifications.push((i, messages::scaled(w.config, &d)));
                        }
                    }
                    Err(e) => {
                        warn!(formation = %w.config.name, error = %e, "scale failed");
                        w.state.record_decision(now, &d, false);
                        w.fail("scale", e.kind.as_str().into(), e.message.clone());
                        if self.config.notifications.on_scale_failed {
                            notifications.push((i, messages::scale_failed(w.config, &d, e)));
                        }
                    }
                }
            }
        }
        notifications
    }

    /// Step 6.
    async fn save(&self, work: &mut [Work<'_>], now: DateTime<Utc>) {
        let saves = work.iter_mut().filter(|w| w.save).map(|w| {
            let keep = w.config.policy.retention();
            let configured: BTreeSet<&str> =
                w.config.inputs.iter().map(|i| i.name.as_str()).collect();
            // Inputs removed from the config would otherwise be stored forever.
            w.state
                .window
                .inputs
                .retain(|name, _| configured.contains(name.as_str()));
            for input in w.state.window.inputs.values_mut() {
                input.prune(now, keep);
            }
            let key = w.config.key();
            let state = &w.state;
            let expected = w.version;
            async move { self.store.save(&key, state, expected).await }
        });
        let results = join_all(saves).await;
        for (w, result) in work.iter_mut().filter(|w| w.save).zip(results) {
            match result {
                Ok(version) => w.version = Some(version),
                Err(e @ StoreError::Conflict { .. }) => {
                    warn!(formation = %w.config.name, "lost the race: state changed since it was read");
                    w.fail(
                        "save_state",
                        "conflict".into(),
                        format!("lost the race: {e}"),
                    );
                }
                Err(e) => {
                    warn!(formation = %w.config.name, error = %e, "state save failed");
                    w.fail("save_state", store_kind(&e), e.to_string());
                }
            }
        }
    }

    /// Step 7.
    async fn notify(&self, work: &mut [Work<'_>], notifications: Vec<(usize, Notification)>) {
        let sends = notifications.iter().map(|(_, n)| self.notifier.send(n));
        let results = join_all(sends).await;
        for ((i, _), result) in notifications.iter().zip(results) {
            if let Err(e) = result {
                warn!(formation = %work[*i].config.name, error = %e, "notification failed");
                work[*i].errors.push(StageError {
                    stage: "notify",
                    kind: "send_failed".into(),
                    message: e.to_string(),
                });
            }
        }
    }

    fn report(&self, w: &Work<'_>) -> FormationReport {
        let inputs = w
            .config
            .inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let stored = w.state.window.inputs.get(&input.name);
                let estimate = w.decision.as_ref().and_then(|d| d.inputs.get(i));
                InputReport {
                    name: input.name.clone(),
                    type_name: input.type_name.to_string(),
                    polled: w.polled.contains(&input.name),
                    sample: stored.and_then(|s| s.latest()).map(|s| s.value),
                    value: estimate.and_then(|e| e.value),
                    estimate: estimate.and_then(|e| e.estimate),
                    status: estimate
                        .map_or(crate::domain::InputStatus::Missing { since: None }, |e| {
                            e.status
                        }),
                    explanation: estimate.map(|e| e.explanation.clone()).unwrap_or_default(),
                    error: stored.and_then(|s| s.last_error.clone()),
                }
            })
            .collect();
        FormationReport {
            name: w.config.name.clone(),
            app: w.config.app.clone(),
            process_type: w.config.process_type.clone(),
            current: w.current,
            target: w.decision.as_ref().map(|d| d.target),
            estimate: w.decision.as_ref().and_then(|d| d.estimate),
            outcome: w.outcome,
            reason: w.decision.as_ref().map(|d| d.reason.clone()),
            inputs,
            errors: w.errors.clone(),
        }
    }
}

impl Work<'_> {
    fn fail(&mut self, stage: &'static str, kind: String, message: String) {
        self.outcome = Outcome::Failed;
        self.errors.push(StageError {
            stage,
            kind,
            message,
        });
    }
}

fn store_kind(e: &StoreError) -> String {
    match e {
        StoreError::Conflict { .. } => "conflict",
        StoreError::Corrupt(_) => "corrupt",
        StoreError::Unavailable(_) => "unavailable",
    }
    .to_string()
}
