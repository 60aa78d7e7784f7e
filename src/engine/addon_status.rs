//! The operator's verbs for add-ons: `status`, `pause`, `resume`.
//!
//! An add-on is addressed by its `name` in the config, like a formation:
//! by default `app/addon-name` (`shop-app/redis-cubed-12345`) or
//! `app/service` (`shop-app/heroku-redis`). Its record (`addon#app#…`) keeps
//! what a formation's keeps, with plan indexes of the ladder for counts;
//! `status` turns them back into plan names. A paused add-on's plan is not
//! changed: runs decide and report `paused` (see [`super::addons`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::Serialize;
use tracing::info;

use super::ControlError;
use crate::config::AddonConfig;
use crate::domain::{Action, Reason};
use crate::scaler::AddonRef;
use crate::store::{EpisodeMark, FormationState, StateStore, StoreError};

/// `status`: one add-on's stored state, for people.
#[derive(Debug, Clone, Serialize)]
pub struct AddonStatus {
    pub name: String,
    pub app: String,
    /// Which add-on of the app: `{"by": "name" | "service", "value": …}`.
    pub addon: AddonRef,
    pub version: Option<u64>,
    /// The plan the newest run read (or changed it to).
    pub plan: Option<String>,
    /// When that run decided.
    pub plan_at: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
    /// A plan change claimed and not recorded yet (the next run settles it).
    pub pending: Option<PendingPlan>,
    /// The newest plan change dynopilot made.
    pub last_change: Option<PlanChange>,
    /// Open notification episodes by key (`plan_change_failed`, ...).
    pub episodes: BTreeMap<String, EpisodeMark>,
    /// The newest decisions, oldest first.
    pub last_decisions: Vec<PlanDecisionRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A claimed plan change.
#[derive(Debug, Clone, Serialize)]
pub struct PendingPlan {
    pub at: DateTime<Utc>,
    pub plan: Option<String>,
}

/// A plan change that happened.
#[derive(Debug, Clone, Serialize)]
pub struct PlanChange {
    pub at: DateTime<Utc>,
    pub from: String,
    pub to: String,
}

/// A past decision with plan names.
#[derive(Debug, Clone, Serialize)]
pub struct PlanDecisionRecord {
    pub at: DateTime<Utc>,
    pub from: String,
    pub to: String,
    pub action: Action,
    pub reason: Reason,
    pub applied: bool,
}

/// A plan index of the ladder as its name (a ladder edited since may no
/// longer have it).
fn plan_name(a: &AddonConfig, index: u32) -> String {
    a.policy.plans.get(index as usize).map_or_else(
        || format!("plan #{index} (no longer on the ladder)"),
        |p| p.name.clone(),
    )
}

impl AddonStatus {
    fn new(
        a: &AddonConfig,
        state: FormationState,
        version: Option<u64>,
        error: Option<String>,
    ) -> Self {
        let mark = state.addon.unwrap_or_default();
        Self {
            name: a.name.clone(),
            app: a.app.clone(),
            addon: a.addon.clone(),
            version,
            plan: mark.plan,
            plan_at: state.decisions.last().map(|d| d.at),
            paused_until: state.paused_until,
            pending: state.pending.map(|p| PendingPlan {
                at: p.at,
                plan: mark.pending_plan,
            }),
            last_change: state.history.events.last().map(|e| PlanChange {
                at: e.at,
                from: plan_name(a, e.from),
                to: plan_name(a, e.to),
            }),
            episodes: state.notifications,
            last_decisions: state
                .decisions
                .into_iter()
                .map(|d| PlanDecisionRecord {
                    at: d.at,
                    from: plan_name(a, d.current),
                    to: plan_name(a, d.target),
                    action: d.action,
                    reason: d.reason,
                    applied: d.applied,
                })
                .collect(),
            error,
        }
    }
}

/// Every add-on's stored state: one read each, no writes.
pub async fn addon_status(addons: &[AddonConfig], store: &dyn StateStore) -> Vec<AddonStatus> {
    let loads = addons
        .iter()
        .map(|a| async move { (a, store.load(&a.key()).await) });
    join_all(loads)
        .await
        .into_iter()
        .map(|(a, loaded)| match loaded {
            Ok(Some(v)) => AddonStatus::new(a, v.value, Some(v.version), None),
            Ok(None) => AddonStatus::new(a, FormationState::default(), None, None),
            Err(e) => AddonStatus::new(a, FormationState::default(), None, Some(e.to_string())),
        })
        .collect()
}

/// Pause an add-on until `until` (`None`: resume): runs then decide and
/// report but do not change its plan. Retries a few times when a run writes
/// the record at the same moment.
///
/// # Errors
/// [`ControlError`] for an unknown add-on or a store that keeps failing.
pub async fn set_addon_pause(
    addons: &[AddonConfig],
    store: &dyn StateStore,
    name: &str,
    until: Option<DateTime<Utc>>,
) -> Result<AddonStatus, ControlError> {
    let a = addons
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ControlError::UnknownFormation(name.to_string()))?;
    let key = a.key();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut state, version) = match store.load(&key).await? {
            Some(v) => (v.value, Some(v.version)),
            None => (FormationState::default(), None),
        };
        state.paused_until = until;
        match store.save(&key, &state, version).await {
            Ok(version) => {
                info!(addon = name, ?until, "pause set");
                return Ok(AddonStatus::new(a, state, Some(version), None));
            }
            Err(StoreError::Conflict { .. }) if attempt < 5 => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
