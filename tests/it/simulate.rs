//! The simulator: hand-computed accounting, the probe's view of the model, and
//! `dynopilot simulate` on a slice of the shared NASA trace.

use std::path::PathBuf;
use std::sync::Arc;

use assert_cmd::Command;
use dynopilot::simulate::{self, SimOptions, Trace};

use crate::helpers::config;

/// Capacity straight from the newest sample (hysteresis 0), no cool-offs, no
/// step limits: every minute's decision can be worked out by hand.
const HAND_POLICY: &str = r#"
[state]
kind = "memory"

[[formations]]
app = "hand-app"
type = "web"
min = 1
max = 5
hysteresis = "0s"
scale_up_cooloff = "0s"
scale_down_cooloff = "0s"
max_step_down = "unlimited"

[[formations.inputs]]
name = "rpm"
type = "replay"
file = "ignored-by-the-simulator.csv"
per_dyno = 40
"#;

const HAND_TRACE: &str = "minute,requests
2026-01-05 10:00,30
2026-01-05 10:01,50
2026-01-05 10:02,90
2026-01-05 10:03,120
2026-01-05 10:04,
2026-01-05 10:05,60
2026-01-05 10:06,20
2026-01-05 10:07,100
2026-01-05 10:08,70
2026-01-05 10:09,10
2026-01-05 10:10,10
";

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_ten_minute_hand_computed_trace_matches_every_accounting_figure() {
    // Capacity 40 per dyno, boot 1 minute, service 100 ms; start: min = 1 dyno, ready.
    // The input at minute t reads the load of t-1; est = ceil(load/40).
    //
    //  t  input(t-1)  decision          qty ready  load(t)        under  unserved  rt(t) ms           oracle
    //  1  30 -> 1     hold 1             1   1     50             yes    10        30000 (rho 1.25)   2
    //  2  50 -> 2     up to 2 (boots)    2   1     90             yes    50        30000 (2.25)       3
    //  3  90 -> 3     up to 3            3   2     120            yes    40        30000 (1.5)        3
    //  4  120 -> 3    hold 3             3   3     (none) 120 kept no     0        30000 (rho 1.0)    3
    //  5  (none) fail all missing: hold  3   3     60             no     0         200   (0.5)        2
    //  6  60 -> 2     down to 2 at once  2   2     20             no     0         133.33 (0.25)      1
    //  7  20 -> 1     down to 1          1   1     100            yes    60        30000 (2.5)        3
    //  8  100 -> 3    up to 3 (boot)     3   1     70             yes    30        30000 (1.75)       2
    //  9  70 -> 2     down to 2: the     2   2     10             no     0         114.29 (0.125)     1
    //                 booting dyno that
    //                 remains is ready at 9
    // 10  10 -> 1     down to 1          1   1     10             no     0         133.33 (0.25)      1
    //
    // dyno_minutes = 1+2+3+3+3+2+1+3+2+1 = 21; oracle = 2+3+3+3+2+1+3+2+1+1 = 21;
    // cost_vs_oracle = 1.0; under-provisioned 5 of 10 minutes = 50 %;
    // unserved = 190 of 650 = 29.2307... %; scale events: t2 t3 t6 t7 t8 t9 t10 = 7;
    // p95 (nearest rank 10 of 10) = 30000; missing minutes = 1 (t4).
    let trace = Arc::new(Trace::parse(HAND_TRACE).expect("trace"));
    let sim = simulate::run(config(HAND_POLICY), trace, &SimOptions::default()).expect("runs");
    let r = &sim.report;

    assert_eq!(r.minutes, 10);
    assert_eq!(r.missing_minutes, 1);
    assert_eq!(r.dyno_minutes, 21);
    assert_eq!(r.oracle_dyno_minutes, 21);
    assert!(close(r.cost_vs_oracle, 1.0), "{}", r.cost_vs_oracle);
    assert_eq!(r.under_provisioned_minutes, 5);
    assert!(close(r.under_provisioned_pct, 50.0));
    assert!(
        close(r.unserved_pct, 190.0 / 650.0 * 100.0),
        "{}",
        r.unserved_pct
    );
    assert_eq!(r.scale_events, 7);
    assert!(close(r.p95_response_ms, 30_000.0));
    assert_eq!(r.failed_invocations, 0);

    let column = |f: fn(&simulate::MinuteRow) -> u32| sim.series.iter().map(f).collect::<Vec<_>>();
    assert_eq!(column(|r| r.quantity), [1, 2, 3, 3, 3, 2, 1, 3, 2, 1]);
    assert_eq!(column(|r| r.ready), [1, 1, 2, 3, 3, 2, 1, 1, 2, 1]);
    assert_eq!(column(|r| r.target), [1, 2, 3, 3, 3, 2, 1, 3, 2, 1]);
    let loads: Vec<f64> = sim.series.iter().map(|r| r.load).collect();
    assert_eq!(
        loads,
        [50.0, 90.0, 120.0, 120.0, 60.0, 20.0, 100.0, 70.0, 10.0, 10.0]
    );
    assert!(close(sim.series[4].response_ms, 200.0));
    assert!(close(sim.series[5].response_ms, 100.0 / 0.75));
    assert!(close(sim.series[8].response_ms, 100.0 / 0.875));
    assert!(sim.series[3].missing && !sim.series[4].missing);
}

