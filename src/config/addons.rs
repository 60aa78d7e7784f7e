//! `[[addons]]` and `[[addons.inputs]]`: an add-on whose plan follows its
//! use along a ladder of plans (see [`crate::domain::decide_plan`]).
//!
//! ```toml
//! [[addons]]
//! app = "my-app"
//! service = "heroku-redis"          # or addon = "redis-cubed-12345"
//! plans = "heroku-key-value-store"  # the built-in ladder, or a list of plans
//! max_plan = "heroku-redis:premium-2"
//!
//! [[addons.inputs]]
//! name = "redis"
//! type = "redis_info"
//! url = "env:REDIS_URL"
//! ```
//!
//! An input is `redis_info` (memory and connections from Redis `INFO`) or
//! any input type of the registry with `measures` naming the dimension it
//! reports (e.g. an `app_metric` giving a log volume).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::TimeDelta;
use serde_json::{json, Map, Value};

use crate::domain::{PlanPolicy, PlanSpec};
use crate::fields::{format_duration, Fields, KeyDoc};
use crate::inputs::{input_type, RedisInfoSpec, SourceSpec, CONNECTIONS, INPUT_TYPES, MEMORY_MB};
use crate::scaler::AddonRef;

pub const UP_AT: f64 = 0.8;
pub const DOWN_AT: f64 = 0.6;
pub const HYSTERESIS: TimeDelta = TimeDelta::seconds(600);
pub const UPGRADE_COOLOFF: TimeDelta = TimeDelta::seconds(600);
/// A plan change can cost a failover: a day, against 5 minutes for dynos.
pub const DOWNGRADE_DELAY: TimeDelta = TimeDelta::seconds(24 * 3600);
pub const MAX_DOWNGRADE_DELAY: TimeDelta = TimeDelta::seconds(30 * 24 * 3600);
/// The built-in ladder's name (and its alias, the service's API name).
pub const KVS_LADDER: &str = "heroku-key-value-store";
pub const KVS_SERVICE: &str = "heroku-redis";

/// Heroku Key-Value Store (service `heroku-redis`), premium plans: RAM in MB
/// and connection limit, from Dev Center's technical characterization (Oct
/// 2024). 1 GB is taken as 1024 MB, as Redis counts.
pub const KVS_PLANS: &[(&str, f64, f64)] = &[
    ("mini", 25.0, 20.0),
    ("premium-0", 50.0, 40.0),
    ("premium-1", 100.0, 80.0),
    ("premium-2", 250.0, 200.0),
    ("premium-3", 500.0, 400.0),
    ("premium-4", 750.0, 700.0),
    ("premium-5", 1024.0, 1000.0),
    ("premium-7", 7.0 * 1024.0, 10000.0),
    ("premium-9", 10.0 * 1024.0, 25000.0),
    ("premium-10", 25.0 * 1024.0, 40000.0),
    ("premium-12", 50.0 * 1024.0, 65000.0),
    ("premium-14", 100.0 * 1024.0, 65000.0),
];

