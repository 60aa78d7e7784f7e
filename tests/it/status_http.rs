//! `GET /status` on the HTTP function's router: its own Basic credentials
//! (not a drain's), 401 with `WWW-Authenticate` and no state read without
//! them, the page with `Cache-Control: no-store` with them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{TimeZone, Utc};
use dynopilot::http::{Request, Router, StatusPage};
use dynopilot::store::{FormationState, MemoryStateStore, StateStore, StoreError, Versioned};
use lambda_http::http::{HeaderMap, HeaderValue, Method};
use secrecy::SecretString;

use crate::helpers::config;

const PAGE_CREDENTIALS: &str = "status:page-secret-1";

/// A state store that counts its reads (and serves them from memory).
#[derive(Default)]
struct CountingStore {
    inner: MemoryStateStore,
    loads: AtomicUsize,
}

#[async_trait]
impl StateStore for CountingStore {
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }

    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.inner.save(key, state, expected).await
    }
}

fn router(store: Arc<CountingStore>) -> Router {
    let config = config(&crate::helpers::one_formation(1, 10));
    Router {
        drain: None,
        status: Some(Arc::new(StatusPage::new(
            SecretString::from(PAGE_CREDENTIALS),
            config.formations.clone(),
            false,
            store,
        ))),
    }
}

fn get(path: &str, authorization: Option<String>) -> Request {
    let mut headers = HeaderMap::new();
    if let Some(a) = authorization {
        headers.insert("authorization", HeaderValue::from_str(&a).expect("header"));
    }
    Request {
        method: Method::GET,
        path: path.to_string(),
        headers,
        body: Vec::new(),
    }
}

fn basic(credentials: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401_with_a_challenge_and_read_no_state() {
    let store = Arc::new(CountingStore::default());
    let router = router(store.clone());
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    for authorization in [
        None,
        Some(basic("status:wrong")),
        Some(basic("drain:page-secret-1")),
        Some("Bearer page-secret-1".to_string()),
        Some("Basic !!!not-base64".to_string()),
    ] {
        let answer = router
            .handle(get("/status", authorization.clone()), now)
            .await;
        assert_eq!(answer.status, 401, "{authorization:?}");
        let challenge = header(&answer.headers, "www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Basic realm="), "{challenge:?}");
        assert_eq!(header(&answer.headers, "cache-control"), Some("no-store"));
        assert!(!answer.body.contains("<html"), "no page content");
    }
    assert_eq!(store.loads.load(Ordering::SeqCst), 0, "no state read");
}

#[tokio::test]
async fn the_right_credentials_get_the_page_uncached_with_one_read_per_formation() {
    let store = Arc::new(CountingStore::default());
    let router = router(store.clone());
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let answer = router
        .handle(get("/status", Some(basic(PAGE_CREDENTIALS))), now)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        header(&answer.headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&answer.headers, "cache-control"), Some("no-store"));
    assert!(answer.body.starts_with("<!DOCTYPE html>"));
    assert!(answer.body.contains("shop-app/web"));
    assert_eq!(store.loads.load(Ordering::SeqCst), 1);
    // Other methods are refused; without [status_page] the route is absent.
    let mut post = get("/status", Some(basic(PAGE_CREDENTIALS)));
    post.method = Method::POST;
    assert_eq!(router.handle(post, now).await.status, 405);
    let bare = Router::default();
    assert_eq!(
        bare.handle(get("/status", Some(basic(PAGE_CREDENTIALS))), now)
            .await
            .status,
        404
    );
}

#[test]
fn the_page_needs_a_secret_of_its_own() {
    let drain = "[[drains]]\napp = \"shop-app\"\ntoken = \"d.9173ea1f-6f14-4976-9cf0-7cd0dafdcdbc\"\ncredentials = \"ssm:/dynopilot/drain\"\n";
    let base = crate::helpers::one_formation(1, 10);
    let same = format!("{base}\n{drain}\n[status_page]\ncredentials = \"ssm:/dynopilot/drain\"\n");
    let err = dynopilot::config::parse(&same).expect_err("the drain's secret is refused");
    assert!(
        err.to_string().contains("status_page.credentials")
            && err.to_string().contains("not a drain's"),
        "{err}"
    );
    let own = format!("{base}\n{drain}\n[status_page]\ncredentials = \"ssm:/dynopilot/status\"\n");
    let config = dynopilot::config::parse(&own).expect("its own secret");
    assert_eq!(
        config.describe()["status_page"],
        serde_json::json!({"credentials": "ssm:/dynopilot/status"})
    );
    let plain = format!("{base}\n[status_page]\ncredentials = \"user:password\"\n");
    let err = dynopilot::config::parse(&plain).expect_err("a value, not a reference");
    assert!(err.to_string().contains("status_page.credentials"), "{err}");
}
