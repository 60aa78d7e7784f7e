//! Port `AddonPlans`: reads and changes an add-on's plan; the Platform API
//! adapter (on [`HerokuScaler`], sharing its retries, rate-limit bookkeeping
//! and error texts) and the in-memory fake [`MemoryAddons`].
//!
//! Platform API: `GET /apps/{app}/addons/{name}` reads one add-on; by service
//! (`heroku-redis`) it is `GET /apps/{app}/addons` and the one add-on of that
//! service (none or several is an error naming them). A change is
//! `PATCH /apps/{app}/addons/{name}` with `{"plan": "service:plan"}` (the
//! schema's `plan.identity` string, as heroku-go sends it). Some add-ons
//! refuse plan changes: Heroku answers 422, reported as `rejected` with
//! Heroku's own words.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{HerokuScaler, ScaleError, ScaleErrorKind};

/// Which add-on of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum AddonRef {
    /// Its globally unique name (or id), e.g. `redis-cubed-12345`.
    Name(String),
    /// Its service, e.g. `heroku-redis`: the app must have exactly one.
    Service(String),
}

impl std::fmt::Display for AddonRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(n) => write!(f, "add-on {n}"),
            Self::Service(s) => write!(f, "the {s} add-on"),
        }
    }
}

/// An add-on as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddonInfo {
    /// Its unique name (what the change is addressed to).
    pub name: String,
    pub service: String,
    /// `service:plan`.
    pub plan: String,
}

/// Port: an add-on's plan.
///
/// Contract: `addon` returns the add-on's current plan; `change_plan` asks for
/// `plan` in one request and either it is accepted or it fails (a refusal is
/// [`ScaleErrorKind::Rejected`]). Neither retries beyond a few seconds.
#[async_trait]
pub trait AddonPlans: Send + Sync {
    /// # Errors
    /// A [`ScaleError`] when the add-on cannot be read or is ambiguous.
    async fn addon(&self, app: &str, addon: &AddonRef) -> Result<AddonInfo, ScaleError>;

    /// # Errors
    /// A [`ScaleError`] when the change was not made.
    async fn change_plan(&self, app: &str, addon: &str, plan: &str) -> Result<(), ScaleError>;
}

/// The parts of the `add-on` object used (no `strictProperties`: extra keys abound).
#[derive(Debug, Deserialize)]
struct ApiAddon {
    name: String,
    addon_service: Named,
    plan: Named,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

impl From<ApiAddon> for AddonInfo {
    fn from(a: ApiAddon) -> Self {
        Self {
            name: a.name,
            service: a.addon_service.name,
            plan: a.plan.name,
        }
    }
}

fn malformed(what: &str, e: &serde_json::Error) -> ScaleError {
    ScaleError::new(
        ScaleErrorKind::Other,
        format!("Heroku's answer for {what} was not understood: {e}"),
    )
}

#[async_trait]
impl AddonPlans for HerokuScaler {
    async fn addon(&self, app: &str, addon: &AddonRef) -> Result<AddonInfo, ScaleError> {
        match addon {
            AddonRef::Name(name) => {
                let url = self.url(&["apps", app, "addons", name])?;
                let what = format!("add-on {name} of app {app}");
                let text = self.call(Method::GET, url, None, &what).await?;
                let a: ApiAddon = serde_json::from_str(&text).map_err(|e| malformed(&what, &e))?;
                Ok(a.into())
            }
            AddonRef::Service(service) => {
                let url = self.url(&["apps", app, "addons"])?;
                let what = format!("the add-ons of app {app}");
                let text = self.call(Method::GET, url, None, &what).await?;
                let list: Vec<ApiAddon> =
                    serde_json::from_str(&text).map_err(|e| malformed(&what, &e))?;
                let mut found: Vec<AddonInfo> = list
                    .into_iter()
                    .map(AddonInfo::from)
                    .filter(|a| a.service.eq_ignore_ascii_case(service))
                    .collect();
                match found.len() {
                    1 => Ok(found.remove(0)),
                    0 => Err(ScaleError::new(
                        ScaleErrorKind::NotFound,
                        format!("app {app} has no {service} add-on"),
                    )),
                    _ => Err(ScaleError::new(
                        ScaleErrorKind::Other,
                        format!(
                            "app {app} has {} {service} add-ons ({}): name the one to manage with `addon`",
                            found.len(),
                            found.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    )),
                }
            }
        }
    }

    async fn change_plan(&self, app: &str, addon: &str, plan: &str) -> Result<(), ScaleError> {
        let url = self.url(&["apps", app, "addons", addon])?;
        let what = format!("plan {plan} for add-on {addon} of app {app}");
        self.call(Method::PATCH, url, Some(&json!({ "plan": plan })), &what)
            .await?;
        Ok(())
    }
}

/// One plan change as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanCall {
    pub app: String,
    pub addon: String,
    pub plan: String,
}

#[derive(Debug, Default)]
struct Inner {
    /// (app, add-on name) -> add-on.
    addons: BTreeMap<(String, String), AddonInfo>,
    calls: Vec<PlanCall>,
    /// The next change fails with this (once).
    fail_next: Option<ScaleError>,
    /// Reads fail with this while set.
    fail_reads: Option<ScaleError>,
}

/// Fake: add-ons in memory, every change recorded, faults on request.
#[derive(Debug, Default)]
pub struct MemoryAddons(Mutex<Inner>);

impl MemoryAddons {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add (or replace) an add-on on `plan` (`service:plan`).
    #[must_use]
    pub fn with(self, app: &str, name: &str, plan: &str) -> Self {
        self.set(app, name, plan);
        self
    }

