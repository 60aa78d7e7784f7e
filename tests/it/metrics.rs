//! CloudWatch Embedded Metric Format lines, validated against the EMF
//! specification's required structure.

use std::collections::BTreeSet;
use std::sync::Arc;

use dynopilot::engine::Invocation;
use dynopilot::inputs::{ScriptedSource, SourceError, SourceErrorKind};
use dynopilot::metrics::emf_lines;
use serde_json::Value;

use crate::helpers::{at, config, one_formation, world};

/// The units CloudWatch accepts (the EMF specification's MetricDefinition.Unit).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Every rule of the EMF specification's root node, metadata, MetricDirective,
/// DimensionSet and MetricDefinition that a producer must follow. Returns the
/// problems found (empty: valid).
fn emf_problems(line: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let root: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let Some(root) = root.as_object() else {
        return vec!["the root node must be a JSON object".into()];
    };
    let Some(aws) = root.get("_aws").and_then(Value::as_object) else {
        return vec!["_aws must be an object".into()];
    };
    match aws.get("Timestamp") {
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => {}
        other => problems.push(format!(
            "_aws.Timestamp must be an integer (ms), found {other:?}"
        )),
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        problems.push("_aws.CloudWatchMetrics must be an array".into());
        return problems;
    };
    for (d, directive) in directives.iter().enumerate() {
        let at = format!("CloudWatchMetrics[{d}]");
        match directive.get("Namespace").and_then(Value::as_str) {
            Some(ns) if (1..=255).contains(&ns.len()) => {}
            other => problems.push(format!(
                "{at}.Namespace must be a 1-255 char string, found {other:?}"
            )),
        }
        match directive.get("Dimensions").and_then(Value::as_array) {
            None => problems.push(format!("{at}.Dimensions must be an array")),
            Some(sets) => {
                for (s, set) in sets.iter().enumerate() {
                    let Some(names) = set.as_array() else {
                        problems.push(format!("{at}.Dimensions[{s}] must be an array"));
                        continue;
                    };
                    if names.len() > 30 {
                        problems.push(format!("{at}.Dimensions[{s}] has more than 30 dimensions"));
                    }
                    for name in names {
                        match name.as_str() {
                            Some(n) if root.get(n).is_some_and(Value::is_string) => {}
                            _ => problems.push(format!(
                                "{at}.Dimensions[{s}]: {name} must name a top-level string member"
                            )),
                        }
                    }
                }
            }
        }
        match directive.get("Metrics").and_then(Value::as_array) {
            None => problems.push(format!("{at}.Metrics must be an array")),
            Some(metrics) => {
                if metrics.len() > 100 {
                    problems.push(format!("{at}.Metrics holds more than 100 metrics"));
                }
                for metric in metrics {
                    let name = metric.get("Name").and_then(Value::as_str);
                    match name {
                        Some(n) if (1..=255).contains(&n.len()) => {
                            let numeric = match root.get(n) {
                                Some(Value::Number(_)) => true,
                                Some(Value::Array(a)) => a.iter().all(Value::is_number),
                                _ => false,
                            };
                            if !numeric {
                                problems.push(format!("metric {n} must be a top-level number"));
                            }
                        }
                        other => problems.push(format!("{at}: metric Name {other:?} invalid")),
                    }
                    if let Some(unit) = metric.get("Unit") {
                        if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                            problems.push(format!("{at}: Unit {unit} is not a CloudWatch unit"));
                        }
                    }
                }
            }
        }
    }
    problems
}

