//! `[[drains]]`: one Heroku HTTPS log drain per app, received by the
//! `dynopilot-http` function (`POST /drain`).
//!
//! Each entry names the app, the drain token Heroku shows in `heroku drains`
//! (sent as `Logplex-Drain-Token` on every POST: it tells which app a POST is
//! for, it is not a secret), the reference to the Basic credentials written in
//! the drain URL (`user:password`, never in the config itself) and how long the
//! per-minute aggregates are kept.
//!
//! Fir apps have no HTTPS drains (telemetry drains, OpenTelemetry, instead):
//! `generation = "fir"` is refused with that explanation, so a Fir app is never
//! configured with an input that would only ever read missing minutes.

use chrono::TimeDelta;
use serde_json::{json, Value};

use crate::fields::{format_duration, Fields, KeyDoc};
use crate::secrets::SecretRef;

/// How long a minute's aggregates are kept by default (the TTL of their items).
pub const DRAIN_RETENTION: TimeDelta = TimeDelta::days(15);
/// Longest retention: a year of minutes is what a self-tuning pass could want.
pub const MAX_DRAIN_RETENTION: TimeDelta = TimeDelta::days(366);

/// `[[drains]]` keys.
pub const DRAIN_KEYS: &[KeyDoc] = &[
    KeyDoc::new("app", None, "the Heroku app whose log drain this is"),
    KeyDoc::new(
        "token",
        None,
        "the drain token `heroku drains -a APP` prints, \"d.<uuid>\" (sent as Logplex-Drain-Token)",
    ),
    KeyDoc::new(
        "credentials",
        None,
        "reference to \"user:password\" of the drain URL's Basic credentials, \"env:NAME\" or \"ssm:/path\" (no ':' in the password)",
    ),
    KeyDoc::new(
        "retention",
        Some("\"15d\""),
        "how long each minute's aggregates are kept (the items' TTL)",
    ),
    KeyDoc::new(
        "generation",
        Some("\"cedar\""),
        "the app's generation; \"fir\" is refused: Fir apps have no HTTPS log drains",
    ),
];

/// One app's drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainConfig {
    pub app: String,
    /// `d.<uuid>`, lowercase as Heroku prints it.
    pub token: String,
    /// Where `user:password` lives.
    pub credentials: SecretRef,
    pub retention: TimeDelta,
}

impl DrainConfig {
    pub fn describe(&self) -> Value {
        json!({
            "app": self.app,
            "token": self.token,
            "credentials": self.credentials.describe(),
            "retention": format_duration(self.retention),
            "generation": "cedar",
        })
    }
}

/// Whether `token` has the shape `d.<uuid>` (hex digits in 8-4-4-4-12 groups).
pub fn is_drain_token(token: &str) -> bool {
    let Some(uuid) = token.strip_prefix("d.") else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Read `[[drains]]` (absent: none).
pub fn read(top: &mut Fields) -> Option<Vec<DrainConfig>> {
    let Some(tables) = top.tables("drains") else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    let mut ok = true;
    for mut t in tables {
        match read_one(&mut t) {
            Some(d) => {
                if out.iter().any(|o: &DrainConfig| o.app == d.app) {
                    t.error("app", format!("app {:?} has two drains", d.app));
                    ok = false;
                } else if out.iter().any(|o: &DrainConfig| o.token == d.token) {
                    t.error("token", "the same drain token is configured twice");
                    ok = false;
                }
                out.push(d);
            }
            None => ok = false,
        }
        t.finish();
    }
    ok.then_some(out)
}

fn read_one(t: &mut Fields) -> Option<DrainConfig> {
    let app = t.req_str("app");
    let token = t.req_str("token").and_then(|token| {
        let token = token.trim().to_ascii_lowercase();
        if is_drain_token(&token) {
            Some(token)
        } else {
            t.error(
                "token",
                "must be the drain token `heroku drains -a APP` prints, \"d.\" and a UUID",
            );
            None
        }
    });
    let credentials = t
        .req_str("credentials")
        .and_then(|text| match SecretRef::parse(&text) {
            Ok(r) => Some(r),
            Err(e) => {
                t.error("credentials", e);
                None
            }
        });
    let retention = t.duration_within(
        "retention",
        DRAIN_RETENTION,
        MAX_DRAIN_RETENTION,
        "aggregates are kept for self-tuning, not forever",
    );
    if retention < TimeDelta::minutes(10) {
        t.error(
            "retention",
            "must be at least 10m: the inputs read the last complete minute",
        );
    }
    match t.opt_str("generation").as_deref() {
        None | Some("cedar") => {}
        Some("fir") => {
            t.error(
                "generation",
                "Fir apps have no HTTPS log drains (Heroku offers telemetry drains, OpenTelemetry, instead), so dynopilot cannot read their router lines; use another input for a Fir app",
            );
            return None;
        }
        Some(other) => {
            t.error(
                "generation",
                format!("unknown generation {other:?} (cedar, fir)"),
            );
            return None;
        }
    }
    Some(DrainConfig {
        app: app?,
        token: token?,
        credentials: credentials?,
        retention,
    })
}