/// `[[addons]]` keys, for the docs (checked against [`AddonConfig::describe`]).
pub const ADDON_KEYS: &[KeyDoc] = &[
    KeyDoc::new("app", None, "the Heroku app the add-on is attached to"),
    KeyDoc::new(
        "addon",
        Some("unset"),
        "the add-on's name, e.g. \"redis-cubed-12345\" (this or `service`)",
    ),
    KeyDoc::new(
        "service",
        Some("unset"),
        "the add-on's service, e.g. \"heroku-redis\": the app's only add-on of it (this or `addon`)",
    ),
    KeyDoc::new(
        "name",
        Some("app/addon or app/service"),
        "unique name in reports and mail",
    ),
    KeyDoc::new(
        "plans",
        None,
        "the ladder, smallest first: \"heroku-key-value-store\", or a list of { name = \"service:plan\", <dimension> = capacity, ... }",
    ),
    KeyDoc::new("min_plan", Some("the ladder's first"), "lowest plan allowed"),
    KeyDoc::new(
        "max_plan",
        None,
        "highest plan allowed (the most you are willing to pay for)",
    ),
    KeyDoc::new(
        "up_at",
        Some("0.8"),
        "a plan is outgrown when use exceeds this fraction of its capacity",
    ),
    KeyDoc::new(
        "down_at",
        Some("0.6"),
        "the plan below fits when use is at most this fraction of its capacity (below up_at)",
    ),
    KeyDoc::new(
        "hysteresis",
        Some("\"10m\""),
        "use is the largest value within this window (at most 6h)",
    ),
    KeyDoc::new(
        "upgrade_cooloff",
        Some("\"10m\""),
        "after a change, no upgrade before this (at most 1d)",
    ),
    KeyDoc::new(
        "downgrade_delay",
        Some("\"1d\""),
        "a downgrade needs the plan below to have fitted this long and the last change this old (at most 30d)",
    ),
];

/// `[[addons.inputs]]` keys every add-on input shares.
pub const ADDON_INPUT_KEYS: &[KeyDoc] = &[
    KeyDoc::new("name", None, "unique within the add-on"),
    KeyDoc::new(
        "type",
        None,
        "\"redis_info\", or any input type, which then needs `measures`",
    ),
    KeyDoc::new(
        "measures",
        Some("memory_mb and connections for redis_info"),
        "the dimension an input of another type reports (a capacity key of every plan)",
    ),
    KeyDoc::new(
        "interval",
        Some("\"1m\""),
        "how often it is polled (at most 1d)",
    ),
    KeyDoc::new(
        "timeout",
        Some("\"10s\""),
        "how long one poll may take (at most 5m)",
    ),
];

/// One add-on and how its plan follows its use.
#[derive(Debug, Clone)]
pub struct AddonConfig {
    /// Unique name in reports and mail.
    pub name: String,
    pub app: String,
    pub addon: AddonRef,
    pub policy: PlanPolicy,
    /// Whether `plans` named the built-in ladder (for `describe`).
    pub builtin_ladder: bool,
    pub inputs: Vec<AddonInputConfig>,
}

impl AddonConfig {
    /// The state key: `addon#app#name-or-service` (never clashes with a
    /// formation's `app#type`: a process type has no `#`).
    pub fn key(&self) -> String {
        match &self.addon {
            AddonRef::Name(n) => format!("addon#{}#{n}", self.app),
            AddonRef::Service(s) => format!("addon#{}#service:{s}", self.app),
        }
    }

    pub fn describe(&self) -> Value {
        let p = &self.policy;
        let plans = if self.builtin_ladder {
            json!(KVS_LADDER)
        } else {
            Value::Array(
                p.plans
                    .iter()
                    .map(|plan| {
                        let mut m = Map::new();
                        m.insert("name".into(), json!(plan.name));
                        for (k, v) in &plan.capacity {
                            m.insert(k.clone(), json!(v));
                        }
                        Value::Object(m)
                    })
                    .collect(),
            )
        };
        let (addon, service) = match &self.addon {
            AddonRef::Name(n) => (json!(n), Value::Null),
            AddonRef::Service(s) => (Value::Null, json!(s)),
        };
        json!({
            "app": self.app,
            "addon": addon,
            "service": service,
            "name": self.name,
            "plans": plans,
            "min_plan": p.plans[p.min_plan].name,
            "max_plan": p.plans[p.max_plan].name,
            "up_at": p.up_at,
            "down_at": p.down_at,
            "hysteresis": format_duration(p.hysteresis),
            "upgrade_cooloff": format_duration(p.upgrade_cooloff),
            "downgrade_delay": format_duration(p.downgrade_delay),
            "inputs": self.inputs.iter().map(AddonInputConfig::describe).collect::<Vec<_>>(),
        })
    }
}

