//! `[[formations]]` and `[[formations.inputs]]`: a process type, its bounds
//! (fixed or scheduled), cool-offs, steps, hysteresis, fail-safe, and its
//! inputs with their rules. Rules and input types come from their registries
//! ([`crate::domain::RULES`], [`crate::inputs::INPUT_TYPES`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::TimeDelta;
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use crate::domain::{
    first_conflict, hhmm, parse_hhmm, rule_names, rule_type, Bound, InputPolicy, Policy, Rule,
    RuleInput, RuleType, Schedule, ScheduleEntry, DEFAULT_RULE, RULES,
};
use crate::fields::{format_duration, Fields, KeyDoc};
use crate::inputs::{input_type, InputType, Measure, SourceSpec, INPUT_TYPES};

pub const MIN: u32 = 1;
pub const SCALE_UP_COOLOFF: TimeDelta = TimeDelta::zero();
pub const SCALE_DOWN_COOLOFF: TimeDelta = TimeDelta::seconds(300);
pub const MAX_STEP_DOWN: u32 = 1;
pub const HYSTERESIS: TimeDelta = TimeDelta::seconds(300);
pub const FALLBACK_AFTER: TimeDelta = TimeDelta::seconds(600);
pub const INTERVAL: TimeDelta = TimeDelta::seconds(60);
pub const TIMEOUT: TimeDelta = TimeDelta::seconds(10);
/// Longest cool-off or fail-safe delay.
pub const MAX_COOLOFF: TimeDelta = TimeDelta::seconds(24 * 3600);
/// Longest hysteresis window: every sample in it is stored between runs.
pub const MAX_HYSTERESIS: TimeDelta = TimeDelta::seconds(6 * 3600);
/// Longest poll interval.
pub const MAX_INTERVAL: TimeDelta = TimeDelta::seconds(24 * 3600);
/// Longest poll timeout: a poll runs inside one invocation.
pub const MAX_TIMEOUT: TimeDelta = TimeDelta::seconds(5 * 60);

/// `[[formations]]` keys, for the docs (checked against [`FormationConfig::describe`]).
pub const FORMATION_KEYS: &[KeyDoc] = &[
    KeyDoc::new("app", None, "the Heroku app (name or id)"),
    KeyDoc::new("type", None, "the process type, e.g. web or worker"),
    KeyDoc::new(
        "name",
        Some("app/type"),
        "unique name in reports, events and mail",
    ),
    KeyDoc::new(
        "time_zone",
        Some("the global time_zone"),
        "zone of this formation's schedules",
    ),
    KeyDoc::new(
        "min",
        Some("1"),
        "fewest dynos: a count, or a schedule { \"08:00\" = 3, \"18:00\" = 1 }",
    ),
    KeyDoc::new("max", None, "most dynos: a count or a schedule"),
    KeyDoc::new(
        "scale_up_cooloff",
        Some("\"0s\""),
        "after a scale, no scale-up before this (at most 1d)",
    ),
    KeyDoc::new(
        "scale_down_cooloff",
        Some("\"5m\""),
        "after a scale, no scale-down before this (at most 1d)",
    ),
    KeyDoc::new(
        "max_step_up",
        Some("\"unlimited\""),
        "most dynos added at once, or \"unlimited\"",
    ),
    KeyDoc::new(
        "max_step_down",
        Some("1"),
        "most dynos removed at once, or \"unlimited\"",
    ),
    KeyDoc::new(
        "hysteresis",
        Some("\"5m\""),
        "each estimate uses the largest value within this window (at most 6h)",
    ),
    KeyDoc::new(
        "fallback_after",
        Some("\"10m\""),
        "when every input has been missing this long, `fallback` applies (at most 1d)",
    ),
    KeyDoc::new(
        "fallback",
        Some("unset"),
        "dynos to hold at least once every input is missing; unset: keep the count",
    ),
    KeyDoc::new(
        "history",
        Some("\"14d\""),
        "how long the per-minute history is kept, for charts and `tune` (at most 90d)",
    ),
    KeyDoc::new(
        "risk",
        Some("\"1%\""),
        "`tune` picks the cheapest rule whose under-provisioned minutes stay within this share",
    ),
    KeyDoc::new(
        "tuning",
        Some("\"suggest\""),
        "what `tune` does: \"off\", \"suggest\" (report and notify) or \"apply\" (decide with the tuned rule; guard-rails stay)",
    ),
];

