//! The status page: one server-rendered HTML page per request, no scripts.
//!
//! [`build_view`] fills a [`StatusView`] from the config, what
//! [`crate::engine::status`] read and (when recorded) per-minute history;
//! [`render`] turns it into a self-contained HTML document with inline SVG
//! charts drawn by the simulator's plotting code
//! ([`crate::simulate::plot::plot_series`]). Rendering is pure (no I/O, no
//! clock: `view.now` is the page's time), so it is tested on fixtures.
//!
//! Every string that came from config or an API is escaped; the page has no
//! script, no external resource and no form, and works without JavaScript.

mod build;
mod load;
mod view;

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Timelike, Utc};

use crate::domain::Action;
use crate::simulate::plot::{
    escape_xml as esc, minutes_per_bucket, plot_series, Marker, PlotLabels, PlotSeries, PlotStyle,
    SeriesMinute,
};

pub use build::{build_view, history_view, load_input, Extras};
pub use load::{recorded_extras, PAGE_SPAN};
pub use view::{
    FormationView, FrontierPoint, FrontierView, HistoryMinute, HistoryView, InputView, ScaleMark,
    StatusView,
};

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// The two chart spans: last 24 hours in 4-minute buckets with a scale
/// marker per 40 minutes at most, 7 days in 30-minute buckets and a marker
/// per 8 hours at most (nearby scales share one, its hover text lists them).
const SPANS: [(&str, &str, i64, usize, usize); 2] = [
    ("day", "Last 24 hours", 24 * 60, 360, 36),
    ("week", "Last 7 days", 7 * 24 * 60, 336, 21),
];

