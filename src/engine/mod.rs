//! One invocation: fetch, load, decide, claim, scale, record, notify, report.
//!
//! The Lambda handler, the CLI and tests all call [`Engine::invoke`]. It never
//! panics on external input and isolates failures: one input's error is missing
//! data for its formation, one formation's error leaves the others untouched.
//!
//! Order per invocation (per formation, all formations side by side):
//! 1. **load** the state (one strongly consistent read). If it already processed
//!    this event id, stop: a repeated scheduled event is a no-op;
//! 2. **poll** every due input concurrently, each within its `timeout` and the
//!    invocation's fetch deadline;
//! 3. **read** the current counts, one `formation` read per app;
//! 4. **settle** a pending scale left by an invocation that stopped between
//!    "claimed" and "recorded": the platform's count tells whether it happened;
//! 5. **decide** (pure, [`crate::domain::decide`]);
//! 6. no scale needed (hold, dry run, paused): **notify** (see below), then
//!    **save** once, conditional on the version read — done. Otherwise:
//! 7. **claim**: save the new state with the intended scale as `pending`,
//!    conditional on the version read. Of two overlapping invocations only one
//!    can win this write; the other reports "lost the race" and does nothing;
//! 8. **scale**: one batch call per app for the claimed formations;
//! 9. **notify** about the outcome, then **record**: save the scale (or its
//!    failure) and clear `pending`, conditional on the claim's version;
//! 10. **heartbeat**: ping the dead-man's switch when no formation failed.
//!
//! Notifications are deduplicated into episodes ([`crate::notify::episodes`]);
//! their marks ride in the write the formation gets anyway, so mails are sent
//! just before that write and a send that fails is not marked sent (the next run
//! retries it). A failed send never blocks scaling or saving. The price: when
//! that write then loses a race, the winner may mail the same episode again.
//!
//! A crash after 7 leaves `pending` stored. The next invocation (once the claim
//! is older than [`CLAIM_TIMEOUT`], so a claim still in flight is never
//! second-guessed) compares `pending.to` with the platform's count: equal means
//! the scale happened and is recorded, different means it did not and the
//! formation is decided afresh. So no crash point double-scales, and none loses
//! the record of a scale that happened.

mod addon_status;
mod addons;
mod clock;
mod deadline;
mod generation;
mod minutes;
pub mod pacing;
mod report;
mod tuning;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;
use serde::Serialize;
use tracing::{info, warn, Instrument};

use crate::config::{AddonConfig, Config, FormationConfig, NotificationConfig};
use crate::domain::sizes::decide_sized;
use crate::domain::{decide, Action, Decision, InputError, ScaleEvent};
use crate::heartbeat::Heartbeat;
use crate::inputs::{MetricSource, SourceError, SourceErrorKind};
use crate::notify::episodes::{self, Facts, ScaleAttempt};
use crate::notify::Notifier;
use crate::scaler::{FormationRead, QuantityChange, ScaleError, Scaler};
use crate::store::{
    CountRead, DecisionRecord, EpisodeMark, FormationState, ScaleIntent, StateStore, StoreError,
    Versioned,
};

pub use addon_status::{
    addon_status, set_addon_pause, AddonStatus, PendingPlan, PlanChange, PlanDecisionRecord,
};
pub use addons::{AddonReport, AddonWorld};
pub use clock::{event_now, EVENT_TIME_OFF_CLOCK};
pub use deadline::{MARGIN, PLATFORM_RESERVE, SAVE_RESERVE, SCALE_RESERVE};

use deadline::Deadline;
pub use report::{
    ClockNote, FormationReport, HeartbeatReport, InputReport, Outcome, ReadsReport, Report,
    StageError,
};
pub use tuning::{config_capacity, parameters_in_force, FormationTuning, Parameters, TuneReport};

/// How long a claimed scale is trusted to be in flight. Longer than the Lambda
/// timeout, so a claim older than this belongs to an invocation that stopped.
pub const CLAIM_TIMEOUT: TimeDelta = TimeDelta::seconds(90);

/// What one invocation is asked to do.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The decision time: the scheduled event's `time`, or the clock read once.
    pub now: DateTime<Utc>,
    /// The event's id; a formation that already processed it skips it.
    pub event_id: Option<String>,
    /// Force a dry run (the config's `dry_run` also makes every run dry).
    pub dry_run: bool,
    /// Only these formations (by name); `None`: all.
    pub formations: Option<Vec<String>>,
    /// When the invocation must be done (the Lambda's deadline): every step
    /// that waits on the outside world is cut so that state is saved before
    /// it (see `deadline.rs`). `None`: no deadline beyond the config's timeouts.
    pub deadline: Option<tokio::time::Instant>,
    /// Set when the event's `time` was refused as `now` (see [`event_now`]);
    /// the report carries it.
    pub clock: Option<ClockNote>,
    /// `now` was read from the clock or checked against it (the Lambda handler,
    /// the CLI): stored times far after it can only be wrong and are repaired.
    /// False for replays (the simulator, tests), whose stored state follows
    /// their own timeline, which may lie anywhere.
    pub now_checked: bool,
}

impl Invocation {
    /// A plain run at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            event_id: None,
            dry_run: false,
            formations: None,
            deadline: None,
            clock: None,
            now_checked: false,
        }
    }
}

