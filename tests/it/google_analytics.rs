//! `google_analytics` against wiremock fakes of Google's token endpoint and the
//! GA4 Data API, with a throwaway RSA key made here: the fake token endpoint
//! checks the JWT's RS256 signature with the public key and its claims.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::*;

const PROPERTY: &str = "123456789";
const CLIENT_EMAIL: &str = "dynopilot@shop-analytics.iam.gserviceaccount.com";
const REPORT_PATH: &str = "/v1beta/properties/123456789:runRealtimeReport";
const GRANT: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";

/// A 2048-bit key (Google's size; ring signs nothing smaller), made once per run.
struct TestKey {
    private_pem: String,
    public_pem: String,
}

fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa key");
        let public = rsa::RsaPublicKey::from(&private);
        TestKey {
            private_pem: private
                .to_pkcs8_pem(LineEnding::LF)
                .expect("pkcs8 pem")
                .to_string(),
            public_pem: public
                .to_public_key_pem(LineEnding::LF)
                .expect("public pem"),
        }
    })
}

/// The fake token endpoint: verifies the assertion, records its claims, and
/// hands out `ya29.token-1`, `ya29.token-2`, ...
struct TokenEndpoint {
    token_uri: String,
    issued: Arc<Mutex<Vec<Value>>>,
    count: AtomicUsize,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let invalid = |why: &str| {
            ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_grant",
                "error_description": format!("Invalid JWT: {why}"),
            }))
        };
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let Some(assertion) = body.strip_prefix(GRANT) else {
            return invalid("not a jwt-bearer grant");
        };
        let Ok(head) = jsonwebtoken::decode_header(assertion) else {
            return invalid("no header");
        };
        if head.alg != Algorithm::RS256 || head.typ.as_deref() != Some("JWT") {
            return invalid("not RS256");
        }
        let key = DecodingKey::from_rsa_pem(test_key().public_pem.as_bytes()).expect("public key");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[self.token_uri.as_str()]);
        validation.set_issuer(&[CLIENT_EMAIL]);
        // The test's `now` is a fixed day, not the machine's clock: the
        // claims' times are checked by the tests against that `now`.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss", "aud", "exp"]);
        let Ok(token) = jsonwebtoken::decode::<Value>(assertion, &key, &validation) else {
            return invalid("bad signature or claims");
        };
        if let Ok(mut issued) = self.issued.lock() {
            issued.push(token.claims);
        }
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("ya29.token-{n}"),
            "expires_in": 3599,
            "token_type": "Bearer",
        }))
    }
}

/// Both fakes and a key file pointing at the token fake.
pub(crate) struct Google {
    pub(crate) oauth: MockServer,
    pub(crate) api: MockServer,
    secrets: MapSecrets,
    issued: Arc<Mutex<Vec<Value>>>,
}

impl Google {
    pub(crate) async fn start() -> Self {
        let oauth = MockServer::start().await;
        let api = MockServer::start().await;
        let key_file = json!({
            "type": "service_account",
            "project_id": "shop-analytics",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": test_key().private_pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "123456789012345678901",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("{}/token", oauth.uri()),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/dynopilot",
            "universe_domain": "googleapis.com",
        });
        Self {
            secrets: MapSecrets::default().with("GA_SERVICE_ACCOUNT_JSON", &key_file.to_string()),
            oauth,
            api,
            issued: Arc::default(),
        }
    }

    fn token_uri(&self) -> String {
        format!("{}/token", self.oauth.uri())
    }

    /// The token endpoint, expected to be asked `times` times.
    pub(crate) async fn mount_token_endpoint(&self, times: u64) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .respond_with(TokenEndpoint {
                token_uri: self.token_uri(),
                issued: self.issued.clone(),
                count: AtomicUsize::new(0),
            })
            .expect(times)
            .mount(&self.oauth)
            .await;
    }

    /// The realtime report answering `response` to the documented request.
    async fn mount_report(&self, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(REPORT_PATH))
            .and(body_json(json!({"metrics": [{"name": "activeUsers"}]})))
            .respond_with(response)
            .mount(&self.api)
            .await;
    }

    fn config(&self, extra: &str) -> String {
        shop_input_config(&format!(
            r#"type = "google_analytics"
property_id = "{PROPERTY}"
credentials = "env:GA_SERVICE_ACCOUNT_JSON"
base_url = "{}"
{extra}"#,
            self.api.uri()
        ))
    }

    pub(crate) fn world(&self, extra: &str, current: u32) -> InputWorld {
        InputWorld::new(&self.config(extra), &self.secrets, current)
    }

    /// The `Authorization` header of every report request so far.
    async fn report_tokens(&self) -> Vec<String> {
        self.api
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == REPORT_PATH)
            .map(|r| {
                r.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }
}

