//! Providers that echo the request's headers in an error body: the key must
//! appear nowhere dynopilot writes (report, stored state, mail, logs).
//!
//! The secrets are resolved by the production resolver (`EnvSecrets`, from
//! environment variables that only these tests set), so the redaction is
//! exercised the way a deployed function gets its keys.

use dynopilot::config::EnvSecrets;
use dynopilot::inputs::BuildContext;
use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{at, valid_config, InputWorld, LogCapture};

/// Answers `status` with a body that quotes every request header, in the
/// provider's own error shape, so the adapter's error text quotes them.
struct EchoHeaders {
    status: u16,
    shape: Shape,
}

#[derive(Clone, Copy)]
enum Shape {
    /// `{"error":{"title": ...}}` (New Relic REST v2).
    NewRelic,
    /// `{"errors":[{"message": ...}]}` (NerdGraph).
    GraphQl,
    /// `{"error":{"statusdesc","errormessage"}}` (Pingdom).
    Pingdom,
    /// A plain text page, as a gateway or proxy answers.
    Text,
}

impl Respond for EchoHeaders {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers = request
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join("; ");
        let echo = format!("request refused, it had {headers}");
        let template = ResponseTemplate::new(self.status);
        match self.shape {
            Shape::NewRelic => template.set_body_json(json!({"error": {"title": echo}})),
            Shape::GraphQl => template.set_body_json(json!({"errors": [{"message": echo}]})),
            Shape::Pingdom => template.set_body_json(json!({"error": {
                "statuscode": self.status, "statusdesc": "Refused", "errormessage": echo}})),
            Shape::Text => template.set_body_string(echo),
        }
    }
}

struct Provider {
    /// The environment variable holding the key (set by this test only).
    variable: &'static str,
    secret: &'static str,
    /// The input table's keys, `{base}` standing for the fake's URL.
    input: &'static str,
    shape: Shape,
}

const NEW_RELIC: Provider = Provider {
    variable: "DYNOPILOT_TEST_ECHO_NEW_RELIC_KEY",
    secret: "NRAK-ECHOEDREST0123456789ABCDEF",
    input: r#"type = "new_relic"
app_id = 12345
api_key = "env:DYNOPILOT_TEST_ECHO_NEW_RELIC_KEY"
base_url = "{base}""#,
    shape: Shape::NewRelic,
};

const NERDGRAPH: Provider = Provider {
    variable: "DYNOPILOT_TEST_ECHO_NERDGRAPH_KEY",
    secret: "NRAK-ECHOEDGRAPH0123456789ABCDE",
    input: r#"type = "new_relic_nrql"
account_id = 777
query = "SELECT rate(count(*), 1 minute) AS rpm FROM Transaction SINCE 5 minutes ago"
api_key = "env:DYNOPILOT_TEST_ECHO_NERDGRAPH_KEY"
base_url = "{base}"
per_dyno = 100"#,
    shape: Shape::GraphQl,
};

const PINGDOM: Provider = Provider {
    variable: "DYNOPILOT_TEST_ECHO_PINGDOM_TOKEN",
    secret: "pingdom-echoed-token-0123456789abcdef",
    input: r#"type = "pingdom"
check_id = 4242
token = "env:DYNOPILOT_TEST_ECHO_PINGDOM_TOKEN"
base_url = "{base}"
per_dyno = 100"#,
    shape: Shape::Pingdom,
};

