//! `[notifications]`: which conditions mail, to whom, and how often.

use chrono::TimeDelta;
use serde_json::{json, Value};

use crate::fields::{format_duration, Fields, KeyDoc};

/// An input failing this long is worth a mail.
pub const INPUT_FAILING_AFTER: TimeDelta = TimeDelta::seconds(10 * 60);
/// "Too rapid" means more than this many scales ...
pub const TOO_RAPID_SCALES: u32 = 6;
/// ... within this window.
pub const TOO_RAPID_WINDOW: TimeDelta = TimeDelta::seconds(60 * 60);
/// The quantity must stay above the threshold this long.
pub const QUANTITY_ABOVE_FOR: TimeDelta = TimeDelta::seconds(30 * 60);
/// A condition that lasts is mailed again at most this often.
pub const RENOTIFY_AFTER: TimeDelta = TimeDelta::seconds(6 * 3600);
/// Longest delay before a condition is mailed.
pub const MAX_DELAY: TimeDelta = TimeDelta::seconds(7 * 24 * 3600);
/// Longest time between reminders.
pub const MAX_RENOTIFY: TimeDelta = TimeDelta::seconds(30 * 24 * 3600);

/// `[notifications]` keys, for the docs (checked against [`NotificationConfig::describe`]).
pub const KEYS: &[KeyDoc] = &[
    KeyDoc::new(
        "from",
        Some("unset"),
        "sender address (SES: a verified identity)",
    ),
    KeyDoc::new("to", Some("[]"), "recipients"),
    KeyDoc::new("on_scale", Some("false"), "mail on every scale"),
    KeyDoc::new(
        "on_scale_failed",
        Some("true"),
        "mail when a scale call fails",
    ),
    KeyDoc::new(
        "on_needs_above_max",
        Some("true"),
        "mail while the estimate is above the max in force",
    ),
    KeyDoc::new(
        "on_needs_below_min",
        Some("false"),
        "mail while the estimate is below the min in force",
    ),
    KeyDoc::new(
        "on_input_failing",
        Some("true"),
        "mail when an input has failed for input_failing_after",
    ),
    KeyDoc::new(
        "input_failing_after",
        Some("\"10m\""),
        "how long an input fails before a mail (at most 7d)",
    ),
    KeyDoc::new(
        "on_too_rapid",
        Some("false"),
        "mail when more than too_rapid_scales scales happen within too_rapid_window",
    ),
    KeyDoc::new(
        "too_rapid_scales",
        Some("6"),
        "scales that count as flapping (1 to 49)",
    ),
    KeyDoc::new(
        "too_rapid_window",
        Some("\"1h\""),
        "the flapping window (at most 7d)",
    ),
    KeyDoc::new(
        "on_quantity_above",
        Some("false"),
        "mail when the count stays above quantity_above for quantity_above_for",
    ),
    KeyDoc::new(
        "quantity_above",
        Some("0"),
        "the count to alert above (required with on_quantity_above)",
    ),
    KeyDoc::new(
        "quantity_above_for",
        Some("\"30m\""),
        "how long above before a mail (at most 7d)",
    ),
    KeyDoc::new(
        "on_measurement",
        Some("false"),
        "debug: one mail per formation per run with the inputs",
    ),
    KeyDoc::new(
        "renotify_after",
        Some("\"6h\""),
        "while a condition lasts, remind at most this often (1m to 30d)",
    ),
];

/// When and where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationConfig {
    /// Mail on every scale (default off: it gets noisy).
    pub on_scale: bool,
    /// Mail when a scale call fails (default on).
    pub on_scale_failed: bool,
    /// Sender address, for mail notifiers.
    pub from: Option<String>,
    /// Recipients, for mail notifiers.
    pub to: Vec<String>,
    /// Mail while the combined estimate is above the `max` in force (default on:
    /// the cap is costing capacity).
    pub on_needs_above_max: bool,
    /// Mail while the combined estimate is below the `min` in force (default off).
    pub on_needs_below_min: bool,
    /// Mail when an input has failed for [`Self::input_failing_after`] (default on).
    pub on_input_failing: bool,
    pub input_failing_after: TimeDelta,
    /// Mail when more than `too_rapid_scales` scales happen within
    /// `too_rapid_window` (default off): a flapping policy.
    pub on_too_rapid: bool,
    pub too_rapid_scales: u32,
    pub too_rapid_window: TimeDelta,
    /// HireFire's alert: the quantity stayed above `quantity_above` for
    /// `quantity_above_for` (default off).
    pub on_quantity_above: bool,
    pub quantity_above: u32,
    pub quantity_above_for: TimeDelta,
    /// Debug: one mail per formation per invocation with the inputs (default off).
    pub on_measurement: bool,
    /// While a condition lasts, remind at most this often.
    pub renotify_after: TimeDelta,
}

