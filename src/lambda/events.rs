//! The events the function accepts, parsed into commands. Pure: no I/O.
//!
//! - EventBridge "Scheduled Event" (a rule's payload): `time` is the decision's
//!   `now`, `id` the idempotency key. EventBridge delivers at least once, so a
//!   repeated `id` is a no-op.
//! - Any other object without `action` (EventBridge Scheduler delivers its
//!   configured input, or a default notification): a scheduled run, using
//!   `time`/`id` when present.
//! - `{"action": "evaluate", "dry_run": true, "formations": ["..."]}`
//! - `{"action": "status"}`
//! - `{"action": "pause", "formation": "...", "minutes": 30}`
//! - `{"action": "resume", "formation": "..."}`
//! - `{"action": "tune"}`: tune each formation on its recorded history
//!   (daily, see `crate::engine::Engine::tune`).
//!
//! Anything else is refused with an error that names the field, before
//! anything is read or written.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Longest pause accepted (a week): a forgotten pause should not silently
/// disable autoscaling for good.
pub const MAX_PAUSE_MINUTES: u64 = 7 * 24 * 60;
/// Longest event id. EventBridge ids are UUIDs (36 characters); the id is
/// stored as the formation's `last_event`, and an unbounded one (1 MB) made
/// DynamoDB refuse the item, failing the formation on every such run.
pub const MAX_ID_CHARS: usize = 256;
/// Longest formation name (`app/type`: Heroku app names have at most 30
/// characters, process types at most 128).
pub const MAX_FORMATION_CHARS: usize = 200;
/// Most formations one `evaluate` event may name.
pub const MAX_FORMATIONS: usize = 100;
/// Longest `time` string: an RFC 3339 time with nanoseconds and an offset is 35.
pub const MAX_TIME_CHARS: usize = 64;
/// How much of a refused value an error message quotes.
const QUOTE_CHARS: usize = 64;

/// An event payload as the runtime hands it over: JSON, or why it is not. The
/// runtime's own deserializer error ("failed to deserialize the incoming
/// data...") is not a stable label; with this type every payload reaches the
/// handler, which answers `InvalidEvent`.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Json(Value),
    NotJson(String),
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer) {
            Ok(value) => Self::Json(value),
            Err(e) => Self::NotJson(e.to_string()),
        })
    }
}

/// What an event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A scheduled run.
    Scheduled {
        id: Option<String>,
        time: Option<DateTime<Utc>>,
    },
    /// A run by hand.
    Evaluate {
        dry_run: bool,
        formations: Option<Vec<String>>,
    },
    /// Report stored state; change nothing.
    Status,
    /// Hold a formation for a while.
    Pause { formation: String, minutes: u64 },
    /// Lift a pause.
    Resume { formation: String },
    /// Tune every formation whose `tuning` is not `"off"`.
    Tune,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event: {0}")]
pub struct EventError(pub String);

fn err(message: impl Into<String>) -> EventError {
    EventError(message.into())
}

/// A value for an error message: Debug-quoted, cut to [`QUOTE_CHARS`].
fn quote(s: &str) -> String {
    if s.chars().count() <= QUOTE_CHARS {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(QUOTE_CHARS).collect();
        format!("{cut:?}… ({} characters)", s.chars().count())
    }
}

/// A string field of at most `max` characters, not blank, without control characters.
fn bounded(value: &str, field: &str, max: usize) -> Result<String, EventError> {
    let count = value.chars().count();
    if count > max {
        return Err(err(format!(
            "field {field:?} is {count} characters long; at most {max} are accepted"
        )));
    }
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(err(format!(
            "field {field:?} must be a non-empty string without control characters, found {}",
            quote(value)
        )));
    }
    Ok(value.to_string())
}