/// What the engine reads of the config: the formations and how a run behaves.
/// The platform sections (state, scaler, metrics, heartbeat) are the
/// assembler's business ([`crate::wiring`]), not the engine's.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Decide and report, but never change a formation.
    pub dry_run: bool,
    /// All inputs of an invocation must answer within this.
    pub fetch_deadline: TimeDelta,
    pub notifications: NotificationConfig,
    pub formations: Vec<FormationConfig>,
    /// Add-ons whose plan follows their use (run when the engine has an
    /// [`AddonWorld`], see [`Engine::with_addons`]).
    pub addons: Vec<AddonConfig>,
}

impl From<&Config> for EngineConfig {
    fn from(c: &Config) -> Self {
        Self {
            dry_run: c.dry_run,
            fetch_deadline: c.fetch_deadline,
            notifications: c.notifications.clone(),
            formations: c.formations.clone(),
            addons: c.addons.clone(),
        }
    }
}

impl From<Arc<Config>> for EngineConfig {
    fn from(c: Arc<Config>) -> Self {
        Self::from(c.as_ref())
    }
}

impl From<Config> for EngineConfig {
    fn from(c: Config) -> Self {
        Self {
            dry_run: c.dry_run,
            fetch_deadline: c.fetch_deadline,
            notifications: c.notifications,
            formations: c.formations,
            addons: c.addons,
        }
    }
}

/// The configured world: the formations, one source per input, and the ports.
pub struct Engine {
    config: EngineConfig,
    /// `sources[f][i]` serves `config.formations[f].inputs[i]`.
    sources: Vec<Vec<Arc<dyn MetricSource>>>,
    store: Arc<dyn StateStore>,
    scaler: Arc<dyn Scaler>,
    notifier: Arc<dyn Notifier>,
    /// The dead-man's switch, when configured.
    heartbeat: Option<Arc<dyn Heartbeat>>,
    /// Sources and platform for the configured add-ons, when given.
    addons: Option<AddonWorld>,
    /// Where finished hours of per-minute history go ([`crate::history`]).
    history: Option<Arc<dyn crate::history::HistoryStore>>,
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
    /// False once the formation must not be written in this invocation
    /// (state unreadable, duplicate event, a claim in flight elsewhere).
    live: bool,
    /// Notes for the report (settled claims, pause).
    notes: Vec<String>,
    /// What this invocation's scale call did, if it made one.
    scale: Option<ScaleAttempt>,
    /// `current` is the stored count, not read in this run (reads paced to
    /// the platform's rate limit): read afresh before any scale.
    trusted: bool,
    /// The dyno size read in this run (formations with `sizes`).
    size: Option<String>,
    /// The size the decision moves to, when it changes the size.
    size_to: Option<String>,
    /// The policy with the tuned rule parameters (`tuning = "apply"` with a
    /// stored choice); `None`: the config's.
    tuned_policy: Option<crate::domain::Policy>,
    /// Which parameters are in force and where they came from.
    parameters: Parameters,
    /// Formations with `sizes`: checked against the app's generation?
    generation: generation::SizeCheck,
}

/// `status`: one formation's stored state, for people.
#[derive(Debug, Clone, Serialize)]
pub struct FormationStatus {
    pub name: String,
    pub app: String,
    #[serde(rename = "type")]
    pub process_type: String,
    pub version: Option<u64>,
    /// The dyno count the newest run left, as of that run (no platform read).
    pub current: Option<CurrentCount>,
    pub paused_until: Option<DateTime<Utc>>,
    pub pending: Option<ScaleIntent>,
    /// Open notification episodes by key (`needs_above_max`, `input_failing:rpm`, ...).
    pub episodes: BTreeMap<String, EpisodeMark>,
    pub window: crate::domain::Window,
    pub last_scales: Vec<ScaleEvent>,
    pub last_decisions: Vec<DecisionRecord>,
    /// The rule parameters scheduled runs decide with, and where they came from.
    pub parameters: Parameters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A dyno count and when it was seen.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurrentCount {
    pub quantity: u32,
    pub at: DateTime<Utc>,
}

/// Why a pause or resume was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("unknown formation {0:?}")]
    UnknownFormation(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Engine {
    /// Wire an engine from already-built parts.
    ///
    /// # Errors
    /// When `sources` does not have one source per configured input.
    pub fn new(
        config: impl Into<EngineConfig>,
        sources: Vec<Vec<Arc<dyn MetricSource>>>,
        store: Arc<dyn StateStore>,
        scaler: Arc<dyn Scaler>,
        notifier: Arc<dyn Notifier>,
    ) -> Result<Self, String> {
        let config = config.into();
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
            heartbeat: None,
            addons: None,
            history: None,
        })
    }

    /// Run the configured add-ons too, with these sources and platform.
    ///
    /// # Errors
    /// When `world` does not have one source per configured add-on input.
    pub fn with_addons(mut self, world: AddonWorld) -> Result<Self, String> {
        let shape_ok = world.sources.len() == self.config.addons.len()
            && world
                .sources
                .iter()
                .zip(&self.config.addons)
                .all(|(s, a)| s.len() == a.inputs.len());
        if !shape_ok {
            return Err("one source per configured add-on input is required".into());
        }
        self.addons = Some(world);
        Ok(self)
    }

    /// Ping `heartbeat` after each invocation in which no formation failed.
    #[must_use]
    pub fn with_heartbeat(mut self, heartbeat: Arc<dyn Heartbeat>) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Keep finished hours of each formation's per-minute history in `history`.
    #[must_use]
    pub fn with_history(mut self, history: Arc<dyn crate::history::HistoryStore>) -> Self {
        self.history = Some(history);
        self
    }

    /// The formations it runs, in config order.
    pub fn formations(&self) -> &[FormationConfig] {
        &self.config.formations
    }

