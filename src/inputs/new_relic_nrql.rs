//! Input `new_relic_nrql`: any NRQL query that returns one number, through
//! NerdGraph (`POST /graphql`).
//!
//! The account id and the NRQL text travel as GraphQL variables, never spliced
//! into the query document, so a quote in the NRQL cannot break (or change)
//! the GraphQL. NerdGraph reports many failures as HTTP 200 with an `errors`
//! list; those are failures here too, never a value.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use super::new_relic::{read_region_base, region_of};
use super::rest::{self, fetch_json};
use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::fields::{Fields, KeyDoc};
use crate::secrets::SecretRef;

pub(super) const NEW_RELIC_NRQL: InputType = InputType {
    name: "new_relic_nrql",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse,
    keys: &[
        KeyDoc::new("account_id", None, "the New Relic account id"),
        KeyDoc::new("query", None, "the NRQL query; its first numeric result is the value"),
        KeyDoc::new("api_key", None, "reference to a User API key, \"env:NAME\" or \"ssm:/path\""),
        KeyDoc::new("region", Some("\"us\""), "\"us\" or \"eu\""),
        KeyDoc::new("base_url", Some("the region's API root"), "API root (tests and proxies)"),
        KeyDoc::new("result_key", Some("unset"), "which result key to read when there are several"),
    ],
    example: "account_id = 1234567\nquery = \"SELECT rate(count(*), 1 minute) FROM Transaction SINCE 5 minutes ago\"\napi_key = \"env:NEW_RELIC_API_KEY\"",
    measure: Measure::Load,
    summary: "any NRQL query through NerdGraph",
};

/// The one GraphQL document sent; only the variables change.
const DOCUMENT: &str = "query($accountId: Int!, $nrql: Nrql!) { actor { account(id: $accountId) { nrql(query: $nrql) { results } } } }";

/// Keys NRQL adds to results of TIMESERIES / COMPARE WITH queries: numbers,
/// but never the measured value.
const TIME_KEYS: &[&str] = &["beginTimeSeconds", "endTimeSeconds"];

/// Validated `new_relic_nrql` settings.
#[derive(Debug, Clone)]
pub struct NrqlSpec {
    pub account_id: u64,
    pub query: String,
    /// Reference to a User key (`NRAK-...`).
    pub api_key: SecretRef,
    pub base_url: String,
    /// Which key of `results[0]` holds the value; `None`: its only number.
    pub result_key: Option<String>,
    pub timeout: Duration,
}

impl SourceSpec for NrqlSpec {
    fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("account_id", self.account_id.into()),
            ("query", self.query.clone().into()),
            ("api_key", self.api_key.describe().into()),
            ("region", region_of(&self.base_url).into()),
            ("base_url", self.base_url.clone().into()),
            ("result_key", self.result_key.clone().into()),
        ]
    }

    fn host(&self) -> Option<String> {
        super::url_host(&self.base_url)
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let api_key = ctx
            .secrets
            .resolve(&self.api_key)
            .map_err(|e| format!("api_key: {e}"))?;
        Ok(Arc::new(NrqlSource {
            http: ctx.http.clone(),
            url: rest::join(&self.base_url, "graphql"),
            api_key,
            spec: self.clone(),
        }))
    }

    fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }
}

/// The adapter: one POST per poll.
pub struct NrqlSource {
    http: reqwest::Client,
    url: String,
    api_key: SecretString,
    spec: NrqlSpec,
}

#[derive(Debug, Deserialize)]
struct GraphQlAnswer {
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    extensions: Option<Value>,
}

