//! `heroku_router` and `heroku_router_time`: the formation as Heroku's router
//! and dyno runtime metrics see it, read from the log-drain aggregates that
//! `dynopilot-http` stores (`POST /drain`, see `crate::drain_store`).
//!
//! Each poll reads the **last complete minute**: the minute that ended at
//! least [`SETTLE`] before `now` (Logplex sends within seconds; a line late by
//! more is counted in its minute but not seen by this poll).
//! - No frame at all for the app in that minute: **missing** (`empty`), so the
//!   fail-safe holds: a broken drain and an idle app cannot be told apart.
//! - Frames for the app but no line for this process type: zero traffic (0).
//! - Router lines that reached no dyno (`dyno=` empty: H10, H11, H13...) count
//!   for `web`, the only process type Heroku routes HTTP to.
//! - A minute with an L10 line (Logplex dropped messages) is **incomplete**:
//!   its counts are a lower bound. Its value is the larger of it and the
//!   previous minute's, so it can raise a value but never lower it (a flood
//!   of lines never reads as a drop in traffic that would scale down).
//!
//! Two registry rows, because the simulator feeds load inputs the trace and
//! time inputs the modelled response time: `heroku_router` (requests, error
//! counts, load average, memory) and `heroku_router_time` (service, connect and
//! queue time quantiles, in ms).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::drain::aggregate::MinuteAggregate;
use crate::drain_store::{DrainStore, MinuteRead};
use crate::fields::{Fields, KeyDoc};

/// How long after a minute ends before it counts as complete.
pub const SETTLE: TimeDelta = TimeDelta::seconds(10);

pub(super) const HEROKU_ROUTER: InputType = InputType {
    name: "heroku_router",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse: parse_load,
    keys: &[
        KeyDoc::new(
            "metric",
            Some("\"requests\""),
            "\"requests\" (per minute), \"capacity_errors\" (H10-H13, H19-H22, H99 per minute), \"errors\" (one `code` per minute), \"load_mean\" / \"load_max\" (1m load average per dyno), \"memory_max\" (memory used / quota)",
        ),
        KeyDoc::new(
            "code",
            Some("unset"),
            "metric = \"errors\": the router error code counted, e.g. \"H12\"",
        ),
    ],
    example: "metric = \"requests\"",
    measure: Measure::Load,
    summary: "router lines and runtime metrics from the app's Heroku log drain (dynopilot-http)",
};

pub(super) const HEROKU_ROUTER_TIME: InputType = InputType {
    name: "heroku_router_time",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse: parse_time,
    keys: &[KeyDoc::new(
        "metric",
        Some("\"service_p95\""),
        "\"service_p50\", \"service_p95\", \"service_p99\" (router service ms: includes queueing in the dyno), \"connect_p95\", \"queue_p50\", \"queue_p95\" (HireFire's app-logged queue time)",
    )],
    example: "metric = \"service_p95\"",
    measure: Measure::ResponseTime,
    summary: "router service/connect and app queue times (ms) from the app's Heroku log drain",
};

/// What is read from a minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainMetric {
    Requests,
    CapacityErrors,
    Errors(String),
    LoadMean,
    LoadMax,
    MemoryMax,
    Service(u8),
    Connect(u8),
    Queue(u8),
}

impl DrainMetric {
    fn name(&self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::CapacityErrors => "capacity_errors",
            Self::Errors(_) => "errors",
            Self::LoadMean => "load_mean",
            Self::LoadMax => "load_max",
            Self::MemoryMax => "memory_max",
            Self::Service(50) => "service_p50",
            Self::Service(99) => "service_p99",
            Self::Service(_) => "service_p95",
            Self::Connect(_) => "connect_p95",
            Self::Queue(50) => "queue_p50",
            Self::Queue(_) => "queue_p95",
        }
    }

    /// The value of one minute's aggregate (0 with no sample: no traffic).
    pub fn read(&self, agg: &MinuteAggregate) -> f64 {
        let q = |p: u8| f64::from(p) / 100.0;
        match self {
            Self::Requests => agg.requests() as f64,
            Self::CapacityErrors => agg.capacity_errors() as f64,
            Self::Errors(code) => agg.error_count(code) as f64,
            Self::LoadMean => agg.load_1m_mean().unwrap_or(0.0),
            Self::LoadMax => agg.load_1m_max().unwrap_or(0.0),
            Self::MemoryMax => agg.memory_ratio_max().unwrap_or(0.0),
            Self::Service(p) => agg.service_ms(q(*p)).unwrap_or(0.0),
            Self::Connect(p) => agg.connect_ms(q(*p)).unwrap_or(0.0),
            Self::Queue(p) => agg.queue_ms(q(*p)).unwrap_or(0.0),
        }
    }
}

/// Validated settings of a drain input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainSpec {
    pub metric: DrainMetric,
}