/// `[[formations.inputs]]` keys every input type shares.
pub const INPUT_KEYS: &[KeyDoc] = &[
    KeyDoc::new("name", None, "unique within the formation"),
    KeyDoc::new("type", None, "the input type (see the inputs reference)"),
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
    KeyDoc::new(
        "rule",
        Some("\"capacity\""),
        "how its values become a dyno count (see the rules reference)",
    ),
];

/// One Heroku process type and how to scale it.
#[derive(Debug, Clone)]
pub struct FormationConfig {
    /// Unique name used in reports and events; default `app/type`.
    pub name: String,
    pub app: String,
    pub process_type: String,
    /// The zone its schedules are written in (`time_zone`, else the global one).
    pub time_zone: Tz,
    pub policy: Policy,
    pub inputs: Vec<InputConfig>,
    /// The dyno sizes it may move between ([`super::sizes`]); `None`: the
    /// size is left alone.
    pub sizes: Option<crate::domain::sizes::SizeLadder>,
    /// How long its per-minute history is kept (`history`).
    pub history: TimeDelta,
    /// `risk`: most under-provisioned minutes `tune` accepts, in %.
    pub risk_pct: f64,
    /// `tuning`: what `tune` does with its choice.
    pub tuning: crate::store::tuning::TuningMode,
}

impl FormationConfig {
    /// The state key, `app#type`.
    pub fn key(&self) -> String {
        format!("{}#{}", self.app, self.process_type)
    }
}

/// One input of a formation.
#[derive(Debug, Clone)]
pub struct InputConfig {
    pub name: String,
    pub type_name: &'static str,
    /// The type's key for load per dyno (how `capacity` names its setting).
    pub per_dyno_key: &'static str,
    /// What it measures, for the simulator (from the registry row).
    pub measure: Measure,
    pub interval: TimeDelta,
    /// How long one poll may take.
    pub timeout: TimeDelta,
    pub spec: Arc<dyn SourceSpec>,
}

impl FormationConfig {
    /// The formation as a user writes it, every default filled in, for
    /// `check-config`. Holds secret references, never secret values.
    pub fn describe(&self) -> Value {
        let p = &self.policy;
        let step = |s: Option<u32>| s.map_or(json!("unlimited"), |s| json!(s));
        let mut out = json!({
            "app": self.app,
            "type": self.process_type,
            "name": self.name,
            "time_zone": self.time_zone.name(),
            "min": bound_json(&p.min),
            "max": bound_json(&p.max),
            "scale_up_cooloff": format_duration(p.scale_up_cooloff),
            "scale_down_cooloff": format_duration(p.scale_down_cooloff),
            "max_step_up": step(p.max_step_up),
            "max_step_down": step(p.max_step_down),
            "hysteresis": format_duration(p.hysteresis),
            "fallback_after": format_duration(p.fallback_after),
            "fallback": p.fallback,
            "history": format_duration(self.history),
            "risk": format!("{}%", self.risk_pct),
            "tuning": self.tuning.as_str(),
            "inputs": self.inputs.iter().zip(&p.inputs).map(|(i, ip)| i.describe(&ip.rule)).collect::<Vec<_>>(),
        });
        if let (Value::Object(sizes), Value::Object(out)) =
            (super::sizes::describe(self.sizes.as_ref()), &mut out)
        {
            out.extend(sizes);
        }
        out
    }
}

impl InputConfig {
    /// The input as a user writes it: common keys, its rule's keys, its type's keys.
    pub fn describe(&self, rule: &Rule) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        out.insert("type".into(), json!(self.type_name));
        out.insert("interval".into(), json!(format_duration(self.interval)));
        out.insert("timeout".into(), json!(format_duration(self.timeout)));
        out.insert("rule".into(), json!(rule.name()));
        for (key, setting) in rule.settings(self.per_dyno_key) {
            out.insert(key.into(), setting.json());
        }
        for (key, value) in self.spec.settings() {
            out.insert(key.into(), value);
        }
        Value::Object(out)
    }
}