fn error_text(body: &Value) -> Option<String> {
    body.pointer("/errors/0/message")
        .or_else(|| body.pointer("/error/message"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Label GraphQL errors by what they say: NerdGraph uses HTTP 200 for them.
fn graphql_error(errors: &[GraphQlError]) -> SourceError {
    let text = errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let classes = errors
        .iter()
        .filter_map(|e| e.extensions.as_ref())
        .filter_map(|x| x.get("errorClass").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let lower = format!("{text} {classes}").to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let kind = if has(&[
        "unauthorized",
        "unauthenticated",
        "not authorized",
        "forbidden",
        "access denied",
        "invalid api key",
        "api key",
    ]) {
        SourceErrorKind::Unauthorized
    } else if has(&[
        "timeout",
        "timed out",
        "unavailable",
        "try again",
        "server_error",
    ]) {
        SourceErrorKind::Unavailable
    } else {
        SourceErrorKind::Malformed
    };
    SourceError::new(kind, format!("NerdGraph answered with errors: {text}"))
}

impl NrqlSource {
    fn value(&self, answer: GraphQlAnswer) -> Result<f64, SourceError> {
        if !answer.errors.is_empty() {
            return Err(graphql_error(&answer.errors));
        }
        let results = answer
            .data
            .as_ref()
            .and_then(|d| d.pointer("/actor/account/nrql/results"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                SourceError::new(
                    SourceErrorKind::Malformed,
                    "NerdGraph answer has no data.actor.account.nrql.results",
                )
            })?;
        let first = results.first().and_then(Value::as_object).ok_or_else(|| {
            SourceError::new(SourceErrorKind::Empty, "the NRQL query returned no rows")
        })?;
        let (key, value) = match &self.spec.result_key {
            Some(key) => match first.get(key) {
                Some(v) => (key.clone(), v),
                None => {
                    return Err(SourceError::new(
                        SourceErrorKind::Malformed,
                        format!(
                            "the NRQL result has no key {key:?} (it has: {}); check result_key",
                            first.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            },
            None => {
                let numbers: Vec<(&String, &Value)> = first
                    .iter()
                    .filter(|(k, v)| {
                        !TIME_KEYS.contains(&k.as_str()) && (v.is_number() || v.is_null())
                    })
                    .collect();
                match numbers.as_slice() {
                    [(k, v)] => ((*k).clone(), *v),
                    [] => {
                        return Err(SourceError::new(
                            SourceErrorKind::Malformed,
                            format!(
                                "the NRQL result holds no number (keys: {})",
                                first.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ))
                    }
                    many => {
                        return Err(SourceError::new(
                            SourceErrorKind::Setup,
                            format!(
                                "the NRQL result holds several numbers ({}); set result_key to the one to use",
                                many.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        ))
                    }
                }
            }
        };
        if value.is_null() {
            return Err(SourceError::new(
                SourceErrorKind::Empty,
                format!("the NRQL result {key:?} is null (no data in the query's range)"),
            ));
        }
        value.as_f64().ok_or_else(|| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!("the NRQL result {key:?} is not a number: {value}"),
            )
        })
    }
}

#[async_trait]
impl MetricSource for NrqlSource {
    async fn fetch(&self, _now: DateTime<Utc>) -> Result<f64, SourceError> {
        let body = json!({
            "query": DOCUMENT,
            "variables": {"accountId": self.spec.account_id, "nrql": self.spec.query},
        });
        let request = self
            .http
            .post(&self.url)
            .header("API-Key", rest::secret_header(&self.api_key, "api_key")?)
            .json(&body);
        let answer = fetch_json(
            request,
            self.spec.timeout,
            "New Relic NerdGraph",
            error_text,
        )
        .await?;
        self.value(answer)
    }
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let account_id = rest::read_id(fields, "account_id");
    let query = fields.req_str("query");
    let api_key = rest::read_secret(fields, "api_key");
    let base_url = read_region_base(fields);
    let result_key = fields.opt_str("result_key");
    if result_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        fields.error("result_key", "must not be empty");
    }
    Some(Box::new(NrqlSpec {
        account_id: account_id?,
        query: query?,
        api_key: api_key?,
        base_url: base_url?,
        result_key: result_key.filter(|k| !k.trim().is_empty()),
        timeout: rest::DEFAULT_TIMEOUT,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(message: &str) -> GraphQlError {
        GraphQlError {
            message: message.to_string(),
            extensions: None,
        }
    }

    #[test]
    fn graphql_errors_are_labelled_by_what_they_say() {
        let kind = |m: &str| graphql_error(&[error(m)]).kind;
        assert_eq!(kind("Unauthorized"), SourceErrorKind::Unauthorized);
        assert_eq!(kind("NRDB query timed out"), SourceErrorKind::Unavailable);
        assert_eq!(
            kind("NRQL Syntax Error: Error at line 1"),
            SourceErrorKind::Malformed
        );
    }
}