#[test]
fn a_probe_reads_the_modelled_response_time_of_the_previous_minute() {
    // Minute 0: 30 rpm on 1 dyno of 40 → rho 0.75 → 100 / 0.25 = 400 ms, slow (> 300).
    // t=1: the probe reads minute 0's 400 ms; one slow sample is enough → 2 (booting).
    //      Minute 1 still runs on 1 ready dyno → 400 ms again.
    // t=2: the probe reads minute 1's 400 ms (taken after the last scale) → 3.
    //      Minute 2: 2 ready → rho 0.375 → 160 ms.
    // t=3: the probe reads 160 ms: neither slow nor fast → hold 3. Minute 3: 3 ready → 133.3 ms.
    let policy = r#"
[state]
kind = "memory"

[[formations]]
app = "probe-app"
type = "web"
min = 1
max = 5
scale_down_cooloff = "10m"

[[formations.inputs]]
name = "rt"
type = "http_probe"
url = "https://probe-app.example.com/health"
rule = "consecutive"
max = 300
min = 120
fails_to_scale_up = 1
"#;
    let trace = Arc::new(
        Trace::parse(
            "m,r\n2026-01-05 10:00,30\n2026-01-05 10:01,30\n2026-01-05 10:02,30\n2026-01-05 10:03,30\n",
        )
        .expect("trace"),
    );
    let sim = simulate::run(config(policy), trace, &SimOptions::default()).expect("runs");

    let quantity: Vec<u32> = sim.series.iter().map(|r| r.quantity).collect();
    let ready: Vec<u32> = sim.series.iter().map(|r| r.ready).collect();
    assert_eq!(quantity, [2, 3, 3]);
    assert_eq!(ready, [1, 2, 3]);
    assert!(close(sim.series[0].response_ms, 400.0));
    assert!(close(sim.series[1].response_ms, 160.0));
    assert!(close(sim.series[2].response_ms, 100.0 / 0.75));
    assert_eq!(sim.report.scale_events, 2);
}

#[test]
fn a_config_with_several_formations_needs_one_chosen() {
    let two = format!(
        "{HAND_POLICY}\n{}",
        HAND_POLICY
            .replace("[state]\nkind = \"memory\"\n", "")
            .replace("hand-app", "other-app")
    );
    let trace = Arc::new(Trace::parse(HAND_TRACE).expect("trace"));
    let err = simulate::run(config(&two), trace.clone(), &SimOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("choose one with --formation"),
        "{err}"
    );

    let options = SimOptions {
        formation: Some("other-app/web".into()),
        ..SimOptions::default()
    };
    let sim = simulate::run(config(&two), trace, &options).expect("runs");
    assert_eq!(sim.report.formation, "other-app/web");
}

/// The NASA trace, kept in the repository (`tests/traces/`).
fn nasa_trace() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/traces/nasa_http_1995_per_minute.csv");
    assert!(
        path.is_file(),
        "the NASA trace is missing: expected {} (tests/traces/ in the repository)",
        path.display()
    );
    path
}

