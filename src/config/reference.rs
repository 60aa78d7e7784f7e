//! The configuration reference's key tables, generated from the code's own
//! key lists ([`KeyDoc`]s of each config section, rule and input type).
//!
//! docs/configuration.md holds each table between `<!-- keys: ID -->` and
//! `<!-- /keys -->`; a test regenerates them and fails on any difference, and
//! another checks each list against what the reader accepts and `describe`
//! shows, so neither the docs nor the lists can drift from the code.

use crate::domain::RULES;
use crate::fields::KeyDoc;
use crate::inputs::INPUT_TYPES;

use super::{addons, drains, formation, notifications, platform, status_page, KEYS};

/// One table: its marker id and its rows.
pub struct Table {
    pub id: String,
    pub rows: Vec<Row>,
}

/// One documented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    /// As a user writes it in TOML; `None`: required. Text that is no TOML
    /// value ("the region's API root") describes a computed default.
    pub default: Option<String>,
    pub meaning: String,
}

impl From<&KeyDoc> for Row {
    fn from(k: &KeyDoc) -> Self {
        Self {
            key: k.key.to_string(),
            default: k.default.map(str::to_string),
            meaning: k.meaning.to_string(),
        }
    }
}

/// Every table, in the order the reference lists them.
pub fn tables() -> Vec<Table> {
    let table = |id: &str, keys: &[KeyDoc]| Table {
        id: id.to_string(),
        rows: keys.iter().map(Row::from).collect(),
    };
    let mut out = vec![
        table("top", KEYS),
        table("state", platform::STATE_KEYS),
        table("scaler", platform::SCALER_KEYS),
        table("notifications", notifications::KEYS),
        table("metrics", platform::METRICS_KEYS),
        table("heartbeat", platform::HEARTBEAT_KEYS),
        table("formations", formation::FORMATION_KEYS),
        table("formation-sizes", super::sizes::SIZE_KEYS),
        table("inputs", formation::INPUT_KEYS),
        table("drains", drains::DRAIN_KEYS),
        table("addons", addons::ADDON_KEYS),
        table("addons.inputs", addons::ADDON_INPUT_KEYS),
        table("addon-input:redis_info", crate::inputs::REDIS_INFO_KEYS),
        table("status_page", status_page::STATUS_PAGE_KEYS),
    ];
    for rule in RULES {
        let mut rows: Vec<Row> = rule.keys.iter().map(Row::from).collect();
        if rule.reads_per_dyno_key {
            rows.push(Row {
                key: "per_dyno".to_string(),
                default: None,
                meaning: "the load one dyno serves; input types with a default of their own name it (see their tables)".to_string(),
            });
        }
        out.push(Table {
            id: format!("rule:{}", rule.name),
            rows,
        });
    }
    for kind in INPUT_TYPES {
        let mut rows: Vec<Row> = kind.keys.iter().map(Row::from).collect();
        // `per_dyno` is the capacity rule's; a type that names it otherwise
        // (with a default of its own) lists it.
        if kind.per_dyno_key != "per_dyno" {
            rows.push(Row {
                key: kind.per_dyno_key.to_string(),
                default: kind.default_per_dyno.map(|v| format!("{v}")),
                meaning: "rule \"capacity\": the load one dyno serves".to_string(),
            });
        }
        out.push(Table {
            id: format!("input:{}", kind.name),
            rows,
        });
    }
    out
}

/// A table as markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("| key | default | meaning |\n|---|---|---|\n");
    for k in rows {
        let default = match &k.default {
            None => "required".to_string(),
            Some(d) if is_toml_value(d) => format!("`{d}`"),
            Some(d) => d.clone(),
        };
        out.push_str(&format!(
            "| `{}` | {default} | {} |\n",
            k.key,
            k.meaning.replace('|', "\\|")
        ));
    }
    out
}

/// Whether `text` is one TOML value as a user would write it after `key = `.
pub fn is_toml_value(text: &str) -> bool {
    format!("v = {text}").parse::<toml::Table>().is_ok()
}
