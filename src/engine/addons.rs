//! Add-on plans in one invocation: the same steps as formations, per add-on.
//!
//! 1. **load** its record (`addon#app#name`); a repeated event id is a no-op;
//! 2. **poll** its due inputs, each within its timeout (use per dimension,
//!    plus any limit the service reported, under `limit:<dimension>`);
//! 3. **read** its current plan from the platform;
//! 4. **settle** a claim left by a run that stopped before recording it: the
//!    plan read says whether the change happened;
//! 5. **decide** ([`crate::domain::decide_plan`], pure);
//! 6. no change (hold, dry run, paused): notify, save once, done. Otherwise
//! 7. **claim**: save with the change as `pending`, conditional on the version
//!    read: of overlapping runs only one wins; the others report `lost_race`;
//! 8. **change** the plan (one `PATCH`);
//! 9. **notify** and **record** (conditional on the claim's version).
//!
//! So a plan is changed at most once per decision, as a formation is scaled.
//! Mails: every plan change (rare and costly, so always told), a refused or
//! failed change (an episode, `on_scale_failed`), and a need above the ladder
//! or `max_plan` (an episode, `on_needs_above_max`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::Serialize;
use tracing::{info, warn};

use super::deadline::Deadline;
use super::{store_cut, store_kind, Invocation, Outcome, StageError, CLAIM_TIMEOUT};
use crate::config::{AddonConfig, NotificationConfig};
use crate::domain::{
    decide_plan, limit_key, Action, Decision, DimensionUse, InputError, PlanDecision, PlanReason,
    Reason, ReasonCode, ScaleEvent,
};
use crate::inputs::{SourceError, SourceErrorKind, UsageSource};
use crate::notify::{Notification, NotificationKind, Notifier, Phase};
use crate::scaler::{AddonPlans, ScaleError};
use crate::store::{AddonMark, EpisodeMark, FormationState, ScaleIntent, StateStore, StoreError};

/// What the engine needs to run add-ons: one source per configured input,
/// and the platform's add-on API.
pub struct AddonWorld {
    /// `sources[a][i]` serves `addons[a].inputs[i]`.
    pub sources: Vec<Vec<Arc<dyn UsageSource>>>,
    pub plans: Arc<dyn AddonPlans>,
}

/// What happened to one add-on.
#[derive(Debug, Clone, Serialize)]
pub struct AddonReport {
    pub name: String,
    pub app: String,
    /// The add-on's unique name, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<String>,
    /// Its plan as read in this run.
    pub plan: Option<String>,
    /// The plan decided on.
    pub target: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<PlanReason>,
    pub dimensions: Vec<DimensionUse>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StageError>,
}

struct Work<'a> {
    config: &'a AddonConfig,
    state: FormationState,
    version: Option<u64>,
    live: bool,
    addon: Option<String>,
    plan: Option<String>,
    decision: Option<PlanDecision>,
    outcome: Outcome,
    notes: Vec<String>,
    errors: Vec<StageError>,
    /// This run's change: `Ok` made, `Err` refused or failed.
    change: Option<Result<(), ScaleError>>,
}

impl Work<'_> {
    fn fail(&mut self, stage: &'static str, kind: &str, message: String) {
        self.outcome = Outcome::Failed;
        self.errors.push(StageError {
            stage,
            kind: kind.into(),
            message,
        });
    }

    fn mark(&mut self) -> &mut AddonMark {
        self.state.addon.get_or_insert_with(AddonMark::default)
    }

    fn plan_name(&self, index: Option<usize>) -> Option<String> {
        index.and_then(|i| self.config.policy.plans.get(i).map(|p| p.name.clone()))
    }
}

/// What every add-on's run shares.
pub(super) struct Context<'a> {
    pub plans: &'a dyn AddonPlans,
    pub store: &'a dyn StateStore,
    pub notifier: &'a dyn Notifier,
    pub notifications: &'a NotificationConfig,
    pub invocation: &'a Invocation,
    pub dry_run: bool,
    pub deadline: Deadline,
}

/// Run every add-on once, side by side (`sources[a]` serves `addons[a]`).
/// Never fails as a whole: problems are in the reports.
pub(super) async fn run(
    addons: &[AddonConfig],
    sources: &[Vec<Arc<dyn UsageSource>>],
    cx: &Context<'_>,
) -> Vec<AddonReport> {
    join_all(
        addons
            .iter()
            .zip(sources)
            .map(|(config, sources)| run_one(config, sources, cx)),
    )
    .await
}

