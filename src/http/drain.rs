//! `POST /drain`: a Heroku HTTPS log drain (Logplex).
//!
//! In order, each step answering as Logplex needs it (4xx except 429: the
//! batch is dropped for good; 5xx: it is resent, same `Logplex-Frame-Id`, up
//! to 3 tries):
//! 1. Basic credentials (`https://user:password@.../drain`): compared in
//!    constant time with every configured drain's secret; none matches, or
//!    no header: **401** with `WWW-Authenticate`, nothing stored.
//! 2. `Logplex-Drain-Token` must be the token of a drain whose credentials
//!    matched (the token says which app a POST is for): else **403**.
//! 3. A body over [`DRAIN_BODY_LIMIT`]: **413** (Logplex batches are about
//!    100 KiB; a single message is at most 10 KiB).
//! 4. The body is parsed (`crate::drain::parse_body`); frames that do not
//!    parse are counted and skipped, the rest is stored: a partly malformed
//!    body still answers **200**.
//! 5. Stored in one request with the frame id ([`DrainStore::add`]): **200**;
//!    the same frame id again: **200**, counted once; the store failed: **503**
//!    (Logplex retries).
//!
//! Only counts are logged (frames, rejected, skipped, minutes): never a path,
//! an IP, a host, a request id or any text of the app's logs.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;

use super::{basic_auth, Request, Response};
use crate::config::MetricsConfig;
use crate::drain_store::{
    actions_for, AddOutcome, DrainStore, MinuteCounts, MAX_TRANSACTION_ITEMS,
};

/// The largest body accepted: ten times Logplex's 100 KiB batch target, far
/// below the Function URL's 6 MB, and under a hundredth of the function's memory.
pub const DRAIN_BODY_LIMIT: usize = 1024 * 1024;

/// Minutes up to this far ahead of the clock are kept (clock skew); later ones
/// are counted as rejected.
pub const FUTURE_SLACK: TimeDelta = TimeDelta::minutes(5);

/// The longest `Logplex-Frame-Id` kept (Logplex sends 32 hex digits).
const MAX_FRAME_ID: usize = 64;

/// Metric: frames received (stored), one line per POST; the deploy templates
/// alarm when none arrived for 10 minutes.
pub const METRIC_FRAMES: &str = "DrainFrames";
/// Metric: frames that could not be parsed or were outside the kept minutes.
pub const METRIC_REJECTED: &str = "DrainRejected";

/// One configured drain, its credentials resolved at cold start.
pub struct DrainApp {
    pub app: String,
    /// `d.<uuid>`, lowercase.
    pub token: String,
    /// `user:password`.
    pub credentials: SecretString,
    pub retention: TimeDelta,
}

/// The `POST /drain` handler.
pub struct DrainReceiver {
    apps: Vec<DrainApp>,
    store: Arc<dyn DrainStore>,
    /// Where the EMF lines go; `None`: no metric lines.
    metrics: Option<MetricsConfig>,
}

/// What one POST did, for the log line and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostSummary {
    pub frames: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub minutes: usize,
    pub duplicate: bool,
}

impl DrainReceiver {
    pub fn new(
        apps: Vec<DrainApp>,
        store: Arc<dyn DrainStore>,
        metrics: Option<MetricsConfig>,
    ) -> Self {
        Self {
            apps,
            store,
            metrics,
        }
    }

