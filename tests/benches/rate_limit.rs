//! Benchmark: 500 apps on one Heroku token for a simulated hour.
//!
//! The engine with the real `HerokuScaler` runs once a simulated minute
//! against a stateful fake of one Heroku account (tests/fakes/heroku_account.rs:
//! the 4500-call pool refilled at 75 a minute, `RateLimit-Remaining` on every
//! answer, 429 + `Retry-After` when empty), with every call counted. Each app
//! has a slow daily load curve of its own (so some apps scale within the
//! hour, as real ones do). At minute 20 three apps are scaled by hand behind
//! dynopilot's back; the benchmark reports when each was noticed.
//!
//! Prints its figures; exits 1 when the hour cost 4500 calls or more, or a
//! manual scale went unnoticed beyond the stated bound.
//!
//! Run: `cargo bench --bench rate_limit`.

#[path = "../fakes/heroku_account.rs"]
mod heroku_account;

use std::collections::BTreeMap;
use std::f64::consts::TAU;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::engine::pacing::{staleness_bound, HEROKU_CALLS_PER_HOUR};
use dynopilot::engine::{Engine, Invocation, Outcome};
use dynopilot::inputs::{MetricSource, SourceError};
use dynopilot::notify::RecordingNotifier;
use dynopilot::scaler::HerokuScaler;
use dynopilot::store::MemoryStateStore;
use secrecy::SecretString;
use wiremock::MockServer;

use heroku_account::HerokuAccount;

const APPS: usize = 500;
const MINUTES: i64 = 60;
const PER_DYNO: f64 = 150.0;
/// When the manual scales happen, and which apps get them (+4, −2, +1 dynos).
const MANUAL_AT: i64 = 20;
const MANUAL: [(usize, i64); 3] = [(7, 4), (123, -2), (456, 1)];

/// Requests per minute of one app: a daily curve (±30 %) with its own phase.
struct Daily {
    base: f64,
    phase: f64,
}

impl Daily {
    fn at(&self, now: DateTime<Utc>) -> f64 {
        let day = 86_400.0;
        let t = now.timestamp() as f64 % day;
        self.base * (1.0 + 0.3 * (TAU * t / day + self.phase).sin())
    }
}

#[async_trait]
impl MetricSource for Daily {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        Ok(self.at(now))
    }
}

fn fail(what: &str) -> ! {
    eprintln!("bench rate_limit: {what}");
    std::process::exit(1)
}

fn app(i: usize) -> String {
    format!("app-{i:03}")
}

fn config() -> String {
    let mut text = String::from("[state]\nkind = \"memory\"\n");
    for i in 0..APPS {
        text.push_str(&format!(
            "\n[[formations]]\napp = \"{}\"\ntype = \"web\"\nmin = 1\nmax = 40\n\n[[formations.inputs]]\nname = \"rpm\"\ntype = \"constant\"\nvalue = 0\nper_dyno = {PER_DYNO}\n",
            app(i)
        ));
    }
    text
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    runtime.block_on(run());
}