fn report_with_users(users: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}],
        "rows": [{"metricValues": [{"value": users}]}],
        "rowCount": 1,
        "kind": "analyticsData#runRealtimeReport",
    }))
}

fn google_error(code: u16, status: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": {"code": code, "message": message, "status": status}
    }))
}

fn now() -> DateTime<Utc> {
    at(9, 0)
}

#[tokio::test]
async fn active_users_scale_the_formation_at_the_default_100_users_per_dyno() {
    // Arrange
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google.mount_report(report_with_users("250")).await;
    let world = google.world("", 1);

    // Act
    let (_, formation) = world.run(now()).await;

    // Assert: 250 users at 100 per dyno need 3 dynos.
    assert_eq!(formation.inputs[0].sample, Some(250.0));
    assert_eq!(formation.target, Some(3), "{}", formation.summary());
    assert_eq!(world.quantity(), Some(3));
    assert_eq!(google.report_tokens().await, vec!["Bearer ya29.token-1"]);
}

#[tokio::test]
async fn the_jwt_is_rs256_signed_with_the_documented_claims_from_now() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google.mount_report(report_with_users("7")).await;
    let config = valid_config(&google.config(""));
    let source = only_source(&config, &google.secrets).expect("source builds");

    let users = source.fetch(now()).await.expect("users");

    assert_eq!(users, 7.0);
    let issued = google.issued.lock().expect("claims").clone();
    assert_eq!(issued.len(), 1, "the fake accepted one verified JWT");
    let claims = &issued[0];
    assert_eq!(claims["iss"], CLIENT_EMAIL);
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/analytics.readonly"
    );
    assert_eq!(claims["aud"], google.token_uri());
    let iat = claims["iat"].as_i64().expect("iat");
    let exp = claims["exp"].as_i64().expect("exp");
    assert_eq!(
        iat,
        now().timestamp(),
        "iat comes from the `now` passed to fetch"
    );
    assert!(
        exp > iat && exp - iat <= 3600,
        "exp at most an hour after iat"
    );
}

#[tokio::test]
async fn the_token_is_fetched_once_and_reused_until_shortly_before_expiry() {
    let google = Google::start().await;
    google.mount_token_endpoint(2).await;
    google.mount_report(report_with_users("3")).await;
    let config = valid_config(&google.config(""));
    let source = only_source(&config, &google.secrets).expect("source builds");
    let t0 = now();

    // The token lives 3599 s; it is reused for polls well inside that...
    for minutes in [0, 1, 30, 54] {
        source
            .fetch(t0 + TimeDelta::minutes(minutes))
            .await
            .expect("users");
    }
    // ...and replaced when a poll comes within minutes of its expiry.
    source
        .fetch(t0 + TimeDelta::minutes(56))
        .await
        .expect("users");
    source
        .fetch(t0 + TimeDelta::minutes(57))
        .await
        .expect("users");

    let first = "Bearer ya29.token-1".to_string();
    let second = "Bearer ya29.token-2".to_string();
    assert_eq!(
        google.report_tokens().await,
        vec![
            first.clone(),
            first.clone(),
            first.clone(),
            first,
            second.clone(),
            second
        ]
    );
    let issued = google.issued.lock().expect("claims").clone();
    assert_eq!(
        issued[1]["iat"].as_i64(),
        Some((t0 + TimeDelta::minutes(56)).timestamp())
    );
}

#[tokio::test]
async fn missing_rows_mean_nobody_is_on_the_site() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    // What GA4 answers when there is no data: no `rows`, no `rowCount`.
    google
        .mount_report(ResponseTemplate::new(200).set_body_json(json!({
            "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}],
            "kind": "analyticsData#runRealtimeReport",
        })))
        .await;
    let world = google.world("", 1);

    let (_, formation) = world.run(now()).await;

    assert_eq!(formation.inputs[0].sample, Some(0.0));
    assert_eq!(formation.inputs[0].error, None);
    assert_eq!(formation.target, Some(1), "{}", formation.summary());
}

