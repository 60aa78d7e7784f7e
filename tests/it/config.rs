//! Config validation: every problem reported with its field path, all at once.

use dynopilot::config::{self, ConfigError, DEMO_CONFIG};

fn errors(toml: &str) -> Vec<String> {
    match config::parse(toml) {
        Ok(_) => panic!("config should have been refused"),
        Err(e) => e.field_errors().iter().map(|e| e.to_string()).collect(),
    }
}

pub const FIVE_MISTAKES: &str = r#"
dry_run = true
colour = "blue"                  # 1: unknown key

[[formations]]
app = "shop-app"
type = "web"
min = 5                          # 2: min > max
max = 3
scale_down_cooloff = "five minutes"   # 3: bad duration

[[formations.inputs]]
name = "traffic"
type = "sine"
per_dyno = -10                   # 4: negative
amplitude = 100
period = "1h"

[[formations.inputs]]
name = "queue"
type = "carrier_pigeon"          # 5: unknown input type
"#;

#[test]
fn five_mistakes_give_five_errors_naming_their_fields() {
    let errors = errors(FIVE_MISTAKES);
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let expect = [
        "colour: unknown key",
        "formations[0].min: min (5) must not be greater than max (3)",
        "formations[0].scale_down_cooloff: is not a duration",
        "formations[0].inputs[0].per_dyno: must be > 0, found -10",
        "formations[0].inputs[1].type: unknown input type \"carrier_pigeon\"",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|got| got.starts_with(e)),
            "missing {e:?} in {errors:#?}"
        );
    }
}

#[test]
fn the_embedded_demo_config_is_valid() {
    let c = config::parse(DEMO_CONFIG).expect("demo config");
    assert!(c.dry_run);
    assert_eq!(c.formations.len(), 1);
    assert_eq!(c.formations[0].name, "demo-app/web");
    assert_eq!(c.formations[0].inputs[0].type_name, "sine");
}

#[test]
fn defaults_are_filled_in() {
    let c = config::parse(&crate::helpers::one_formation(1, 4)).expect("valid");
    let p = &c.formations[0].policy;
    assert_eq!(p.scale_up_cooloff.num_seconds(), 0);
    assert_eq!(p.scale_down_cooloff.num_seconds(), 300);
    assert_eq!(p.max_step_up, None);
    assert_eq!(p.max_step_down, Some(1));
    assert_eq!(p.hysteresis.num_seconds(), 300);
    assert_eq!(p.fallback_after.num_seconds(), 600);
    assert_eq!(p.fallback, None);
    assert_eq!(c.formations[0].inputs[0].interval.num_seconds(), 60);
    assert_eq!(c.formations[0].inputs[0].timeout.num_seconds(), 10);
    assert!(!c.dry_run);
    assert_eq!(c.time_zone.name(), "UTC");
}

#[test]
fn an_empty_formation_list_is_refused() {
    assert_eq!(
        errors("dry_run = true\n"),
        ["formations: at least one [[formations]] is required"]
    );
    assert_eq!(
        errors("formations = []\n"),
        ["formations: at least one [[formations]] is required"]
    );
}

#[test]
fn duplicate_formation_and_input_names_are_refused() {
    let toml = r#"
[[formations]]
app = "shop-app"
type = "web"
max = 3
[[formations.inputs]]
name = "a"
type = "constant"
value = 1
per_dyno = 1
[[formations.inputs]]
name = "a"
type = "constant"
value = 1
per_dyno = 1

[[formations]]
app = "shop-app"
type = "web"
max = 3
[[formations.inputs]]
name = "a"
type = "constant"
value = 1
per_dyno = 1
"#;
    let errors = errors(toml);
    assert!(
        errors.contains(&"formations[0].inputs[1].name: duplicate input name \"a\"".to_string()),
        "{errors:#?}"
    );
    assert!(
        errors
            .contains(&"formations[1].name: duplicate formation name \"shop-app/web\"".to_string()),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(
            |e| e.starts_with("formations[1].type: formation shop-app web is configured twice")
        ),
        "{errors:#?}"
    );
}

#[test]
fn wrong_types_and_bad_values_name_their_fields() {
    let toml = r#"
time_zone = "Mars/Olympus"
[[formations]]
app = "Shop_App"
type = "web worker"
min = "one"
max = 3
max_step_down = 0
fallback = 9
hysteresis = -5
[[formations.inputs]]
name = "a"
type = "sine"
per_dyno = 10
amplitude = "big"
interval = "0s"
"#;
    let errors = errors(toml);
    for want in [
        "time_zone: unknown IANA time zone \"Mars/Olympus\"",
        "formations[0].app: \"Shop_App\" is not a Heroku app name",
        "formations[0].type: \"web worker\" is not a process type",
        "formations[0].min: must be a whole number or a schedule",
        "formations[0].max_step_down: must be >= 1",
        "formations[0].hysteresis: must be >= 0, found -5",
        "formations[0].inputs[0].amplitude: must be a number, found a string",
        "formations[0].inputs[0].period: is required",
        "formations[0].inputs[0].interval: must be > 0",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing {want:?} in {errors:#?}"
        );
    }
}