async fn run() {
    let start = Utc
        .with_ymd_and_hms(2026, 1, 5, 6, 0, 0)
        .single()
        .unwrap_or_else(|| fail("start time"));
    let config = dynopilot::config::parse(&config()).unwrap_or_else(|e| fail(&e.to_string()));
    let loads: Vec<Daily> = (0..APPS)
        .map(|i| Daily {
            base: 300.0 + (i * 7 % 13) as f64 * 100.0,
            phase: TAU * i as f64 / APPS as f64,
        })
        .collect();

    // The account: every app at what its load needs at the start, full pool.
    let server = MockServer::start().await;
    let account = HerokuAccount::new(start);
    for (i, load) in loads.iter().enumerate() {
        let needed = (load.at(start) / PER_DYNO).ceil().max(1.0) as u32;
        account.set(&app(i), "web", needed);
    }
    account.mount(&server).await;

    let http = dynopilot::wiring::http_client().unwrap_or_else(|e| fail(&e));
    let scaler = HerokuScaler::new(
        http,
        &server.uri(),
        SecretString::from("bench-rate-limit-token".to_string()),
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| fail(&e));
    let sources: Vec<Vec<Arc<dyn MetricSource>>> = loads
        .into_iter()
        .map(|l| vec![Arc::new(l) as Arc<dyn MetricSource>])
        .collect();
    let engine = Engine::new(
        Arc::new(config),
        sources,
        Arc::new(MemoryStateStore::new()),
        Arc::new(scaler),
        Arc::new(RecordingNotifier::new()),
    )
    .unwrap_or_else(|e| fail(&e));

    let wall = Instant::now();
    let mut read_every: BTreeMap<u32, u32> = BTreeMap::new();
    let mut scaled = 0usize;
    let mut wrong_downs = 0usize;
    let mut failed = 0usize;
    let mut min_pool = f64::MAX;
    let mut max_calls_in_a_minute = 0usize;
    let mut manual: BTreeMap<String, (u32, Option<i64>)> = BTreeMap::new();
    let mut bound = 0u32;
    for minute in 0..MINUTES {
        let now = start + TimeDelta::minutes(minute);
        account.advance_to(now);
        if minute == MANUAL_AT {
            for (i, delta) in MANUAL {
                let name = app(i);
                let before = account.quantity(&name, "web").unwrap_or(1);
                let after = (i64::from(before) + delta).max(1) as u32;
                account.set(&name, "web", after);
                manual.insert(name, (after, None));
            }
        }
        let calls_before = account.calls().len();
        let report = engine.invoke(&Invocation::at(now)).await;
        max_calls_in_a_minute = max_calls_in_a_minute.max(account.calls().len() - calls_before);
        min_pool = min_pool.min(account.pool());
        if let Some(reads) = &report.reads {
            *read_every.entry(reads.pace.read_every).or_default() += 1;
            bound = bound.max(staleness_bound(reads.pace.read_every));
        }
        for f in &report.formations {
            match f.outcome {
                Outcome::ScaledUp | Outcome::ScaledDown => scaled += 1,
                Outcome::Failed => failed += 1,
                _ => {}
            }
            // A scale-down below what the load needs would be a wrong one.
            if f.outcome == Outcome::ScaledDown {
                let needed = f.estimate.unwrap_or(0);
                if f.target.unwrap_or(0) < needed {
                    wrong_downs += 1;
                }
            }
            if let Some((after, noticed)) = manual.get_mut(&f.app) {
                if noticed.is_none() && minute >= MANUAL_AT && f.current == Some(*after) {
                    *noticed = Some(minute - MANUAL_AT);
                }
            }
        }
    }
    let calls = account.calls();
    let charged = account.charged();
    let gets = calls.iter().filter(|c| c.method == "GET").count();
    let patches = calls.iter().filter(|c| c.method == "PATCH").count();
    let rejected = calls.iter().filter(|c| c.status == 429).count();

    println!(
        "rate limit: {APPS} apps on one token, {MINUTES} simulated minutes (one run a minute)"
    );
    println!("  calls charged to the pool    {charged} (limit {HEROKU_CALLS_PER_HOUR}/hour; unpaced: {} reads alone)", APPS as i64 * MINUTES);
    println!("  formation reads (GET)        {gets}");
    println!("  scales (PATCH)               {patches} ({scaled} formations scaled)");
    println!("  429 answers                  {rejected}");
    println!("  most calls in one minute     {max_calls_in_a_minute}");
    println!("  lowest pool seen             {min_pool:.0}");
    println!(
        "  read every (minutes: runs)   {}",
        read_every
            .iter()
            .map(|(every, runs)| format!("{every}: {runs}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  failed formation-runs        {failed}");
    println!("  wrong scale-downs            {wrong_downs}");
    println!("  manual ps:scale noticed within the bound of {bound} minutes (1.5 periods):");
    for (name, (after, noticed)) in &manual {
        match noticed {
            Some(m) => println!("    {name} → {after}: after {m} minute(s)"),
            None => println!("    {name} → {after}: NOT noticed"),
        }
    }
    println!(
        "  wall time                    {:.1} s",
        wall.elapsed().as_secs_f64()
    );

    if charged as u64 >= HEROKU_CALLS_PER_HOUR {
        fail(&format!(
            "{charged} calls in the hour: not under {HEROKU_CALLS_PER_HOUR}"
        ));
    }
    if manual
        .values()
        .any(|(_, n)| n.is_none_or(|m| m > i64::from(bound)))
    {
        fail("a manual scale was not noticed within the bound");
    }
    if wrong_downs > 0 || failed > 0 || rejected > 0 {
        fail("wrong scale-downs, failed runs or 429s");
    }
}
