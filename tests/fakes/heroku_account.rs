//! A stateful fake of one Heroku account behind one token, for wiremock:
//! formations per app, the account's call pool (4500, refilled at 75 a
//! minute on a clock the test moves), `RateLimit-Remaining` on every answer,
//! 429 with `Retry-After` when the pool is empty, and every call counted.
//! Formation updates follow contracts-round2 §15.2: `quantity` as an integer
//! or a string (`"3"`, relative `"+1"`/`"-1"`), a size as `size` (string) or
//! `dyno_size` (`{"name"}`), names case-insensitive, answered capitalised;
//! a size refused by the test (e.g. eco next to standard) gets Heroku's 422.
//! `GET /apps/{app}` answers the app with its `generation` in either shape
//! of contracts-round2 §15.5 (the schema's object `{id, name}`, the CLI's
//! plain string) or without it, as the test sets it (default: the object,
//! `cedar`).
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
    /// The request path, e.g. `/apps/shop-app/formation`.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// The request body, for updates (`Null` for reads).
    pub body: Value,
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
    /// app -> process type -> size as Heroku names it (default `Standard-1X`).
    sizes: BTreeMap<String, BTreeMap<String, String>>,
    /// Sizes (lowercase) an update to is refused with this 422 message.
    refused_sizes: BTreeMap<String, String>,
    /// app -> its `generation` in the app read (default: the object, cedar).
    generations: BTreeMap<String, GenerationShape>,
}

/// How `GET /apps/{app}` answers `generation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationShape {
    /// The public schema: `{"id": uuid, "name": "fir"}`.
    Object(String),
    /// The CLI's types and stubs: `"fir"`.
    Name(String),
    /// No `generation` key at all.
    Absent,
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
            sizes: BTreeMap::new(),
            refused_sizes: BTreeMap::new(),
            generations: BTreeMap::new(),
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

    /// Set a process type's size (as `heroku ps:type` would).
    pub fn set_size(&self, app: &str, process_type: &str, size: &str) {
        self.lock()
            .sizes
            .entry(app.to_string())
            .or_default()
            .insert(process_type.to_string(), capitalised(size));
    }

    /// A process type's size as Heroku answers it (`Standard-1X` unless set).
    pub fn size(&self, app: &str, process_type: &str) -> String {
        size_of(&self.lock(), app, process_type)
    }

    /// Refuse every update to `size` with 422 `invalid_params` and `message`
    /// (nothing of that update is applied).
    pub fn refuse_size(&self, size: &str, message: &str) {
        self.lock()
            .refused_sizes
            .insert(size.to_ascii_lowercase(), message.to_string());
    }

    /// How the app read answers `generation` for `app`.
    pub fn set_generation(&self, app: &str, shape: GenerationShape) {
        self.lock().generations.insert(app.to_string(), shape);
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

    /// Serve the Platform API formation endpoints (and the app) on `server`.
    pub async fn mount(&self, server: &MockServer) {
        Mock::given(wiremock::matchers::path_regex(
            r"^/apps/[^/]+(/formation(/[^/]+)?)?$",
        ))
        .respond_with(self.clone())
        .mount(server)
        .await;
    }
}