/// Heroku app names: `^[a-z][a-z0-9-]{1,28}[a-z0-9]$`, or an app UUID.
fn valid_app(name: &str) -> bool {
    let b = name.as_bytes();
    let is_name = (3..=30).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    let is_uuid = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (*c == b'-') && (*c == b'-' || c.is_ascii_hexdigit())
        });
    is_name || is_uuid
}

/// Heroku process types: `^[-\w]{1,128}$`.
fn valid_process_type(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

pub(super) fn read_formation(f: &mut Fields, default_tz: Tz) -> Option<FormationConfig> {
    let app = f.req_str("app");
    if let Some(app) = &app {
        if !valid_app(app) {
            f.error("app", format!("{app:?} is not a Heroku app name (lowercase letters, digits and dashes, 3-30 chars) or app id"));
        }
    }
    let process_type = f.req_str("type");
    if let Some(t) = &process_type {
        if !valid_process_type(t) {
            f.error(
                "type",
                format!("{t:?} is not a process type (letters, digits, _ and -)"),
            );
        }
    }
    let name = f.opt_str("name");
    let tz = read_formation_time_zone(f, default_tz);
    let has_min = f.has("min");
    let min = read_bound(f, "min", tz);
    let min = if has_min {
        min
    } else {
        Some(Bound::Fixed(MIN))
    };
    let has_max = f.has("max");
    let max = read_bound(f, "max", tz);
    if !has_max {
        f.error(
            "max",
            "is required (the most dynos you are willing to pay for)",
        );
    }
    if let (Some(min), Some(max)) = (&min, &max) {
        match first_conflict(min, max) {
            Some((None, lo, hi)) => f.error(
                "min",
                format!("min ({lo}) must not be greater than max ({hi})"),
            ),
            Some((Some(t), lo, hi)) => f.error(
                "min",
                format!(
                    "at {} ({}) min is {lo} but max is {hi}: min must not be greater than max at any time",
                    hhmm(t),
                    tz.name()
                ),
            ),
            None => {}
        }
    }
    let scale_up_cooloff = f.duration_within(
        "scale_up_cooloff",
        SCALE_UP_COOLOFF,
        MAX_COOLOFF,
        "a longer wait is a paused formation: use pause",
    );
    let scale_down_cooloff = f.duration_within(
        "scale_down_cooloff",
        SCALE_DOWN_COOLOFF,
        MAX_COOLOFF,
        "a longer wait is a paused formation: use pause",
    );
    let max_step_up = read_step(f, "max_step_up", None);
    let max_step_down = read_step(f, "max_step_down", Some(MAX_STEP_DOWN));
    let hysteresis = f.duration_within(
        "hysteresis",
        HYSTERESIS,
        MAX_HYSTERESIS,
        "every sample in the window is stored between runs",
    );
    let fallback_after = f.duration_within(
        "fallback_after",
        FALLBACK_AFTER,
        MAX_COOLOFF,
        "missing data that long needs a person, not a timer",
    );
    let fallback = f.opt_count("fallback");
    let sizes = super::sizes::read_sizes(f);
    let risk_pct = match f.opt_str("risk") {
        None => crate::history::DEFAULT_RISK_PCT,
        Some(text) => match text
            .trim()
            .strip_suffix('%')
            .map(|n| n.trim().parse::<f64>())
        {
            Some(Ok(v)) if (0.0..=100.0).contains(&v) => v,
            _ => {
                f.error(
                    "risk",
                    format!("must be a share like \"1%\" (0% to 100%), found {text:?}"),
                );
                crate::history::DEFAULT_RISK_PCT
            }
        },
    };
    let tuning = match f.opt_str("tuning") {
        None => crate::store::tuning::TuningMode::default(),
        Some(word) => crate::store::tuning::TuningMode::parse(&word).unwrap_or_else(|| {
            f.error(
                "tuning",
                format!("must be \"off\", \"suggest\" or \"apply\", found {word:?}"),
            );
            crate::store::tuning::TuningMode::default()
        }),
    };
    let history = f.duration_within(
        "history",
        crate::history::DEFAULT_KEEP,
        crate::history::MAX_KEEP,
        "a longer history is a data warehouse's job",
    );
    if let (Some(fallback), Some(min), Some(max)) = (fallback, &min, &max) {
        // Against the bounds' extremes: decide() clamps to the bounds in force,
        // so a fallback between a scheduled min's low and a max's high is usable.
        let (lo, hi) = (min.lowest(), max.highest());
        if fallback < lo || fallback > hi {
            f.error(
                "fallback",
                format!("must be within min..max ({lo}..{hi}), found {fallback}"),
            );
        }
    }

    let mut inputs = Vec::new();
    let has_inputs = f.has("inputs");
    match f.tables("inputs") {
        None if !has_inputs => f.error("inputs", "at least one [[formations.inputs]] is required"),
        None => {}
        Some(tables) if tables.is_empty() => {
            f.error("inputs", "at least one [[formations.inputs]] is required")
        }
        Some(tables) => {
            let mut names = BTreeSet::new();
            for mut t in tables {
                let input = read_input(&mut t);
                if let Some((input, _)) = &input {
                    if !names.insert(input.name.clone()) {
                        t.error("name", format!("duplicate input name {:?}", input.name));
                    }
                }
                t.finish();
                inputs.extend(input);
            }
        }
    }

    let app = app?;
    let process_type = process_type?;
    let (input_policies, input_configs): (Vec<_>, Vec<_>) = inputs
        .into_iter()
        .map(|(config, rule)| {
            (
                InputPolicy {
                    name: config.name.clone(),
                    interval: config.interval,
                    rule,
                },
                config,
            )
        })
        .unzip();
    Some(FormationConfig {
        name: name.unwrap_or_else(|| format!("{app}/{process_type}")),
        time_zone: tz,
        app,
        process_type,
        policy: Policy {
            min: min?,
            max: max?,
            scale_up_cooloff,
            scale_down_cooloff,
            max_step_up: max_step_up?,
            max_step_down: max_step_down?,
            hysteresis,
            fallback_after,
            fallback,
            inputs: input_policies,
        },
        inputs: input_configs,
        sizes,
        history,
        risk_pct,
        tuning,
    })
}

/// A step limit: a count >= 1, or `"unlimited"`. `None` when invalid.
fn read_step(f: &mut Fields, key: &str, default: Option<u32>) -> Option<Option<u32>> {
    if f.has(key) {
        // Accept the word "unlimited" explicitly, since 0 would freeze the formation.
        if let Some(word) = peek_str(f, key) {
            if word == "unlimited" {
                let _ = f.opt_str(key);
                return Some(None);
            }
        }
    }
    let present = f.has(key);
    match f.opt_count(key) {
        Some(0) => {
            f.error(key, "must be >= 1 (or \"unlimited\"); 0 would never scale");
            None
        }
        Some(n) => Some(Some(n)),
        None if present => None,
        None => Some(default),
    }
}

fn peek_str(f: &Fields, key: &str) -> Option<String> {
    f.peek(key).and_then(|v| v.as_str().map(str::to_string))
}

fn read_input(t: &mut Fields) -> Option<(InputConfig, Rule)> {
    let name = t.req_str("name");
    let type_name = t.req_str("type");
    let interval = t.duration_within(
        "interval",
        INTERVAL,
        MAX_INTERVAL,
        "one poll a day at least",
    );
    if interval <= TimeDelta::zero() {
        t.error("interval", "must be > 0");
    }
    let timeout = t.duration_within(
        "timeout",
        TIMEOUT,
        MAX_TIMEOUT,
        "a poll runs inside the invocation",
    );
    if timeout <= TimeDelta::zero() {
        t.error("timeout", "must be > 0");
    }
    let rule_name = t
        .opt_str("rule")
        .unwrap_or_else(|| DEFAULT_RULE.to_string());
    let kind = type_name.as_deref().and_then(|n| {
        let found = input_type(n);
        if found.is_none() {
            let known: Vec<&str> = INPUT_TYPES.iter().map(|t| t.name).collect();
            t.error(
                "type",
                format!("unknown input type {n:?} (known: {})", known.join(", ")),
            );
        }
        found
    });
    let kind = kind?;
    let rule_kind = rule_type(&rule_name);
    let rule = match rule_kind {
        Some(r) => (r.parse)(
            t,
            &RuleInput {
                per_dyno_key: kind.per_dyno_key,
                default_per_dyno: kind.default_per_dyno,
                interval,
            },
        ),
        None => {
            t.error(
                "rule",
                format!("unknown rule {rule_name:?} ({})", rule_names()),
            );
            None
        }
    };
    let mut spec = (kind.parse)(t);
    if let (Some(spec), Ok(timeout)) = (spec.as_mut(), timeout.to_std()) {
        spec.set_timeout(timeout);
    }
    if let Some(spec) = &spec {
        if let Err((key, message)) = spec.check_timeout(timeout) {
            t.error(key, message);
        }
    }
    reject_other_rules_keys(t, &rule_name, kind);
    Some((
        InputConfig {
            name: name?,
            type_name: kind.name,
            per_dyno_key: kind.per_dyno_key,
            measure: kind.measure,
            interval,
            timeout,
            spec: Arc::from(spec?),
        },
        rule?,
    ))
}

/// Refuse keys that belong to a rule other than the input's own: a key of
/// another rule usually means the wrong `rule`, so it is named as such rather
/// than reported as an anonymous "unknown key".
fn reject_other_rules_keys(t: &mut Fields, rule_name: &str, kind: &InputType) {
    let keys_of = |r: &RuleType| {
        let mut keys: Vec<&'static str> = r.keys.iter().map(|k| k.key).collect();
        if r.reads_per_dyno_key {
            keys.push(kind.per_dyno_key);
        }
        keys
    };
    let own = rule_type(rule_name).map(keys_of).unwrap_or_default();
    for other in RULES.iter().filter(|r| r.name != rule_name) {
        for key in keys_of(other) {
            if !own.contains(&key) && t.has(key) {
                t.reject(
                    key,
                    format!(
                        "unknown key for rule {rule_name:?}: {key} belongs to rule {:?}",
                        other.name
                    ),
                );
            }
        }
    }
}

/// A formation's `time_zone`, defaulting to the global one.
fn read_formation_time_zone(f: &mut Fields, default_tz: Tz) -> Tz {
    let Some(name) = f.opt_str("time_zone") else {
        return default_tz;
    };
    name.parse::<Tz>().unwrap_or_else(|_| {
        f.error(
            "time_zone",
            format!("unknown IANA time zone {name:?} (e.g. \"Europe/Berlin\")"),
        );
        default_tz
    })
}

/// `min`/`max`: a count, or a table of `"HH:MM" = count` in the formation's zone.
fn read_bound(f: &mut Fields, key: &str, tz: Tz) -> Option<Bound> {
    match f.peek(key)? {
        toml::Value::Integer(_) => f.opt_count(key).map(Bound::Fixed),
        toml::Value::Table(_) => {
            let mut t = f.opt_table(key)?;
            let keys = t.keys();
            if keys.is_empty() {
                t.error_here(
                    "a schedule needs at least one \"HH:MM\" = n entry, e.g. { \"08:00\" = 3, \"18:00\" = 1 }",
                );
            }
            let mut entries = Vec::new();
            let mut ok = !keys.is_empty();
            for k in keys {
                match parse_hhmm(&k) {
                    None => {
                        t.reject(
                            &k,
                            format!("{k:?} is not a time of day: write \"HH:MM\", 00:00 to 23:59"),
                        );
                        ok = false;
                    }
                    Some(at) => match t.opt_count(&k) {
                        Some(value) => entries.push(ScheduleEntry { at, value }),
                        None => ok = false,
                    },
                }
            }
            t.finish();
            if !ok {
                return None;
            }
            match Schedule::new(tz, entries) {
                Ok(s) => Some(Bound::Schedule(s)),
                Err(e) => {
                    f.error(key, e.to_string());
                    None
                }
            }
        }
        _ => {
            f.reject(
                key,
                "must be a whole number or a schedule like { \"08:00\" = 3, \"18:00\" = 1 }",
            );
            None
        }
    }
}

fn bound_json(b: &Bound) -> Value {
    match b {
        Bound::Fixed(n) => json!(n),
        // As written: `{ "08:00" = 3, ... }` in the formation's `time_zone`.
        Bound::Schedule(s) => Value::Object(
            s.entries()
                .iter()
                .map(|e| (hhmm(e.at), json!(e.value)))
                .collect(),
        ),
    }
}
