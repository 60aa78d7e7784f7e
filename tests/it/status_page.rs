//! The status page: HTML structure and escaping from fixture states, a page
//! from a real run against the Heroku fake (through the CLI's
//! `status --html`), and the page loaded in headless Chromium at desktop and
//! phone widths (screenshots kept under the run's output).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use dynopilot::domain::{Action, InputError, Reason, ReasonCode, Sample, ScaleEvent};
use dynopilot::engine;
use dynopilot::status_page::{
    build_view, render, Extras, FormationView, FrontierPoint, FrontierView, InputView, ScaleMark,
    StatusView,
};
use dynopilot::store::{DecisionRecord, EpisodeMark, FormationState, MemoryStateStore, StateStore};

use crate::helpers::{config, HerokuFake};
use crate::status_fixture;

const EVIL: &str = "<script>alert(1)</script>";
const EVIL_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 15, 30, 0).unwrap()
}

/// Two formations: `shop-api/web` with a scheduled min and a capacity input,
/// `shop-api/worker` with a fixed min and two inputs.
const TWO_FORMATIONS: &str = r#"
time_zone = "Europe/Berlin"

[state]
kind = "memory"

[[formations]]
app = "shop-api"
type = "web"
min = { "08:00" = 3, "20:00" = 1 }
max = 12

[[formations.inputs]]
name = "rpm"
type = "constant"
value = 400
per_dyno = 100

[[formations.inputs]]
name = "queue"
type = "constant"
value = 5
per_dyno = 50

[[formations]]
app = "shop-api"
type = "worker"
min = 1
max = 4

[[formations.inputs]]
name = "jobs"
type = "constant"
value = 20
per_dyno = 10
"#;

fn decision(
    at: DateTime<Utc>,
    current: u32,
    target: u32,
    code: ReasonCode,
    text: &str,
) -> DecisionRecord {
    DecisionRecord {
        at,
        current,
        target,
        action: match target.cmp(&current) {
            std::cmp::Ordering::Greater => Action::ScaleUp,
            std::cmp::Ordering::Less => Action::ScaleDown,
            std::cmp::Ordering::Equal => Action::Hold,
        },
        reason: Reason {
            code,
            text: text.to_string(),
        },
        applied: true,
    }
}

/// web: 5 dynos, paused, an open episode, `queue` failing with an API error
/// that holds markup. worker: never run.
fn web_state() -> FormationState {
    let mut state = FormationState::default();
    let rpm = state.window.inputs.entry("rpm".into()).or_default();
    rpm.record_sample(now() - TimeDelta::minutes(1), 480.0);
    let queue = state.window.inputs.entry("queue".into()).or_default();
    queue.record_sample(now() - TimeDelta::minutes(20), 3.0);
    queue.record_failure(
        now() - TimeDelta::minutes(9),
        InputError {
            kind: "malformed".into(),
            message: format!("the API answered {EVIL}"),
        },
    );
    queue.record_failure(
        now() - TimeDelta::minutes(1),
        queue.last_error.clone().unwrap(),
    );
    state.history.events.push(ScaleEvent {
        at: now() - TimeDelta::minutes(40),
        from: 3,
        to: 5,
    });
    state.decisions.push(decision(
        now() - TimeDelta::minutes(40),
        3,
        5,
        ReasonCode::LoadAbove,
        "rpm: capacity: max 480 over 5m / 100 per dyno = 5",
    ));
    state.decisions.push(decision(
        now() - TimeDelta::minutes(1),
        5,
        5,
        ReasonCode::HeldForMissingInput,
        "queue is missing: no scale-down",
    ));
    state.paused_until = Some(now() + TimeDelta::hours(2));
    state.notifications.insert(
        "input_failing:queue".into(),
        EpisodeMark {
            since: now() - TimeDelta::minutes(9),
            last_sent: Some(now() - TimeDelta::minutes(4)),
        },
    );
    state
}

