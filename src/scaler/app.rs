//! `GET /apps/{app}` on [`HerokuScaler`]: the app's `generation`, which the
//! public schema gives as an object `{id, name}` and the Heroku CLI's types
//! (and its test stubs) as a plain string `"fir"` (contracts-round2 §15.5).
//! Both are taken; an answer without the key (or `null`) says so
//! ([`AppGeneration::Unreported`]) and the caller decides what that means.
//! Asked with `Accept: …; version=3.sdk`, as the CLI does whenever it needs
//! the generation.

use reqwest::Method;
use serde_json::Value;

use super::heroku::ACCEPT_SDK;
use super::{AppGeneration, HerokuScaler, ScaleError, ScaleErrorKind};

/// The app's generation, as Heroku answers it.
pub(super) async fn generation(
    scaler: &HerokuScaler,
    app: &str,
) -> Result<AppGeneration, ScaleError> {
    let url = scaler.url(&["apps", app])?;
    let what = format!("app {app}");
    let text = scaler
        .call_as(Method::GET, url, None, &what, ACCEPT_SDK)
        .await?;
    parse(app, &text)
}

/// `generation` out of an app object.
fn parse(app: &str, text: &str) -> Result<AppGeneration, ScaleError> {
    let bad = |why: String| {
        ScaleError::new(
            ScaleErrorKind::Other,
            format!("Heroku's answer for app {app} was not understood: {why}"),
        )
    };
    let body: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let Value::Object(fields) = body else {
        return Err(bad("not a JSON object".into()));
    };
    match fields.get("generation") {
        None | Some(Value::Null) => Ok(AppGeneration::Unreported),
        Some(Value::String(name)) if !name.trim().is_empty() => {
            Ok(AppGeneration::Named(name.trim().to_string()))
        }
        Some(Value::Object(g)) => match g.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => {
                Ok(AppGeneration::Named(name.trim().to_string()))
            }
            None | Some(Value::Null) => Ok(AppGeneration::Unreported),
            Some(other) => Err(bad(format!(
                "generation.name must be a name, found {}",
                excerpt(other)
            ))),
        },
        Some(other) => Err(bad(format!(
            "generation must be a name or an object with a name, found {}",
            excerpt(other)
        ))),
    }
}

fn excerpt(v: &Value) -> String {
    crate::redact::redact(&v.to_string())
        .chars()
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> Result<AppGeneration, ScaleError> {
        Ok(AppGeneration::Named(n.into()))
    }

    #[test]
    fn both_shapes_of_generation_are_read() {
        assert_eq!(
            parse(
                "a",
                r#"{"name":"a","generation":{"id":"0b5e0d2e-0000-4000-8000-000000000000","name":"fir"}}"#
            ),
            named("fir")
        );
        assert_eq!(parse("a", r#"{"generation":"cedar"}"#), named("cedar"));
        assert_eq!(parse("a", r#"{"name":"a"}"#), Ok(AppGeneration::Unreported));
        assert_eq!(
            parse("a", r#"{"generation":null}"#),
            Ok(AppGeneration::Unreported)
        );
        assert_eq!(
            parse("a", r#"{"generation":{"id":"x"}}"#),
            Ok(AppGeneration::Unreported)
        );
    }

    #[test]
    fn other_shapes_are_errors_naming_the_field() {
        let e = parse("shop", r#"{"generation":7}"#).unwrap_err();
        assert!(
            e.message.contains("app shop") && e.message.contains("generation must be"),
            "{e}"
        );
        let e = parse("shop", r#"{"generation":{"name":[1]}}"#).unwrap_err();
        assert!(e.message.contains("generation.name"), "{e}");
        let e = parse("shop", "[]").unwrap_err();
        assert!(e.message.contains("not a JSON object"), "{e}");
    }
}