fn only_keys(
    object: &Map<String, Value>,
    allowed: &[&str],
    action: &str,
) -> Result<(), EventError> {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(err(format!(
                "unknown field {} for action {action:?} (allowed: {})",
                quote(key),
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn formation_of(object: &Map<String, Value>) -> Result<String, EventError> {
    match object.get("formation") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            bounded(s, "formation", MAX_FORMATION_CHARS)
        }
        Some(_) => Err(err(
            "field \"formation\" must be a non-empty string, e.g. \"myapp/web\"",
        )),
        None => Err(err("field \"formation\" is required, e.g. \"myapp/web\"")),
    }
}

/// Parse an event.
///
/// # Errors
/// [`EventError`] naming the field at fault.
pub fn parse(event: &Value) -> Result<Command, EventError> {
    let Value::Object(object) = event else {
        return Err(err("the event must be a JSON object"));
    };
    let Some(action) = object.get("action") else {
        let id = match object.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(bounded(s, "id", MAX_ID_CHARS)?),
            Some(_) => return Err(err("field \"id\" must be a string")),
        };
        let time = match object.get("time") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() > MAX_TIME_CHARS => {
                return Err(err(format!(
                    "field \"time\" is {} characters long; an RFC 3339 time has at most {MAX_TIME_CHARS}",
                    s.chars().count()
                )))
            }
            Some(Value::String(s)) => Some(
                DateTime::parse_from_rfc3339(s)
                    .map_err(|e| {
                        err(format!(
                            "field \"time\" is not an RFC 3339 time ({e}): {}",
                            quote(s)
                        ))
                    })?
                    .with_timezone(&Utc),
            ),
            Some(_) => return Err(err("field \"time\" must be an RFC 3339 string")),
        };
        return Ok(Command::Scheduled { id, time });
    };
    let Value::String(action) = action else {
        return Err(err("field \"action\" must be a string"));
    };
    match action.as_str() {
        "evaluate" => {
            only_keys(object, &["action", "dry_run", "formations"], action)?;
            let dry_run = match object.get("dry_run") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(err("field \"dry_run\" must be true or false")),
            };
            let formations = match object.get("formations") {
                None | Some(Value::Null) => None,
                Some(Value::Array(items)) if items.len() > MAX_FORMATIONS => {
                    return Err(err(format!(
                        "field \"formations\" names {} formations; at most {MAX_FORMATIONS} are accepted",
                        items.len()
                    )))
                }
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .ok_or_else(|| err("field \"formations\" must be an array of formation names"))
                                .and_then(|s| bounded(s, "formations[]", MAX_FORMATION_CHARS))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                Some(_) => return Err(err("field \"formations\" must be an array of formation names")),
            };
            Ok(Command::Evaluate {
                dry_run,
                formations,
            })
        }
        "status" => {
            only_keys(object, &["action"], action)?;
            Ok(Command::Status)
        }
        "pause" => {
            only_keys(object, &["action", "formation", "minutes"], action)?;
            let formation = formation_of(object)?;
            let minutes = match object.get("minutes") {
                Some(Value::Number(n)) => n
                    .as_u64()
                    .filter(|m| (1..=MAX_PAUSE_MINUTES).contains(m))
                    .ok_or_else(|| err(format!("field \"minutes\" must be a whole number from 1 to {MAX_PAUSE_MINUTES}, found {n}")))?,
                Some(_) => return Err(err("field \"minutes\" must be a whole number")),
                None => return Err(err("field \"minutes\" is required")),
            };
            Ok(Command::Pause { formation, minutes })
        }
        "resume" => {
            only_keys(object, &["action", "formation"], action)?;
            Ok(Command::Resume {
                formation: formation_of(object)?,
            })
        }
        "tune" => {
            only_keys(object, &["action"], action)?;
            Ok(Command::Tune)
        }
        other => Err(err(format!(
            "unknown action {} (evaluate, status, pause, resume, tune; a scheduled event has no action)",
            quote(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_eventbridge_scheduled_event_is_a_scheduled_run_at_its_time() {
        let event = json!({"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event",
            "source":"aws.events","account":"123456789012","time":"2015-10-08T16:53:06Z","region":"us-east-1",
            "resources":["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],"detail":{}});
        let Ok(Command::Scheduled { id, time }) = parse(&event) else {
            panic!("not scheduled")
        };
        assert_eq!(id.as_deref(), Some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"));
        assert_eq!(
            time.map(|t| t.to_rfc3339()),
            Some("2015-10-08T16:53:06+00:00".to_string())
        );
    }

    #[test]
    fn the_tune_event_parses() {
        assert_eq!(parse(&json!({"action": "tune"})), Ok(Command::Tune));
    }

    #[test]
    fn a_scheduler_payload_without_time_is_a_scheduled_run_now() {
        assert_eq!(
            parse(&json!({})),
            Ok(Command::Scheduled {
                id: None,
                time: None
            })
        );
    }

    #[test]
    fn bad_events_name_the_field() {
        for (event, want) in [
            (json!("hello"), "must be a JSON object"),
            (json!({"action": "dance"}), "unknown action \"dance\""),
            (json!({"action": 3}), "\"action\" must be a string"),
            (
                json!({"action": "pause", "minutes": 5}),
                "\"formation\" is required",
            ),
            (
                json!({"action": "pause", "formation": "a/web"}),
                "\"minutes\" is required",
            ),
            (
                json!({"action": "pause", "formation": "a/web", "minutes": -5}),
                "\"minutes\" must be a whole number from 1",
            ),
            (
                json!({"action": "evaluate", "dry_run": "yes"}),
                "\"dry_run\" must be true or false",
            ),
            (
                json!({"action": "evaluate", "formations": "a/web"}),
                "\"formations\" must be an array",
            ),
            (
                json!({"action": "status", "verbose": true}),
                "unknown field \"verbose\"",
            ),
            (
                json!({"action": "tune", "formation": "a/web"}),
                "unknown field \"formation\" for action \"tune\"",
            ),
            (
                json!({"time": "yesterday"}),
                "\"time\" is not an RFC 3339 time",
            ),
        ] {
            let got = parse(&event).expect_err("refused").to_string();
            assert!(got.contains(want), "{event}: {got}");
        }
    }

    #[test]
    fn every_event_field_is_bounded_and_the_error_names_it() {
        let huge = "x".repeat(1 << 20);
        for (event, field) in [
            (json!({"id": huge}), "\"id\" is 1048576 characters long"),
            (json!({"id": "a".repeat(257)}), "\"id\" is 257 characters"),
            (json!({"id": ""}), "\"id\" must be a non-empty string"),
            (
                json!({"id": "a\nb"}),
                "\"id\" must be a non-empty string without control",
            ),
            (json!({"time": huge}), "\"time\" is 1048576 characters long"),
            (
                json!({"action": "pause", "formation": huge, "minutes": 5}),
                "\"formation\" is 1048576 characters long",
            ),
            (
                json!({"action": "resume", "formation": "a".repeat(201)}),
                "\"formation\" is 201 characters",
            ),
            (
                json!({"action": "evaluate", "formations": [huge]}),
                "\"formations[]\" is 1048576 characters long",
            ),
            (
                json!({"action": "evaluate", "formations": vec!["a/web"; 101]}),
                "\"formations\" names 101 formations",
            ),
            (
                json!({"action": "pause", "formation": "a/web", "minutes": 1e300}),
                "\"minutes\" must be a whole number from 1",
            ),
        ] {
            let got = match parse(&event) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("accepted: {:.200}", event.to_string()),
            };
            assert!(got.contains(field), "{got:.300}");
            assert!(
                got.len() < 400,
                "the error quotes at most a little: {got:.300}"
            );
        }
        // What EventBridge really sends still passes: a 36-character id.
        assert!(parse(&json!({"id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"})).is_ok());
    }

    #[test]
    fn refused_names_and_keys_are_quoted_short() {
        let huge = "k".repeat(100_000);
        let mut object = serde_json::Map::new();
        object.insert("action".into(), json!("status"));
        object.insert(huge.clone(), json!(1));
        for event in [Value::Object(object), json!({ "action": huge })] {
            let got = match parse(&event) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("accepted: {:.200}", event.to_string()),
            };
            assert!(got.contains("100000 characters"), "{got:.300}");
            assert!(got.len() < 400, "{got:.300}");
        }
    }

    #[test]
    fn a_payload_that_is_not_json_is_kept_for_the_handler() {
        // As the runtime reads it: one value from the bytes, no check for the end.
        let runtime = |bytes: &[u8]| {
            Payload::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
                .expect("never fails")
        };
        let parsed = runtime(b"hello");
        assert!(
            matches!(parsed, Payload::NotJson(ref e) if e.contains("expected")),
            "{parsed:?}"
        );
        let parsed = runtime(br#"{"action":"status"}"#);
        assert_eq!(parsed, Payload::Json(json!({"action": "status"})));
    }
}