fn parse_load(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let metric = fields.opt_str("metric");
    let code = fields.opt_str("code");
    let metric = match metric.as_deref() {
        None | Some("requests") => DrainMetric::Requests,
        Some("capacity_errors") => DrainMetric::CapacityErrors,
        Some("errors") => {
            let Some(code) = code.clone() else {
                fields.error(
                    "code",
                    "metric = \"errors\" needs the code counted, e.g. \"H12\"",
                );
                return None;
            };
            let ok = code.len() >= 2
                && code.len() <= 4
                && code.starts_with(['H', 'R', 'L'])
                && code[1..].chars().all(|c| c.is_ascii_digit());
            if !ok {
                fields.error(
                    "code",
                    format!("must be an error code like \"H12\", found {code:?}"),
                );
                return None;
            }
            DrainMetric::Errors(code)
        }
        Some("load_mean") => DrainMetric::LoadMean,
        Some("load_max") => DrainMetric::LoadMax,
        Some("memory_max") => DrainMetric::MemoryMax,
        Some(other) => {
            fields.error(
                "metric",
                format!("unknown metric {other:?} (requests, capacity_errors, errors, load_mean, load_max, memory_max)"),
            );
            return None;
        }
    };
    if code.is_some() && !matches!(metric, DrainMetric::Errors(_)) {
        fields.error("code", "only metric = \"errors\" reads a code");
        return None;
    }
    Some(Box::new(DrainSpec { metric }))
}

fn parse_time(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let metric = match fields.opt_str("metric").as_deref() {
        Some("service_p50") => DrainMetric::Service(50),
        None | Some("service_p95") => DrainMetric::Service(95),
        Some("service_p99") => DrainMetric::Service(99),
        Some("connect_p95") => DrainMetric::Connect(95),
        Some("queue_p50") => DrainMetric::Queue(50),
        Some("queue_p95") => DrainMetric::Queue(95),
        Some(other) => {
            fields.error(
                "metric",
                format!("unknown metric {other:?} (service_p50, service_p95, service_p99, connect_p95, queue_p50, queue_p95)"),
            );
            return None;
        }
    };
    Some(Box::new(DrainSpec { metric }))
}

impl SourceSpec for DrainSpec {
    fn settings(&self) -> Vec<(&'static str, Value)> {
        let mut out = vec![("metric", self.metric.name().into())];
        match &self.metric {
            DrainMetric::Errors(code) => out.push(("code", code.clone().into())),
            DrainMetric::Requests
            | DrainMetric::CapacityErrors
            | DrainMetric::LoadMean
            | DrainMetric::LoadMax
            | DrainMetric::MemoryMax => out.push(("code", Value::Null)),
            _ => {}
        }
        out
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let store = ctx.drain.clone().ok_or(
            "the drain aggregates are not available here (they live beside the state: file, memory or DynamoDB)",
        )?;
        let (app, process_type) = ctx
            .formation
            .ok_or("a drain input must belong to a formation")?;
        Ok(Arc::new(DrainSource {
            store,
            app: app.to_string(),
            process_type: process_type.to_string(),
            metric: self.metric.clone(),
        }))
    }
}

/// Reads one formation's last complete minute.
pub struct DrainSource {
    store: Arc<dyn DrainStore>,
    app: String,
    process_type: String,
    metric: DrainMetric,
}

impl DrainSource {
    pub fn new(
        store: Arc<dyn DrainStore>,
        app: &str,
        process_type: &str,
        metric: DrainMetric,
    ) -> Self {
        Self {
            store,
            app: app.to_string(),
            process_type: process_type.to_string(),
            metric,
        }
    }
}

/// The start (epoch seconds) of the last complete minute at `now`.
pub fn last_complete_minute(now: DateTime<Utc>) -> i64 {
    let settled = (now - SETTLE).timestamp();
    settled.div_euclid(60) * 60 - 60
}

fn minute_text(minute: i64) -> String {
    DateTime::<Utc>::from_timestamp(minute, 0)
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_else(|| minute.to_string())
}

impl DrainSource {
    fn value(&self, read: &MinuteRead) -> Result<f64, SourceError> {
        let malformed = |e: String| {
            SourceError::new(
                SourceErrorKind::Malformed,
                format!("stored aggregates: {e}"),
            )
        };
        let mut agg = MinuteAggregate::from_counters(&read.counters).map_err(malformed)?;
        // Router lines that reached no dyno (H10, H11 backlog, H13...) were
        // meant for a web dyno: only `web` receives HTTP traffic.
        if self.process_type == "web" && !read.unattributed.is_empty() {
            agg.merge(&MinuteAggregate::from_counters(&read.unattributed).map_err(malformed)?);
        }
        Ok(self.metric.read(&agg))
    }
}

