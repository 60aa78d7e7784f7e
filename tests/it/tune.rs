//! `dynopilot tune`, run as a process: on a trace, and on the history a
//! local run stored.

use assert_cmd::Command;
use chrono::{TimeDelta, TimeZone, Utc};

const CONFIG: &str = r#"# tuned by hand once
[state]
kind = "memory"

[[formations]]
app = "shop-app"
type = "web"
min = 1
max = 20
hysteresis = "15m"

[[formations.inputs]]
name = "rpm"
type = "replay"
file = "trace.csv"
rule = "capacity"
per_dyno = 38   # measured
"#;

fn trace(days: i64) -> String {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let mut out = String::from("minute,value\n");
    for t in 0..days * 1440 {
        let wave = (std::f64::consts::TAU * t as f64 / 1440.0).sin();
        let at = start + TimeDelta::minutes(t);
        out.push_str(&format!(
            "{},{:.1}\n",
            at.format("%Y-%m-%d %H:%M"),
            200.0 + 150.0 * wave + ((t * 7919) % 31) as f64
        ));
    }
    out
}

#[test]
fn tune_on_a_trace_prints_the_choice_and_emits_a_valid_config_keeping_comments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, history, tuned) = (
        dir.path().join("c.toml"),
        dir.path().join("h.csv"),
        dir.path().join("tuned.toml"),
    );
    std::fs::write(&config, CONFIG).expect("write");
    std::fs::write(&history, trace(3)).expect("write");
    let out = Command::cargo_bin("dynopilot")
        .expect("binary")
        .args(["tune", "--capacity", "40", "--config"])
        .arg(&config)
        .arg("--history")
        .arg(&history)
        .arg("--emit")
        .arg(&tuned)
        .assert()
        .success()
        .get_output()
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let chosen = &report["tuning"]["chosen"];
    assert!(
        chosen["score"]["under_provisioned_pct"]
            .as_f64()
            .expect("pct")
            <= 1.0
    );
    assert_eq!(report["in_force"]["hysteresis"], "15m");
    assert!(report["tuning"]["current"]["dyno_minutes"].is_u64());
    assert!(!report["tuning"]["frontier"]
        .as_array()
        .expect("frontier")
        .is_empty());
    let text = std::fs::read_to_string(&tuned).expect("emitted");
    assert!(text.contains("# tuned by hand once"));
    let window = chosen["candidate"]["window_minutes"]
        .as_i64()
        .expect("window");
    assert!(
        text.contains(&format!("hysteresis = \"{window}m\"")),
        "{text}"
    );
    dynopilot::config::parse(&text).expect("the emitted config is valid");
}

#[test]
fn under_two_days_of_history_there_is_no_suggestion_and_the_reason_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, history) = (dir.path().join("c.toml"), dir.path().join("h.csv"));
    std::fs::write(&config, CONFIG).expect("write");
    std::fs::write(&history, trace(1)).expect("write");
    let out = Command::cargo_bin("dynopilot")
        .expect("binary")
        .args(["tune", "--config"])
        .arg(&config)
        .arg("--history")
        .arg(&history)
        .assert()
        .success()
        .get_output()
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(report["tuning"]["chosen"].is_null());
    let reason = report["tuning"]["reason"].as_str().expect("reason");
    assert!(reason.contains("at least 2 days"), "{reason}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no suggestion"));
}

#[test]
fn risk_is_a_share_and_a_bad_one_names_the_field() {
    let ok = dynopilot::config::parse(&CONFIG.replace("max = 20", "max = 20\nrisk = \"2.5%\""))
        .expect("valid");
    assert_eq!(ok.formations[0].risk_pct, 2.5);
    assert_eq!(
        dynopilot::config::parse(CONFIG).expect("valid").formations[0].risk_pct,
        1.0
    );
    let err = dynopilot::config::parse(&CONFIG.replace("max = 20", "max = 20\nrisk = \"lots\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("formations[0].risk: must be a share like \"1%\""),
        "{err}"
    );
}