async fn fixture_page(extras: &BTreeMap<String, Extras>) -> (StatusView, String) {
    let config = config(TWO_FORMATIONS);
    let store = MemoryStateStore::new();
    store
        .save("shop-api#web", &web_state(), None)
        .await
        .expect("save");
    let statuses = engine::status(&config.formations, &store).await;
    let view = build_view(&config.formations, &statuses, extras, now(), config.dry_run);
    let html = render(&view);
    (view, html)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The text between the first `from` and the next `to` after it.
fn between<'a>(haystack: &'a str, from: &str, to: &str) -> &'a str {
    let start = haystack
        .find(from)
        .unwrap_or_else(|| panic!("{from:?} not in page"));
    let rest = &haystack[start..];
    let end = rest.find(to).unwrap_or(rest.len());
    &rest[..end]
}

fn with_history() -> BTreeMap<String, Extras> {
    let mut extras = BTreeMap::new();
    extras.insert(
        "shop-api/web".to_string(),
        Extras {
            history: Some(status_fixture::history(now(), 7, "rpm", 100.0, 0.0)),
            frontier: Some(FrontierView {
                ran_at: Some(now() - TimeDelta::hours(3)),
                points: vec![
                    FrontierPoint {
                        label: "per_dyno = 120".into(),
                        cost: 1.05,
                        under_pct: 2.5,
                    },
                    FrontierPoint {
                        label: "per_dyno = 90".into(),
                        cost: 1.3,
                        under_pct: 0.2,
                    },
                ],
                current: Some(FrontierPoint {
                    label: "per_dyno = 100".into(),
                    cost: 1.2,
                    under_pct: 1.1,
                }),
                suggested: Some(FrontierPoint {
                    label: "per_dyno = 90".into(),
                    cost: 1.3,
                    under_pct: 0.2,
                }),
            }),
        },
    );
    extras
}

#[tokio::test]
async fn a_fixture_page_shows_each_formations_facts_inputs_and_two_charts() {
    // GIVEN a stored web formation (paused, an episode, a failing input) and a
    // worker that never ran, with a week of recorded history for web
    let extras = with_history();
    let (view, html) = fixture_page(&extras).await;

    // THEN one HTML document, no script at all, one section per formation
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(count(&html, "<script"), 0, "the page has no JavaScript");
    assert_eq!(count(&html, "<section class=\"formation\""), 2);
    let web = between(&html, "id=\"f0\"", "id=\"f1\"");
    let worker = between(&html, "id=\"f1\"", "</main>");

    // current count, min/max with the schedule applied (15:30 UTC = 16:30 Berlin), paused
    assert!(web.contains("<strong>5</strong> as of"), "{web}");
    assert!(
        web.contains("3 (schedule 08:00 Europe/Berlin) / 12"),
        "min/max now: {}",
        between(web, "Min / max now", "</dd>")
    );
    assert!(web.contains("<span class=\"badge paused\">paused</span> until"));
    assert!(worker.contains("<span class=\"badge running\">no</span>"));
    assert!(worker.contains("unknown (no run recorded yet)"));
    // the last decision with its reason, the open episode
    let last = between(web, "class=\"last-decision\"", "</dd>");
    assert!(last.contains("<code>held_for_missing_input</code>: queue is missing: no scale-down"));
    assert!(web.contains("<code>input_failing:queue</code> since"));
    assert!(worker.contains("None open."));
    // per input: last value and when, the failing one's error
    let inputs = between(web, "<table class=\"inputs\">", "</table>");
    assert_eq!(count(inputs, "<tr>"), 3, "header + rpm + queue");
    assert!(inputs.contains("<td>rpm</td><td>constant / capacity</td><td>480 "));
    assert!(inputs.contains("<span class=\"failing\">failing</span> <code>malformed</code>"));
    assert!(inputs.contains(&format!("the API answered {EVIL_ESCAPED}")));
    assert!(inputs.contains("<span class=\"ok\">ok</span>"));

    // each formation: a 24-hour and a 7-day chart, inline SVG with lines
    for section in [web, worker] {
        for class in ["chart-day", "chart-week"] {
            let fig = between(
                section,
                &format!("<figure class=\"chart {class}\""),
                "</figure>",
            );
            assert_eq!(count(fig, "<svg"), 1, "{class}");
            assert!(fig.contains("viewBox=\"0 0 960 380\""), "{class}: scalable");
        }
    }
    // web's day chart: load, capacity, target, quantity lines and the scales of
    // the last 24 h as markers whose <title> is the reason
    let day = between(web, "<figure class=\"chart chart-day\"", "</figure>");
    assert!(count(day, "<polyline") >= 4, "{}", count(day, "<polyline"));
    for label in [
        "load: rpm (max per 4 min)",
        "capacity of running dynos (× 100, min per 4 min)",
        "target (dynos the rules asked for)",
        "quantity (dynos running)",
    ] {
        assert!(day.contains(label), "{label:?} not in the day chart");
    }
    let history = &view.formations[0].history;
    let in_day = history
        .scales
        .iter()
        .filter(|s| s.at > now() - TimeDelta::hours(24))
        .count();
    assert!(in_day > 3, "the fixture scales during the day: {in_day}");
    let markers = count(day, "<g class=\"scale\"><title>");
    assert!(
        (1..=36).contains(&markers) && markers <= in_day,
        "{markers} markers for {in_day} scales"
    );
    let newest = history.scales.last().expect("scales");
    assert!(
        day.contains(&format!(
            "{} → {} dynos — {}",
            newest.from, newest.to, newest.reason
        )),
        "the newest scale's reason is a hover title"
    );
    let week = between(web, "<figure class=\"chart chart-week\"", "</figure>");
    assert!(
        count(week, "<g class=\"scale\">") <= 21,
        "a week's markers are merged"
    );
    assert!(week.contains("scales:"), "merged markers list their scales");
    // the tuning frontier with the current and suggested points
    let frontier = between(web, "<table class=\"frontier\">", "</table>");
    assert!(frontier.contains("<tr class=\"current\"><td>current</td><td>per_dyno = 100</td><td>1.20×</td><td>1.10 %</td></tr>"));
    assert!(frontier.contains("<tr class=\"suggested\"><td>suggested</td><td>per_dyno = 90</td>"));
    assert_eq!(count(frontier, "<tr class=\"frontier\">"), 2);
    assert!(
        !worker.contains("Tuning frontier"),
        "no tuning run, no frontier"
    );
}