impl NotificationConfig {
    /// As a user writes it, every default filled in.
    pub fn describe(&self) -> Value {
        json!({
            "from": self.from,
            "to": self.to,
            "on_scale": self.on_scale,
            "on_scale_failed": self.on_scale_failed,
            "on_needs_above_max": self.on_needs_above_max,
            "on_needs_below_min": self.on_needs_below_min,
            "on_input_failing": self.on_input_failing,
            "input_failing_after": format_duration(self.input_failing_after),
            "on_too_rapid": self.on_too_rapid,
            "too_rapid_scales": self.too_rapid_scales,
            "too_rapid_window": format_duration(self.too_rapid_window),
            "on_quantity_above": self.on_quantity_above,
            "quantity_above": self.quantity_above,
            "quantity_above_for": format_duration(self.quantity_above_for),
            "on_measurement": self.on_measurement,
            "renotify_after": format_duration(self.renotify_after),
        })
    }
}

pub(super) fn read(top: &mut Fields) -> Option<NotificationConfig> {
    let default = NotificationConfig {
        on_scale: false,
        on_scale_failed: true,
        from: None,
        to: Vec::new(),
        on_needs_above_max: true,
        on_needs_below_min: false,
        on_input_failing: true,
        input_failing_after: INPUT_FAILING_AFTER,
        on_too_rapid: false,
        too_rapid_scales: TOO_RAPID_SCALES,
        too_rapid_window: TOO_RAPID_WINDOW,
        on_quantity_above: false,
        quantity_above: 0,
        quantity_above_for: QUANTITY_ABOVE_FOR,
        on_measurement: false,
        renotify_after: RENOTIFY_AFTER,
    };
    let present = top.has("notifications");
    let Some(mut t) = top.opt_table("notifications") else {
        return (!present).then_some(default);
    };
    let quantity_above_set = t.has("quantity_above");
    let config = NotificationConfig {
        on_scale: t.bool_or("on_scale", default.on_scale),
        on_scale_failed: t.bool_or("on_scale_failed", default.on_scale_failed),
        from: t.opt_str("from"),
        to: t.opt_str_list("to").unwrap_or_default(),
        on_needs_above_max: t.bool_or("on_needs_above_max", default.on_needs_above_max),
        on_needs_below_min: t.bool_or("on_needs_below_min", default.on_needs_below_min),
        on_input_failing: t.bool_or("on_input_failing", default.on_input_failing),
        input_failing_after: t.duration_within(
            "input_failing_after",
            default.input_failing_after,
            MAX_DELAY,
            "a condition that old is stale news",
        ),
        on_too_rapid: t.bool_or("on_too_rapid", default.on_too_rapid),
        too_rapid_scales: t
            .opt_count("too_rapid_scales")
            .unwrap_or(default.too_rapid_scales),
        too_rapid_window: t.duration_within(
            "too_rapid_window",
            default.too_rapid_window,
            MAX_DELAY,
            "the stored scale history covers no more",
        ),
        on_quantity_above: t.bool_or("on_quantity_above", default.on_quantity_above),
        quantity_above: t
            .opt_count("quantity_above")
            .unwrap_or(default.quantity_above),
        quantity_above_for: t.duration_within(
            "quantity_above_for",
            default.quantity_above_for,
            MAX_DELAY,
            "a condition that old is stale news",
        ),
        on_measurement: t.bool_or("on_measurement", default.on_measurement),
        renotify_after: t.duration_within(
            "renotify_after",
            default.renotify_after,
            MAX_RENOTIFY,
            "a reminder must come while it matters",
        ),
    };
    if config.on_quantity_above && !quantity_above_set {
        t.error(
            "quantity_above",
            "is required when on_quantity_above = true (the dyno count to alert above)",
        );
    }
    // The history keeps MAX_SCALE_EVENTS scales: a larger count could never be seen.
    if config.too_rapid_scales == 0
        || config.too_rapid_scales as usize >= crate::domain::MAX_SCALE_EVENTS
    {
        t.error(
            "too_rapid_scales",
            format!(
                "must be between 1 and {} (the stored scale history's length)",
                crate::domain::MAX_SCALE_EVENTS - 1
            ),
        );
    }
    if config.on_too_rapid && config.too_rapid_window <= TimeDelta::zero() {
        t.error("too_rapid_window", "must be > 0");
    }
    if config.renotify_after < TimeDelta::minutes(1) {
        t.error(
            "renotify_after",
            "must be at least 1m (one scheduled run), or reminders would go out every run",
        );
    }
    for (i, to) in config.to.iter().enumerate() {
        if !to.contains('@') {
            t.error(
                &format!("to[{i}]"),
                format!("{to:?} is not an email address"),
            );
        }
    }
    if let Some(from) = &config.from {
        if !from.contains('@') {
            t.error("from", format!("{from:?} is not an email address"));
        }
    }
    t.finish();
    Some(config)
}