/// One input of an add-on.
#[derive(Debug, Clone)]
pub struct AddonInputConfig {
    pub name: String,
    pub interval: TimeDelta,
    pub timeout: TimeDelta,
    pub kind: AddonInputKind,
}

/// What an add-on input is.
#[derive(Debug, Clone)]
pub enum AddonInputKind {
    /// Memory and connections from Redis `INFO`.
    RedisInfo(RedisInfoSpec),
    /// A registry input reporting one dimension.
    Metric {
        type_name: &'static str,
        measures: String,
        spec: Arc<dyn SourceSpec>,
    },
}

impl AddonInputConfig {
    /// The dimensions it reports.
    pub fn dimensions(&self) -> Vec<String> {
        match &self.kind {
            AddonInputKind::RedisInfo(_) => vec![MEMORY_MB.into(), CONNECTIONS.into()],
            AddonInputKind::Metric { measures, .. } => vec![measures.clone()],
        }
    }

    pub fn describe(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        let settings = match &self.kind {
            AddonInputKind::RedisInfo(spec) => {
                out.insert("type".into(), json!("redis_info"));
                spec.settings()
            }
            AddonInputKind::Metric {
                type_name,
                measures,
                spec,
            } => {
                out.insert("type".into(), json!(type_name));
                out.insert("measures".into(), json!(measures));
                spec.settings()
            }
        };
        out.insert("interval".into(), json!(format_duration(self.interval)));
        out.insert("timeout".into(), json!(format_duration(self.timeout)));
        for (k, v) in settings {
            out.insert(k.into(), v);
        }
        Value::Object(out)
    }
}

/// The built-in Heroku Key-Value Store ladder.
pub fn kvs_ladder() -> Vec<PlanSpec> {
    KVS_PLANS
        .iter()
        .map(|(plan, mb, conns)| PlanSpec {
            name: format!("{KVS_SERVICE}:{plan}"),
            capacity: [
                (MEMORY_MB.to_string(), *mb),
                (CONNECTIONS.to_string(), *conns),
            ]
            .into_iter()
            .collect(),
        })
        .collect()
}

/// Reads every `[[addons]]`; names and state keys must be unique.
pub(super) fn read_all(top: &mut Fields) -> Vec<AddonConfig> {
    let mut out = Vec::new();
    let Some(tables) = top.tables("addons") else {
        return out;
    };
    let mut names = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for mut a in tables {
        let addon = read_addon(&mut a);
        if let Some(addon) = &addon {
            if !names.insert(addon.name.clone()) {
                a.error("name", format!("duplicate add-on name {:?}", addon.name));
            }
            if !keys.insert(addon.key()) {
                a.error("addon", "this add-on is configured twice");
            }
        }
        a.finish();
        out.extend(addon);
    }
    out
}