#[tokio::test]
async fn without_recorded_history_the_charts_show_the_stored_window_and_scales() {
    let (view, html) = fixture_page(&BTreeMap::new()).await;
    let web = &view.formations[0].history;
    assert_eq!(
        web.load_input.as_deref(),
        Some("rpm"),
        "the capacity input is the load"
    );
    assert_eq!(web.per_dyno, Some(100.0));
    assert_eq!(
        web.scales,
        vec![ScaleMark {
            at: now() - TimeDelta::minutes(40),
            from: 3,
            to: 5,
            reason: "load_above: rpm: capacity: max 480 over 5m / 100 per dyno = 5".into(),
        }]
    );
    let day = between(
        &html,
        "<figure class=\"chart chart-day\" id=\"f0-day\"",
        "</figure>",
    );
    assert_eq!(count(day, "<g class=\"scale\">"), 1);
    assert!(day.contains("3 → 5 dynos — load_above: rpm: capacity"));
    assert!(day.contains("<circle"), "a lone sample is drawn as a dot");
    assert!(day.contains("stored state only"));
}

/// A view where every string that can come from config or an API holds markup.
fn evil_view() -> StatusView {
    let at = now() - TimeDelta::minutes(5);
    let mut history = status_fixture::history(now(), 1, EVIL, 100.0, 0.3);
    history.source = EVIL.to_string();
    history.scales.push(ScaleMark {
        at,
        from: 1,
        to: 2,
        reason: EVIL.to_string(),
    });
    let formation = FormationView {
        name: EVIL.to_string(),
        app: EVIL.to_string(),
        process_type: EVIL.to_string(),
        current: Some((2, at)),
        min_now: EVIL.to_string(),
        max_now: EVIL.to_string(),
        paused_until: None,
        pending: None,
        decisions: vec![decision(at, 1, 2, ReasonCode::LoadAbove, EVIL)],
        episodes: vec![(
            EVIL.to_string(),
            EpisodeMark {
                since: at,
                last_sent: None,
            },
        )],
        inputs: vec![InputView {
            name: EVIL.to_string(),
            type_name: EVIL.to_string(),
            rule: EVIL.to_string(),
            last: Some(Sample { at, value: 1.5 }),
            last_poll: Some(at),
            failing_since: Some(at),
            error: Some(InputError {
                kind: EVIL.to_string(),
                message: EVIL.to_string(),
            }),
        }],
        history,
        frontier: Some(FrontierView {
            ran_at: None,
            points: vec![],
            current: Some(FrontierPoint {
                label: EVIL.to_string(),
                cost: 1.0,
                under_pct: 0.0,
            }),
            suggested: None,
        }),
        error: Some(EVIL.to_string()),
    };
    StatusView {
        now: now(),
        dry_run: false,
        formations: vec![formation.clone(), formation],
    }
}