    /// Set an add-on's plan, as `heroku addons:upgrade` would.
    pub fn set(&self, app: &str, name: &str, plan: &str) {
        let service = plan.split(':').next().unwrap_or(plan).to_string();
        self.lock().addons.insert(
            (app.into(), name.into()),
            AddonInfo {
                name: name.into(),
                service,
                plan: plan.into(),
            },
        );
    }

    pub fn plan(&self, app: &str, name: &str) -> Option<String> {
        self.lock()
            .addons
            .get(&(app.to_string(), name.to_string()))
            .map(|a| a.plan.clone())
    }

    pub fn calls(&self) -> Vec<PlanCall> {
        self.lock().calls.clone()
    }

    pub fn fail_next(&self, e: ScaleError) {
        self.lock().fail_next = Some(e);
    }

    pub fn fail_reads(&self, e: Option<ScaleError>) {
        self.lock().fail_reads = e;
    }
}

#[async_trait]
impl AddonPlans for MemoryAddons {
    async fn addon(&self, app: &str, addon: &AddonRef) -> Result<AddonInfo, ScaleError> {
        let inner = self.lock();
        if let Some(e) = &inner.fail_reads {
            return Err(e.clone());
        }
        let found: Vec<&AddonInfo> = inner
            .addons
            .iter()
            .filter(|((a, name), info)| {
                a == app
                    && match addon {
                        AddonRef::Name(n) => n == name,
                        AddonRef::Service(s) => &info.service == s,
                    }
            })
            .map(|(_, info)| info)
            .collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ScaleError::new(
                ScaleErrorKind::NotFound,
                format!("app {app} has no {addon}"),
            )),
            _ => Err(ScaleError::new(
                ScaleErrorKind::Other,
                format!("app {app} has several of {addon}"),
            )),
        }
    }

    async fn change_plan(&self, app: &str, addon: &str, plan: &str) -> Result<(), ScaleError> {
        let mut inner = self.lock();
        inner.calls.push(PlanCall {
            app: app.into(),
            addon: addon.into(),
            plan: plan.into(),
        });
        if let Some(e) = inner.fail_next.take() {
            return Err(e);
        }
        match inner.addons.get_mut(&(app.to_string(), addon.to_string())) {
            Some(a) => {
                a.plan = plan.into();
                Ok(())
            }
            None => Err(ScaleError::new(
                ScaleErrorKind::NotFound,
                format!("app {app} has no add-on {addon}"),
            )),
        }
    }
}