#[async_trait]
impl MetricSource for DrainSource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        let minute = last_complete_minute(now);
        let reads = self
            .store
            .read(&self.app, &self.process_type, &[minute - 60, minute])
            .await
            .map_err(|e| SourceError::new(SourceErrorKind::Unavailable, e.to_string()))?;
        let (previous, current) = match reads.as_slice() {
            [p, c] => (p.clone(), c.clone()),
            _ => {
                return Err(SourceError::new(
                    SourceErrorKind::Malformed,
                    "the drain store answered another number of minutes",
                ))
            }
        };
        let Some(current) = current else {
            return Err(SourceError::new(
                SourceErrorKind::Empty,
                format!(
                    "no log frame from {} in minute {} UTC: the drain is broken or the app was idle (cannot tell apart)",
                    self.app,
                    minute_text(minute)
                ),
            ));
        };
        let value = self.value(&current)?;
        if current.l10_dropped == 0 {
            return Ok(value);
        }
        // Incomplete: a lower bound, never below the minute before.
        match previous {
            Some(previous) => Ok(value.max(self.value(&previous)?)),
            None => Ok(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drain_store::{MemoryDrainStore, MinuteCounts};
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    const MINUTE: i64 = 1_795_333_200; // 2026-11-22T07:40:00Z

    /// The scheduled run at 07:41:15 reads 07:40.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 7, 41, 15).unwrap()
    }

    fn web(requests: u64, service_ms: u64) -> crate::drain_store::Counters {
        let mut agg = MinuteAggregate::default();
        for _ in 0..requests {
            let body = format!(
                "<158>1 2026-11-22T07:40:01+00:00 host heroku router - at=info method=GET path=\"/\" host=x.herokuapp.com request_id=1 fwd=\"203.0.113.7\" dyno=web.1 connect=0ms service={service_ms}ms status=200 bytes=1 protocol=https\n"
            );
            let framed = format!("{} {body}", body.len());
            let batch = crate::drain::parse_body(framed.as_bytes());
            agg.merge(&batch.minutes[&MINUTE].types["web"]);
        }
        agg.counters()
    }

    async fn add(store: &MemoryDrainStore, minute: i64, counts: MinuteCounts) {
        store
            .add("app", None, &BTreeMap::from([(minute, counts)]), 0)
            .await
            .unwrap();
    }

    fn source(store: &Arc<MemoryDrainStore>, metric: DrainMetric) -> DrainSource {
        DrainSource::new(store.clone(), "app", "web", metric)
    }

    #[test]
    fn the_last_complete_minute_is_the_one_that_ended_10_s_ago() {
        assert_eq!(last_complete_minute(now()), MINUTE);
        let early = Utc.with_ymd_and_hms(2026, 11, 22, 7, 41, 5).unwrap();
        assert_eq!(last_complete_minute(early), MINUTE - 60);
    }

    #[tokio::test]
    async fn a_minute_without_frames_is_missing_and_frames_without_router_lines_are_zero() {
        let store = Arc::new(MemoryDrainStore::new());
        let err = source(&store, DrainMetric::Requests)
            .fetch(now())
            .await
            .unwrap_err();
        assert_eq!(err.kind, SourceErrorKind::Empty);
        assert!(
            err.message
                .contains("no log frame from app in minute 07:40"),
            "{err}"
        );
        // Frames for the app (a worker's runtime metrics), no router line for web.
        add(
            &store,
            MINUTE,
            MinuteCounts {
                frames: 3,
                ..MinuteCounts::default()
            },
        )
        .await;
        let s = source(&store, DrainMetric::Requests);
        assert_eq!(s.fetch(now()).await, Ok(0.0));
        let t = source(&store, DrainMetric::Service(95));
        assert_eq!(t.fetch(now()).await, Ok(0.0));
    }

    #[tokio::test]
    async fn requests_and_service_time_of_the_minute() {
        let store = Arc::new(MemoryDrainStore::new());
        add(
            &store,
            MINUTE,
            MinuteCounts {
                frames: 40,
                types: BTreeMap::from([("web".to_string(), web(40, 200))]),
                ..MinuteCounts::default()
            },
        )
        .await;
        assert_eq!(
            source(&store, DrainMetric::Requests).fetch(now()).await,
            Ok(40.0)
        );
        let p95 = source(&store, DrainMetric::Service(95))
            .fetch(now())
            .await
            .unwrap();
        assert!((p95 - 200.0).abs() / 200.0 < 0.05, "{p95}");
    }

    #[tokio::test]
    async fn an_incomplete_minute_can_raise_a_value_but_never_lower_it() {
        let store = Arc::new(MemoryDrainStore::new());
        add(
            &store,
            MINUTE - 60,
            MinuteCounts {
                frames: 100,
                types: BTreeMap::from([("web".to_string(), web(100, 50))]),
                ..MinuteCounts::default()
            },
        )
        .await;
        // L10: Logplex dropped lines; only 30 router lines arrived.
        add(
            &store,
            MINUTE,
            MinuteCounts {
                frames: 31,
                l10_dropped: 500,
                types: BTreeMap::from([("web".to_string(), web(30, 50))]),
                ..MinuteCounts::default()
            },
        )
        .await;
        let s = source(&store, DrainMetric::Requests);
        assert_eq!(s.fetch(now()).await, Ok(100.0), "not lowered to 30");
        // More than before: raised.
        add(
            &store,
            MINUTE,
            MinuteCounts {
                frames: 90,
                types: BTreeMap::from([("web".to_string(), web(90, 50))]),
                ..MinuteCounts::default()
            },
        )
        .await;
        assert_eq!(s.fetch(now()).await, Ok(120.0));
    }
}