/// `standard-2x` as Heroku answers it: `Standard-2X`.
pub fn capitalised(size: &str) -> String {
    size.split('-')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(_) if part.len() <= 3 && part.chars().any(|c| c.is_ascii_digit()) => {
                    lower.to_ascii_uppercase()
                }
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn size_of(account: &Account, app: &str, process_type: &str) -> String {
    account
        .sizes
        .get(app)
        .and_then(|t| t.get(process_type))
        .cloned()
        .unwrap_or_else(|| "Standard-1X".to_string())
}

/// A quantity as the API takes it: an integer, or a string (`"3"`, `"+1"`, `"-1"`).
fn quantity_of(update: &Value, current: u32) -> Option<Option<u32>> {
    match update.get("quantity") {
        None => Some(None),
        Some(Value::Number(n)) => n.as_u64().and_then(|q| u32::try_from(q).ok()).map(Some),
        Some(Value::String(s)) => {
            let s = s.trim();
            let relative = s.starts_with('+') || s.starts_with('-');
            let n: i64 = s.parse().ok()?;
            let q = if relative { i64::from(current) + n } else { n };
            u32::try_from(q).ok().map(Some)
        }
        Some(_) => None,
    }
}

/// A size as the API takes it: `size` string or `dyno_size` `{"name"}`.
fn size_in(update: &Value) -> Option<String> {
    update
        .get("size")
        .and_then(Value::as_str)
        .or_else(|| update.pointer("/dyno_size/name").and_then(Value::as_str))
        .map(str::to_string)
}

/// One update (`type` given) applied, or the 422 Heroku answers.
fn apply(
    account: &mut Account,
    app: &str,
    process_type: &str,
    update: &Value,
) -> Result<Value, Value> {
    let bad = |m: &str| json!({"id": "invalid_params", "message": m});
    let current = account
        .formations
        .get(app)
        .and_then(|t| t.get(process_type))
        .copied()
        .ok_or_else(|| bad("bad update"))?;
    let quantity = quantity_of(update, current).ok_or_else(|| bad("bad update"))?;
    let size = size_in(update);
    if quantity.is_none() && size.is_none() {
        return Err(bad("bad update"));
    }
    if let Some(size) = &size {
        if let Some(message) = account.refused_sizes.get(&size.to_ascii_lowercase()) {
            return Err(bad(message));
        }
    }
    let q = quantity.unwrap_or(current);
    account
        .formations
        .entry(app.to_string())
        .or_default()
        .insert(process_type.to_string(), q);
    if let Some(size) = size {
        account
            .sizes
            .entry(app.to_string())
            .or_default()
            .insert(process_type.to_string(), capitalised(&size));
    }
    let mut out = formation_json(app, process_type, q);
    let size = size_of(account, app, process_type);
    out["size"] = json!(size);
    out["dyno_size"]["name"] = json!(size);
    Ok(out)
}

/// An app object (schema `definitions.app`, values illustrative) with
/// `generation` as set.
pub fn app_json(app: &str, generation: &GenerationShape) -> Value {
    let mut out = json!({
        "acm": false,
        "archived_at": null,
        "buildpack_provided_description": "Ruby/Rack",
        "build_stack": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "heroku-24"},
        "created_at": "2012-01-01T12:00:00Z",
        "git_url": format!("https://git.heroku.com/{app}.git"),
        "id": "01234567-89ab-cdef-0123-456789abcdef",
        "internal_routing": false,
        "maintenance": false,
        "name": app,
        "owner": {"email": "username@example.com", "id": "01234567-89ab-cdef-0123-456789abcdef"},
        "organization": null,
        "team": null,
        "region": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "us"},
        "released_at": "2012-01-01T12:00:00Z",
        "repo_size": 0,
        "slug_size": 0,
        "space": null,
        "stack": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "heroku-24"},
        "updated_at": "2012-01-01T12:00:00Z",
        "web_url": format!("https://{app}-0123456789ab.herokuapp.com/")
    });
    match generation {
        GenerationShape::Object(name) => {
            out["generation"] = json!({"id": "01234567-89ab-cdef-0123-456789abcdef", "name": name});
        }
        GenerationShape::Name(name) => out["generation"] = json!(name),
        GenerationShape::Absent => {}
    }
    out
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
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let sent = body.clone();
        let record = |account: &mut Account, status: u16| {
            account.calls.push(Call {
                at,
                method: method.clone(),
                app: app.clone(),
                path: request.url.path().to_string(),
                status,
                body: sent.clone(),
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
        let response = match (request.method.as_str(), segments.get(2), segments.get(3)) {
            ("GET", None, _)
                if !request
                    .headers
                    .get("accept")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/vnd.heroku+json; version=3")) =>
            {
                (
                    406,
                    json!({"id": "not_acceptable", "message": "set Accept: application/vnd.heroku+json; version=3 header and try again"}),
                )
            }
            ("GET", None, _) => {
                let shape = account
                    .generations
                    .get(&app)
                    .cloned()
                    .unwrap_or_else(|| GenerationShape::Object("cedar".into()));
                (200, app_json(&app, &shape))
            }
            (_, None, _) => (
                405,
                json!({"id": "method_not_allowed", "message": "only GET is served here"}),
            ),
            ("GET", _, None) => (
                200,
                Value::Array(
                    types
                        .iter()
                        .map(|(t, q)| {
                            let mut f = formation_json(&app, t, *q);
                            let size = size_of(&account, &app, t);
                            f["size"] = json!(size);
                            f["dyno_size"]["name"] = json!(size);
                            f
                        })
                        .collect(),
                ),
            ),
            ("PATCH", _, Some(process_type)) => {
                match apply(&mut account, &app, process_type, &body) {
                    Ok(f) => (200, f),
                    Err(e) => (422, e),
                }
            }
            ("PATCH", _, None) => {
                // All or nothing: every update is checked on a copy first.
                let updates = body.get("updates").and_then(Value::as_array).cloned();
                let mut trial = Account {
                    formations: account.formations.clone(),
                    pool: 0.0,
                    clock: account.clock,
                    calls: Vec::new(),
                    force_429: None,
                    fixed_remaining: None,
                    sizes: account.sizes.clone(),
                    refused_sizes: account.refused_sizes.clone(),
                    generations: BTreeMap::new(),
                };
                let mut out = Vec::new();
                let mut refused = None;
                for u in updates.unwrap_or_default() {
                    let Some(t) = u.get("type").and_then(Value::as_str) else {
                        refused = Some(json!({"id": "invalid_params", "message": "bad update"}));
                        break;
                    };
                    match apply(&mut trial, &app, t, &u) {
                        Ok(f) => out.push(f),
                        Err(e) => {
                            refused = Some(e);
                            break;
                        }
                    }
                }
                match refused {
                    Some(e) => (422, e),
                    None => {
                        account.formations = trial.formations;
                        account.sizes = trial.sizes;
                        (200, Value::Array(out))
                    }
                }
            }
            _ => (404, json!({"id": "not_found", "message": "no such route"})),
        };
        record(&mut account, response.0);
        answer(response.0, response.1)
    }
}