    /// Run one invocation. Never fails as a whole: problems are in the report.
    pub async fn invoke(&self, invocation: &Invocation) -> Report {
        let now = invocation.now;
        let dry_run = self.config.dry_run || invocation.dry_run;
        let span = tracing::info_span!("invocation", now = %now, dry_run, event = invocation.event_id.as_deref().unwrap_or("-"));
        let deadline = Deadline(invocation.deadline);
        async move {
            let mut errors = Vec::new();
            let selected = self.select(invocation.formations.as_deref(), &mut errors);
            let mut work = self
                .load(&selected, invocation.event_id.as_deref(), deadline)
                .await;
            if invocation.now_checked {
                for w in work.iter_mut().filter(|w| w.live) {
                    if let Some(note) = clock::repair_future(&mut w.state, now) {
                        warn!(formation = %w.config.name, "{note}");
                        w.notes.push(note);
                    }
                }
            }
            self.poll(&mut work, invocation, deadline).await;
            let mut reads = self.read_current(&mut work, now, deadline).await;
            for w in work.iter_mut().filter(|w| w.live) {
                settle_pending(w, now);
            }
            for w in work.iter_mut().filter(|w| w.live) {
                if let Some(decision) = w.current.and_then(|c| decide_work(w, c, now)) {
                    let current = decision.current;
                    info!(
                        formation = %w.config.name,
                        current,
                        target = decision.target,
                        reason = decision.reason.code.as_str(),
                        "decided"
                    );
                    w.decision = Some(decision);
                }
                w.state.last_event.clone_from(&invocation.event_id);
            }
            self.read_before_scaling(&mut work, now, reads.as_mut(), deadline)
                .await;
            let claimed = self.claim(&mut work, now, dry_run, deadline).await;
            self.scale(&mut work, &claimed, now, deadline).await;
            self.notify(&mut work, &claimed, now, deadline).await;
            self.record(&mut work, &claimed, deadline).await;
            let addons = self.run_addons(invocation, dry_run, deadline).await;
            let mut report = Report {
                now,
                event_id: invocation.event_id.clone(),
                dry_run,
                formations: work.iter().map(|w| self.report(w)).collect(),
                errors,
                heartbeat: None,
                clock: invocation.clock.clone(),
                reads,
                addons,
            };
            report.heartbeat = self.ping(&report, deadline).await;
            report
        }
        .instrument(span)
        .await
    }

    /// The add-ons (those named in the filter, when there is one).
    async fn run_addons(
        &self,
        invocation: &Invocation,
        dry_run: bool,
        deadline: Deadline,
    ) -> Vec<AddonReport> {
        let Some(world) = &self.addons else {
            return Vec::new();
        };
        let selected = |name: &str| {
            invocation
                .formations
                .as_ref()
                .is_none_or(|f| f.iter().any(|n| n == name))
        };
        let picked: Vec<usize> = (0..self.config.addons.len())
            .filter(|&i| selected(&self.config.addons[i].name))
            .collect();
        let configs: Vec<AddonConfig> = picked
            .iter()
            .map(|&i| self.config.addons[i].clone())
            .collect();
        let sources: Vec<_> = picked.iter().map(|&i| world.sources[i].clone()).collect();
        let cx = addons::Context {
            plans: world.plans.as_ref(),
            store: self.store.as_ref(),
            notifier: self.notifier.as_ref(),
            notifications: &self.config.notifications,
            invocation,
            dry_run,
            deadline,
        };
        addons::run(&configs, &sources, &cx).await
    }

    fn select(&self, filter: Option<&[String]>, errors: &mut Vec<String>) -> Vec<usize> {
        let all = 0..self.config.formations.len();
        let Some(filter) = filter else {
            return all.collect();
        };
        for name in filter {
            if !self.config.formations.iter().any(|f| &f.name == name)
                && !self.config.addons.iter().any(|a| &a.name == name)
            {
                errors.push(format!("unknown formation {name:?}"));
            }
        }
        all.filter(|&i| filter.contains(&self.config.formations[i].name))
            .collect()
    }

