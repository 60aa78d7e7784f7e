//! Benchmark: `tune` on 14 days of minutes × the default grid, one core.
//!
//! 14 days (20,160 minutes) of the NASA trace in tests/traces/, the
//! recommended config's policy (infra/recommended.toml), capacity 40, boot 1
//! minute. Prints the wall time, the candidates and the peak resident memory
//! (VmHWM from /proc/self/status, Linux). Reports figures; asserts nothing
//! (the targets: ≤ 10 s on one core, ≤ 128 MB).
//!
//! Run: `cargo bench --bench tune`.

use std::time::Instant;

use dynopilot::simulate::Trace;
use dynopilot::tune::{default_grid, tune, TuneInput};

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let root = env!("CARGO_MANIFEST_DIR");
    let config = dynopilot::config::load(std::path::Path::new(&format!(
        "{root}/infra/recommended.toml"
    )))
    .expect("recommended config");
    let trace = Trace::load(std::path::Path::new(&format!(
        "{root}/tests/traces/nasa_http_1995_per_minute.csv"
    )))
    .expect("NASA trace");
    let minutes: Vec<_> = (0..14 * 1440)
        .map(|i| (trace.minute(i), trace.values[i]))
        .collect();
    let grid = default_grid();
    let now = minutes.last().expect("minutes").0;
    let started = Instant::now();
    let tuning = tune(
        &TuneInput {
            policy: &config.formations[0].policy,
            minutes: &minutes,
            capacity: 40.0,
            boot_minutes: 1,
            risk_pct: 1.0,
            now,
        },
        &grid,
    );
    let elapsed = started.elapsed().as_secs_f64();
    let chosen = tuning.chosen.expect("a choice on 14 days");
    println!(
        "tune: {} minutes × {} candidates in {elapsed:.2} s on one core ({:.0} candidate-minutes/s); peak RSS {} MB",
        minutes.len(),
        grid.len(),
        (minutes.len() * (grid.len() + 1)) as f64 / elapsed,
        peak_rss_mb().map_or_else(|| "n/a".into(), |m| format!("{m:.1}"))
    );
    println!(
        "chosen: {:?}: {:.3} × oracle, {:.2} % under-provisioned; frontier of {} points",
        chosen.candidate,
        chosen.score.cost_vs_oracle,
        chosen.score.under_provisioned_pct,
        tuning.frontier.len()
    );
}