#[tokio::test]
async fn string_metric_values_are_summed_over_rows() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    // The documentation's sample, with a country dimension.
    google
        .mount_report(ResponseTemplate::new(200).set_body_json(json!({
            "dimensionHeaders": [{"name": "country"}],
            "metricHeaders": [{"name": "activeUsers", "type": "TYPE_INTEGER"}],
            "rows": [
                {"dimensionValues": [{"value": "Japan"}], "metricValues": [{"value": "2541"}]},
                {"dimensionValues": [{"value": "France"}], "metricValues": [{"value": "12"}]}
            ],
            "rowCount": 2,
        })))
        .await;
    let world = google.world("users_per_dyno = 500", 2);

    let (_, formation) = world.run(now()).await;

    assert_eq!(formation.inputs[0].sample, Some(2553.0));
    assert_eq!(formation.target, Some(6), "{}", formation.summary());
}

/// Runs one invocation with the formation at 5 and checks the input failed
/// with `kind` and the formation was held at 5.
async fn assert_fails_and_holds(google: &Google, extra: &str, kind: &str) {
    let world = google.world(extra, 5);
    let (_, formation) = world.run(now()).await;
    assert_eq!(
        input_error_kind(&formation).as_deref(),
        Some(kind),
        "{}",
        formation.summary()
    );
    assert_held_for_missing_input(&formation, 5);
    assert_eq!(world.quantity(), Some(5));
    assert!(world.scaler.scales().is_empty());
}

#[tokio::test]
async fn a_report_slower_than_the_timeout_is_a_timeout_and_holds() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google
        .mount_report(report_with_users("900").set_delay(Duration::from_secs(3)))
        .await;
    assert_fails_and_holds(&google, r#"timeout = "1s""#, "timeout").await;
}

#[tokio::test]
async fn a_5xx_is_unavailable_and_holds() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google
        .mount_report(google_error(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
        ))
        .await;
    assert_fails_and_holds(&google, "", "unavailable").await;
}

#[tokio::test]
async fn resource_exhausted_429_is_rate_limited_and_holds() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google
        .mount_report(google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Exhausted property tokens per hour for this project.",
        ))
        .await;
    assert_fails_and_holds(&google, "", "rate_limited").await;
}

#[tokio::test]
async fn a_401_is_unauthorized_holds_and_drops_the_cached_token() {
    let google = Google::start().await;
    // Two polls of one source, then one more source for the engine run.
    google.mount_token_endpoint(3).await;
    google
        .mount_report(google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ))
        .await;
    let config = valid_config(&google.config(""));
    let source = only_source(&config, &google.secrets).expect("source builds");

    let err = expect_kind(source.fetch(now()).await, "unauthorized");
    expect_kind(
        source.fetch(now() + TimeDelta::minutes(1)).await,
        "unauthorized",
    );

    assert!(err.message.contains("UNAUTHENTICATED"), "{err}");
    // The second poll did not reuse the refused token (the token mock expects 2 calls).
    assert_eq!(
        google.report_tokens().await,
        vec!["Bearer ya29.token-1", "Bearer ya29.token-2"]
    );
    assert_fails_and_holds(&google, "", "unauthorized").await;
}

#[tokio::test]
async fn a_property_the_service_account_cannot_read_is_unauthorized() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google
        .mount_report(google_error(
            403,
            "PERMISSION_DENIED",
            "User does not have sufficient permissions for this property.",
        ))
        .await;
    assert_fails_and_holds(&google, "", "unauthorized").await;
}

#[tokio::test]
async fn a_refused_jwt_grant_is_unauthorized_and_holds() {
    let google = Google::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
        })))
        .expect(1)
        .mount(&google.oauth)
        .await;
    google.mount_report(report_with_users("10")).await;
    let world = google.world("", 5);

    let (_, formation) = world.run(now()).await;

    assert_eq!(
        input_error_kind(&formation).as_deref(),
        Some("unauthorized")
    );
    let message = &formation.inputs[0].error.as_ref().expect("error").message;
    assert!(message.contains("invalid_grant"), "{message}");
    assert_held_for_missing_input(&formation, 5);
    assert!(
        google.report_tokens().await.is_empty(),
        "no report without a token"
    );
}