#[test]
fn missing_required_keys_are_named() {
    let toml = r#"
[[formations]]
[[formations.inputs]]
type = "constant"
value = 1
"#;
    let errors = errors(toml);
    for want in [
        "formations[0].app: is required",
        "formations[0].type: is required",
        "formations[0].max: is required",
        "formations[0].inputs[0].name: is required",
        "formations[0].inputs[0].per_dyno: is required",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing {want:?} in {errors:#?}"
        );
    }
}

#[test]
fn unknown_keys_are_reported_at_every_level() {
    let toml = r#"
[state]
kind = "file"
paht = "x.json"
[[formations]]
app = "shop-app"
type = "web"
max = 3
hysteresys = "5m"
[[formations.inputs]]
name = "a"
type = "constant"
value = 1
per_dyno = 1
amplitude = 3
"#;
    let errors = errors(toml);
    assert_eq!(
        errors,
        [
            "state.paht: unknown key",
            "formations[0].inputs[0].amplitude: unknown key",
            "formations[0].hysteresys: unknown key",
        ]
    );
}

#[test]
fn step_limits_accept_unlimited() {
    let toml = crate::helpers::one_formation(1, 4).replace(
        "max = 4",
        "max = 4\nmax_step_down = \"unlimited\"\nmax_step_up = 3",
    );
    let c = config::parse(&toml).expect("valid");
    assert_eq!(c.formations[0].policy.max_step_down, None);
    assert_eq!(c.formations[0].policy.max_step_up, Some(3));
}

#[test]
fn invalid_toml_syntax_is_reported_with_its_location() {
    match config::parse("[[formations]\napp = 1") {
        Err(ConfigError::Syntax(msg)) => assert!(msg.contains("line 1"), "{msg}"),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn secret_references_refuse_literal_tokens() {
    use dynopilot::config::SecretRef;
    assert!(SecretRef::parse("env:HEROKU_API_TOKEN").is_ok());
    assert!(SecretRef::parse("ssm:/dynopilot/heroku").is_ok());
    assert!(SecretRef::parse("0123-abcd-literal-token").is_err());
}

/// One formation with `extra` in its formation table and `top` above it.
fn with_keys(top: &str, formation: &str) -> String {
    format!(
        "{top}\n[[formations]]\napp = \"shop-app\"\ntype = \"web\"\nmax = 4\n{formation}\n\n[[formations.inputs]]\nname = \"load\"\ntype = \"constant\"\nvalue = 1\nper_dyno = 1\n"
    )
}

#[test]
fn durations_beyond_their_ceiling_are_refused_by_field_not_a_panic_at_run_time() {
    // Each of these passed check-config and then overflowed date arithmetic
    // on every run, or panicked in check-config itself.
    let cases = [
        ("", "hysteresis = 9223372036854776", "formations[0].hysteresis: 9223372036854776s is too long: at most 366d for any duration"),
        ("", "hysteresis = \"270000y\"", "formations[0].hysteresis: \"270000y\" is too long"),
        ("", "hysteresis = \"7h\"", "formations[0].hysteresis: must be at most 6h (every sample in the window is stored between runs), found 7h"),
        ("", "scale_down_cooloff = \"2d\"", "formations[0].scale_down_cooloff: must be at most 1d"),
        ("[notifications]\ntoo_rapid_window = \"300000y\"", "", "notifications.too_rapid_window: \"300000y\" is too long"),
        ("[notifications]\nrenotify_after = \"31d\"", "", "notifications.renotify_after: must be at most 30d"),
        ("[scaler]\nkind = \"heroku\"\ntoken = \"env:T\"\nretry_budget = \"300000y\"", "", "scaler.retry_budget: \"300000y\" is too long"),
        ("[scaler]\nkind = \"heroku\"\ntoken = \"env:T\"\nretry_budget = \"2m\"", "", "scaler.retry_budget: must be at most 1m (retries run inside the invocation)"),
        ("fetch_deadline = \"15m\"", "", "fetch_deadline: must be at most 14m"),
    ];
    for (top, formation, want) in cases {
        let found = errors(&with_keys(top, formation));
        assert!(
            found.iter().any(|e| e.starts_with(want)),
            "{top} {formation}: expected {want:?} in {found:#?}"
        );
    }
}

#[test]
fn the_longest_durations_allowed_still_run() {
    let config = config::parse(&with_keys(
        "fetch_deadline = \"14m\"\n[notifications]\ntoo_rapid_window = \"7d\"\nrenotify_after = \"30d\"",
        "hysteresis = \"6h\"\nscale_up_cooloff = \"1d\"\nscale_down_cooloff = \"1d\"\nfallback_after = \"1d\"",
    ))
    .expect("at the ceiling is allowed");
    let now = chrono::Utc::now();
    let window = dynopilot::domain::Window::default();
    let history = dynopilot::domain::ScaleHistory::default();
    let d = dynopilot::domain::decide(&config.formations[0].policy, &window, 2, &history, now);
    assert!(d.target <= 4);
}