const CHART_WIDTH: u32 = 960;
const CHART_HEIGHT: u32 = 380;

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d1d1f;background:#f4f5f7}\
header{background:#1f2a44;color:#fff;padding:14px 20px}\
header h1{margin:0;font-size:1.35em}\
header p{margin:4px 0 0;color:#c9d2e6}\
nav{padding:8px 20px;background:#e6e9ef}\
nav a{margin-right:14px;color:#1f4fa8}\
main{padding:12px;max-width:1100px;margin:0 auto}\
section.formation{background:#fff;border:1px solid #d8dbe2;border-radius:6px;padding:12px 16px;margin:0 0 18px}\
h2{margin:0 0 8px;font-size:1.25em;overflow-wrap:anywhere}\
h2 small{font-weight:normal;color:#555}\
h3{margin:16px 0 6px;font-size:1.05em}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0}\
dl.facts dt{color:#555}\
dl.facts dd{margin:0;overflow-wrap:anywhere}\
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:.85em;font-weight:600}\
.paused{background:#fff1c2;color:#7a5200}\
.running{background:#dff3e4;color:#1c6b33}\
.failing,.error{color:#b3261e}\
.ok{color:#1c6b33}\
.table-wrap{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:.92em}\
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eceef2;vertical-align:top}\
td{overflow-wrap:anywhere}\
figure.chart{margin:6px 0 10px;overflow-x:auto}\
figure.chart svg{display:block;width:100%;min-width:560px;height:auto}\
figure.chart figcaption{font-size:.85em;color:#555}\
.muted{color:#666}\
@media (max-width:600px){main{padding:6px}section.formation{padding:10px}}";

/// The page as HTML.
pub fn render(view: &StatusView) -> String {
    let mut out = String::with_capacity(64 * 1024 * (1 + view.formations.len()));
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"robots\" content=\"noindex, nofollow\">\n");
    out.push_str("<title>dynopilot status</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header><h1>dynopilot status</h1><p>");
    let _ = write!(
        out,
        "As of <time datetime=\"{}\">{}</time> · {} formation(s)",
        view.now.to_rfc3339(),
        when(view.now),
        view.formations.len()
    );
    if view.dry_run {
        out.push_str(" · <strong>dry run</strong>: decisions are reported, never applied");
    }
    out.push_str("</p></header>\n");
    if view.formations.len() > 1 {
        out.push_str("<nav aria-label=\"formations\">");
        for (i, f) in view.formations.iter().enumerate() {
            let _ = write!(out, "<a href=\"#f{i}\">{}</a>", esc(&f.name));
        }
        out.push_str("</nav>\n");
    }
    out.push_str("<main>\n");
    if view.formations.is_empty() {
        out.push_str("<p>No formation is configured.</p>\n");
    }
    for (i, f) in view.formations.iter().enumerate() {
        formation(&mut out, i, f, view.now);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = now - at;
    let s = d.num_seconds();
    if s < 0 {
        let ahead = -s;
        return match ahead {
            0..=89 => format!("in {ahead} s"),
            90..=5399 => format!("in {} min", (ahead + 30) / 60),
            5400..=172_799 => format!("in {} h", (ahead + 1800) / 3600),
            _ => format!("in {} days", ahead / 86_400),
        };
    }
    match s {
        0..=89 => format!("{s} s ago"),
        90..=5399 => format!("{} min ago", (s + 30) / 60),
        5400..=172_799 => format!("{} h ago", (s + 1800) / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

fn time(out: &mut String, at: DateTime<Utc>, now: DateTime<Utc>) {
    let _ = write!(
        out,
        "<time datetime=\"{}\">{}</time> <span class=\"muted\">({})</span>",
        at.to_rfc3339(),
        when(at),
        ago(at, now)
    );
}

fn action(a: Action) -> &'static str {
    match a {
        Action::ScaleUp => "scale up",
        Action::ScaleDown => "scale down",
        Action::Hold => "hold",
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn formation(out: &mut String, i: usize, f: &FormationView, now: DateTime<Utc>) {
    let _ = write!(
        out,
        "<section class=\"formation\" id=\"f{i}\" aria-labelledby=\"f{i}-name\">\n<h2 id=\"f{i}-name\">{} <small>{} · {}</small></h2>\n",
        esc(&f.name),
        esc(&f.app),
        esc(&f.process_type)
    );
    if let Some(e) = &f.error {
        let _ = writeln!(
            out,
            "<p class=\"error\">The stored state could not be read: {}</p>",
            esc(e)
        );
    }
    out.push_str("<dl class=\"facts\">\n<dt>Dynos now</dt><dd class=\"count\">");
    match f.current {
        Some((q, at)) => {
            let _ = write!(out, "<strong>{q}</strong> as of ");
            time(out, at, now);
        }
        None => out.push_str("unknown (no run recorded yet)"),
    }
    let _ = write!(
        out,
        "</dd>\n<dt>Min / max now</dt><dd class=\"bounds\">{} / {}</dd>\n<dt>Paused</dt><dd class=\"paused-state\">",
        esc(&f.min_now),
        esc(&f.max_now)
    );
    match f.paused_until {
        Some(until) => {
            out.push_str("<span class=\"badge paused\">paused</span> until ");
            time(out, until, now);
            out.push_str(": runs decide and report but do not scale");
        }
        None => out.push_str("<span class=\"badge running\">no</span>"),
    }
    out.push_str("</dd>\n");
    if let Some(p) = &f.pending {
        let _ = write!(
            out,
            "<dt>Pending scale</dt><dd>{} → {} claimed ",
            p.from, p.to
        );
        time(out, p.at, now);
        out.push_str("</dd>\n");
    }
    out.push_str("<dt>Last decision</dt><dd class=\"last-decision\">");
    match f.decisions.last() {
        Some(d) => {
            let _ = write!(
                out,
                "<strong>{}</strong> {} → {}{} <code>{}</code>: {} — ",
                action(d.action),
                d.current,
                d.target,
                if d.applied || d.action == Action::Hold {
                    ""
                } else {
                    " (not applied)"
                },
                d.reason.code.as_str(),
                esc(&d.reason.text)
            );
            time(out, d.at, now);
        }
        None => out.push_str("none yet"),
    }
    out.push_str("</dd>\n</dl>\n");

    out.push_str("<h3>Open notification episodes</h3>\n");
    if f.episodes.is_empty() {
        out.push_str("<p class=\"episodes muted\">None open.</p>\n");
    } else {
        out.push_str("<ul class=\"episodes\">\n");
        for (key, mark) in &f.episodes {
            let _ = write!(out, "<li><code>{}</code> since ", esc(key));
            time(out, mark.since, now);
            match mark.last_sent {
                Some(sent) => {
                    out.push_str(", last mailed ");
                    time(out, sent, now);
                }
                None => out.push_str(", not mailed yet"),
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }

    inputs(out, f, now);
    for (class, heading, span, max_buckets, max_markers) in SPANS {
        let style = PlotStyle {
            width: CHART_WIDTH,
            height: CHART_HEIGHT,
            max_buckets,
            simplify_steps: true,
            max_markers,
            light_lines: false,
            axis_labels: Some((8, 6)),
        };
        chart(out, i, f, now, class, heading, span, style);
    }
    decisions(out, f, now);
    if let Some(fr) = &f.frontier {
        frontier(out, fr, now);
    }
    out.push_str("</section>\n");
}

fn inputs(out: &mut String, f: &FormationView, now: DateTime<Utc>) {
    out.push_str("<h3>Inputs</h3>\n<div class=\"table-wrap\"><table class=\"inputs\">\n<thead><tr><th>Input</th><th>Type / rule</th><th>Last value</th><th>Read</th><th>Status</th></tr></thead>\n<tbody>\n");
    for input in &f.inputs {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{} / {}</td><td>",
            esc(&input.name),
            esc(&input.type_name),
            esc(&input.rule)
        );
        match &input.last {
            Some(s) => {
                let _ = write!(out, "{} <span class=\"muted\">at ", number(s.value));
                time(out, s.at, now);
                out.push_str("</span>");
            }
            None => out.push_str("<span class=\"muted\">none</span>"),
        }
        out.push_str("</td><td>");
        match input.last_poll {
            Some(at) => time(out, at, now),
            None => out.push_str("<span class=\"muted\">never</span>"),
        }
        out.push_str("</td><td>");
        match (&input.error, input.failing_since) {
            (Some(e), since) => {
                let _ = write!(
                    out,
                    "<span class=\"failing\">failing</span> <code>{}</code>: {}",
                    esc(&e.kind),
                    esc(&e.message)
                );
                if let Some(since) = since {
                    out.push_str(" — since ");
                    time(out, since, now);
                }
            }
            (None, Some(since)) => {
                out.push_str("<span class=\"failing\">failing</span> since ");
                time(out, since, now);
            }
            (None, None) if input.last_poll.is_some() => {
                out.push_str("<span class=\"ok\">ok</span>");
            }
            (None, None) => out.push_str("<span class=\"muted\">not polled yet</span>"),
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn decisions(out: &mut String, f: &FormationView, now: DateTime<Utc>) {
    if f.decisions.is_empty() {
        return;
    }
    out.push_str("<h3>Recent decisions</h3>\n<div class=\"table-wrap\"><table class=\"decisions\">\n<thead><tr><th>When</th><th>Action</th><th>Count</th><th>Reason</th></tr></thead>\n<tbody>\n");
    for d in f.decisions.iter().rev().take(10) {
        out.push_str("<tr><td>");
        time(out, d.at, now);
        let _ = writeln!(
            out,
            "</td><td>{}{}</td><td>{} → {}</td><td><code>{}</code>: {}</td></tr>",
            action(d.action),
            if d.applied || d.action == Action::Hold {
                ""
            } else {
                " (not applied)"
            },
            d.current,
            d.target,
            d.reason.code.as_str(),
            esc(&d.reason.text)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn frontier(out: &mut String, fr: &FrontierView, now: DateTime<Utc>) {
    out.push_str("<h3>Tuning frontier</h3>\n");
    if let Some(at) = fr.ran_at {
        out.push_str("<p class=\"muted\">Tuned ");
        time(out, at, now);
        out.push_str("</p>\n");
    }
    out.push_str("<div class=\"table-wrap\"><table class=\"frontier\">\n<thead><tr><th></th><th>Settings</th><th>Cost vs oracle</th><th>Under-provisioned</th></tr></thead>\n<tbody>\n");
    let row = |out: &mut String, what: &str, p: &FrontierPoint| {
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{:.2}×</td><td>{:.2} %</td></tr>",
            what.split_whitespace().next().unwrap_or("point"),
            what,
            esc(&p.label),
            p.cost,
            p.under_pct
        );
    };
    if let Some(p) = &fr.current {
        row(out, "current", p);
    }
    if let Some(p) = &fr.suggested {
        row(out, "suggested", p);
    }
    for p in &fr.points {
        row(out, "frontier point", p);
    }
    out.push_str("</tbody></table></div>\n");
}

/// The chart's series: `span` minutes ending with the minute of `now`.
pub fn chart_series(history: &HistoryView, now: DateTime<Utc>, span: i64) -> PlotSeries {
    let end = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now)
        + TimeDelta::minutes(1);
    let start = end - TimeDelta::minutes(span);
    let len = usize::try_from(span).unwrap_or(0);
    let mut minutes = vec![SeriesMinute::default(); len];
    for m in &history.minutes {
        let i = (m.at - start).num_minutes();
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| minutes.get_mut(i)) {
            *slot = SeriesMinute {
                load: m.load.filter(|v| v.is_finite()),
                capacity: m.capacity.filter(|v| v.is_finite()),
                target: m.target,
                quantity: m.quantity,
            };
        }
    }
    let per_dyno = history
        .per_dyno
        .filter(|p| p.is_finite() && *p > 0.0)
        .unwrap_or_else(|| {
            // No load-per-dyno setting: scale the dyno axis so both fit.
            let load = minutes.iter().filter_map(|m| m.load).fold(0.0, f64::max);
            let dynos = minutes
                .iter()
                .filter_map(|m| m.quantity.max(m.target))
                .max()
                .unwrap_or(0);
            if load > 0.0 && dynos > 0 {
                load / f64::from(dynos)
            } else {
                1.0
            }
        });
    let markers = history
        .scales
        .iter()
        .filter(|s| s.at >= start && s.at < end)
        .map(|s| Marker {
            minute: (s.at - start).num_seconds() as f64 / 60.0,
            up: s.to > s.from,
            text: format!(
                "{}: {} → {} dynos — {}",
                s.at.format("%m-%d %H:%M"),
                s.from,
                s.to,
                s.reason
            ),
        })
        .collect();
    PlotSeries {
        start,
        minutes,
        per_dyno,
        markers,
    }
}

#[allow(clippy::too_many_arguments)]
fn chart(
    out: &mut String,
    i: usize,
    f: &FormationView,
    now: DateTime<Utc>,
    class: &str,
    heading: &str,
    span: i64,
    style: PlotStyle,
) {
    let h = &f.history;
    let series = chart_series(h, now, span);
    let per = minutes_per_bucket(series.minutes.len(), style.max_buckets);
    let input = h.load_input.as_deref().unwrap_or("no input");
    let known = series
        .minutes
        .iter()
        .filter(|m| m.load.is_some() || m.quantity.is_some())
        .count();
    let labels = PlotLabels {
        title: format!("{} — {}", f.name, heading.to_lowercase()),
        subtitle: format!(
            "{} scale(s); {} of {} minutes with data; UTC",
            series.markers.len(),
            known,
            series.minutes.len()
        ),
        load: format!("load: {input} (max per {per} min)"),
        capacity: match h.per_dyno {
            Some(p) => format!(
                "capacity of running dynos (× {}, min per {per} min)",
                number(p)
            ),
            None => "capacity (no load-per-dyno setting)".to_string(),
        },
        target: "target (dynos the rules asked for)".to_string(),
        quantity: "quantity (dynos running)".to_string(),
    };
    let _ = write!(
        out,
        "<h3>{heading}</h3>\n<figure class=\"chart chart-{class}\" id=\"f{i}-{class}\">\n"
    );
    match plot_series(&series, &labels, style) {
        Ok(svg) => {
            // Drop plotters' fixed size so CSS can scale the chart; viewBox stays.
            let svg = svg.replacen(
                &format!("width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\""),
                &format!("role=\"img\" aria-label=\"{} chart\"", esc(heading)),
                1,
            );
            out.push_str(svg.trim());
        }
        Err(e) => {
            let _ = write!(out, "<p class=\"error\">{}</p>", esc(&e));
        }
    }
    let _ = write!(
        out,
        "\n<figcaption>Load as the inputs saw it ({}), capacity, target and quantity; \
         triangles mark scales (hover for the reason). Source: {}.</figcaption>\n</figure>\n",
        esc(input),
        esc(&h.source)
    );
}
