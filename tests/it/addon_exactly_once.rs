//! Exactly-once plan changes across a crash, over DynamoDB on moto: a run
//! that claimed a plan change and died in the `PATCH` (before or after
//! Heroku applied it) is settled by a later run from the plan Heroku
//! reports, and the plan is changed once. (Overlapping runs: `addons.rs`.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;

use dynopilot::engine::{AddonWorld, Engine, Invocation, Outcome, CLAIM_TIMEOUT};
use dynopilot::inputs::{FixedUsage, UsageSource};
use dynopilot::notify::RecordingNotifier;
use dynopilot::scaler::{AddonInfo, AddonPlans, AddonRef, MemoryAddons, MemoryScaler, ScaleError};
use dynopilot::store::{DynamoDbStateStore, StateStore};

use crate::aws::{aws, table};
use crate::helpers::{at, config};

const ADDON: &str = "redis-cubed-12345";
const KEY: &str = "addon#shop-app#service:heroku-redis";

/// Add-on plans whose `change_plan` never returns while `crash` is set (the
/// process died there); with `apply_first` the change lands first.
struct CrashingPlans {
    inner: MemoryAddons,
    crash: AtomicBool,
    apply_first: bool,
}

#[async_trait]
impl AddonPlans for CrashingPlans {
    async fn addon(&self, app: &str, addon: &AddonRef) -> Result<AddonInfo, ScaleError> {
        self.inner.addon(app, addon).await
    }
    async fn change_plan(&self, app: &str, addon: &str, plan: &str) -> Result<(), ScaleError> {
        if self.crash.load(Ordering::SeqCst) {
            if self.apply_first {
                self.inner.change_plan(app, addon, plan).await?;
            }
            std::future::pending::<()>().await;
        }
        self.inner.change_plan(app, addon, plan).await
    }
}

/// A KVS add-on on mini with 41 MB used (needs premium-1), its record in a
/// fresh DynamoDB table; the 12:00 run claims mini → premium-1 and dies.
async fn crashed(apply_first: bool) -> (Arc<dyn StateStore>, Arc<CrashingPlans>, Engine) {
    let cfg = aws().await;
    let (client, name) = table(&cfg).await;
    let store: Arc<dyn StateStore> = Arc::new(DynamoDbStateStore::new(client, &name));
    let plans = Arc::new(CrashingPlans {
        inner: MemoryAddons::new().with("shop-app", ADDON, "heroku-redis:mini"),
        crash: AtomicBool::new(true),
        apply_first,
    });
    let usage: Arc<dyn UsageSource> = Arc::new(FixedUsage::new(
        &["connections", "memory_mb"],
        Ok(FixedUsage::values(&[
            ("memory_mb", 41.0),
            ("connections", 3.0),
        ])),
    ));
    let engine = Engine::new(
        config(
            r#"
[state]
kind = "memory"

[[addons]]
app = "shop-app"
service = "heroku-redis"
plans = "heroku-key-value-store"
max_plan = "heroku-redis:premium-2"

[[addons.inputs]]
name = "redis"
type = "redis_info"
url = "env:REDIS_URL"
"#,
        ),
        vec![],
        store.clone(),
        Arc::new(MemoryScaler::new()),
        Arc::new(RecordingNotifier::new()),
    )
    .expect("engine")
    .with_addons(AddonWorld {
        sources: vec![vec![usage]],
        plans: plans.clone(),
    })
    .expect("addons");
    let cut = tokio::time::timeout(
        Duration::from_secs(5),
        engine.invoke(&Invocation::at(at(12, 0))),
    )
    .await;
    assert!(cut.is_err(), "the run was cut off in the PATCH");
    let claim = store.load(KEY).await.expect("load").expect("claim stored");
    assert!(claim.value.pending.is_some(), "{:?}", claim.value);
    assert_eq!(
        claim
            .value
            .addon
            .as_ref()
            .and_then(|a| a.pending_plan.as_deref()),
        Some("heroku-redis:premium-1")
    );
    plans.crash.store(false, Ordering::SeqCst);
    (store, plans, engine)
}

async fn addon_run(
    engine: &Engine,
    now: chrono::DateTime<chrono::Utc>,
) -> dynopilot::engine::AddonReport {
    engine.invoke(&Invocation::at(now)).await.addons[0].clone()
}

#[tokio::test]
async fn a_plan_change_claimed_then_lost_is_settled_and_made_once() {
    let (store, plans, engine) = crashed(false).await;
    // While the claim may still be in flight, a run keeps out.
    let early = addon_run(&engine, at(12, 0) + TimeDelta::seconds(30)).await;
    assert_eq!(early.outcome, Outcome::LostRace, "{early:?}");
    assert!(
        plans.inner.calls().is_empty(),
        "the crashed PATCH never landed"
    );
    // After the claim timed out: Heroku still says mini, so it did not happen;
    // the change is made, once.
    let later = addon_run(&engine, at(12, 0) + CLAIM_TIMEOUT + TimeDelta::seconds(30)).await;
    assert!(
        later
            .notes
            .iter()
            .any(|n| n.contains("it did not happen (plan is heroku-redis:mini)")),
        "{later:?}"
    );
    assert_eq!(later.outcome, Outcome::ScaledUp, "{later:?}");
    assert_eq!(plans.inner.calls().len(), 1);
    assert_eq!(
        plans.inner.plan("shop-app", ADDON).as_deref(),
        Some("heroku-redis:premium-1")
    );
    let state = store.load(KEY).await.expect("load").expect("state");
    assert_eq!(state.value.history.events.len(), 1);
    assert!(state.value.pending.is_none());
}

#[tokio::test]
async fn a_plan_change_made_then_lost_is_recorded_and_not_made_again() {
    let (store, plans, engine) = crashed(true).await;
    let later = addon_run(&engine, at(12, 0) + CLAIM_TIMEOUT + TimeDelta::seconds(30)).await;
    assert!(
        later.notes.iter().any(|n| n.contains("it happened")),
        "{later:?}"
    );
    assert_eq!(later.outcome, Outcome::Hold, "{later:?}");
    assert_eq!(plans.inner.calls().len(), 1, "not changed twice");
    let state = store.load(KEY).await.expect("load").expect("state");
    assert_eq!(state.value.history.events.len(), 1);
    assert_eq!(state.value.history.events[0].at, at(12, 0));
    assert!(state.value.pending.is_none());
}
