//! The stored state's schema version, in one place for every store.
//!
//! A formation's state is stored as JSON carrying `"schema": N`. Loading an
//! older version migrates it step by step; a newer one (written by a newer
//! dynopilot) is refused with both versions named, and so is a document with
//! keys this version does not know: guessing would drop data that the next
//! save then overwrites. Refused state is left untouched (`StoreError::Corrupt`).
//!
//! Versions:
//! 1. round 1: no `schema` key;
//! 2. the same fields, with `schema` (so later changes can be migrated);
//! 3. adds `addon` (an add-on's plan bookkeeping, in records keyed
//!    `addon#app#name`); absent in formation records, so 2 → 3 changes nothing.
//! 4. adds `size` (a sized formation's bookkeeping), optional;
//! 5. adds `minutes` (the buffered hour of per-minute history, see
//!    `crate::history`), optional: an older document migrates unchanged
//!    and starts with an empty buffer. An older dynopilot refuses a
//!    version-5 state (newer schema), so roll back only after deleting
//!    `minutes` (or the state).
//! 6. adds `tuned` (the rule parameters `tune` chose, in a formation's
//!    record) and `tuning` (its evidence, only in the separate record
//!    `app#type#tuning`), both optional: an older document migrates
//!    unchanged, and a formation decides with its config until `tune` runs.
//!    An older dynopilot refuses a version-6 state: roll back only after
//!    deleting `tuned` and the `#tuning` records.
//! 7. adds `size.pending_size` (the size a claimed update asks for, so the
//!    claim is settled on count and size), optional: an older document
//!    migrates unchanged (no claim in it names a size, and one left pending
//!    by a version-6 run is settled on the count, as version 6 did).

use serde_json::{Map, Value};

use super::FormationState;

/// The version this build writes.
pub const SCHEMA_VERSION: u64 = 7;

/// A stored state as this version reads it.
///
/// # Errors
/// A message naming what is wrong: a newer schema (both versions named), a key
/// this version does not know, or a value of the wrong shape.
pub fn decode(value: Value) -> Result<FormationState, String> {
    let Value::Object(mut doc) = value else {
        return Err("the state is not a JSON object".into());
    };
    let found = match doc.remove("schema") {
        None => 1,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v >= 1) => n.as_u64().unwrap_or(1),
        Some(other) => {
            return Err(format!(
                "schema must be a version number >= 1, found {other}"
            ))
        }
    };
    if found > SCHEMA_VERSION {
        return Err(format!(
            "it has schema version {found}, newer than the {SCHEMA_VERSION} this dynopilot reads: \
             upgrade dynopilot (or delete the state to start afresh)"
        ));
    }
    for from in found..SCHEMA_VERSION {
        migrate(from, &mut doc);
    }
    serde_json::from_value(Value::Object(doc)).map_err(|e| e.to_string())
}

/// A state as this version writes it.
///
/// # Errors
/// When the state cannot be encoded (not expected: it holds only plain data).
pub fn encode(state: &FormationState) -> Result<Value, String> {
    let mut value = serde_json::to_value(state).map_err(|e| e.to_string())?;
    if let Value::Object(doc) = &mut value {
        doc.insert("schema".into(), Value::from(SCHEMA_VERSION));
    }
    Ok(value)
}

/// One step, from version `from` to `from + 1`.
fn migrate(from: u64, doc: &mut Map<String, Value>) {
    // 1 → 2 only adds the version itself, which `encode` writes; 2 → 3 adds
    // an optional key (`addon`); 3 → 4 another (`size`, a sized formation's
    // bookkeeping); 4 → 5 the optional `minutes` (serde default: empty);
    // 5 → 6 the optional `tuned` and `tuning` (serde default: none); 6 → 7
    // the optional `size.pending_size`. A
    // later change of shape rewrites `doc` here, one step per version.
    let _ = (from, doc);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored_v1() -> Value {
        json!({
            "window": {"inputs": {"rpm": {"samples": [{"at": "2026-01-05T12:00:00Z", "value": 742.0}]}}},
            "history": {"events": [{"at": "2026-01-05T11:00:00Z", "from": 2, "to": 5}]},
            "last_event": "evt-1"
        })
    }

    #[test]
    fn an_older_version_is_migrated_and_written_back_as_the_current_one() {
        let state = decode(stored_v1()).expect("v1 reads");
        assert_eq!(state.last_event.as_deref(), Some("evt-1"));
        assert_eq!(state.history.last().map(|e| e.to), Some(5));
        let written = encode(&state).expect("encodes");
        assert_eq!(written["schema"], json!(SCHEMA_VERSION));
        assert_eq!(decode(written).expect("round trip"), state);
    }

    #[test]
    fn a_newer_version_is_refused_naming_both_versions() {
        let mut doc = stored_v1();
        doc["schema"] = json!(SCHEMA_VERSION + 1);
        let err = decode(doc).unwrap_err();
        assert!(
            err.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
            "{err}"
        );
        assert!(
            err.contains(&format!("the {SCHEMA_VERSION} this dynopilot reads")),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_not_dropped() {
        let mut doc = stored_v1();
        doc["formation"] = json!({"window": {}});
        let err = decode(doc).unwrap_err();
        assert!(err.contains("unknown field `formation`"), "{err}");
        let mut nested = stored_v1();
        nested["history"]["event"] = json!([]);
        assert!(decode(nested)
            .unwrap_err()
            .contains("unknown field `event`"));
    }

    #[test]
    fn a_schema_that_is_not_a_version_is_refused() {
        let mut doc = stored_v1();
        doc["schema"] = json!("two");
        assert!(decode(doc)
            .unwrap_err()
            .contains("schema must be a version number"));
    }
}
