//! The `dynopilot` command, run as a process.

use assert_cmd::Command;
use predicates::prelude::*;

fn dynopilot() -> Command {
    Command::cargo_bin("dynopilot").expect("binary built")
}

fn report(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout).expect("the report is JSON")
}

#[test]
fn check_config_lists_every_error_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, crate::config::FIVE_MISTAKES).expect("write");
    let out = dynopilot()
        .args(["check-config"])
        .arg(&file)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config has 5 problem(s)"), "{stderr}");
    for field in [
        "colour",
        "formations[0].min",
        "formations[0].scale_down_cooloff",
        "formations[0].inputs[0].per_dyno",
        "formations[0].inputs[1].type",
    ] {
        assert!(
            stderr.contains(&format!("  {field}: ")),
            "{field} not in {stderr}"
        );
    }
}

#[test]
fn check_config_prints_the_validated_config_with_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ok.toml");
    std::fs::write(&file, crate::helpers::one_formation(1, 4)).expect("write");
    let out = dynopilot()
        .arg("check-config")
        .arg(&file)
        .assert()
        .success()
        .get_output()
        .clone();
    let v = report(&out.stdout);
    assert_eq!(v["formations"][0]["scale_down_cooloff"], "5m");
    assert_eq!(v["formations"][0]["max_step_down"], 1);
    assert_eq!(v["formations"][0]["max_step_up"], "unlimited");
}

#[test]
fn a_bad_config_stops_the_run_without_touching_state() {
    // GIVEN a state file with content from earlier runs
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let before = r#"{"formations":{"shop-app#web":{"version":7,"state":{}}}}"#;
    std::fs::write(&state, before).expect("write");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, crate::config::FIVE_MISTAKES).expect("write");
    // WHEN running with a config that has five mistakes
    dynopilot()
        .args(["run", "--once", "--config"])
        .arg(&file)
        .arg("--state")
        .arg(&state)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("config has 5 problem(s)"));
    // THEN the state file is byte for byte what it was
    assert_eq!(std::fs::read_to_string(&state).expect("read"), before);
}

#[test]
fn the_demo_run_reports_a_target_that_follows_the_sine() {
    // The demo sine has offset 500, amplitude 400, period 1 h, 100 per dyno.
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let mut targets = Vec::new();
    // 00:00 → 500 (5 dynos), 00:15 → 900 (9), 00:45 → 100 (1): fresh state each
    // time, so the hysteresis window holds only that minute's sample.
    for (minute, want) in [("00", 5), ("15", 9), ("45", 1)] {
        let _ = std::fs::remove_file(&state);
        let out = dynopilot()
            .args([
                "run",
                "--once",
                "--now",
                &format!("2026-01-05T10:{minute}:00Z"),
                "--state",
            ])
            .arg(&state)
            .assert()
            .success()
            .get_output()
            .clone();
        let v = report(&out.stdout);
        let f = &v["formations"][0];
        assert_eq!(v["dry_run"], true);
        assert_eq!(f["inputs"][0]["type"], "sine");
        assert_eq!(f["target"], want, "at :{minute}: {f}");
        assert_eq!(f["estimate"], want);
        targets.push(f["target"].as_u64());
    }
    assert_eq!(targets, [Some(5), Some(9), Some(1)]);
}

#[test]
fn the_loop_prints_one_summary_line_per_formation_per_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let out = dynopilot()
        .args(["run", "--every", "10ms", "--cycles", "3", "--state"])
        .arg(&state)
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines.iter().all(|l| l.contains("demo-app/web 1 → ")),
        "{stdout}"
    );
}

#[test]
fn a_corrupt_state_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{ not json").expect("write");
    let out = dynopilot()
        .args(["run", "--once", "--state"])
        .arg(&state)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let v = report(&out.stdout);
    assert_eq!(v["formations"][0]["outcome"], "failed");
    assert_eq!(v["formations"][0]["errors"][0]["stage"], "load_state");
    assert_eq!(v["formations"][0]["errors"][0]["kind"], "corrupt");
    assert_eq!(std::fs::read_to_string(&state).expect("read"), "{ not json");
}

/// A config that scales for real (local scaler, counts in the state file):
/// 500 rpm at 100 per dyno is 5 dynos.
fn scaling_config(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("scale.toml");
    let text = crate::helpers::one_formation(1, 10)
        .replace(
            "kind = \"memory\"",
            "kind = \"file\"\npath = \"unused.json\"",
        )
        .replace("value = 0", "value = 500");
    std::fs::write(&file, format!("[scaler]\nkind = \"local\"\n{text}")).expect("write");
    file
}

#[test]
fn ten_processes_on_one_state_file_scale_exactly_once() {
    // Five trials: in each, ten `run --once` processes start together on a
    // fresh state file and all want the same scale 1 → 5.
    for trial in 0..5 {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = scaling_config(dir.path());
        let state = dir.path().join("state.json");
        let children: Vec<std::process::Child> = (0..10)
            .map(|_| {
                std::process::Command::new(env!("CARGO_BIN_EXE_dynopilot"))
                    .args(["run", "--once", "--config"])
                    .arg(&config)
                    .arg("--state")
                    .arg(&state)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("the CLI starts")
            })
            .collect();
        let outcomes: Vec<String> = children
            .into_iter()
            .map(|child| {
                let out = child.wait_with_output().expect("the CLI ends");
                report(&out.stdout)["formations"][0]["outcome"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            })
            .collect();
        let scaled = outcomes.iter().filter(|o| *o == "scaled_up").count();
        assert_eq!(scaled, 1, "trial {trial}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o.as_str(), "scaled_up" | "lost_race" | "hold")),
            "trial {trial}: {outcomes:?}"
        );
        // AND the state file records that one scale
        let stored: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("JSON");
        let record = &stored["formations"]["shop-app#web"];
        assert_eq!(
            record["state"]["history"]["events"]
                .as_array()
                .map(Vec::len),
            Some(1),
            "trial {trial}: {stored}"
        );
        assert_eq!(stored["dynos"]["shop-app"]["web"], 5, "trial {trial}");
    }
}

#[test]
fn now_far_from_the_clock_is_a_what_if_that_leaves_the_state_alone() {
    // GIVEN a state file from a real run
    let dir = tempfile::tempdir().expect("tempdir");
    let config = scaling_config(dir.path());
    let state = dir.path().join("state.json");
    dynopilot()
        .args(["run", "--once", "--config"])
        .arg(&config)
        .arg("--state")
        .arg(&state)
        .assert()
        .success();
    let before = std::fs::read_to_string(&state).expect("state");
    // WHEN asking what would happen in 2099 (and in 1970)
    for now in ["2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z"] {
        let out = dynopilot()
            .args(["run", "--once", "--now", now, "--config"])
            .arg(&config)
            .arg("--state")
            .arg(&state)
            .assert()
            .success()
            .stderr(predicate::str::contains("a what-if"))
            .get_output()
            .clone();
        // THEN it decides at that time, as a dry run
        let v = report(&out.stdout);
        assert_eq!(v["now"], now);
        assert_eq!(v["dry_run"], true);
    }
    // AND the state file is byte for byte what the real run left
    assert_eq!(std::fs::read_to_string(&state).expect("state"), before);
}
