//! A stateful fake of the Platform API's add-on endpoints, for wiremock:
//! `GET /apps/{app}/addons`, `GET /apps/{app}/addons/{name}` and
//! `PATCH /apps/{app}/addons/{name}` following the contracts: the add-on
//! object with extra keys, both plan-change body shapes
//! (`{"plan":"svc:plan"}` as heroku-go sends, `{"plan":{"name":"svc:plan"}}`
//! as the CLI sends), 422 with Heroku's error shape for an unknown plan or a
//! refused change, 404 `not_found` for an unknown app or add-on, 401 for a
//! wrong token, `RateLimit-Remaining` on every answer.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Debug, Clone)]
struct Addon {
    app: String,
    name: String,
    service: String,
    plan: String,
}

#[derive(Debug, Default)]
struct Inner {
    addons: Vec<Addon>,
    /// Plans each service has (`heroku-redis:mini`, ...).
    plans: BTreeMap<String, Vec<String>>,
    /// Refuse every plan change with this message (422 invalid_params).
    refuse: Option<String>,
    /// Every PATCH: (path, body).
    patches: Vec<(String, Value)>,
}

/// The fake; cheap to clone.
#[derive(Clone)]
pub struct HerokuAddons {
    inner: Arc<Mutex<Inner>>,
    token: String,
}

impl HerokuAddons {
    pub fn new(token: &str) -> Self {
        Self {
            inner: Arc::default(),
            token: token.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A service and the plans it offers.
    pub fn service(&self, service: &str, plans: &[&str]) -> &Self {
        self.lock().plans.insert(
            service.into(),
            plans.iter().map(|p| format!("{service}:{p}")).collect(),
        );
        self
    }

    /// An add-on of `app` on `plan` (`service:plan`).
    pub fn addon(&self, app: &str, name: &str, plan: &str) -> &Self {
        let service = plan.split(':').next().unwrap_or_default().to_string();
        self.lock().addons.push(Addon {
            app: app.into(),
            name: name.into(),
            service,
            plan: plan.into(),
        });
        self
    }

    pub fn refuse_changes(&self, message: Option<&str>) {
        self.lock().refuse = message.map(str::to_string);
    }

    pub fn plan(&self, name: &str) -> Option<String> {
        self.lock()
            .addons
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.plan.clone())
    }

    pub fn patches(&self) -> Vec<(String, Value)> {
        self.lock().patches.clone()
    }

    pub async fn mount(&self, server: &MockServer) {
        Mock::given(wiremock::matchers::path_regex(
            r"^/apps/[^/]+/addons(/[^/]+)?$",
        ))
        .respond_with(self.clone())
        .mount(server)
        .await;
    }
}

fn addon_json(a: &Addon) -> Value {
    json!({
        "id": "01234567-89ab-cdef-0123-456789abcdef",
        "name": a.name,
        "addon_service": {"id": "11234567-89ab-cdef-0123-456789abcdef", "name": a.service},
        "plan": {"id": "21234567-89ab-cdef-0123-456789abcdef", "name": a.plan},
        "state": "provisioned",
        "app": {"id": "31234567-89ab-cdef-0123-456789abcdef", "name": a.app},
        "billing_entity": {"id": "31234567-89ab-cdef-0123-456789abcdef", "name": a.app, "type": "app"},
        "billed_price": {"cents": 0, "contract": false, "unit": "month"},
        "config_vars": ["REDIS_URL"],
        "actions": [],
        "provider_id": "resource123",
        "web_url": "https://addons-sso.heroku.com/apps/x/addons/y",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z"
    })
}

impl Respond for HerokuAddons {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let answer = |status: u16, body: Value| {
            ResponseTemplate::new(status)
                .insert_header("RateLimit-Remaining", "4400")
                .insert_header("Content-Type", "application/json")
                .set_body_json(body)
        };
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let accept = request
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if auth != format!("Bearer {}", self.token) {
            return answer(
                401,
                json!({"id": "unauthorized", "message": "Invalid credentials provided."}),
            );
        }
        if accept != "application/vnd.heroku+json; version=3" {
            return answer(
                406,
                json!({"id": "not_acceptable", "message": "set Accept: application/vnd.heroku+json; version=3 header and try again"}),
            );
        }
        let segments: Vec<String> = request
            .url
            .path_segments()
            .map(|s| s.map(str::to_string).collect())
            .unwrap_or_default();
        let app = segments.get(1).cloned().unwrap_or_default();
        let name = segments.get(3).cloned();
        let mut inner = self.lock();
        if !inner.addons.iter().any(|a| a.app == app) {
            return answer(
                404,
                json!({"resource": "app", "id": "not_found", "message": "Couldn't find that app."}),
            );
        }
        let find = |inner: &Inner, name: &str| {
            inner
                .addons
                .iter()
                .position(|a| a.app == app && (a.name == name))
        };
        match (request.method.as_str(), name) {
            ("GET", None) => answer(
                200,
                Value::Array(
                    inner
                        .addons
                        .iter()
                        .filter(|a| a.app == app)
                        .map(addon_json)
                        .collect(),
                ),
            ),
            ("GET", Some(name)) => match find(&inner, &name) {
                Some(i) => answer(200, addon_json(&inner.addons[i])),
                None => answer(
                    404,
                    json!({"resource": "add-on", "id": "not_found", "message": "Couldn't find that add-on."}),
                ),
            },
            ("PATCH", Some(name)) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
                inner
                    .patches
                    .push((request.url.path().to_string(), body.clone()));
                let Some(i) = find(&inner, &name) else {
                    return answer(
                        404,
                        json!({"resource": "add-on", "id": "not_found", "message": "Couldn't find that add-on."}),
                    );
                };
                // Both shapes seen in production clients.
                let plan = match body.get("plan") {
                    Some(Value::String(p)) => Some(p.clone()),
                    Some(Value::Object(o)) => {
                        o.get("name").and_then(Value::as_str).map(str::to_string)
                    }
                    _ => None,
                };
                let Some(plan) = plan else {
                    return answer(
                        422,
                        json!({"id": "invalid_params", "message": "plan is required"}),
                    );
                };
                let service = inner.addons[i].service.clone();
                let known = inner
                    .plans
                    .get(&service)
                    .is_some_and(|plans| plans.iter().any(|p| p.eq_ignore_ascii_case(&plan)));
                if !known {
                    return answer(
                        422,
                        json!({"message": format!("Couldn't find either the add-on service or the add-on plan of \"{plan}\".")}),
                    );
                }
                if let Some(message) = inner.refuse.clone() {
                    return answer(422, json!({"id": "invalid_params", "message": message}));
                }
                inner.addons[i].plan = plan;
                answer(200, addon_json(&inner.addons[i]))
            }
            _ => answer(404, json!({"id": "not_found", "message": "no such route"})),
        }
    }
}