async fn run_one(
    config: &AddonConfig,
    sources: &[Arc<dyn UsageSource>],
    cx: &Context<'_>,
) -> AddonReport {
    let Context {
        plans,
        store,
        notifier,
        notifications,
        invocation,
        dry_run,
        deadline,
    } = *cx;
    let now = invocation.now;
    let key = config.key();
    let mut w = Work {
        config,
        state: FormationState::default(),
        version: None,
        live: true,
        addon: None,
        plan: None,
        decision: None,
        outcome: Outcome::Hold,
        notes: Vec::new(),
        errors: Vec::new(),
        change: None,
    };
    // 1. load
    match deadline
        .before_save(store.load(&key))
        .await
        .unwrap_or_else(|given| Err(store_cut(given)))
    {
        Ok(Some(v)) => {
            w.state = v.value;
            w.version = Some(v.version);
        }
        Ok(None) => {}
        Err(e) => {
            w.fail("load_state", &store_kind(&e), e.to_string());
            return report(&w);
        }
    }
    if invocation.event_id.is_some() && w.state.last_event == invocation.event_id {
        w.outcome = Outcome::Duplicate;
        w.notes
            .push("this event id was already processed: nothing done".into());
        return report(&w);
    }
    // 2. poll, 3. read the plan (side by side)
    let (_, read) = futures::join!(
        poll(&mut w.state, config, sources, invocation, deadline),
        deadline.read(plans.addon(&config.app, &config.addon))
    );
    match read.unwrap_or_else(|given| Err(super::platform_cut("reading the add-on", given))) {
        Ok(info) => {
            w.addon = Some(info.name);
            w.plan = Some(info.plan.clone());
            w.mark().plan = Some(info.plan);
        }
        Err(e) => w.fail("read_addon", e.kind.as_str(), e.message),
    }
    // 4. settle
    settle(&mut w, now);
    if !w.live {
        return report(&w);
    }
    // 5. decide
    w.state.last_event.clone_from(&invocation.event_id);
    if let Some(plan) = w.plan.clone() {
        let current = config.policy.index_of(&plan);
        let fits_since = w.state.addon.as_ref().and_then(|m| m.fits_lower_since);
        let d = decide_plan(
            &config.policy,
            &w.state.window,
            current,
            &w.state.history,
            fits_since,
            now,
        );
        info!(addon = %config.name, plan = %plan, target = ?w.plan_name(d.target), reason = d.reason.code.as_str(), "plan decided");
        w.mark().fits_lower_since = d.fits_lower_since;
        if current.is_none() {
            w.notes.push(format!(
                "plan {plan} is not on the ladder ({})",
                config
                    .policy
                    .plans
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        w.decision = Some(d);
    }
    // 6./7. claim
    let paused = w.state.paused_until.filter(|until| *until > now);
    if w.state.paused_until.is_some() && paused.is_none() {
        w.state.paused_until = None;
    }
    let mut claimed = false;
    if let Some(d) = w.decision.clone() {
        w.outcome = match (d.action, dry_run, paused) {
            (_, _, Some(until)) => {
                w.notes.push(format!(
                    "paused until {}: not changing the plan",
                    until.format("%Y-%m-%dT%H:%M:%SZ")
                ));
                Outcome::Paused
            }
            (Action::Hold, _, None) => Outcome::Hold,
            (Action::ScaleUp, true, None) => Outcome::WouldScaleUp,
            (Action::ScaleDown, true, None) => Outcome::WouldScaleDown,
            (_, false, None) => {
                claimed = true;
                let (from, to) = (
                    d.current.unwrap_or_default() as u32,
                    d.target.unwrap_or_default() as u32,
                );
                w.state.pending = Some(ScaleIntent {
                    at: now,
                    from,
                    to,
                    event: w.state.last_event.clone(),
                });
                let target = w.plan_name(d.target);
                w.mark().pending_plan = target;
                Outcome::Hold
            }
        };
        if !claimed {
            w.state.record_decision(now, &as_decision(&d), false);
        }
    }
    prune(&mut w, now);
    if !claimed {
        notify(&mut w, notifier, notifications, now, deadline).await;
    }
    match save(store, &key, &w.state, w.version, deadline).await {
        Ok(version) => w.version = Some(version),
        Err(StoreError::Conflict { .. }) => {
            w.outcome = Outcome::LostRace;
            w.notes.push(
                "lost the race: another invocation wrote this add-on first; nothing done".into(),
            );
            return report(&w);
        }
        Err(e) => {
            w.fail("save_state", &store_kind(&e), e.to_string());
            return report(&w);
        }
    }
    if !claimed {
        return report(&w);
    }
    // 8. change
    let Some(d) = w.decision.clone() else {
        return report(&w);
    };
    let (Some(addon), Some(target)) = (w.addon.clone(), w.plan_name(d.target)) else {
        return report(&w);
    };
    let result = deadline
        .before_save(plans.change_plan(&config.app, &addon, &target))
        .await;
    let Ok(result) = result else {
        w.fail(
            "change_plan",
            "timeout",
            "the plan change was cut at the invocation's deadline; the claim stays stored and the next run settles it from the plan Heroku reports".into(),
        );
        return report(&w);
    };
    w.state.pending = None;
    w.mark().pending_plan = None;
    match &result {
        Ok(()) => {
            info!(addon = %config.name, from = ?w.plan, to = %target, "plan changed");
            w.outcome = if d.action == Action::ScaleUp {
                Outcome::ScaledUp
            } else {
                Outcome::ScaledDown
            };
            w.state.history.record(ScaleEvent {
                at: now,
                from: d.current.unwrap_or_default() as u32,
                to: d.target.unwrap_or_default() as u32,
            });
            w.state.record_decision(now, &as_decision(&d), true);
            let mark = w.mark();
            mark.plan = Some(target.clone());
            mark.fits_lower_since = None;
        }
        Err(e) => {
            warn!(addon = %config.name, error = %e, "plan change failed");
            w.state.record_decision(now, &as_decision(&d), false);
            w.fail("change_plan", e.kind.as_str(), e.message.clone());
        }
    }
    w.change = Some(result);
    // 9. notify, record
    notify(&mut w, notifier, notifications, now, deadline).await;
    match save(store, &key, &w.state, w.version, deadline).await {
        Ok(version) => w.version = Some(version),
        Err(e) => {
            warn!(addon = %config.name, error = %e, "recording the plan change failed; the next run settles it");
            w.errors.push(StageError {
                stage: "record",
                kind: store_kind(&e),
                message: e.to_string(),
            });
        }
    }
    report(&w)
}

/// Step 2: poll the due inputs; each dimension's window gets the use, and
/// `limit:<dimension>` any limit reported with it.
async fn poll(
    state: &mut FormationState,
    config: &AddonConfig,
    sources: &[Arc<dyn UsageSource>],
    invocation: &Invocation,
    deadline: Deadline,
) {
    let now = invocation.now;
    let budget = deadline.poll_budget(Duration::from_secs(25));
    let due: Vec<usize> = config
        .inputs
        .iter()
        .enumerate()
        .filter(|(_, input)| {
            input.dimensions().iter().any(|d| {
                state
                    .window
                    .inputs
                    .get(d)
                    .is_none_or(|w| w.is_due(now, input.interval))
            })
        })
        .map(|(i, _)| i)
        .collect();
    let polls = due.iter().map(|&i| {
        let input = &config.inputs[i];
        let source = sources[i].clone();
        let limit = input.timeout.to_std().unwrap_or(budget).min(budget);
        async move {
            match tokio::time::timeout(limit, source.usage(now)).await {
                Ok(r) => r,
                Err(_) => Err(SourceError::new(
                    SourceErrorKind::Timeout,
                    format!("no answer within {}", crate::domain::duration_text(limit)),
                )),
            }
        }
    });
    let results = join_all(polls).await;
    for (&i, result) in due.iter().zip(results) {
        let input = &config.inputs[i];
        let dims = input.dimensions();
        match result {
            Ok(usage) => {
                for d in &dims {
                    let window = state.window.inputs.entry(d.clone()).or_default();
                    match usage.values.get(d).filter(|v| v.is_finite() && **v >= 0.0) {
                        Some(v) => window.record_sample(now, *v),
                        None => window.record_failure(
                            now,
                            InputError {
                                kind: "malformed".into(),
                                message: format!("{}: no usable value for {d}", input.name),
                            },
                        ),
                    }
                    if let Some(limit) = usage.limits.get(d).filter(|v| v.is_finite() && **v > 0.0)
                    {
                        state
                            .window
                            .inputs
                            .entry(limit_key(d))
                            .or_default()
                            .record_sample(now, *limit);
                    }
                }
            }
            Err(e) => {
                warn!(addon = %config.name, input = %input.name, error = %e, "poll failed");
                for d in &dims {
                    state
                        .window
                        .inputs
                        .entry(d.clone())
                        .or_default()
                        .record_failure(
                            now,
                            InputError {
                                kind: e.kind.as_str().to_string(),
                                message: format!("{}: {}", input.name, e.message),
                            },
                        );
                }
            }
        }
    }
}

/// Step 4: settle a claim left by a run that did not record its outcome.
fn settle(w: &mut Work<'_>, now: DateTime<Utc>) {
    let Some(intent) = w.state.pending.clone() else {
        return;
    };
    if now - intent.at < CLAIM_TIMEOUT && now >= intent.at {
        w.outcome = Outcome::LostRace;
        w.notes.push(format!(
            "another invocation claimed a plan change at {} and may still be running: nothing done",
            intent.at.format("%H:%M:%SZ")
        ));
        w.live = false;
        return;
    }
    let Some(plan) = w.plan.clone() else { return };
    let wanted = w.state.addon.as_ref().and_then(|m| m.pending_plan.clone());
    w.state.pending = None;
    w.mark().pending_plan = None;
    match wanted {
        Some(wanted) if wanted.eq_ignore_ascii_case(&plan) => {
            w.state.history.record(ScaleEvent {
                at: intent.at,
                from: intent.from,
                to: intent.to,
            });
            w.notes.push(format!(
                "settled an unrecorded plan change to {wanted} claimed at {}: it happened",
                intent.at.format("%H:%M:%SZ")
            ));
        }
        wanted => w.notes.push(format!(
            "settled an unrecorded plan change to {} claimed at {}: it did not happen (plan is {plan})",
            wanted.unwrap_or_else(|| "?".into()),
            intent.at.format("%H:%M:%SZ")
        )),
    }
}

fn prune(w: &mut Work<'_>, now: DateTime<Utc>) {
    let keep = w.config.policy.retention();
    let dims: Vec<String> = w.config.policy.dimensions.clone();
    w.state
        .window
        .inputs
        .retain(|name, _| dims.iter().any(|d| d == name || limit_key(d) == *name));
    for input in w.state.window.inputs.values_mut() {
        input.prune(now, keep);
    }
}

/// A plan decision in the shape `status` keeps (plan indexes for counts).
fn as_decision(d: &PlanDecision) -> Decision {
    let index = |i: Option<usize>| i.unwrap_or_default() as u32;
    Decision {
        current: index(d.current),
        target: index(d.target),
        min: 0,
        max: 0,
        action: d.action,
        reason: Reason {
            code: match d.action {
                Action::ScaleUp => ReasonCode::LoadAbove,
                Action::ScaleDown => ReasonCode::LoadBelow,
                Action::Hold => ReasonCode::Steady,
            },
            text: format!("{}: {}", d.reason.code.as_str(), d.reason.text),
        },
        estimate: d.need.map(|n| n as u32),
        inputs: Vec::new(),
    }
}

async fn save(
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

/// The mails of this run: a change (event), a failed change and a need above
/// the ladder (episodes, deduplicated through the record's marks).
async fn notify(
    w: &mut Work<'_>,
    notifier: &dyn Notifier,
    config: &NotificationConfig,
    now: DateTime<Utc>,
    deadline: Deadline,
) {
    // Without a decision (the plan could not be read) nothing is known about
    // the episodes: none opens, none is declared resolved.
    if w.decision.is_none() {
        return;
    }
    let c = w.config;
    let subject = |what: &str| format!("[dynopilot] {} {what}", c.name);
    let reason = w
        .decision
        .as_ref()
        .map(|d| format!("{}: {}", d.reason.code.as_str(), d.reason.text))
        .unwrap_or_default();
    let from = w.plan.clone().unwrap_or_else(|| "?".into());
    let target = w
        .decision
        .as_ref()
        .and_then(|d| w.plan_name(d.target))
        .unwrap_or_else(|| "?".into());
    let failed = match &w.change {
        Some(Err(e)) => Some(e.clone()),
        Some(Ok(())) => None,
        // No attempt this run: a failure episode lasts while the change is
        // still wanted.
        None => None,
    };
    let still_wanted = w
        .decision
        .as_ref()
        .is_some_and(|d| d.action != Action::Hold);
    let failing = failed.is_some()
        || (w.change.is_none()
            && still_wanted
            && w.state
                .notifications
                .contains_key(NotificationKind::PlanChangeFailed.as_str()));
    let above = w
        .decision
        .as_ref()
        .is_some_and(|d| d.need.is_some_and(|n| n > c.policy.max_plan));
    let above_top = w.decision.as_ref().is_some_and(|d| d.above_top(&c.policy));
    let mut sends: Vec<(Notification, Option<(String, bool)>)> = Vec::new();
    let mut episode =
        |kind: NotificationKind, on: bool, holds: bool, subject: String, body: String| {
            let key = kind.as_str().to_string();
            let mark = w.state.notifications.get(&key).copied();
            match (holds && on, mark) {
                (true, None) => sends.push((
                    Notification {
                        kind,
                        phase: Phase::Opened,
                        formation: c.name.clone(),
                        subject,
                        body,
                    },
                    Some((key, true)),
                )),
                (true, Some(m))
                    if m.last_sent
                        .is_none_or(|at| now - at >= config.renotify_after) =>
                {
                    sends.push((
                        Notification {
                            kind,
                            phase: Phase::Reminder,
                            formation: c.name.clone(),
                            subject,
                            body,
                        },
                        Some((key, true)),
                    ))
                }
                (true, Some(_)) => {}
                (false, Some(m)) => {
                    if m.last_sent.is_some() {
                        sends.push((
                            Notification {
                                kind,
                                phase: Phase::Resolved,
                                formation: c.name.clone(),
                                subject: format!("{subject} (resolved)"),
                                body: format!("Resolved. {reason}"),
                            },
                            Some((key, false)),
                        ));
                    } else {
                        w.state.notifications.remove(&key);
                    }
                }
                (false, None) => {}
            }
        };
    episode(
        NotificationKind::PlanChangeFailed,
        config.on_scale_failed,
        failing,
        subject(&format!("plan change {from} → {target} failed")),
        format!(
            "Heroku did not change the plan of {} (app {}) from {from} to {target}:\n{}\n\nReason for the change: {reason}\nThe next run tries again while the change is still needed.",
            w.addon.as_deref().unwrap_or("the add-on"),
            c.app,
            failed.map(|e| e.to_string()).unwrap_or_else(|| "(see the previous mail)".into())
        ),
    );
    episode(
        NotificationKind::NeedsAbovePlans,
        config.on_needs_above_max,
        above,
        subject(&format!("needs a plan above {}", c.policy.plans[c.policy.max_plan].name)),
        format!(
            "{} needs more than its max_plan {} allows{}.\n{reason}\nRaise max_plan, extend the ladder, or reduce the use.",
            c.name,
            c.policy.plans[c.policy.max_plan].name,
            if above_top {
                " and more than the top of its ladder"
            } else {
                ""
            }
        ),
    );
    if let Some(Ok(())) = &w.change {
        sends.push((
            Notification {
                kind: NotificationKind::PlanChanged,
                phase: Phase::Event,
                formation: c.name.clone(),
                subject: subject(&format!("plan {from} → {target}")),
                body: format!(
                    "The plan of {} (app {}) was changed from {from} to {target}.\n{reason}",
                    w.addon.as_deref().unwrap_or("the add-on"),
                    c.app
                ),
            },
            None,
        ));
    }
    let results = join_all(sends.iter().map(|(n, _)| async move {
        deadline
            .before_save(notifier.send(n))
            .await
            .unwrap_or_else(|_| Err(crate::notify::NotifyError("cut at the deadline".into())))
    }))
    .await;
    for ((n, mark), result) in sends.into_iter().zip(results) {
        match (result, mark) {
            (Ok(()), Some((key, true))) => {
                let since = w.state.notifications.get(&key).map_or(now, |m| m.since);
                w.state.notifications.insert(
                    key,
                    EpisodeMark {
                        since,
                        last_sent: Some(now),
                    },
                );
            }
            (Ok(()), Some((key, false))) => {
                w.state.notifications.remove(&key);
            }
            (Ok(()), None) => {}
            (Err(e), mark) => {
                warn!(addon = %c.name, kind = n.kind.as_str(), error = %e, "notification failed");
                if let Some((key, true)) = mark {
                    w.state.notifications.entry(key).or_insert(EpisodeMark {
                        since: now,
                        last_sent: None,
                    });
                }
                w.errors.push(StageError {
                    stage: "notify",
                    kind: "send_failed".into(),
                    message: format!("{}: {e}", n.kind.as_str()),
                });
            }
        }
    }
}

fn report(w: &Work<'_>) -> AddonReport {
    AddonReport {
        name: w.config.name.clone(),
        app: w.config.app.clone(),
        addon: w.addon.clone(),
        plan: w.plan.clone(),
        target: w.decision.as_ref().and_then(|d| w.plan_name(d.target)),
        outcome: w.outcome,
        reason: w.decision.as_ref().map(|d| d.reason.clone()),
        dimensions: w
            .decision
            .as_ref()
            .map(|d| d.dimensions.clone())
            .unwrap_or_default(),
        notes: w.notes.clone(),
        errors: w.errors.clone(),
    }
}
