//! A formation's dyno sizes: `sizes = ["standard-1x", "standard-2x",
//! "performance-m"]`, optional `size_capacity` / `size_max` tables keyed by
//! size name, and `size_down_delay`. Refused here what Heroku would refuse:
//! eco/basic next to other tiers, Cedar names next to Fir names.

use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeDelta;
use serde_json::{json, Value};

use crate::domain::sizes::{check_app_sizes, default_capacity, SizeLadder, SizeStep, DOWN_AT};
use crate::fields::{format_duration, Fields, KeyDoc};

use super::formation::{FormationConfig, MAX_COOLOFF};

/// Default `size_down_delay`: a size change restarts every dyno of the type.
pub const SIZE_DOWN_DELAY: TimeDelta = TimeDelta::seconds(3600);

/// The `[[formations]]` keys for sizes, for the docs.
pub const SIZE_KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "sizes",
        Some("unset"),
        "a ladder of dyno sizes, smallest first, e.g. [\"standard-1x\", \"standard-2x\", \"performance-m\"]: counts and bounds are in dynos of the first size",
    ),
    KeyDoc::new(
        "size_capacity",
        Some("the size table"),
        "each size's capacity relative to the first, e.g. { \"performance-m\" = 10 }",
    ),
    KeyDoc::new(
        "size_max",
        Some("max"),
        "most dynos of a size before the next size, e.g. { \"standard-1x\" = 4 }",
    ),
    KeyDoc::new(
        "size_down_delay",
        Some("\"1h\""),
        "one size down only once the smaller size has fitted (half its limit) this long, and as long after a size change (at most 1d)",
    ),
];

/// Read the size keys of one formation. `None` when it has no `sizes` (or they are invalid).
pub(super) fn read_sizes(f: &mut Fields) -> Option<SizeLadder> {
    let given: Vec<&str> = ["size_capacity", "size_max", "size_down_delay"]
        .into_iter()
        .filter(|k| f.has(k))
        .collect();
    let names = f.opt_str_list("sizes");
    let capacities = number_table(f, "size_capacity", true);
    let maxima = number_table(f, "size_max", false);
    let down_delay = f.duration_within(
        "size_down_delay",
        SIZE_DOWN_DELAY,
        MAX_COOLOFF,
        "a longer wait is a paused formation: use pause",
    );
    let Some(names) = names else {
        for key in given {
            f.error(key, "needs `sizes`");
        }
        return None;
    };
    if names.is_empty() {
        f.error(
            "sizes",
            "must name at least one size (or leave `sizes` out)",
        );
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut steps = Vec::new();
    let mut ok = true;
    for name in &names {
        let key = name.to_ascii_lowercase();
        if !seen.insert(key.clone()) {
            f.error("sizes", format!("{name} is listed twice"));
            ok = false;
        }
        let capacity = capacities
            .get(&key)
            .copied()
            .or_else(|| default_capacity(name));
        let Some(capacity) = capacity else {
            f.error(
                "sizes",
                format!(
                    "{name} is not a size dynopilot knows a capacity for: give it in size_capacity (or check the name)"
                ),
            );
            ok = false;
            continue;
        };
        steps.push(SizeStep {
            name: name.clone(),
            capacity,
            max: maxima.get(&key).map(|m| *m as u32),
        });
    }
    for key in capacities.keys().chain(maxima.keys()) {
        if !seen.contains(key) {
            f.error(
                if capacities.contains_key(key) {
                    "size_capacity"
                } else {
                    "size_max"
                },
                format!("{key} is not in sizes"),
            );
            ok = false;
        }
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    if let Err(e) = check_app_sizes(&refs) {
        f.error("sizes", e);
        ok = false;
    }
    for pair in steps.windows(2) {
        if pair[1].capacity <= pair[0].capacity {
            f.error(
                "sizes",
                format!(
                    "must grow: {} (capacity {}) is not larger than {} (capacity {}); list the smallest first",
                    pair[1].name, pair[1].capacity, pair[0].name, pair[0].capacity
                ),
            );
            ok = false;
        }
    }
    if !ok || steps.is_empty() {
        return None;
    }
    // Relative to the first size, whatever unit the table used.
    let first = steps[0].capacity;
    for s in &mut steps {
        s.capacity /= first;
    }
    Some(SizeLadder {
        steps,
        down_at: DOWN_AT,
        down_delay,
    })
}

/// `{ "size" = number }`, names lowercased; positive numbers, or counts >= 1.
fn number_table(f: &mut Fields, key: &str, fractional: bool) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Some(mut t) = f.opt_table(key) else {
        return out;
    };
    for name in t.keys() {
        let value = if fractional {
            t.opt_positive(&name)
        } else {
            match t.opt_count(&name) {
                Some(0) => {
                    t.error(&name, "must be >= 1");
                    None
                }
                n => n.map(f64::from),
            }
        };
        if let Some(v) = value {
            out.insert(name.to_ascii_lowercase(), v);
        }
    }
    t.finish();
    out
}

/// The size keys as `check-config` shows them (absent without `sizes`).
pub(super) fn describe(ladder: Option<&SizeLadder>) -> Value {
    let Some(l) = ladder else {
        return Value::Null;
    };
    json!({
        "sizes": l.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        "size_capacity": l.steps.iter().map(|s| (s.name.clone(), json!(s.capacity))).collect::<serde_json::Map<_, _>>(),
        "size_max": l.steps.iter().filter_map(|s| s.max.map(|m| (s.name.clone(), json!(m)))).collect::<serde_json::Map<_, _>>(),
        "size_down_delay": format_duration(l.down_delay),
    })
}

/// One app's ladders together: Heroku refuses eco/basic next to any other
/// tier and Cedar next to Fir in one app. Returns, per formation index, the
/// error for its `sizes`.
pub(super) fn check_apps(formations: &[FormationConfig]) -> Vec<(usize, String)> {
    let mut by_app: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in formations.iter().enumerate() {
        if f.sizes.is_some() {
            by_app.entry(f.app.as_str()).or_default().push(i);
        }
    }
    let mut errors = Vec::new();
    for (app, members) in by_app {
        if members.len() < 2 {
            continue;
        }
        let names: Vec<&str> = members
            .iter()
            .filter_map(|&i| formations[i].sizes.as_ref())
            .flat_map(|l| l.steps.iter().map(|s| s.name.as_str()))
            .collect();
        if let Err(e) = check_app_sizes(&names) {
            for &i in &members {
                errors.push((i, format!("app {app}: {e}")));
            }
        }
    }
    errors
}