    /// Answer one `POST /drain`.
    pub async fn handle(&self, request: &Request, now: DateTime<Utc>) -> Response {
        // 1. Basic credentials, compared with every drain's (constant time,
        //    and all of them: the time does not tell which one was close).
        let given = match basic_auth::decode(request.header("authorization")) {
            Ok(given) => given,
            Err(why) => {
                tracing::warn!(status = 401, auth = why.as_str(), "drain POST refused");
                return Response::unauthorized();
            }
        };
        let matched: Vec<&DrainApp> = self
            .apps
            .iter()
            .filter(|a| basic_auth::matches(&given, &a.credentials))
            .collect::<Vec<_>>();
        if matched.is_empty() {
            tracing::warn!(status = 401, auth = "wrong", "drain POST refused");
            return Response::unauthorized();
        }
        // 2. The drain token names the app.
        let token = request
            .header_str("logplex-drain-token")
            .map(|t| t.trim().to_ascii_lowercase());
        let Some(app) = matched
            .into_iter()
            .find(|a| token.as_deref() == Some(a.token.as_str()))
        else {
            let why = if token.is_some() { "wrong" } else { "missing" };
            tracing::warn!(status = 403, drain_token = why, "drain POST refused");
            return Response::new(403, "forbidden\n");
        };
        // 3. Size.
        let announced = request
            .header_str("content-length")
            .and_then(|n| n.trim().parse::<u64>().ok());
        if request.body.len() > DRAIN_BODY_LIMIT
            || announced.is_some_and(|n| n > DRAIN_BODY_LIMIT as u64)
        {
            tracing::warn!(
                status = 413,
                app = app.app,
                bytes = request.body.len(),
                limit = DRAIN_BODY_LIMIT,
                "drain POST refused: body too large"
            );
            return Response::new(413, "payload too large\n");
        }
        // 4. Parse; keep the minutes that can still be read.
        let frame_id = request
            .header_str("logplex-frame-id")
            .map(str::trim)
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= MAX_FRAME_ID
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let (minutes, mut summary) = self::minutes(&request.body, now, app.retention);
        // Nothing to count (garbage, only stale minutes): nothing is written,
        // not even the frame id.
        if minutes.is_empty() {
            tracing::info!(
                status = 200,
                app = app.app,
                frames = summary.frames,
                rejected = summary.rejected,
                skipped = summary.skipped,
                minutes = 0,
                "drain POST had nothing to store"
            );
            self.emit(now, &summary);
            return Response::new(200, "");
        }
        // 5. Store, in one request.
        let expires_at = (now + app.retention).timestamp();
        match self
            .store
            .add(&app.app, frame_id, &minutes, expires_at)
            .await
        {
            Ok(outcome) => {
                summary.duplicate = outcome == AddOutcome::Duplicate;
                tracing::info!(
                    status = 200,
                    app = app.app,
                    frames = summary.frames,
                    rejected = summary.rejected,
                    skipped = summary.skipped,
                    minutes = summary.minutes,
                    duplicate = summary.duplicate,
                    "drain POST stored"
                );
                if !summary.duplicate {
                    self.emit(now, &summary);
                }
                Response::new(200, "")
            }
            Err(e) => {
                tracing::error!(
                    status = 503,
                    app = app.app,
                    frames = summary.frames,
                    error = %e,
                    "drain POST not stored: Logplex will resend it"
                );
                Response::new(503, "storage unavailable\n").with_header("retry-after", "1")
            }
        }
    }

    fn emit(&self, now: DateTime<Utc>, summary: &PostSummary) {
        let Some(config) = self.metrics.as_ref().filter(|m| m.enabled) else {
            return;
        };
        println!(
            "{}",
            serde_json::json!({
                METRIC_FRAMES: summary.frames,
                METRIC_REJECTED: summary.rejected,
                "_aws": {
                    "Timestamp": now.timestamp_millis(),
                    "CloudWatchMetrics": [{
                        "Namespace": config.namespace,
                        "Dimensions": [[]],
                        "Metrics": [
                            {"Name": METRIC_FRAMES, "Unit": "Count"},
                            {"Name": METRIC_REJECTED, "Unit": "Count"},
                        ],
                    }],
                },
            })
        );
    }
}

