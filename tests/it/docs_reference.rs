//! The configuration reference (docs/configuration.md) cannot drift from the
//! code: its key tables are generated from the code's key lists, and those
//! lists are checked against what the config reader accepts and what
//! `check-config` shows, defaults included.
//!
//! A table missing from the docs is printed, generated from the code, by the
//! failing test; the meanings are prose the docs own.

use std::collections::BTreeSet;
use std::path::PathBuf;

use dynopilot::config;
use dynopilot::config::reference::{self, is_toml_value, Row};
use dynopilot::domain::RULES;
use dynopilot::inputs::INPUT_TYPES;
use serde_json::Value;

fn docs_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md")
}

/// The text between `<!-- keys: ID -->` and the next `<!-- /keys -->`.
fn section<'a>(doc: &'a str, id: &str) -> Option<(usize, usize, &'a str)> {
    let open = format!("<!-- keys: {id} -->\n");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find("<!-- /keys -->")?;
    Some((start, end, &doc[start..end]))
}

/// One row of a docs table: key and default, as written.
fn doc_rows(block: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split(" | ").collect();
            (cells.len() >= 3).then(|| {
                (
                    cells[0].trim().trim_matches('`').to_string(),
                    cells[1].trim().to_string(),
                )
            })
        })
        .collect()
}

/// Whether the docs' default says what the code's does: "required" (or "—")
/// for a required key; the same TOML value for a literal default (durations
/// compared as durations: "60m" is "1h"); anything for a default the code
/// computes (described in words).
fn same_default(doc: &str, code: Option<&str>) -> bool {
    let doc = doc.trim_matches('`').trim();
    let unset = |d: &str| d == "—" || d.starts_with("required") || d == "unset";
    match code {
        None => unset(doc),
        Some("unset") => unset(doc),
        Some(code) if is_toml_value(code) => {
            let value = |t: &str| {
                format!("v = {t}")
                    .parse::<toml::Table>()
                    .ok()
                    .map(|t| t["v"].clone())
            };
            match (value(doc), value(code)) {
                (Some(toml::Value::String(d)), Some(toml::Value::String(c))) => {
                    d == c
                        || matches!(
                            (humantime::parse_duration(&d), humantime::parse_duration(&c)),
                            (Ok(x), Ok(y)) if x == y
                        )
                }
                (Some(d), Some(c)) => match (
                    d.as_float().or(d.as_integer().map(|i| i as f64)),
                    c.as_float().or(c.as_integer().map(|i| i as f64)),
                ) {
                    (Some(x), Some(y)) => x == y,
                    _ => d == c,
                },
                _ => false,
            }
        }
        Some(_) => true,
    }
}