/// The metrics a line defines, as (name, unit, dimension sets).
fn defined(line: &Value) -> Vec<(String, String, Value)> {
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    directive["Metrics"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    (
                        m["Name"].as_str().unwrap_or_default().to_string(),
                        m["Unit"].as_str().unwrap_or_default().to_string(),
                        directive["Dimensions"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_validator_rejects_what_cloudwatch_would_drop() {
    let bad = r#"{"_aws":{"Timestamp":"now","CloudWatchMetrics":[{"Namespace":"","Dimensions":[["Formation"]],"Metrics":[{"Name":"Target","Unit":"Dynos"}]}]},"Target":"5"}"#;
    let problems = emf_problems(bad);
    assert_eq!(problems.len(), 5, "{problems:#?}");
}

#[tokio::test]
async fn emf_lines_of_a_real_run_follow_the_specification() {
    // GIVEN a run that scales shop-app web 2→8 from load 742 (100 per dyno)
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![Arc::new(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    // WHEN it becomes EMF lines
    let lines = emf_lines(&report, &w.config.metrics);
    // THEN every line is valid EMF
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for line in &lines {
        assert_eq!(emf_problems(line), Vec::<String>::new(), "{line}");
        assert!(!line.contains('\n'), "one JSON object per line");
    }
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let millis = at(12, 0).timestamp_millis();
    assert!(parsed.iter().all(|p| p["_aws"]["Timestamp"] == millis));
    assert!(parsed
        .iter()
        .all(|p| p["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Dynopilot"));
    // AND it carries exactly the names the deploy templates alarm and plot on
    let names: BTreeSet<(String, String, String)> = parsed
        .iter()
        .flat_map(defined)
        .map(|(n, u, d)| (n, u, d.to_string()))
        .collect();
    let expected: BTreeSet<(String, String, String)> = [
        ("Decisions", "Count", "[[]]"),
        ("Target", "Count", r#"[["Formation"]]"#),
        ("Current", "Count", r#"[["Formation"]]"#),
        ("ScaleEvents", "Count", r#"[["Formation"]]"#),
        ("InputValue", "None", r#"[["Formation","Input"]]"#),
        ("InputEstimate", "Count", r#"[["Formation","Input"]]"#),
    ]
    .iter()
    .map(|(n, u, d)| (n.to_string(), u.to_string(), d.to_string()))
    .collect();
    assert_eq!(names, expected);
    assert_eq!(parsed[0]["Decisions"], 1.0);
    assert_eq!(parsed[1]["Formation"], "shop-app/web");
    assert_eq!(parsed[1]["Target"], 8.0);
    assert_eq!(parsed[1]["Current"], 2.0);
    assert_eq!(parsed[1]["ScaleEvents"], 1.0);
    assert_eq!(parsed[2]["Input"], "load");
    assert_eq!(parsed[2]["InputValue"], 742.0);
    assert_eq!(parsed[2]["InputEstimate"], 8.0);
}

#[tokio::test]
async fn namespace_and_dimension_names_come_from_the_config_and_missing_values_are_left_out() {
    let toml = one_formation(1, 20)
        + "\n[metrics]\nnamespace = \"Shop/Autoscaling\"\nformation_dimension = \"Service\"\ninput_dimension = \"Signal\"\n";
    let source = ScriptedSource::new([Err(SourceError::new(SourceErrorKind::Timeout, "slow"))]);
    let w = world(config(&toml), vec![vec![Arc::new(source)]]);
    w.scaler.set("shop-app", "web", 3);
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    let lines = emf_lines(&report, &w.config.metrics);
    // The failed input has no value and no estimate: no input line, no zero on a graph.
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for line in &lines {
        assert_eq!(emf_problems(line), Vec::<String>::new(), "{line}");
    }
    let formation: Value = serde_json::from_str(&lines[1]).expect("JSON");
    assert_eq!(
        formation["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Shop/Autoscaling"
    );
    assert_eq!(
        formation["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Service"]])
    );
    assert_eq!(formation["Service"], "shop-app/web");
    assert_eq!(formation["ScaleEvents"], 0.0);
}

#[tokio::test]
async fn a_run_with_a_failed_formation_has_no_decisions_point_so_the_dead_man_alarm_fires() {
    let w = world(
        config(&one_formation(1, 20)),
        vec![vec![Arc::new(ScriptedSource::constant(742.0))]],
    );
    w.scaler.set("shop-app", "web", 2);
    w.scaler.fail_next_read(dynopilot::scaler::ScaleError::new(
        dynopilot::scaler::ScaleErrorKind::Unavailable,
        "Heroku answered 503",
    ));
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    let lines = emf_lines(&report, &w.config.metrics);
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| !l.contains("\"Decisions\"")),
        "{lines:#?}"
    );
    for line in &lines {
        assert_eq!(emf_problems(line), Vec::<String>::new(), "{line}");
    }
}

#[tokio::test]
async fn disabled_metrics_print_nothing() {
    let toml = one_formation(1, 20) + "\n[metrics]\nenabled = false\n";
    let w = world(
        config(&toml),
        vec![vec![Arc::new(ScriptedSource::constant(100.0))]],
    );
    w.scaler.set("shop-app", "web", 1);
    let report = w.engine.invoke(&Invocation::at(at(12, 0))).await;
    assert!(emf_lines(&report, &w.config.metrics).is_empty());
}

#[test]
fn bad_metrics_settings_are_refused_with_their_field_paths() {
    let toml = one_formation(1, 20)
        + "\n[metrics]\nnamespace = \"AWS/Lambda\"\nformation_dimension = \"Target\"\n";
    let err = dynopilot::config::parse(&toml)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("metrics.namespace"), "{err}");
    assert!(err.contains("metrics.formation_dimension"), "{err}");
}

#[test]
fn run_with_emf_prints_valid_lines_after_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("shop.toml");
    std::fs::write(
        &file,
        one_formation(1, 4).replace("kind = \"memory\"", "kind = \"file\""),
    )
    .expect("write");
    let out = assert_cmd::Command::cargo_bin("dynopilot")
        .expect("binary built")
        .args([
            "run",
            "--once",
            "--emf",
            "--now",
            "2026-01-05T12:00:00Z",
            "--config",
        ])
        .arg(&file)
        .arg("--state")
        .arg(dir.path().join("state.json"))
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let emf: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('{') && l.contains("\"_aws\""))
        .collect();
    assert_eq!(emf.len(), 3, "{stdout}");
    for line in &emf {
        assert_eq!(emf_problems(line), Vec::<String>::new(), "{line}");
    }
    let report_end = stdout.find("\n}\n").expect("pretty report first");
    assert!(stdout.find(emf[0]).is_some_and(|i| i > report_end));
}