/// Every tag opened is closed, in order: enough to catch a truncated or
/// garbled SVG without an XML dependency.
fn assert_well_formed_xml(text: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            panic!(
                "unterminated tag near {:?}",
                &rest[open..open + 40.min(rest.len() - open)]
            );
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else {
            let name = tag.split_whitespace().next().unwrap_or_default();
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
}

#[test]
fn simulate_on_a_day_of_the_nasa_trace_prints_the_report_and_writes_a_readable_plot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("infra/recommended.toml");
    let (out, series, plot) = (
        dir.path().join("report.json"),
        dir.path().join("series.csv"),
        dir.path().join("plot.svg"),
    );
    let assert = Command::cargo_bin("dynopilot")
        .expect("binary built")
        .arg("simulate")
        .arg("--config")
        .arg(&policy)
        .arg("--trace")
        .arg(nasa_trace())
        .args(["--from", "1995-07-13 00:00", "--minutes", "1441"])
        .args(["--capacity", "40", "--boot-minutes", "1"])
        .arg("--out")
        .arg(&out)
        .arg("--series")
        .arg(&series)
        .arg("--plot")
        .arg(&plot)
        .assert()
        .success();

    let printed: serde_json::Value =
        serde_json::from_slice(&assert.get_output().stdout).expect("the report is JSON");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("report written"))
            .expect("JSON");
    assert_eq!(printed, written);
    assert_eq!(printed["minutes"], 1440);
    assert_eq!(printed["from"], "1995-07-13T00:01:00Z");
    for field in [
        "dyno_minutes",
        "oracle_dyno_minutes",
        "cost_vs_oracle",
        "under_provisioned_minutes",
        "under_provisioned_pct",
        "unserved_pct",
        "scale_events",
        "p95_response_ms",
    ] {
        assert!(printed[field].is_number(), "{field} missing in {printed}");
    }
    // The launch day peaks near 400 rpm: the formation must have grown well past min.
    assert!(printed["oracle_dyno_minutes"].as_u64() > Some(1440));
    assert!(printed["dyno_minutes"].as_u64() >= printed["oracle_dyno_minutes"].as_u64());

    let csv = std::fs::read_to_string(&series).expect("series written");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("minute,load,target,quantity,ready,response_ms,missing")
    );
    assert_eq!(lines.count(), 1440);

    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(
        svg.trim_start().starts_with("<svg"),
        "{}",
        &svg[..80.min(svg.len())]
    );
    assert_well_formed_xml(&svg);
    for label in [
        "load",
        "capacity of ready dynos (ready × 40)",
        "target (dynos the rules asked for)",
        "quantity (dynos running, incl. booting)",
        "under-provisioned",
        "1995-07-13",
    ] {
        assert!(svg.contains(label), "{label:?} not in the plot");
    }
    assert!(svg.matches("<polyline").count() >= 4, "one line per series");
}

#[test]
fn simulate_names_the_bad_line_of_a_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("bad.csv");
    std::fs::write(&trace, "minute,requests\n2026-01-05 10:00,5\n10:01,6\n").expect("write");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, HAND_POLICY).expect("write");
    Command::cargo_bin("dynopilot")
        .expect("binary built")
        .arg("simulate")
        .arg("--config")
        .arg(&config)
        .arg("--trace")
        .arg(&trace)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "trace line 3: \"10:01\" is not a minute",
        ));
}

#[test]
fn a_synthetic_trace_is_simulated_without_any_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, HAND_POLICY.replace("max = 5", "max = 100")).expect("write");
    let assert = Command::cargo_bin("dynopilot")
        .expect("binary built")
        .arg("simulate")
        .arg("--config")
        .arg(&config)
        .args(["--synthetic", "flash", "--days", "1"])
        .assert()
        .success();
    let report: serde_json::Value =
        serde_json::from_slice(&assert.get_output().stdout).expect("JSON");
    assert_eq!(report["minutes"], 1439);
    assert_eq!(report["failed_invocations"], 0);
}

