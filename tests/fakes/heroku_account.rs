//! A stateful fake of one Heroku account behind one token, for wiremock:
//! formations per app, the account's call pool (4500, refilled at 75 a
//! minute on a clock the test moves), `RateLimit-Remaining` on every answer,
//! 429 with `Retry-After` when the pool is empty, and every call counted.
//!
//! Shared by the integration tests and the rate-limit benchmark (included
//! with `#[path]`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Heroku's documented pool size and refill.
pub const POOL: f64 = 4500.0;
pub const REFILL_PER_SECOND: f64 = 4500.0 / 3600.0;

/// One call as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub at: DateTime<Utc>,
    pub method: String,
    pub app: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Debug)]
struct Account {
    /// app -> process type -> quantity.
    formations: BTreeMap<String, BTreeMap<String, u32>>,
    pool: f64,
    /// The test's clock: the pool refills as it moves.
    clock: DateTime<Utc>,
    calls: Vec<Call>,
    /// Answer every call 429 with this `Retry-After` (seconds), whatever the pool.
    force_429: Option<u64>,
    /// When set, every answer says this many calls remain (the pool is not used).
    fixed_remaining: Option<u64>,
}

/// The fake; cheap to clone (shared state).
#[derive(Clone)]
pub struct HerokuAccount(Arc<Mutex<Account>>);

impl HerokuAccount {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(Account {
            formations: BTreeMap::new(),
            pool: POOL,
            clock: start,
            calls: Vec::new(),
            force_429: None,
            fixed_remaining: None,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Account> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Set a count, as `heroku ps:scale` would (behind dynopilot's back).
    pub fn set(&self, app: &str, process_type: &str, quantity: u32) {
        self.lock()
            .formations
            .entry(app.to_string())
            .or_default()
            .insert(process_type.to_string(), quantity);
    }

    pub fn quantity(&self, app: &str, process_type: &str) -> Option<u32> {
        self.lock()
            .formations
            .get(app)
            .and_then(|t| t.get(process_type))
            .copied()
    }

    /// Move the clock; the pool refills for the time passed.
    pub fn advance_to(&self, now: DateTime<Utc>) {
        let mut account = self.lock();
        let seconds = (now - account.clock).num_milliseconds().max(0) as f64 / 1000.0;
        account.pool = (account.pool + seconds * REFILL_PER_SECOND).min(POOL);
        account.clock = now;
    }

    /// Every answer says `remaining` calls are left (and the pool is ignored).
    pub fn say_remaining(&self, remaining: u64) {
        self.lock().fixed_remaining = Some(remaining);
    }

    pub fn always_429(&self, retry_after_seconds: Option<u64>) {
        self.lock().force_429 = retry_after_seconds.or(Some(0));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Calls answered (429s not included: they cost no token).
    pub fn charged(&self) -> usize {
        self.lock().calls.iter().filter(|c| c.status != 429).count()
    }

    pub fn pool(&self) -> f64 {
        self.lock().pool
    }

    /// Serve the Platform API formation endpoints on `server`.
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(wiremock::matchers::path_regex(
            r"^/apps/[^/]+/formation(/[^/]+)?$",
        ))
        .respond_with(self.clone())
        .mount(server)
        .await;
    }
}

/// A formation object with the schema's full field set (values illustrative).
pub fn formation_json(app: &str, process_type: &str, quantity: u32) -> Value {
    json!({
        "app": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": app},
        "command": "bundle exec puma -C config/puma.rb",
        "created_at": "2012-01-01T12:00:00Z",
        "dyno_size": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "Standard-1X"},
        "id": "01234567-89ab-cdef-0123-456789abcdef",
        "quantity": quantity,
        "size": "Standard-1X",
        "type": process_type,
        "updated_at": "2012-01-01T12:00:00Z"
    })
}

impl Respond for HerokuAccount {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut account = self.lock();
        let segments: Vec<String> = request
            .url
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        let app = segments.get(1).cloned().unwrap_or_default();
        let method = request.method.to_string();
        let at = account.clock;
        let record = |account: &mut Account, status: u16| {
            account.calls.push(Call {
                at,
                method: method.clone(),
                app: app.clone(),
                status,
            });
        };
        // The pool: no token, no answer but 429.
        let empty = account.fixed_remaining.is_none() && account.pool < 1.0;
        if account.force_429.is_some() || empty {
            let wait = account
                .force_429
                .unwrap_or_else(|| ((1.0 - account.pool) / REFILL_PER_SECOND).ceil() as u64);
            record(&mut account, 429);
            let mut template = ResponseTemplate::new(429)
                .insert_header("RateLimit-Remaining", "0")
                .set_body_json(json!({"id": "rate_limit", "message": "Your account reached the API rate limit"}));
            if wait > 0 {
                template = template.insert_header("Retry-After", wait.to_string().as_str());
            }
            return template;
        }
        if account.fixed_remaining.is_none() {
            account.pool -= 1.0;
        }
        let remaining = account
            .fixed_remaining
            .unwrap_or(account.pool.floor() as u64)
            .to_string();
        let answer = |status: u16, body: Value| {
            ResponseTemplate::new(status)
                .insert_header("RateLimit-Remaining", remaining.as_str())
                .insert_header("RateLimit-Multiplier", "1")
                .set_body_json(body)
        };
        let Some(types) = account.formations.get(&app).cloned() else {
            record(&mut account, 404);
            return answer(
                404,
                json!({"id": "not_found", "message": "Couldn't find that app."}),
            );
        };
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let response = match (request.method.as_str(), segments.get(3)) {
            ("GET", None) => (
                200,
                Value::Array(
                    types
                        .iter()
                        .map(|(t, q)| formation_json(&app, t, *q))
                        .collect(),
                ),
            ),
            ("PATCH", Some(process_type)) => match body.get("quantity").and_then(Value::as_u64) {
                Some(q) if types.contains_key(process_type) => {
                    let formations = account.formations.entry(app.clone()).or_default();
                    formations.insert(process_type.clone(), q as u32);
                    (200, formation_json(&app, process_type, q as u32))
                }
                _ => (
                    422,
                    json!({"id": "invalid_params", "message": "bad update"}),
                ),
            },
            ("PATCH", None) => {
                let updates = body.get("updates").and_then(Value::as_array).cloned();
                let formations = account.formations.entry(app.clone()).or_default();
                let mut out = Vec::new();
                for u in updates.unwrap_or_default() {
                    if let (Some(t), Some(q)) = (
                        u.get("type").and_then(Value::as_str),
                        u.get("quantity").and_then(Value::as_u64),
                    ) {
                        formations.insert(t.to_string(), q as u32);
                        out.push(formation_json(&app, t, q as u32));
                    }
                }
                (200, Value::Array(out))
            }
            _ => (404, json!({"id": "not_found", "message": "no such route"})),
        };
        record(&mut account, response.0);
        answer(response.0, response.1)
    }
}