#[test]
fn every_string_from_config_or_an_api_is_shown_as_text() {
    let html = render(&evil_view());
    assert_eq!(count(&html, "<script"), 0, "markup never passes through");
    // name (nav, heading, two chart titles), app, type, min, max, reason (last
    // decision, decisions table, marker), episode, input name/type/rule/kind/
    // message, load input (2 labels + 2 captions), source (2 captions),
    // frontier label, error: all there, escaped.
    let per_formation = count(&html, EVIL_ESCAPED) / 2;
    assert!(
        per_formation >= 20,
        "{per_formation} escaped strings per formation"
    );
    // Quotes too, so an attribute cannot be closed early.
    let quoted = StatusView {
        formations: vec![FormationView {
            name: "a\"b'c".into(),
            ..evil_view().formations[0].clone()
        }],
        ..evil_view()
    };
    let html = render(&quoted);
    assert!(html.contains("a&quot;b&#39;c"));
    assert!(!html.contains("a\"b'c"));
}

#[test]
fn a_page_without_formations_says_so() {
    let html = render(&StatusView {
        now: now(),
        dry_run: true,
        formations: vec![],
    });
    assert!(html.contains("No formation is configured."));
    assert!(html.contains("<strong>dry run</strong>"));
}

// ---------------------------------------------------------------------------
// A real run against the Heroku fake, then `dynopilot status --html`
// ---------------------------------------------------------------------------

const TOKEN: &str = "01234567-89ab-cdef-0123-456789abcdef";

#[tokio::test]
async fn status_html_after_a_real_run_against_the_heroku_fake_shows_the_scale_and_its_reason() {
    // GIVEN Heroku runs shop-api with web at 2, and a config (file state) that wants 4
    let heroku = HerokuFake::start(TOKEN).await;
    heroku.app("shop-api", &[("web", 2)], 1, 1).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("dynopilot.toml");
    let state = dir.path().join("state.json");
    std::fs::write(
        &cfg,
        format!(
            r#"
dry_run = false

[scaler]
kind = "heroku"
token = "env:DYNOPILOT_TEST_STATUS_PAGE_TOKEN"
base_url = "{}"

[state]
kind = "file"
path = "{}"

[[formations]]
app = "shop-api"
type = "web"
min = 1
max = 10

[[formations.inputs]]
name = "traffic"
type = "constant"
value = 400
per_dyno = 100
"#,
            heroku.uri(),
            state.display()
        ),
    )
    .expect("write config");

    // WHEN one scheduled run scales it, and `status --html` writes the page
    let run = Command::cargo_bin("dynopilot")
        .expect("binary")
        .args(["run", "--once", "--config"])
        .arg(&cfg)
        .env("DYNOPILOT_TEST_STATUS_PAGE_TOKEN", TOKEN)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    let report: serde_json::Value =
        serde_json::from_slice(&run.get_output().stdout).expect("report JSON");
    assert_eq!(report["formations"][0]["outcome"], "scaled_up", "{report}");
    assert_eq!(heroku.quantity("shop-api", "web"), Some(4));
    let page = dir.path().join("status.html");
    Command::cargo_bin("dynopilot")
        .expect("binary")
        .args(["status", "--config"])
        .arg(&cfg)
        .arg("--html")
        .arg(&page)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();

    // THEN the page shows the count Heroku now has, the decision with its
    // reason, the input's value, and the scale as a marker in the day chart
    let html = std::fs::read_to_string(&page).expect("page written");
    assert!(html.contains("<strong>4</strong> as of"), "{html}");
    let last = between(&html, "class=\"last-decision\"", "</dd>");
    assert!(
        last.contains("<strong>scale up</strong> 2 → 4 <code>load_above</code>: traffic: capacity"),
        "{last}"
    );
    assert!(html.contains("<td>traffic</td><td>constant / capacity</td><td>400 "));
    let day = between(&html, "<figure class=\"chart chart-day\"", "</figure>");
    assert!(day.contains("<g class=\"scale\"><title>"), "{day}");
    assert!(day.contains("2 → 4 dynos — load_above: traffic: capacity"));
    // and the charts are drawn from the recorded per-minute history (the
    // run's minute, still in the state's hour buffer), not the window alone
    assert!(html.contains("recorded history"), "{html}");
    assert!(!html.contains("stored state only"), "{html}");
    heroku.verify().await;
    keep_artifact("after-heroku-run.html", &html);
}