fn read_addon(a: &mut Fields) -> Option<AddonConfig> {
    let app = a.req_str("app");
    let addon_name = a.opt_str("addon");
    let service = a.opt_str("service");
    let addon = match (addon_name, service) {
        (Some(n), None) => Some(AddonRef::Name(n)),
        (None, Some(s)) => Some(AddonRef::Service(s)),
        (Some(_), Some(_)) => {
            a.error("service", "give `addon` or `service`, not both");
            None
        }
        (None, None) => {
            a.error(
                "addon",
                "is required: the add-on's name (or `service`, e.g. \"heroku-redis\")",
            );
            None
        }
    };
    let name = a.opt_str("name");
    let (plans, builtin) = read_plans(a).unzip();
    let index =
        |a: &mut Fields, key: &str, plans: &Option<Vec<PlanSpec>>| -> Option<Option<usize>> {
            let wanted = a.opt_str(key)?;
            let plans = plans.as_ref()?;
            let found = plans
                .iter()
                .position(|p| p.name.eq_ignore_ascii_case(&wanted));
            if found.is_none() {
                a.error(
                    key,
                    format!(
                        "{wanted:?} is not on the ladder ({})",
                        plans
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            Some(found)
        };
    let min_plan = match index(a, "min_plan", &plans) {
        None => Some(0),
        Some(found) => found,
    };
    let has_max = a.has("max_plan");
    let max_plan = index(a, "max_plan", &plans).flatten();
    if !has_max {
        a.error(
            "max_plan",
            "is required (the largest plan you are willing to pay for)",
        );
    }
    if let (Some(lo), Some(hi)) = (min_plan, max_plan) {
        if lo > hi {
            a.error("min_plan", "must not be above max_plan on the ladder");
        }
    }
    let up_at = fraction(a, "up_at", UP_AT);
    let down_at = fraction(a, "down_at", DOWN_AT);
    if down_at >= up_at {
        a.error(
            "down_at",
            format!("must be below up_at ({up_at}), or every downgrade would be undone"),
        );
    }
    let hysteresis = a.duration_within(
        "hysteresis",
        HYSTERESIS,
        super::formation::MAX_HYSTERESIS,
        "every sample in the window is stored between runs",
    );
    let upgrade_cooloff = a.duration_within(
        "upgrade_cooloff",
        UPGRADE_COOLOFF,
        super::formation::MAX_COOLOFF,
        "a longer wait is a paused add-on",
    );
    let downgrade_delay = a.duration_within(
        "downgrade_delay",
        DOWNGRADE_DELAY,
        MAX_DOWNGRADE_DELAY,
        "a longer wait is a fixed plan",
    );
    let inputs = read_inputs(a);
    let dimensions: Vec<String> = inputs
        .iter()
        .flat_map(AddonInputConfig::dimensions)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if let Some(plans) = &plans {
        for (i, plan) in plans.iter().enumerate() {
            for d in &dimensions {
                if !plan.capacity.contains_key(d) {
                    a.error(
                        &format!("plans[{i}]"),
                        format!(
                            "plan {} has no capacity for {d}, which an input measures",
                            plan.name
                        ),
                    );
                }
            }
        }
    }
    // A reading older than two polls (plus a minute of slack) is stale.
    let longest = inputs
        .iter()
        .map(|i| i.interval)
        .max()
        .unwrap_or(super::formation::INTERVAL);
    let stale_after = longest * 2 + TimeDelta::seconds(60);
    let app = app?;
    let addon = addon?;
    let plans = plans?;
    Some(AddonConfig {
        name: name.unwrap_or_else(|| match &addon {
            AddonRef::Name(n) => format!("{app}/{n}"),
            AddonRef::Service(s) => format!("{app}/{s}"),
        }),
        app,
        addon,
        builtin_ladder: builtin.unwrap_or(false),
        policy: PlanPolicy {
            plans,
            min_plan: min_plan?,
            max_plan: max_plan?,
            up_at,
            down_at,
            hysteresis,
            stale_after,
            upgrade_cooloff,
            downgrade_delay,
            dimensions,
        },
        inputs,
    })
}

fn fraction(a: &mut Fields, key: &str, default: f64) -> f64 {
    match a.opt_number(key) {
        None => default,
        Some(v) if v > 0.0 && v <= 1.0 => v,
        Some(v) => {
            a.error(key, format!("must be a fraction in (0, 1], found {v}"));
            default
        }
    }
}

/// `plans`: the built-in ladder's name, or a list of plans. The flag says
/// which it was.
fn read_plans(a: &mut Fields) -> Option<(Vec<PlanSpec>, bool)> {
    if !a.has("plans") {
        a.error(
            "plans",
            format!("is required: \"{KVS_LADDER}\", or a list of {{ name = \"service:plan\", <dimension> = capacity }}"),
        );
        return None;
    }
    if let Some(word) = a.peek("plans").and_then(|v| v.as_str()).map(str::to_string) {
        let _ = a.opt_str("plans");
        if word == KVS_LADDER || word == KVS_SERVICE {
            return Some((kvs_ladder(), true));
        }
        a.error(
            "plans",
            format!("unknown built-in ladder {word:?} (known: \"{KVS_LADDER}\"); or write the plans out"),
        );
        return None;
    }
    let tables = a.tables("plans")?;
    if tables.is_empty() {
        a.error("plans", "needs at least one plan");
        return None;
    }
    let mut plans = Vec::new();
    let mut names = BTreeSet::new();
    let mut ok = true;
    for mut t in tables {
        let name = t.req_str("name");
        if let Some(n) = &name {
            if !n.contains(':') {
                t.error(
                    "name",
                    format!("{n:?}: write the plan as Heroku names it, \"service:plan\""),
                );
                ok = false;
            } else if !names.insert(n.to_ascii_lowercase()) {
                t.error("name", format!("duplicate plan {n:?}"));
                ok = false;
            }
        }
        let mut capacity = BTreeMap::new();
        for key in t.keys() {
            match t.opt_positive(&key) {
                Some(v) => {
                    capacity.insert(key, v);
                }
                None => ok = false,
            }
        }
        if capacity.is_empty() {
            t.error_here("a plan needs a capacity, e.g. memory_mb = 30");
            ok = false;
        }
        t.finish();
        match name {
            Some(name) => plans.push(PlanSpec { name, capacity }),
            None => ok = false,
        }
    }
    ok.then_some((plans, false))
}

fn read_inputs(a: &mut Fields) -> Vec<AddonInputConfig> {
    let mut out = Vec::new();
    let has = a.has("inputs");
    match a.tables("inputs") {
        None if !has => a.error("inputs", "at least one [[addons.inputs]] is required"),
        None => {}
        Some(tables) if tables.is_empty() => {
            a.error("inputs", "at least one [[addons.inputs]] is required")
        }
        Some(tables) => {
            let mut names = BTreeSet::new();
            for mut t in tables {
                let input = read_input(&mut t);
                if let Some(input) = &input {
                    if !names.insert(input.name.clone()) {
                        t.error("name", format!("duplicate input name {:?}", input.name));
                    }
                }
                t.finish();
                out.extend(input);
            }
        }
    }
    out
}

fn read_input(t: &mut Fields) -> Option<AddonInputConfig> {
    let name = t.req_str("name");
    let type_name = t.req_str("type");
    let interval = t.duration_within(
        "interval",
        super::formation::INTERVAL,
        super::formation::MAX_INTERVAL,
        "one poll a day at least",
    );
    if interval <= TimeDelta::zero() {
        t.error("interval", "must be > 0");
    }
    let timeout = t.duration_within(
        "timeout",
        super::formation::TIMEOUT,
        super::formation::MAX_TIMEOUT,
        "a poll runs inside the invocation",
    );
    if timeout <= TimeDelta::zero() {
        t.error("timeout", "must be > 0");
    }
    let kind = match type_name.as_deref()? {
        "redis_info" => {
            if t.has("measures") {
                t.reject(
                    "measures",
                    "redis_info measures memory_mb and connections; measures is for other input types",
                );
            }
            RedisInfoSpec::parse(t).map(AddonInputKind::RedisInfo)
        }
        other => {
            let Some(kind) = input_type(other) else {
                let known: Vec<&str> = INPUT_TYPES.iter().map(|k| k.name).collect();
                t.error(
                    "type",
                    format!(
                        "unknown input type {other:?} (known: redis_info, {})",
                        known.join(", ")
                    ),
                );
                return None;
            };
            let measures = t.req_str("measures");
            let mut spec = (kind.parse)(t);
            if let (Some(spec), Ok(timeout)) = (spec.as_mut(), timeout.to_std()) {
                spec.set_timeout(timeout);
            }
            Some(AddonInputKind::Metric {
                type_name: kind.name,
                measures: measures?,
                spec: Arc::from(spec?),
            })
        }
    };
    Some(AddonInputConfig {
        name: name?,
        interval,
        timeout,
        kind: kind?,
    })
}
