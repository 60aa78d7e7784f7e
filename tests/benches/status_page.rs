//! Benchmark: the status page for 10 formations with 7 days of per-minute
//! history each (the fixture history of the status page tests: a daily load
//! wave, dynos that follow it, each change a scale with its reason).
//!
//! Measures what `GET /status` spends after the state reads: building the
//! view and rendering the HTML with its 20 inline SVG charts (median and max
//! of 20 renders), and the page's size. Prints its figures; exits 1 when the
//! page is 500 KB or more (the size is deterministic, the time is reported).
//!
//! Run: `cargo bench --bench status_page`.

#[path = "../it/status_fixture.rs"]
mod status_fixture;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use dynopilot::engine;
use dynopilot::status_page::{build_view, render, Extras};
use dynopilot::store::MemoryStateStore;

const FORMATIONS: usize = 10;
const DAYS: i64 = 7;
const RUNS: usize = 20;
const SIZE_LIMIT: usize = 500 * 1000;

fn config_text() -> String {
    let mut toml = String::from("[state]\nkind = \"memory\"\n");
    for i in 0..FORMATIONS {
        toml.push_str(&format!(
            r#"
[[formations]]
app = "shop-api-{i}"
type = "web"
min = {{ "08:00" = 3, "20:00" = 1 }}
max = 10

[[formations.inputs]]
name = "rpm"
type = "constant"
value = 400
per_dyno = 100
"#
        ));
    }
    toml
}

fn main() -> ExitCode {
    let config = dynopilot::config::parse(&config_text()).expect("valid config");
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 15, 30, 0).unwrap();
    let store = MemoryStateStore::new();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let statuses = runtime.block_on(engine::status(&config.formations, &store));
    let extras: BTreeMap<String, Extras> = config
        .formations
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let history = status_fixture::history(now, DAYS, "rpm", 100.0, i as f64 / 10.0);
            (
                f.name.clone(),
                Extras {
                    history: Some(history),
                    frontier: None,
                },
            )
        })
        .collect();
    let minutes: usize = extras
        .values()
        .filter_map(|e| e.history.as_ref())
        .map(|h| h.minutes.len())
        .sum();
    let scales: usize = extras
        .values()
        .filter_map(|e| e.history.as_ref())
        .map(|h| h.scales.len())
        .sum();

    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut page = String::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let view = build_view(&config.formations, &statuses, &extras, now, false);
        page = render(&view);
        times.push(started.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let charts = page.matches("<svg").count();
    let markers = page.matches("<g class=\"scale\">").count();
    println!(
        "status page: {FORMATIONS} formations × {DAYS} days ({minutes} history minutes, {scales} scales)"
    );
    println!(
        "  build + render: median {:.1} ms, max {:.1} ms (of {RUNS} runs)",
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
    println!(
        "  page size: {} bytes ({:.1} KB), {charts} charts, {markers} scale markers",
        page.len(),
        page.len() as f64 / 1000.0
    );
    if let Some(path) = std::env::var_os("STATUS_PAGE_BENCH_OUT") {
        std::fs::write(path, &page).expect("write the page");
    }
    if page.len() >= SIZE_LIMIT {
        eprintln!("the page is {} bytes, at or above {SIZE_LIMIT}", page.len());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