// ---------------------------------------------------------------------------
// Headless Chromium
// ---------------------------------------------------------------------------

/// The browser, from `DYNOPILOT_TEST_CHROMIUM` (tests/run sets it).
fn chromium() -> PathBuf {
    match std::env::var_os("DYNOPILOT_TEST_CHROMIUM") {
        Some(p) if Path::new(&p).is_file() => PathBuf::from(p),
        other => panic!(
            "headless Chromium is needed for the status page tests: run tests/run (it installs \
             the Debian package chromium-headless-shell and exports DYNOPILOT_TEST_CHROMIUM), or \
             apt-get install -y chromium-headless-shell && export \
             DYNOPILOT_TEST_CHROMIUM=$(command -v chromium-headless-shell) (got {other:?})"
        ),
    }
}

/// Where screenshots and pages go: the run's output folder
/// (`DYNOPILOT_TEST_ARTIFACTS`, set by tests/run), else cargo's target/tmp.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("DYNOPILOT_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
        .join("status-page");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

fn keep_artifact(name: &str, text: &str) {
    std::fs::write(artifacts().join(name), text).expect("write artifact");
}

/// One headless Chromium run: stdout, and the console messages it logged.
fn run_chromium(args: &[&str], url: &str) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().expect("profile dir");
    let out = Process::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// What the harness measured of each chart, and of the page's width.
#[derive(Debug, serde::Deserialize)]
struct Measured {
    charts: Vec<ChartBox>,
    #[serde(rename = "scrollWidth")]
    scroll_width: f64,
    #[serde(rename = "innerWidth")]
    inner_width: f64,
}

#[derive(Debug, serde::Deserialize)]
struct ChartBox {
    id: String,
    left: f64,
    width: f64,
    height: f64,
    visibility: String,
    display: String,
    lines: usize,
    markers: usize,
}