#[tokio::test]
async fn a_token_endpoint_answering_more_than_64_kib_fails_naming_the_limit() {
    // A token answer is about a kilobyte; this one pads its JSON to 5 MB.
    let google = Google::start().await;
    let padding = "x".repeat(5 * 1024 * 1024);
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.padded", "expires_in": 3599, "token_type": "Bearer", "pad": padding
        })))
        .expect(1)
        .mount(&google.oauth)
        .await;
    google.mount_report(report_with_users("10")).await;
    let world = google.world("", 5);

    let (_, formation) = world.run(now()).await;

    assert_eq!(input_error_kind(&formation).as_deref(), Some("malformed"));
    let message = &formation.inputs[0].error.as_ref().expect("error").message;
    assert!(message.contains("GA4 token request"), "{message}");
    assert!(message.contains("larger than 64 KiB"), "{message}");
    assert_held_for_missing_input(&formation, 5);
}

#[tokio::test]
async fn a_body_that_is_not_a_report_is_malformed_and_holds() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google
        .mount_report(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .await;
    assert_fails_and_holds(&google, "", "malformed").await;
}

#[tokio::test]
async fn a_metric_value_that_is_not_a_count_is_malformed() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google.mount_report(report_with_users("lots")).await;
    assert_fails_and_holds(&google, "", "malformed").await;
}

#[tokio::test]
async fn the_private_key_and_the_access_token_never_reach_errors_logs_or_the_report() {
    let google = Google::start().await;
    google.mount_token_endpoint(1).await;
    google
        .mount_report(google_error(
            403,
            "PERMISSION_DENIED",
            "User does not have sufficient permissions for this property.",
        ))
        .await;
    let world = google.world("", 5);
    let (logs, _guard) = LogCapture::start();

    let (report, _) = world.run(now()).await;

    let pem = &test_key().private_pem;
    // Every line of the key's base64 body, and the token handed out.
    let body_lines: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body_lines.len() > 10);
    let text = logs.text();
    assert!(text.contains("poll failed"), "logs were captured: {text}");
    for line in body_lines {
        assert_secret_absent(line, &report, &text, &world);
    }
    assert_secret_absent("ya29.token-1", &report, &text, &world);
    let debug = format!("{:?}", world.config);
    assert!(!debug.contains(&pem[40..80]));
}

#[tokio::test]
async fn a_key_file_that_is_not_json_is_refused_without_quoting_it() {
    let secrets = MapSecrets::default().with("GA_SERVICE_ACCOUNT_JSON", "hunter2-not-json");
    let config = valid_config(&shop_input_config(
        r#"type = "google_analytics"
property_id = "123"
credentials = "env:GA_SERVICE_ACCOUNT_JSON""#,
    ));

    let err = build_error(only_source(&config, &secrets));

    assert!(err.contains("env:GA_SERVICE_ACCOUNT_JSON"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn config_defaults_and_errors_name_their_field() {
    let config = valid_config(&shop_input_config(
        r#"type = "google_analytics"
property_id = "123"
credentials = "env:GA_SERVICE_ACCOUNT_JSON""#,
    ));
    let described = config.describe();
    let input = &described["formations"][0]["inputs"][0];
    assert_eq!(input["rule"], "capacity");
    assert_eq!(input["users_per_dyno"], 100.0);
    assert_eq!(input["base_url"], "https://analyticsdata.googleapis.com");
    assert_eq!(input["credentials"], "env:GA_SERVICE_ACCOUNT_JSON");

    let errors = config_errors(&shop_input_config(
        r#"type = "google_analytics"
property_id = "properties/123"
credentials = "{\"private_key\": \"...\"}"
surprise = 1"#,
    ));
    let has = |needle: &str| errors.iter().any(|e| e.starts_with(needle));
    assert!(
        has("formations[0].inputs[0].property_id: must be the numeric"),
        "{errors:?}"
    );
    assert!(
        has("formations[0].inputs[0].credentials: must be a reference"),
        "{errors:?}"
    );
    assert!(
        has("formations[0].inputs[0].surprise: unknown key"),
        "{errors:?}"
    );
}

#[test]
fn an_unset_credentials_variable_is_reported_with_its_key() {
    let config = valid_config(&shop_input_config(
        r#"type = "google_analytics"
property_id = "123"
credentials = "env:GA_SERVICE_ACCOUNT_JSON""#,
    ));

    let err = build_error(only_source(&config, &MapSecrets::default()));

    assert_eq!(
        err,
        "credentials: environment variable GA_SERVICE_ACCOUNT_JSON is not set"
    );
}