    /// Step 1.
    async fn load(
        &self,
        selected: &[usize],
        event_id: Option<&str>,
        deadline: Deadline,
    ) -> Vec<Work<'_>> {
        let loads = selected.iter().map(|&i| {
            let key = self.config.formations[i].key();
            async move {
                deadline
                    .before_save(self.store.load(&key))
                    .await
                    .unwrap_or_else(|given| Err(store_cut(given)))
            }
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
                    live: true,
                    notes: Vec::new(),
                    scale: None,
                    trusted: false,
                    size: None,
                    size_to: None,
                    tuned_policy: None,
                    parameters: parameters_in_force(config, None).1,
                    generation: generation::SizeCheck::Unchecked,
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
                        work.live = false;
                    }
                }
                (work.tuned_policy, work.parameters) =
                    parameters_in_force(config, work.state.tuned.as_ref());
                if event_id.is_some() && work.live && work.state.last_event.as_deref() == event_id {
                    info!(formation = %config.name, "event already processed: no-op");
                    work.outcome = Outcome::Duplicate;
                    work.notes
                        .push("this event id was already processed: nothing done".into());
                    work.live = false;
                }
                work
            })
            .collect()
    }

    /// Step 2.
    async fn poll(&self, work: &mut [Work<'_>], invocation: &Invocation, deadline: Deadline) {
        let now = invocation.now;
        let deadline = deadline.poll_budget(
            self.config
                .fetch_deadline
                .to_std()
                .unwrap_or(Duration::from_secs(25)),
        );
        let mut jobs = Vec::new();
        for (w_index, w) in work.iter().enumerate() {
            if !w.live {
                continue;
            }
            for (i_index, input) in w.config.inputs.iter().enumerate() {
                let stored = w.state.window.inputs.get(&input.name);
                if stored.is_some_and(|s| !s.is_due(now, input.interval)) {
                    continue;
                }
                let source = self.sources[w.index][i_index].clone();
                let limit = input.timeout.to_std().unwrap_or(deadline).min(deadline);
                // Only the host: a URL's path or query may hold a key.
                let host = input.spec.host();
                let span = tracing::info_span!("poll", formation = %w.config.name, input = %input.name, kind = input.type_name);
                jobs.push(
                    async move {
                        let result = match tokio::time::timeout(limit, source.fetch(now)).await {
                            Ok(Ok(v)) if !v.is_finite() || v < 0.0 => Err(SourceError::new(
                                SourceErrorKind::Malformed,
                                format!(
                                    "value {} is not a load (must be a finite number >= 0)",
                                    crate::domain::number_text(v)
                                ),
                            )),
                            Ok(result) => result,
                            Err(_) => Err(SourceError::new(
                                SourceErrorKind::Timeout,
                                format!(
                                    "no answer{} within {}",
                                    host.map(|h| format!(" from {h}")).unwrap_or_default(),
                                    crate::domain::duration_text(limit)
                                ),
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

    /// Step 3: one read per app, shared by its formations. When the platform
    /// rations its API calls, an app that is not due (see [`pacing`]) is
    /// decided on its stored count instead, and read afresh only if that
    /// decision would scale ([`Self::read_before_scaling`]).
    async fn read_current(
        &self,
        work: &mut [Work<'_>],
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> Option<ReadsReport> {
        let pace = self.scaler.call_budget().map(|budget| {
            let apps: BTreeSet<&str> = self
                .config
                .formations
                .iter()
                .map(|f| f.app.as_str())
                .collect();
            let hour_ago = now - TimeDelta::hours(1);
            let scales = work
                .iter()
                .flat_map(|w| &w.state.history.events)
                .filter(|e| e.at > hour_ago && e.at <= now)
                .count();
            pacing::pace(apps.len() as u32, budget.remaining, scales as u64)
        });
        let every = pace.map_or(1, |p| p.read_every);
        // An app is read when any of its formations needs a fresh count: a
        // pending claim is settled only on the platform's word.
        let apps: BTreeSet<&str> = work
            .iter()
            .filter(|w| w.live)
            .filter(|w| {
                w.state.pending.is_some()
                    || w.state
                        .last_read
                        .is_none_or(|r| pacing::due(&w.config.app, r.at, now, every))
            })
            .map(|w| w.config.app.as_str())
            .collect();
        self.read_apps(work, &apps, now, deadline).await;
        for w in work
            .iter_mut()
            .filter(|w| w.live && !apps.contains(w.config.app.as_str()))
        {
            if let Some(read) = w.state.last_read {
                w.current = Some(read.quantity);
                w.trusted = true;
                w.notes.push(format!(
                    "count {} as read at {}: formation reads are paced to every {every} minutes",
                    read.quantity,
                    read.at.format("%H:%M:%SZ")
                ));
            }
        }
        let pace = pace?;
        if pace.paced() {
            info!(read_every = pace.read_every, apps_read = apps.len(), remaining = ?pace.remaining, "formation reads paced to the rate limit");
        }
        Some(ReadsReport {
            pace,
            paced: pace.paced(),
            apps_read: apps.len() as u32,
            counts_trusted: work.iter().filter(|w| w.trusted).count() as u32,
            note: pace.describe(),
        })
    }

    /// One read per app in `apps`, handed to their live formations.
    async fn read_apps(
        &self,
        work: &mut [Work<'_>],
        apps: &BTreeSet<&str>,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) {
        let reads = apps.iter().map(|app| async move {
            let read = deadline.read(self.scaler.formation_detail(app)).await;
            (
                *app,
                read.unwrap_or_else(|given| Err(platform_cut("reading the formation", given))),
            )
        });
        let wanted = generation::wanted(work, apps);
        let (reads, generations) = futures::join!(
            join_all(reads),
            generation::read(self.scaler.as_ref(), &wanted, deadline)
        );
        let counts: BTreeMap<&str, Result<BTreeMap<String, FormationRead>, ScaleError>> =
            reads.into_iter().collect();
        for w in work.iter_mut().filter(|w| w.live) {
            let Some(read) = counts.get(w.config.app.as_str()) else {
                continue;
            };
            w.trusted = false;
            w.current = None;
            match read {
                Ok(types) => match types.get(&w.config.process_type) {
                    Some(read) => {
                        let q = &read.quantity;
                        w.current = Some(*q);
                        w.state.last_read = Some(CountRead {
                            at: now,
                            quantity: *q,
                        });
                        w.size.clone_from(&read.size);
                        if w.config.sizes.is_some() {
                            w.state.size.get_or_insert_with(Default::default).current =
                                read.size.clone();
                        }
                    }
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
                Err(e) => w.fail("read_formation", e.kind.as_str().into(), e.message.clone()),
            }
        }
        generation::apply(work, &generations);
    }

    /// Before any scale decided on a stored count, read the app afresh and
    /// decide again on the platform's count: a stale count could make a
    /// "scale up" cut below a manual `ps:scale`, and a scale-down must never
    /// rest on a guess. A count changed by hand is noticed here at the latest.
    async fn read_before_scaling(
        &self,
        work: &mut [Work<'_>],
        now: DateTime<Utc>,
        reads: Option<&mut ReadsReport>,
        deadline: Deadline,
    ) {
        let apps: BTreeSet<&str> = work
            .iter()
            .filter(|w| w.live && w.trusted)
            .filter(|w| {
                w.decision
                    .as_ref()
                    .is_some_and(|d| d.action != Action::Hold)
            })
            .map(|w| w.config.app.as_str())
            .collect();
        if apps.is_empty() {
            return;
        }
        let stored: Vec<Option<u32>> = work.iter().map(|w| w.current).collect();
        self.read_apps(work, &apps, now, deadline).await;
        for (w, stored) in work.iter_mut().zip(stored) {
            if !w.live || !apps.contains(w.config.app.as_str()) {
                continue;
            }
            let Some(current) = w.current else {
                w.decision = None; // the read failed: no scale on a guess
                continue;
            };
            w.notes.push(match stored {
                Some(s) if s != current => format!(
                    "read afresh before scaling: the count is {current}, not the stored {s} (changed outside dynopilot)"
                ),
                _ => format!("read afresh before scaling: the count is {current}"),
            });
            w.decision = decide_work(w, current, now);
        }
        if let Some(reads) = reads {
            reads.apps_read += apps.len() as u32;
            reads.counts_trusted = work.iter().filter(|w| w.trusted).count() as u32;
        }
    }

    /// Steps 6 and 7: save every live formation once; for those that will scale,
    /// that save is the claim. Returns the indexes of the claimed formations.
    async fn claim(
        &self,
        work: &mut [Work<'_>],
        now: DateTime<Utc>,
        dry_run: bool,
        deadline: Deadline,
    ) -> Vec<usize> {
        let mut claims = Vec::new();
        for (i, w) in work.iter_mut().enumerate().filter(|(_, w)| w.live) {
            let paused = w.state.paused_until.filter(|until| *until > now);
            if w.state.paused_until.is_some() && paused.is_none() {
                w.state.paused_until = None; // the pause has run out
            }
            if let Some(d) = w.decision.clone() {
                // A paused formation reports `paused` whatever it would do, so
                // `status` and the report always show the maintenance mode.
                w.outcome = match (d.action, dry_run, paused) {
                    (_, _, Some(until)) => {
                        w.notes.push(format!(
                            "paused until {}: not scaling",
                            until.format("%Y-%m-%dT%H:%M:%SZ")
                        ));
                        Outcome::Paused
                    }
                    (Action::Hold, _, None) => Outcome::Hold,
                    (Action::ScaleUp, true, None) => Outcome::WouldScaleUp,
                    (Action::ScaleDown, true, None) => Outcome::WouldScaleDown,
                    (_, false, None) => {
                        w.state.pending = Some(ScaleIntent {
                            at: now,
                            from: d.current,
                            to: d.target,
                            event: w.state.last_event.clone(),
                        });
                        if w.config.sizes.is_some() {
                            w.state
                                .size
                                .get_or_insert_with(Default::default)
                                .pending_size = w.size_to.clone();
                        }
                        claims.push(i);
                        Outcome::Hold // until scaled
                    }
                };
                if w.state.pending.is_none() {
                    if dry_run && d.action != Action::Hold {
                        info!(formation = %w.config.name, from = d.current, to = d.target, "dry run: would scale");
                    }
                    w.state.record_decision(now, &d, false);
                }
            }
            prune(w, now);
        }
        let unclaimed: Vec<usize> = work
            .iter()
            .enumerate()
            .filter(|(i, w)| w.live && !claims.contains(i))
            .map(|(i, _)| i)
            .collect();
        self.notify(work, &unclaimed, now, deadline).await;
        minutes::record(work, self.history.as_deref(), now).await;
        let live: Vec<usize> = work
            .iter()
            .enumerate()
            .filter(|(_, w)| w.live)
            .map(|(i, _)| i)
            .collect();
        let saves =
            live.iter().map(|&i| {
                let w = &work[i];
                let key = w.config.key();
                async move {
                    save_within(self.store.as_ref(), &key, &w.state, w.version, deadline).await
                }
            });
        let results = join_all(saves).await;
        let mut claimed = Vec::new();
        for (&i, result) in live.iter().zip(results) {
            let w = &mut work[i];
            match result {
                Ok(version) => {
                    w.version = Some(version);
                    if claims.contains(&i) {
                        claimed.push(i);
                    }
                }
                Err(e) => {
                    w.live = false;
                    w.state.pending = None;
                    if let StoreError::Conflict { .. } = e {
                        warn!(formation = %w.config.name, "lost the race: state changed since it was read");
                        w.outcome = Outcome::LostRace;
                        w.notes.push("lost the race: another invocation wrote this formation first; nothing done".into());
                    } else {
                        warn!(formation = %w.config.name, error = %e, "state save failed");
                        w.fail("save_state", store_kind(&e), e.to_string());
                    }
                }
            }
        }
        claimed
    }

    /// Step 8: one batch scale per app, for the claimed formations.
    async fn scale(
        &self,
        work: &mut [Work<'_>],
        claimed: &[usize],
        now: DateTime<Utc>,
        deadline: Deadline,
    ) {
        let mut by_app: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in claimed {
            by_app
                .entry(work[i].config.app.clone())
                .or_default()
                .push(i);
        }
        let calls = by_app.iter().map(|(app, members)| {
            let changes: Vec<QuantityChange> = members
                .iter()
                .filter_map(|&i| {
                    let w = &work[i];
                    w.decision.as_ref().map(|d| QuantityChange {
                        process_type: w.config.process_type.clone(),
                        quantity: d.target,
                        size: w.size_to.clone(),
                    })
                })
                .collect();
            async move { deadline.before_save(self.scaler.scale(app, &changes)).await }
        });
        let results = join_all(calls).await;
        for ((_, members), result) in by_app.iter().zip(results) {
            for &i in members {
                let w = &mut work[i];
                let Some(d) = w.decision.clone() else {
                    continue;
                };
                let result = match &result {
                    Ok(result) => result,
                    Err(given) => {
                        // Cut in flight: Heroku may or may not have scaled. The
                        // claim stays stored; the next run settles it from the count.
                        let e = platform_cut("the scale call", *given);
                        warn!(formation = %w.config.name, error = %e, "scale cut at the deadline; the next run settles it");
                        w.state.record_decision(now, &d, false);
                        w.fail("scale", "timeout".into(), format!("{}; the claim stays stored and the next run settles it from Heroku's count", e.message));
                        w.scale = Some(ScaleAttempt::Failed(e));
                        continue;
                    }
                };
                w.state.pending = None;
                if let Some(mark) = w.state.size.as_mut() {
                    mark.pending_size = None;
                }
                match result {
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
                        if let Some(size) = &w.size_to {
                            let mark = w.state.size.get_or_insert_with(Default::default);
                            mark.current = Some(size.clone());
                            mark.changed_at = Some(now);
                            mark.fits_smaller_since = None;
                        }
                        minutes::mark_scale(w, now, &d);
                        // The platform accepted the count: as good as a read.
                        w.state.last_read = Some(CountRead {
                            at: now,
                            quantity: d.target,
                        });
                        w.scale = Some(ScaleAttempt::Succeeded);
                    }
                    Err(e) => {
                        warn!(formation = %w.config.name, error = %e, "scale failed");
                        w.state.record_decision(now, &d, false);
                        w.fail("scale", e.kind.as_str().into(), e.message.clone());
                        w.scale = Some(ScaleAttempt::Failed(e.clone()));
                    }
                }
            }
        }
    }

    /// Step 9: record what the scale did, conditional on the claim's version.
    async fn record(&self, work: &mut [Work<'_>], claimed: &[usize], deadline: Deadline) {
        let saves =
            claimed.iter().map(|&i| {
                let w = &work[i];
                let key = w.config.key();
                async move {
                    save_within(self.store.as_ref(), &key, &w.state, w.version, deadline).await
                }
            });
        let results = join_all(saves).await;
        for (&i, result) in claimed.iter().zip(results) {
            let w = &mut work[i];
            match result {
                Ok(version) => w.version = Some(version),
                Err(e) => {
                    // The claim stays stored; the next invocation settles it from
                    // the platform's count, so the scale's record is not lost.
                    warn!(formation = %w.config.name, error = %e, "recording the scale failed; the next run settles it");
                    w.errors.push(StageError {
                        stage: "record",
                        kind: store_kind(&e),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    /// Decide the selected formations' notifications (episodes against their
    /// stored marks), send them, and keep the marks in the state about to be
    /// written: a send that failed is not marked sent.
    async fn notify(
        &self,
        work: &mut [Work<'_>],
        selected: &[usize],
        now: DateTime<Utc>,
        deadline: Deadline,
    ) {
        let mut plans: Vec<(usize, episodes::Plan)> = selected
            .iter()
            .map(|&i| {
                let w = &work[i];
                let facts = Facts {
                    formation: w.config,
                    decision: w.decision.as_ref(),
                    window: &w.state.window,
                    history: &w.state.history,
                    scale: w.scale.as_ref(),
                    now,
                };
                (
                    i,
                    episodes::plan(&self.config.notifications, &facts, &w.state.notifications),
                )
            })
            .collect();
        let sends = plans.iter().flat_map(|(_, plan)| {
            plan.sends.iter().map(move |out| async move {
                deadline
                    .before_save(self.notifier.send(&out.notification))
                    .await
                    .unwrap_or_else(|given| {
                        Err(crate::notify::NotifyError(format!(
                            "not sent: {} left before the invocation's deadline",
                            crate::domain::duration_text(given)
                        )))
                    })
            })
        });
        let mut results = join_all(sends).await.into_iter();
        for (i, plan) in &mut plans {
            let w = &mut work[*i];
            for index in 0..plan.sends.len() {
                if let Some(Err(e)) = results.next() {
                    let kind = plan.sends[index].notification.kind.as_str();
                    warn!(formation = %w.config.name, kind, error = %e, "notification failed");
                    w.errors.push(StageError {
                        stage: "notify",
                        kind: "send_failed".into(),
                        message: format!("{kind}: {e}"),
                    });
                    plan.send_failed(index);
                }
            }
            w.state.notifications = std::mem::take(&mut plan.marks);
        }
    }

    /// Step 10: the dead-man's switch, only after a run in which nothing failed.
    async fn ping(&self, report: &Report, deadline: Deadline) -> Option<HeartbeatReport> {
        let heartbeat = self.heartbeat.as_ref()?;
        if !report.succeeded() {
            return Some(HeartbeatReport {
                sent: false,
                error: None,
            });
        }
        let ping = deadline
            .last(heartbeat.ping())
            .await
            .unwrap_or_else(|given| {
                Err(crate::heartbeat::HeartbeatError(format!(
                    "not sent: {} left before the invocation's deadline",
                    crate::domain::duration_text(given)
                )))
            });
        match ping {
            Ok(()) => Some(HeartbeatReport {
                sent: true,
                error: None,
            }),
            Err(e) => {
                warn!(error = %e, "heartbeat ping failed");
                Some(HeartbeatReport {
                    sent: false,
                    error: Some(e.to_string()),
                })
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
            paused_until: w.state.paused_until,
            notes: w.notes.clone(),
            inputs,
            errors: w.errors.clone(),
            parameters: w.parameters.clone(),
        }
    }

    /// `status`: every formation's stored state. See [`status`].
    pub async fn status(&self) -> Vec<FormationStatus> {
        status(&self.config.formations, self.store.as_ref()).await
    }

    /// `status` of every configured add-on. See [`addon_status`].
    pub async fn addon_status(&self) -> Vec<AddonStatus> {
        addon_status(&self.config.addons, self.store.as_ref()).await
    }

    /// Whether `name` is a configured add-on (rather than a formation).
    pub fn is_addon(&self, name: &str) -> bool {
        self.config.addons.iter().any(|a| a.name == name)
    }

    /// Pause an add-on until `until` (`None`: resume). See [`set_addon_pause`].
    ///
    /// # Errors
    /// [`ControlError`] for an unknown add-on or a store that keeps failing.
    pub async fn set_addon_pause(
        &self,
        name: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<AddonStatus, ControlError> {
        set_addon_pause(&self.config.addons, self.store.as_ref(), name, until).await
    }

    /// Pause a formation until `until` (`None`: resume). See [`set_pause`].
    ///
    /// # Errors
    /// [`ControlError`] for an unknown formation or a store that keeps failing.
    pub async fn set_pause(
        &self,
        formation: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<FormationStatus, ControlError> {
        set_pause(
            &self.config.formations,
            self.store.as_ref(),
            formation,
            until,
        )
        .await
    }
}

impl FormationStatus {
    fn new(
        f: &FormationConfig,
        state: FormationState,
        version: Option<u64>,
        error: Option<String>,
    ) -> Self {
        // The count the newest run left: what it scaled to, or what it saw.
        let current = state.decisions.last().map(|d| CurrentCount {
            quantity: if d.applied { d.target } else { d.current },
            at: d.at,
        });
        let parameters = parameters_in_force(f, state.tuned.as_ref()).1;
        Self {
            name: f.name.clone(),
            app: f.app.clone(),
            process_type: f.process_type.clone(),
            version,
            current,
            parameters,
            paused_until: state.paused_until,
            pending: state.pending,
            episodes: state.notifications,
            window: state.window,
            last_scales: state.history.events,
            last_decisions: state.decisions,
            error,
        }
    }
}

/// Every formation's stored state, for people: the Lambda's `status` event and
/// the CLI's `status` both call this. One read per formation, no writes.
pub async fn status(
    formations: &[FormationConfig],
    store: &dyn StateStore,
) -> Vec<FormationStatus> {
    let loads = formations
        .iter()
        .map(|f| async move { (f, store.load(&f.key()).await) });
    join_all(loads)
        .await
        .into_iter()
        .map(|(f, loaded)| match loaded {
            Ok(Some(v)) => FormationStatus::new(f, v.value, Some(v.version), None),
            Ok(None) => FormationStatus::new(f, FormationState::default(), None, None),
            Err(e) => FormationStatus::new(f, FormationState::default(), None, Some(e.to_string())),
        })
        .collect()
}

/// Pause a formation until `until` (`None`: resume): scheduled runs then decide
/// and report but do not scale. Retries a few times when a scheduled run
/// writes the formation at the same moment. The Lambda's `pause`/`resume`
/// events and the CLI's verbs both call this.
///
/// # Errors
/// [`ControlError`] for an unknown formation or a store that keeps failing.
pub async fn set_pause(
    formations: &[FormationConfig],
    store: &dyn StateStore,
    formation: &str,
    until: Option<DateTime<Utc>>,
) -> Result<FormationStatus, ControlError> {
    let f = formations
        .iter()
        .find(|f| f.name == formation)
        .ok_or_else(|| ControlError::UnknownFormation(formation.to_string()))?;
    let key = f.key();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let loaded = store.load(&key).await?;
        let (mut state, version) = match loaded {
            Some(v) => (v.value, Some(v.version)),
            None => (FormationState::default(), None),
        };
        state.paused_until = until;
        match store.save(&key, &state, version).await {
            Ok(version) => {
                info!(formation, ?until, "pause set");
                return Ok(FormationStatus::new(f, state, Some(version), None));
            }
            Err(StoreError::Conflict { .. }) if attempt < 5 => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Step 4: settle a claim left by an invocation that did not record its outcome.
/// The decision for one formation on `current`: plain [`decide`], or for a
/// formation with `sizes` [`decide_sized`] on its current size (read in this
/// run, or stored when reads are paced). `None` (with the formation's error)
/// when the size is unknown or not on the ladder: no scale on a guess.
fn decide_work(w: &mut Work<'_>, current: u32, now: DateTime<Utc>) -> Option<Decision> {
    w.size_to = None;
    if w.generation == generation::SizeCheck::Blocked {
        return None; // said in the report by `generation::apply`
    }
    let Some(ladder) = &w.config.sizes else {
        return Some(decide(
            w.tuned_policy.as_ref().unwrap_or(&w.config.policy),
            &w.state.window,
            current,
            &w.state.history,
            now,
        ));
    };
    let mark = w.state.size.clone().unwrap_or_default();
    let size = if w.trusted {
        mark.current.clone()
    } else {
        w.size.clone()
    };
    let names = || {
        ladder
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(size) = size else {
        w.fail(
            "sizes",
            "size_unknown".into(),
            format!(
                "app {} did not report the dyno size of {}: sizes ({}) not applied, nothing scaled",
                w.config.app,
                w.config.process_type,
                names()
            ),
        );
        return None;
    };
    let Some(index) = ladder.index_of(&size) else {
        w.fail(
            "sizes",
            "size_not_in_ladder".into(),
            format!(
                "{} of app {} runs {size}, which is not in sizes ({}): nothing scaled; add it to sizes or change the size by hand",
                w.config.process_type,
                w.config.app,
                names()
            ),
        );
        return None;
    };
    let sized = decide_sized(
        w.tuned_policy.as_ref().unwrap_or(&w.config.policy),
        ladder,
        &w.state.window,
        current,
        index,
        &w.state.history,
        mark.changed_at,
        mark.fits_smaller_since,
        now,
    );
    w.state
        .size
        .get_or_insert_with(Default::default)
        .fits_smaller_since = sized.choice.fits_smaller_since;
    if sized.to != sized.from {
        w.size_to = Some(ladder.steps[sized.to].name.clone());
        w.notes.push(format!(
            "size {} -> {}: {} dynos",
            ladder.steps[sized.from].name, ladder.steps[sized.to].name, sized.decision.target
        ));
    }
    Some(sized.decision)
}

fn settle_pending(w: &mut Work<'_>, now: DateTime<Utc>) {
    let Some(intent) = w.state.pending.clone() else {
        return;
    };
    if now - intent.at < CLAIM_TIMEOUT && now >= intent.at {
        // Another invocation claimed this formation moments ago and may be
        // calling the platform right now: stay out of its way entirely.
        w.outcome = Outcome::LostRace;
        w.notes.push(format!(
            "another invocation claimed a scale {}→{} at {} and may still be running: nothing done",
            intent.from,
            intent.to,
            intent.at.format("%H:%M:%SZ")
        ));
        w.live = false;
        return;
    }
    let Some(current) = w.current else { return };
    w.state.pending = None;
    // A claim that changes the size is settled on the size read too: the
    // count alone may match when only the size was to change.
    let size_wanted = w.state.size.as_mut().and_then(|m| m.pending_size.take());
    let size_done = size_wanted.as_deref().is_none_or(|want| {
        w.size
            .as_deref()
            .is_some_and(|read| read.eq_ignore_ascii_case(want))
    });
    let claimed = match &size_wanted {
        Some(size) => format!("{}→{} {size}", intent.from, intent.to),
        None => format!("{}→{}", intent.from, intent.to),
    };
    if current == intent.to && size_done {
        // It happened: the platform shows the claimed count. Keep its record.
        w.state.history.record(ScaleEvent {
            at: intent.at,
            from: intent.from,
            to: intent.to,
        });
        if let Some(size) = size_wanted {
            // The size-down delay counts from the change.
            let mark = w.state.size.get_or_insert_with(Default::default);
            mark.current = Some(size);
            mark.changed_at = Some(intent.at);
            mark.fits_smaller_since = None;
        }
        w.notes.push(format!(
            "settled an unrecorded scale {claimed} claimed at {}: it happened",
            intent.at.format("%H:%M:%SZ")
        ));
    } else {
        let size = match (&size_wanted, &w.size) {
            (Some(_), Some(read)) => format!(", size {read}"),
            (Some(_), None) => ", size unknown".to_string(),
            (None, _) => String::new(),
        };
        w.notes.push(format!(
            "settled an unrecorded scale {claimed} claimed at {}: it did not happen (count is {current}{size})",
            intent.at.format("%H:%M:%SZ")
        ));
    }
}

/// Keep state bounded: samples pruned to what the rules need, inputs no longer
/// configured dropped.
fn prune(w: &mut Work<'_>, now: DateTime<Utc>) {
    let keep = w
        .tuned_policy
        .as_ref()
        .unwrap_or(&w.config.policy)
        .retention();
    let configured: BTreeSet<&str> = w.config.inputs.iter().map(|i| i.name.as_str()).collect();
    w.state
        .window
        .inputs
        .retain(|name, _| configured.contains(name.as_str()));
    for input in w.state.window.inputs.values_mut() {
        input.prune(now, keep);
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

/// A store call cut at the invocation's deadline.
fn store_cut(given: Duration) -> StoreError {
    StoreError::Unavailable(format!(
        "no answer within {} (the invocation's deadline)",
        crate::domain::duration_text(given)
    ))
}

/// A platform call cut at the invocation's deadline.
fn platform_cut(what: &str, given: Duration) -> ScaleError {
    ScaleError::new(
        crate::scaler::ScaleErrorKind::Unavailable,
        format!(
            "{what} was cut after {}, to save state before the invocation's deadline",
            crate::domain::duration_text(given)
        ),
    )
}

/// One store write, cut just before the deadline.
async fn save_within(
    store: &dyn StateStore,
    key: &str,
    state: &FormationState,
    version: Option<u64>,
    deadline: Deadline,
) -> Result<u64, StoreError> {
    deadline
        .last(store.save(key, state, version))
        .await
        .unwrap_or_else(|given| Err(store_cut(given)))
}

fn store_kind(e: &StoreError) -> String {
    match e {
        StoreError::Conflict { .. } => "conflict",
        StoreError::Corrupt(_) => "corrupt",
        StoreError::Unavailable(_) => "unavailable",
    }
    .to_string()
}
