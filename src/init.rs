//! `dynopilot init`: a commented starter config.
//!
//! With a Heroku token it reads the app's formation (one `GET
//! /apps/{app}/formation`, through the same [`Scaler`] port the engine uses)
//! and writes one `[[formations]]` block per process type; without one it
//! writes the demo config. Either way the result passes `check-config`, starts
//! as a dry run, and says in comments what to change.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::DEMO_CONFIG;
use crate::scaler::Scaler;

/// Read `app`'s process types and write a starter config for them.
///
/// # Errors
/// The scaler's error when the formation cannot be read.
pub async fn from_heroku(
    scaler: &dyn Scaler,
    app: &str,
    token_env: &str,
) -> Result<String, String> {
    let counts = scaler
        .formation(app)
        .await
        .map_err(|e| format!("cannot read the formation of {app}: {e}"))?;
    if counts.is_empty() {
        return Err(format!(
            "{app} has no process types yet (deploy it first, or run init without a token for the demo config)"
        ));
    }
    Ok(render(app, &counts, token_env))
}

/// The demo config: a sine input, file state, dry run.
pub fn demo() -> String {
    DEMO_CONFIG.to_string()
}

/// One `[[formations]]` block per process type, with its current count.
pub fn render(app: &str, counts: &BTreeMap<String, u32>, token_env: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# dynopilot config for {app}, written by `dynopilot init` from its current formation.\n\
         # Check it with `dynopilot check-config FILE`, try it with `dynopilot run --once\n\
         # --config FILE` (a dry run), and set dry_run = false when the decisions look right.\n\
         # Every key and default: docs/configuration.md.\n\
         dry_run = true\n\
         time_zone = \"UTC\"\n\n\
         [state]\n\
         kind = \"file\"                # the Lambda function uses kind = \"dynamodb\"\n\
         path = \".dynopilot/state.json\"\n\n\
         [scaler]\n\
         kind = \"heroku\"\n\
         token = \"env:{token_env}\"    # a reference, never the token itself (or \"ssm:/path\")"
    );
    for (process_type, quantity) in counts {
        let min = u32::from(*quantity > 0);
        let max = (quantity * 2).max(quantity + 2);
        let _ = writeln!(
            out,
            "\n[[formations]]\n\
             app = \"{app}\"\n\
             type = \"{process_type}\"     # {quantity} running now\n\
             min = {min}\n\
             max = {max}                   # the most dynos you are willing to pay for\n\
             scale_down_cooloff = \"5m\"\n\
             hysteresis = \"5m\"\n"
        );
        if process_type == "web" {
            let _ = writeln!(
                out,
                "[[formations.inputs]]\n\
                 # The response time of one page, every minute; autoscalebot's rule: three slow\n\
                 # answers (> 1000 ms) in a row add a dyno, five fast ones (< 200 ms) remove one.\n\
                 # Set url to your app's (heroku apps:info -a {app} shows its Web URL).\n\
                 name = \"response\"\n\
                 type = \"http_probe\"\n\
                 url = \"https://{app}.herokuapp.com/\"\n\
                 rule = \"consecutive\"\n\
                 min = 200\n\
                 max = 1000"
            );
        } else {
            let _ = writeln!(
                out,
                "[[formations.inputs]]\n\
                 # Jobs waiting in Redis; one dyno per 50 waiting jobs. Set flavor to your\n\
                 # queue library (\"celery\" or \"sidekiq\") and url to where its Redis URL lives.\n\
                 name = \"queue\"\n\
                 type = \"redis_queue\"\n\
                 url = \"env:REDIS_URL\"\n\
                 flavor = \"sidekiq\"\n\
                 per_dyno = 50"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_config_for_a_web_and_a_worker_passes_check_config() {
        let counts = BTreeMap::from([("web".to_string(), 3), ("worker".to_string(), 0)]);
        let text = render("shop-api", &counts, "HEROKU_API_TOKEN");
        let config = crate::config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(config.dry_run);
        let described: Vec<_> = config
            .formations
            .iter()
            .map(|f| {
                (
                    f.process_type.as_str(),
                    f.policy.min.lowest(),
                    f.policy.max.highest(),
                )
            })
            .collect();
        assert_eq!(described, [("web", 1, 6), ("worker", 0, 2)]);
        assert_eq!(config.formations[0].inputs[0].type_name, "http_probe");
        assert_eq!(config.formations[1].inputs[0].type_name, "redis_queue");
    }

    #[test]
    fn the_demo_starter_passes_check_config() {
        assert!(crate::config::parse(&demo()).is_ok());
    }
}