/// Load `page` in a frame of a harness page that measures every chart
/// (the status page itself has no script), at `width` × `height`.
fn measure(page: &Path, width: u32, height: u32, name: &str) -> (Measured, Vec<String>) {
    let harness = artifacts().join(format!("harness-{name}.html"));
    std::fs::write(
        &harness,
        format!(
            r#"<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" src="file://{}" style="border:0;width:100%;height:{height}px"></iframe>
<script>
document.getElementById('page').addEventListener('load', function () {{
  var d = this.contentDocument, w = d.defaultView, charts = [];
  d.querySelectorAll('figure.chart').forEach(function (f) {{
    var s = f.querySelector('svg'), r = s.getBoundingClientRect(), cs = w.getComputedStyle(s);
    charts.push({{id: f.id, left: r.left, width: r.width, height: r.height,
      visibility: cs.visibility, display: cs.display,
      lines: Array.prototype.filter.call(s.querySelectorAll('polyline'), function (p) {{
        var b = p.getBoundingClientRect(); return b.width > 0 || b.height > 0; }}).length,
      markers: s.querySelectorAll('g.scale > title').length}});
  }});
  var pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify({{charts: charts,
    scrollWidth: d.documentElement.scrollWidth, innerWidth: w.innerWidth}});
  document.body.appendChild(pre);
}});
</script></body></html>"#,
            page.display()
        ),
    )
    .expect("write harness");
    let (dom, console) = run_chromium(
        &[
            "--allow-file-access-from-files",
            &format!("--window-size={width},{height}"),
            "--dump-dom",
        ],
        &format!("file://{}", harness.display()),
    );
    let json = between(&dom, "<pre id=\"measured\">", "</pre>")
        .trim_start_matches("<pre id=\"measured\">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let measured =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("harness output {json:?}: {e}"));
    (measured, console)
}

/// A screenshot of `page` at `width` × `height`; returns the PNG's path.
fn screenshot(page: &Path, width: u32, height: u32, name: &str) -> PathBuf {
    let png = artifacts().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let (_, console) = run_chromium(
        &[
            &format!("--window-size={width},{height}"),
            &format!("--screenshot={}", png.display()),
        ],
        &format!("file://{}", page.display()),
    );
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(png.is_file(), "no screenshot at {}", png.display());
    png
}

/// Pixels of the chart's target line colour (orange) and load colour (blue).
fn chart_pixels(png: &Path) -> (usize, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(png).expect("open png"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    let near = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 24);
    let (mut orange, mut blue) = (0, 0);
    for p in buf[..info.buffer_size()].chunks(channels) {
        if near(p, [240, 140, 0]) {
            orange += 1;
        }
        if near(p, [60, 110, 200]) {
            blue += 1;
        }
    }
    (orange, blue)
}

#[tokio::test]
async fn the_page_loads_in_headless_chromium_with_visible_charts_at_desktop_and_phone_widths() {
    let chromium_path = chromium();
    let (_, html) = fixture_page(&with_history()).await;
    let page = artifacts().join("fixture.html");
    std::fs::write(&page, &html).expect("write page");

    for (name, width, height) in [("desktop", 1280, 4200), ("phone", 390, 6000)] {
        // every chart is laid out, visible, with its lines and markers drawn
        let (m, console) = measure(&page, width, height, name);
        assert!(console.is_empty(), "{name}: console messages: {console:?}");
        assert_eq!(m.charts.len(), 4, "{name}: two charts per formation: {m:?}");
        for c in &m.charts {
            assert!(c.width >= 300.0 && c.height >= 100.0, "{name}: {c:?}");
            assert!(
                c.left >= 0.0 && c.left < m.inner_width,
                "{name}: on screen: {c:?}"
            );
            assert_eq!(
                (c.visibility.as_str(), c.display.as_str()),
                ("visible", "block")
            );
            assert!(c.lines >= 1, "{name}: {c:?}");
        }
        let web_day = m
            .charts
            .iter()
            .find(|c| c.id == "f0-day")
            .expect("web day chart");
        assert!(
            web_day.lines >= 4 && web_day.markers >= 1,
            "{name}: {web_day:?}"
        );
        // the page itself never scrolls sideways (a wide chart scrolls in its frame)
        assert!(
            m.scroll_width <= m.inner_width,
            "{name}: page {} wider than the window {}",
            m.scroll_width,
            m.inner_width
        );

        // and the screenshot shows the chart colours (nothing else on the page
        // has them; thin lines at phone width leave fewer exact pixels)
        let png = screenshot(&page, width, height, &format!("status-{name}"));
        let (orange, blue) = chart_pixels(&png);
        assert!(
            orange > 50 && blue > 50,
            "{name}: orange {orange}, blue {blue} pixels"
        );
    }
    eprintln!(
        "status page screenshots in {} (chromium {})",
        artifacts().display(),
        chromium_path.display()
    );
}

#[test]
fn the_console_check_sees_errors() {
    // The harness's own check, on a page that logs an error: it must be seen.
    let page = artifacts().join("console-error.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>console.error('boom'); missing();</script></body></html>",
    )
    .expect("write");
    let (_, console) = run_chromium(&["--dump-dom"], &format!("file://{}", page.display()));
    assert!(
        console.iter().any(|l| l.contains("missing is not defined")),
        "{console:?}"
    );
}

/// `DYNOPILOT_WRITE_DOCS_SCREENSHOT=1 cargo test --test it status_page::docs_screenshot`
/// rewrites docs/status-page.png (small: the top of the fixture page, phone-ish width).
#[tokio::test]
async fn docs_screenshot() {
    let (_, html) = fixture_page(&with_history()).await;
    let page = artifacts().join("docs.html");
    std::fs::write(&page, &html).expect("write page");
    let png = screenshot(&page, 720, 820, "docs-status-page");
    let size = std::fs::metadata(&png).expect("png").len();
    assert!(size < 150 * 1024, "docs screenshot is {size} bytes");
    if std::env::var_os("DYNOPILOT_WRITE_DOCS_SCREENSHOT").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
        std::fs::copy(&png, &docs).expect("copy to docs");
    }
}