#[test]
fn the_configuration_reference_lists_every_key_with_the_code_s_default() {
    let path = docs_path();
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut wrong = Vec::new();
    for table in reference::tables() {
        let Some((_, _, block)) = section(&doc, &table.id) else {
            wrong.push(format!(
                "{}: no `<!-- keys: {} -->` ... `<!-- /keys -->` block; from the code:\n{}",
                table.id,
                table.id,
                reference::markdown(&table.rows)
            ));
            continue;
        };
        let rows = doc_rows(block);
        let documented: BTreeSet<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        let code: BTreeSet<&str> = table.rows.iter().map(|r| r.key.as_str()).collect();
        for missing in code.difference(&documented) {
            wrong.push(format!(
                "{}: `{missing}` is read by the code but not documented",
                table.id
            ));
        }
        for extra in documented.difference(&code) {
            wrong.push(format!(
                "{}: `{extra}` is documented but the code reads no such key",
                table.id
            ));
        }
        for (key, default) in &rows {
            if let Some(row) = table.rows.iter().find(|r| &r.key == key) {
                if !same_default(default, row.default.as_deref()) {
                    wrong.push(format!(
                        "{}: `{key}` is documented with default {default}, the code's is {}",
                        table.id,
                        row.default.as_deref().unwrap_or("required")
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/configuration.md disagrees with the code:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_default_check_tells_values_apart() {
    assert!(same_default("`\"60m\"`", Some("\"1h\"")));
    assert!(same_default("`5`", Some("5")));
    assert!(same_default("`0.1`", Some("0.1")));
    assert!(same_default("`—`", None));
    assert!(same_default("required", None));
    assert!(!same_default("`\"5m\"`", Some("\"10m\"")));
    assert!(!same_default("`4`", Some("5")));
    assert!(!same_default("`3`", None));
    assert!(!same_default("`true`", Some("false")));
    assert!(same_default("by region", Some("the region's API root")));
}

/// A config with one formation whose one input is `input` (TOML lines).
fn config_with(top: &str, input: &str) -> Value {
    let text = format!(
        "{top}\n[[formations]]\napp = \"shop-api\"\ntype = \"web\"\nmax = 4\n\n[[formations.inputs]]\nname = \"load\"\n{input}\n"
    );
    match config::parse(&text) {
        Ok(c) => c.describe(),
        Err(e) => panic!("{e}\n{text}"),
    }
}

/// Like [`config_with`], with extra keys on the formation.
fn config_with_formation_keys(keys: &str, input: &str) -> Value {
    let text = format!(
        "[[formations]]\napp = \"shop-api\"\ntype = \"web\"\nmax = 4\n{keys}\n\n[[formations.inputs]]\nname = \"load\"\n{input}\n"
    );
    match config::parse(&text) {
        Ok(c) => c.describe(),
        Err(e) => panic!("{e}\n{text}"),
    }
}

/// The keys an example (TOML lines) sets.
fn set_in(example: &str) -> BTreeSet<String> {
    example
        .parse::<toml::Table>()
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn row_keys(rows: &[Row]) -> BTreeSet<String> {
    rows.iter().map(|r| r.key.clone()).collect()
}

/// Every row whose default is a TOML value equals what `check-config` shows
/// when the key is left out ("unset" shows as null).
fn assert_defaults(what: &str, rows: &[Row], shown: &Value) {
    for row in rows {
        let Some(default) = &row.default else {
            continue;
        };
        let got = &shown[&row.key];
        if default == "unset" {
            assert!(
                got.is_null(),
                "{what}.{}: documented unset, shows {got}",
                row.key
            );
            continue;
        }
        if !is_toml_value(default) {
            continue; // a computed default, described in words
        }
        let table: toml::Table = format!("v = {default}").parse().expect("toml value");
        let want = serde_json::to_value(&table["v"]).expect("as json");
        let same = match (want.as_f64(), got.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => &want == got,
        };
        assert!(
            same,
            "{what}.{}: documented default {default}, the code shows {got}",
            row.key
        );
    }
}

#[test]
fn every_section_documents_exactly_the_keys_the_code_reads_with_their_defaults() {
    let tables = reference::tables();
    let rows = |id: &str| {
        tables
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.rows.clone())
            .unwrap_or_else(|| panic!("no table {id}"))
    };
    let constant = "type = \"constant\"\nvalue = 1\nper_dyno = 1";
    let plain = config_with("", constant);
    let sections = [
        "state",
        "scaler",
        "notifications",
        "metrics",
        "heartbeat",
        "formations",
        "drains",
        "status_page",
    ];
    let top: BTreeSet<String> = keys_of(&plain)
        .into_iter()
        .filter(|k| !sections.contains(&k.as_str()))
        .collect();
    assert_eq!(top, row_keys(&rows("top")));
    assert_defaults("(top)", &rows("top"), &plain);

    let mut state = keys_of(&plain["state"]);
    state.extend(keys_of(
        &config_with(
            "[state]\nkind = \"dynamodb\"\ntable = \"dynopilot\"",
            constant,
        )["state"],
    ));
    assert_eq!(state, row_keys(&rows("state")));
    assert_defaults("state", &rows("state"), &plain["state"]);

    let heroku = config_with(
        "[scaler]\nkind = \"heroku\"\ntoken = \"env:HEROKU_API_TOKEN\"",
        constant,
    );
    let mut scaler = keys_of(&plain["scaler"]);
    scaler.extend(keys_of(&heroku["scaler"]));
    assert_eq!(scaler, row_keys(&rows("scaler")));
    let (kind, heroku_rows): (Vec<Row>, Vec<Row>) =
        rows("scaler").into_iter().partition(|r| r.key == "kind");
    assert_defaults("scaler", &kind, &plain["scaler"]);
    assert_defaults("scaler", &heroku_rows, &heroku["scaler"]);

    for id in ["notifications", "metrics"] {
        assert_eq!(keys_of(&plain[id]), row_keys(&rows(id)), "{id}");
        assert_defaults(id, &rows(id), &plain[id]);
    }
    let beat = config_with(
        "[heartbeat]\nurl = \"https://hc.example.com/ping/x\"",
        constant,
    );
    assert_eq!(keys_of(&beat["heartbeat"]), row_keys(&rows("heartbeat")));
    assert_defaults("heartbeat", &rows("heartbeat"), &beat["heartbeat"]);

    let drain = config_with(
        "[[drains]]\napp = \"shop-app\"\ntoken = \"d.9173ea1f-6f14-4976-9cf0-7cd0dafdcdbc\"\ncredentials = \"env:DRAIN_CREDENTIALS\"",
        constant,
    );
    assert_eq!(keys_of(&drain["drains"][0]), row_keys(&rows("drains")));
    assert_defaults("drains[0]", &rows("drains"), &drain["drains"][0]);

    let page = config_with(
        "[status_page]\ncredentials = \"env:STATUS_PAGE_CREDENTIALS\"",
        constant,
    );
    assert_eq!(
        keys_of(&page["status_page"]),
        row_keys(&rows("status_page"))
    );
    assert_defaults("status_page", &rows("status_page"), &page["status_page"]);

    let formation = &plain["formations"][0];
    let mut formation_keys = keys_of(formation);
    formation_keys.remove("inputs");
    assert_eq!(formation_keys, row_keys(&rows("formations")));
    assert_defaults("formations[0]", &rows("formations"), formation);

    let sized = config_with_formation_keys(
        "sizes = [\"standard-1x\", \"standard-2x\"]\nsize_max = { \"standard-1x\" = 3 }",
        constant,
    );
    let mut size_keys = keys_of(&sized["formations"][0]);
    size_keys.retain(|k| !formation_keys.contains(k) && k != "inputs");
    assert_eq!(size_keys, row_keys(&rows("formation-sizes")));
    assert_defaults(
        "formations[0]",
        &rows("formation-sizes")
            .into_iter()
            .filter(|r| r.key == "size_down_delay")
            .collect::<Vec<_>>(),
        &sized["formations"][0],
    );

    let common = row_keys(&rows("inputs"));
    assert_defaults("inputs[0]", &rows("inputs"), &formation["inputs"][0]);
    let constant_keys = row_keys(&rows("input:constant"));
    for rule in RULES {
        let per_dyno = if rule.reads_per_dyno_key {
            "per_dyno = 1"
        } else {
            ""
        };
        let input = config_with(
            "",
            &format!(
                "type = \"constant\"\nvalue = 1\nrule = \"{}\"\n{}\n{per_dyno}",
                rule.name, rule.example
            ),
        );
        let shown = &input["formations"][0]["inputs"][0];
        let mut own = keys_of(shown);
        own.retain(|k| {
            !common.contains(k)
                && (!constant_keys.contains(k) || (rule.reads_per_dyno_key && k == "per_dyno"))
        });
        let mut want = row_keys(&rows(&format!("rule:{}", rule.name)));
        if rule.reads_per_dyno_key {
            want.insert("per_dyno".into());
        }
        assert_eq!(own, want, "rule {}", rule.name);
        assert_defaults(
            &format!("rule {}", rule.name),
            &rows(&format!("rule:{}", rule.name)),
            shown,
        );
    }
    for kind in INPUT_TYPES {
        let per_dyno = if kind.default_per_dyno.is_some() {
            String::new()
        } else {
            format!("{} = 1", kind.per_dyno_key)
        };
        let input = config_with(
            "",
            &format!("type = \"{}\"\n{}\n{per_dyno}", kind.name, kind.example),
        );
        let shown = &input["formations"][0]["inputs"][0];
        let mut own = keys_of(shown);
        own.retain(|k| !common.contains(k) && k != "per_dyno");
        assert_eq!(
            own,
            row_keys(&rows(&format!("input:{}", kind.name))),
            "input type {}",
            kind.name
        );
        let unset: Vec<Row> = rows(&format!("input:{}", kind.name))
            .into_iter()
            .filter(|r| !set_in(kind.example).contains(&r.key))
            .collect();
        assert_defaults(&format!("input {}", kind.name), &unset, shown);
    }
}