/// GIVEN a provider that answers `status` echoing the request headers, WHEN
/// two scheduled runs a minute apart poll it (long enough for the "input
/// failing" mail), THEN the poll fails and the key is in no output.
async fn the_key_is_never_written(provider: &Provider, status: u16, shape: Shape) {
    std::env::set_var(provider.variable, provider.secret);
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(EchoHeaders { status, shape })
        .mount(&server)
        .await;
    let config = valid_config(&format!(
        r#"
[state]
kind = "memory"

[notifications]
input_failing_after = "1m"

[[formations]]
app = "shop"
type = "web"
min = 1
max = 10

[[formations.inputs]]
name = "load"
interval = "1m"
{}
"#,
        provider.input.replace("{base}", &server.uri())
    ));
    let http = dynopilot::wiring::http_client().expect("http client");
    let sources = dynopilot::wiring::build_sources(
        &config,
        &BuildContext {
            secrets: &EnvSecrets,
            http: &http,
            drain: None,
            formation: None,
        },
    )
    .expect("sources build");
    let world = InputWorld::with_sources(config, sources, 5);
    let (logs, _guard) = LogCapture::start();

    let (first, _) = world.run(at(9, 0)).await;
    let (second, formation) = world.run(at(9, 1)).await;

    // The echo really reached the adapter: the fake saw the key, and the
    // error quotes the echoed request.
    let requests = server.received_requests().await.unwrap_or_default();
    assert!(!requests.is_empty());
    assert!(format!("{:?}", requests[0].headers).contains(provider.secret));
    let error = formation.inputs[0].error.clone().expect("the input failed");
    assert!(
        error.message.contains("request refused"),
        "the provider's text is quoted: {}",
        error.message
    );
    assert!(error.message.contains("[redacted]"), "{}", error.message);
    assert_eq!(formation.current, Some(5));
    assert_eq!(
        world.quantity(),
        Some(5),
        "a failing input never scales down"
    );

    let outputs = [
        (
            "report",
            serde_json::to_string(&first).expect("report serializes"),
        ),
        (
            "report",
            serde_json::to_string(&second).expect("report serializes"),
        ),
        (
            "stored state",
            serde_json::to_string(&world.engine.status().await).expect("status serializes"),
        ),
        ("mail", format!("{:?}", world.notifier.sent())),
        ("logs", logs.text()),
    ];
    assert!(
        !world.notifier.sent().is_empty(),
        "the input-failing mail was sent"
    );
    assert!(
        outputs[2].1.contains("request refused"),
        "state holds the error"
    );
    for (name, text) in outputs {
        assert!(
            !text.contains(provider.secret),
            "{status}: the key is in the {name}: {text}"
        );
    }
}

#[tokio::test]
async fn a_new_relic_key_echoed_in_an_error_body_is_written_nowhere() {
    for status in [401, 403, 500] {
        the_key_is_never_written(&NEW_RELIC, status, NEW_RELIC.shape).await;
    }
    the_key_is_never_written(&NEW_RELIC, 502, Shape::Text).await;
}

#[tokio::test]
async fn a_nerdgraph_key_echoed_in_an_error_body_is_written_nowhere() {
    // NerdGraph reports most errors with HTTP 200 and an `errors` array.
    for status in [200, 401, 403, 500] {
        the_key_is_never_written(&NERDGRAPH, status, NERDGRAPH.shape).await;
    }
    the_key_is_never_written(&NERDGRAPH, 403, Shape::Text).await;
}

#[tokio::test]
async fn a_pingdom_token_echoed_in_an_error_body_is_written_nowhere() {
    for status in [401, 403, 500] {
        the_key_is_never_written(&PINGDOM, status, PINGDOM.shape).await;
    }
    the_key_is_never_written(&PINGDOM, 500, Shape::Text).await;
}

/// The registry is fed by the production resolver: a value it resolved is
/// redacted from any text.
#[test]
fn a_secret_resolved_from_the_environment_is_redacted_everywhere() {
    use dynopilot::config::{SecretRef, SecretResolver};
    std::env::set_var(
        "DYNOPILOT_TEST_ECHO_RESOLVED",
        "resolved-secret-value-0123456789",
    );
    let _ = EnvSecrets
        .resolve(&SecretRef::Env("DYNOPILOT_TEST_ECHO_RESOLVED".into()))
        .expect("resolves");
    let text = dynopilot::redact::redact("got resolved-secret-value-0123456789 here");
    assert_eq!(text, "got [redacted] here");
}
