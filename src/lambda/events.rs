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
//!
//! Anything else is refused with an error that names the field, before
//! anything is read or written.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Longest pause accepted (a week): a forgotten pause should not silently
/// disable autoscaling for good.
pub const MAX_PAUSE_MINUTES: u64 = 7 * 24 * 60;

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
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event: {0}")]
pub struct EventError(pub String);

fn err(message: impl Into<String>) -> EventError {
    EventError(message.into())
}

fn only_keys(
    object: &Map<String, Value>,
    allowed: &[&str],
    action: &str,
) -> Result<(), EventError> {
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(err(format!(
                "unknown field {key:?} for action {action:?} (allowed: {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn formation_of(object: &Map<String, Value>) -> Result<String, EventError> {
    match object.get("formation") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
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
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(err("field \"id\" must be a string")),
        };
        let time = match object.get("time") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                DateTime::parse_from_rfc3339(s)
                    .map_err(|e| {
                        err(format!(
                            "field \"time\" is not an RFC 3339 time ({e}): {s:?}"
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
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .ok_or_else(|| err("field \"formations\" must be an array of formation names"))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                Some(_) => return Err(err("field \"formations\" must be an array of formation names")),
            };
            Ok(Command::Evaluate { dry_run, formations })
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
        other => Err(err(format!(
            "unknown action {other:?} (evaluate, status, pause, resume; a scheduled event has no action)"
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
                json!({"time": "yesterday"}),
                "\"time\" is not an RFC 3339 time",
            ),
        ] {
            let got = parse(&event).expect_err("refused").to_string();
            assert!(got.contains(want), "{event}: {got}");
        }
    }
}