/// The body's minutes as stored counts, only those that can still be read
/// (not older than `retention`, not more than [`FUTURE_SLACK`] ahead), at most
/// what one transaction can write (the newest first); frames in the minutes
/// left out are counted as rejected.
pub fn minutes(
    body: &[u8],
    now: DateTime<Utc>,
    retention: TimeDelta,
) -> (BTreeMap<i64, MinuteCounts>, PostSummary) {
    let batch = crate::drain::parse_body(body);
    let mut summary = PostSummary {
        frames: batch.frames,
        rejected: batch.rejected,
        skipped: batch.skipped,
        ..PostSummary::default()
    };
    let oldest = (now - retention).timestamp();
    let newest = (now + FUTURE_SLACK).timestamp();
    let mut kept = BTreeMap::new();
    // One action per minute and per (minute, type), one for the frame id.
    let mut budget = MAX_TRANSACTION_ITEMS - 1;
    for (minute, app_minute) in batch.minutes.into_iter().rev() {
        let counts = MinuteCounts {
            frames: app_minute.frames,
            l10_dropped: app_minute.l10_dropped,
            unattributed: app_minute.unattributed.counters(),
            types: app_minute
                .types
                .iter()
                .map(|(t, agg)| (t.clone(), agg.counters()))
                .collect(),
        };
        let needed = actions_for(&counts);
        if minute < oldest || minute > newest || needed > budget {
            summary.rejected += app_minute.frames;
            summary.frames = summary.frames.saturating_sub(app_minute.frames);
            continue;
        }
        budget -= needed;
        kept.insert(minute, counts);
    }
    summary.minutes = kept.len();
    (kept, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain_store::MemoryDrainStore;
    use base64::Engine as _;
    use chrono::TimeZone;
    use lambda_http::http::{HeaderMap, HeaderValue, Method};

    const TOKEN: &str = "d.fc6b856b-3332-4546-93de-7d0ee272c3bd";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 7, 42, 0).unwrap()
    }

    fn frame(msg: &str) -> String {
        format!("{} {msg}", msg.len())
    }

    fn router(at: &str, dyno: &str, service: u32) -> String {
        frame(&format!(
            "<158>1 {at} host heroku router - at=info method=GET path=\"/secret-path\" host=example-app.herokuapp.com request_id=5f0c6a86-0d0b-4c6e-9a2b-1d2f3c4b5a69 fwd=\"203.0.113.7\" dyno={dyno} connect=0ms service={service}ms status=200 bytes=1834 protocol=https\n"
        ))
    }

    fn receiver(store: Arc<MemoryDrainStore>) -> DrainReceiver {
        DrainReceiver::new(
            vec![DrainApp {
                app: "example-app".into(),
                token: TOKEN.into(),
                credentials: SecretString::from("drain:s3cret".to_string()),
                retention: TimeDelta::days(15),
            }],
            store,
            None,
        )
    }

    fn post(user_pass: Option<&str>, token: Option<&str>, frame_id: &str, body: &str) -> Request {
        let mut headers = HeaderMap::new();
        if let Some(up) = user_pass {
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(up)
            );
            headers.insert("authorization", HeaderValue::from_str(&value).unwrap());
        }
        if let Some(t) = token {
            headers.insert("logplex-drain-token", HeaderValue::from_str(t).unwrap());
        }
        headers.insert("logplex-frame-id", HeaderValue::from_str(frame_id).unwrap());
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/logplex-1"),
        );
        Request {
            method: Method::POST,
            path: "/drain".into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn web_requests(store: &MemoryDrainStore, minute: i64) -> u64 {
        store
            .minute("example-app", minute)
            .and_then(|m| m.types.get("web").cloned())
            .map(|c| {
                crate::drain::MinuteAggregate::from_counters(&c)
                    .unwrap()
                    .requests()
            })
            .unwrap_or(0)
    }

    const MINUTE: i64 = 1_795_333_200; // 2026-11-22T07:40:00Z

    #[tokio::test]
    async fn a_good_post_is_stored_and_a_resent_frame_counts_once() {
        assert_eq!(
            DateTime::<Utc>::from_timestamp(MINUTE, 0)
                .unwrap()
                .to_rfc3339(),
            "2026-11-22T07:40:00+00:00"
        );
        let store = Arc::new(MemoryDrainStore::new());
        let r = receiver(store.clone());
        let body = router("2026-11-22T07:40:01.123456+00:00", "web.1", 42)
            + &router("2026-11-22T07:40:31+00:00", "web.2", 45);
        let request = post(
            Some("drain:s3cret"),
            Some(TOKEN),
            "09C557EAFCFB6CF2740EE62F62971098",
            &body,
        );
        assert_eq!(r.handle(&request, now()).await, Response::new(200, ""));
        assert_eq!(web_requests(&store, MINUTE), 2);
        assert_eq!(store.requests(), 1, "one store request per POST");
        // Logplex resends it (no 2xx seen in 5 s): 200, counted once.
        assert_eq!(r.handle(&request, now()).await.status, 200);
        assert_eq!(web_requests(&store, MINUTE), 2);
        // Another frame id adds.
        let other = post(
            Some("drain:s3cret"),
            Some(TOKEN),
            "19C557EAFCFB6CF2740EE62F62971098",
            &body,
        );
        assert_eq!(r.handle(&other, now()).await.status, 200);
        assert_eq!(web_requests(&store, MINUTE), 4);
    }

    #[tokio::test]
    async fn wrong_credentials_are_401_and_a_wrong_token_403_storing_nothing() {
        let store = Arc::new(MemoryDrainStore::new());
        let r = receiver(store.clone());
        let body = router("2026-11-22T07:40:01+00:00", "web.1", 42);
        for user_pass in [
            None,
            Some("drain:wrong"),
            Some("drain:s3cret2"),
            Some("other:s3cret"),
        ] {
            let answer = r
                .handle(&post(user_pass, Some(TOKEN), "A1", &body), now())
                .await;
            assert_eq!(answer.status, 401, "{user_pass:?}");
            assert!(answer
                .headers
                .iter()
                .any(|(n, v)| *n == "www-authenticate" && v.starts_with("Basic realm=")));
        }
        for token in [None, Some("d.00000000-3332-4546-93de-7d0ee272c3bd")] {
            let answer = r
                .handle(&post(Some("drain:s3cret"), token, "A2", &body), now())
                .await;
            assert_eq!(answer.status, 403, "{token:?}");
        }
        assert_eq!(store.requests(), 0, "nothing was stored");
        assert_eq!(store.minutes_of("example-app"), 0);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_and_not_stored() {
        let store = Arc::new(MemoryDrainStore::new());
        let r = receiver(store.clone());
        let line = router("2026-11-22T07:40:01+00:00", "web.1", 42);
        let body = line.repeat(DRAIN_BODY_LIMIT / line.len() + 1);
        assert!(body.len() > DRAIN_BODY_LIMIT);
        let answer = r
            .handle(&post(Some("drain:s3cret"), Some(TOKEN), "A3", &body), now())
            .await;
        assert_eq!(answer.status, 413);
        assert_eq!(store.requests(), 0);
        // Just under the limit is fine.
        let body = line.repeat(DRAIN_BODY_LIMIT / line.len());
        let answer = r
            .handle(&post(Some("drain:s3cret"), Some(TOKEN), "A4", &body), now())
            .await;
        assert_eq!(answer.status, 200);
    }

    #[tokio::test]
    async fn a_partly_malformed_body_stores_what_parsed() {
        let store = Arc::new(MemoryDrainStore::new());
        let r = receiver(store.clone());
        let good = router("2026-11-22T07:40:01+00:00", "web.1", 42);
        // A frame whose count says more than there is (truncated) comes last.
        let body = good.clone()
            + &good
            + "500 <158>1 2026-11-22T07:40:02+00:00 host heroku router - at=info";
        let request = post(Some("drain:s3cret"), Some(TOKEN), "A5", &body);
        let (_, summary) = minutes(&request.body, now(), TimeDelta::days(15));
        assert_eq!(summary.frames, 2);
        assert!(summary.rejected >= 1, "{summary:?}");
        assert_eq!(r.handle(&request, now()).await.status, 200);
        assert_eq!(web_requests(&store, MINUTE), 2);
        // Pure garbage: 200 (a 4xx would only make Logplex drop it), nothing counted.
        let garbage = post(
            Some("drain:s3cret"),
            Some(TOKEN),
            "A6",
            "\u{0}\u{1}garbage ### 12",
        );
        assert_eq!(r.handle(&garbage, now()).await.status, 200);
        assert_eq!(web_requests(&store, MINUTE), 2);
    }

    #[tokio::test]
    async fn a_store_failure_is_503_so_logplex_resends() {
        let store = Arc::new(MemoryDrainStore::new());
        store.set_failing(true);
        let r = receiver(store.clone());
        let body = router("2026-11-22T07:40:01+00:00", "web.1", 42);
        let request = post(Some("drain:s3cret"), Some(TOKEN), "A7", &body);
        assert_eq!(r.handle(&request, now()).await.status, 503);
        store.set_failing(false);
        // The resent frame (same id) is then stored.
        assert_eq!(r.handle(&request, now()).await.status, 200);
        assert_eq!(web_requests(&store, MINUTE), 1);
    }

    #[test]
    fn minutes_older_than_the_retention_or_far_ahead_are_rejected() {
        let body = router("2026-11-01T07:40:01+00:00", "web.1", 42)
            + &router("2026-11-22T07:40:01+00:00", "web.1", 42)
            + &router("2026-11-22T08:40:01+00:00", "web.1", 42);
        let (kept, summary) = minutes(body.as_bytes(), now(), TimeDelta::days(15));
        assert_eq!(kept.keys().copied().collect::<Vec<_>>(), vec![MINUTE]);
        assert_eq!(summary.frames, 1);
        assert_eq!(summary.rejected, 2);
    }
}