#[test]
fn every_synthetic_shape_is_offered_by_name_and_its_trace_can_be_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, HAND_POLICY.replace("max = 5", "max = 100")).expect("write");
    let written = dir.path().join("ramp.csv");
    Command::cargo_bin("dynopilot")
        .expect("binary built")
        .arg("simulate")
        .arg("--config")
        .arg(&config)
        .args(["--synthetic", "ramp", "--days", "2", "--write-trace"])
        .arg(&written)
        .assert()
        .success();
    let trace = Trace::load(&written).expect("the written trace reads back");
    assert_eq!(trace.len(), 2 * 1440);
    assert_eq!(
        trace,
        dynopilot::simulate::synthetic::generate(dynopilot::simulate::synthetic::Shape::Ramp, 2, 1)
    );
    Command::cargo_bin("dynopilot")
        .expect("binary built")
        .arg("simulate")
        .arg("--config")
        .arg(&config)
        .args(["--synthetic", "sawtooth"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "[possible values: diurnal, spiky, flash, ramp]",
        ));
}

#[test]
fn a_production_config_is_simulated_without_its_secrets_or_the_network() {
    // The Heroku scaler's token and a New Relic key are references to env vars
    // that are not set: building the real adapters would fail, the simulation
    // never builds them, never resolves a secret and never calls out.
    let production = HAND_POLICY
        .replace(
            "[state]\nkind = \"memory\"\n",
            "[scaler]\nkind = \"heroku\"\ntoken = \"env:DYNOPILOT_SIM_UNSET_TOKEN\"\nbase_url = \"http://127.0.0.1:9\"\n",
        )
        .replace(
            "type = \"replay\"\nfile = \"ignored-by-the-simulator.csv\"",
            "type = \"new_relic\"\napi_key = \"env:DYNOPILOT_SIM_UNSET_KEY\"\napp_id = 42",
        )
        .replace("per_dyno = 40", "rpm_per_dyno = 40");
    let trace = Arc::new(Trace::parse(HAND_TRACE).expect("trace"));
    let sim = simulate::run(config(&production), trace, &SimOptions::default()).expect("runs");

    assert_eq!(
        sim.report.dyno_minutes, 21,
        "same accounting as the replay input"
    );
    let printed = serde_json::to_string(&sim.report).expect("JSON");
    assert!(!printed.contains("DYNOPILOT_SIM_UNSET"), "{printed}");
}

#[test]
fn frontier_counts_the_predecessor_points_a_dynopilot_point_dominates_and_draws_them() {
    // GIVEN two predecessor points, one of them worse on both axes than the
    // dynopilot default, and a dynopilot grid point
    let dir = tempfile::tempdir().expect("tempdir");
    let (points, svg) = (dir.path().join("points.json"), dir.path().join("f.svg"));
    std::fs::write(
        &points,
        r#"[
          {"family": "Dynosaur", "side": "predecessor", "label": "40, 5m",
           "cost_vs_oracle": 1.26, "under_provisioned_pct": 4.0, "default": true},
          {"family": "Dynosaur", "side": "predecessor", "label": "36, 20m",
           "cost_vs_oracle": 1.57, "under_provisioned_pct": 0.4},
          {"family": "dynopilot", "side": "dynopilot", "label": "default",
           "cost_vs_oracle": 1.25, "under_provisioned_pct": 1.0, "default": true}
        ]"#,
    )
    .expect("points written");
    // WHEN drawing them
    let out = Command::cargo_bin("dynopilot")
        .expect("binary built")
        .args(["frontier", "--title", "test"])
        .arg("--points")
        .arg(&points)
        .arg("--svg")
        .arg(&svg)
        .assert()
        .success();
    // THEN one of the two Dynosaur points is dominated, its default among them
    let counts: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_eq!(counts[0]["family"], "Dynosaur");
    assert_eq!(counts[0]["points"], 2);
    assert_eq!(counts[0]["dominated_by_dynopilot"], 1);
    assert_eq!(counts[0]["default_dominated"], true);
    assert_eq!(counts[1]["side"], "dynopilot");
    let drawing = std::fs::read_to_string(&svg).expect("svg written");
    assert!(drawing.starts_with("<svg"));
    assert_eq!(drawing.matches(r#"class="point""#).count(), 3);
}

#[test]
fn frontier_refuses_points_that_are_not_a_json_array_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let points = dir.path().join("points.json");
    std::fs::write(&points, r#"{"family": "x"}"#).expect("written");
    let out = Command::cargo_bin("dynopilot")
        .expect("binary built")
        .arg("frontier")
        .arg("--points")
        .arg(&points)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("points.json: not a JSON array of points"),
        "{err}"
    );
}
