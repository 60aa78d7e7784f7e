//! Load against dynos as an SVG, in the spirit of Dynosaur's hysteresis figure.
//!
//! One drawing function, [`plot_series`], over a generic per-minute series:
//! the simulator's `--plot` ([`plot_svg`]) and the status page
//! ([`crate::status_page`]) both call it, so an operator reads the same picture
//! in a backtest and in production.
//!
//! Load and the capacity of the dynos share the left axis (load per minute);
//! target and quantity are drawn on the right axis in dynos, scaled so that one
//! dyno sits exactly at `per_dyno` on the left: where the load line crosses
//! above the capacity line, users waited. A month is ~45,000 minutes, far more
//! than pixels, so the series is downsampled for drawing only: per bucket the
//! *max* load and the *min* capacity (the worst case, so a shortfall never
//! disappears), the max target and quantity, and a red mark under every bucket
//! with an under-provisioned minute. Minutes without a value leave a gap.
//! Scale markers (optional) are triangles at the top of the plot, each with
//! its text in an SVG `<title>` (shown on hover).

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::Simulation;

/// The simulator's plot size and bucket count (about one per pixel of its plot area).
const SIM_STYLE: PlotStyle = PlotStyle {
    width: 1600,
    height: 640,
    max_buckets: 1440,
    simplify_steps: false,
    max_markers: 0,
    light_lines: true,
    axis_labels: None,
};

/// One minute of a series; `None` where nothing is known (drawn as a gap).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeriesMinute {
    /// Load as the inputs saw it, in load units per minute.
    pub load: Option<f64>,
    /// Load units the dynos could serve this minute.
    pub capacity: Option<f64>,
    /// Dynos the rules asked for.
    pub target: Option<u32>,
    /// Dynos running.
    pub quantity: Option<u32>,
}

/// A point in time worth a marker: a scale, with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Minutes from the series' start.
    pub minute: f64,
    /// Up (true) or down.
    pub up: bool,
    /// Shown on hover (`<title>`): escaped here.
    pub text: String,
}

/// What to draw: consecutive minutes from `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSeries {
    pub start: DateTime<Utc>,
    pub minutes: Vec<SeriesMinute>,
    /// Load units one dyno serves per minute: places the dyno axis.
    pub per_dyno: f64,
    pub markers: Vec<Marker>,
}

/// The words on the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotLabels {
    pub title: String,
    pub subtitle: String,
    pub load: String,
    pub capacity: String,
    pub target: String,
    pub quantity: String,
}

/// Size and detail of the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotStyle {
    pub width: u32,
    pub height: u32,
    /// At most this many buckets.
    pub max_buckets: usize,
    /// Drop the inner points of flat runs of the step lines and merge
    /// adjacent under-provisioned marks (same picture, fewer bytes: the
    /// status page draws twenty of these).
    pub simplify_steps: bool,
    /// At most this many markers: nearby ones are merged into one whose text
    /// lists them (0: one per marker). Bounds the size of a busy week.
    pub max_markers: usize,
    /// Draw the faint grid lines between the labelled ones (a few kB per chart).
    pub light_lines: bool,
    /// How many labels on the time axis and on each value axis (`None`: 12 and plotters' default).
    pub axis_labels: Option<(usize, usize)>,
}

/// Minutes per bucket when `len` minutes are drawn in at most `max_buckets`.
pub fn minutes_per_bucket(len: usize, max_buckets: usize) -> usize {
    len.div_ceil(max_buckets.max(1)).max(1)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    from: f64,
    to: f64,
    load_max: Option<f64>,
    capacity_min: Option<f64>,
    capacity_max: Option<f64>,
    target_max: Option<u32>,
    quantity_max: Option<u32>,
    under: bool,
}

fn max_opt<T: PartialOrd + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}

fn buckets(rows: &[SeriesMinute], per: usize) -> Vec<Bucket> {
    rows.chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let from = (i * per) as f64;
            let mut b = Bucket {
                from,
                to: from + chunk.len() as f64,
                load_max: None,
                capacity_min: None,
                capacity_max: None,
                target_max: None,
                quantity_max: None,
                under: false,
            };
            for r in chunk {
                b.load_max = max_opt(b.load_max, r.load);
                b.capacity_min = match (b.capacity_min, r.capacity) {
                    (Some(a), Some(c)) => Some(a.min(c)),
                    (a, c) => a.or(c),
                };
                b.capacity_max = max_opt(b.capacity_max, r.capacity);
                b.target_max = max_opt(b.target_max, r.target);
                b.quantity_max = max_opt(b.quantity_max, r.quantity);
                if let (Some(load), Some(capacity)) = (r.load, r.capacity) {
                    b.under |= load > capacity;
                }
            }
            b
        })
        .collect()
}

/// Runs of consecutive buckets that have a value: one polyline each.
fn segments(
    buckets: &[Bucket],
    value: impl Fn(&Bucket) -> Option<f64>,
    point: impl Fn(&Bucket, f64, &mut Vec<(f64, f64)>),
) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for b in buckets {
        match value(b) {
            Some(v) => point(b, v, &mut run),
            None if !run.is_empty() => out.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// Step points: each bucket's value held from its start to its end.
fn steps(
    buckets: &[Bucket],
    value: impl Fn(&Bucket) -> Option<f64>,
    simplify: bool,
) -> Vec<Vec<(f64, f64)>> {
    let mut lines = segments(buckets, value, |b, v, run| {
        run.extend([(b.from, v), (b.to, v)]);
    });
    if simplify {
        for line in &mut lines {
            // Keep a point unless both neighbours have its value (a flat run's inside).
            let keep: Vec<bool> = (0..line.len())
                .map(|i| {
                    i == 0
                        || i + 1 == line.len()
                        || line[i - 1].1 != line[i].1
                        || line[i + 1].1 != line[i].1
                })
                .collect();
            let mut k = keep.iter();
            line.retain(|_| *k.next().unwrap_or(&true));
        }
    }
    lines
}

/// Render the simulation as an SVG document titled `title` (the `--plot` flag).
///
/// # Errors
/// A message when plotters cannot draw (an empty series, say).
pub fn plot_svg(sim: &Simulation, title: &str) -> Result<String, String> {
    let rows = &sim.series;
    let first = rows
        .first()
        .map(|r| r.at)
        .ok_or_else(|| "nothing to plot: the run has no minutes".to_string())?;
    let cap = sim.report.capacity;
    let r = &sim.report;
    let subtitle = format!(
        "cost {:.2}× oracle ({} vs {} dyno-min), under-provisioned {:.2} % of minutes, unserved {:.3} % of load, p95 {:.0} ms",
        r.cost_vs_oracle,
        r.dyno_minutes,
        r.oracle_dyno_minutes,
        r.under_provisioned_pct,
        r.unserved_pct,
        r.p95_response_ms
    );
    let per_bucket = minutes_per_bucket(rows.len(), SIM_STYLE.max_buckets);
    let load_label = if per_bucket > 1 {
        format!("load (max per {per_bucket} min)")
    } else {
        "load".to_string()
    };
    let capacity_label = if per_bucket > 1 {
        format!("capacity of ready dynos (ready × {cap}, min per {per_bucket} min)")
    } else {
        format!("capacity of ready dynos (ready × {cap})")
    };
    let series = PlotSeries {
        start: first,
        minutes: rows
            .iter()
            .map(|r| SeriesMinute {
                load: Some(r.load),
                capacity: Some(f64::from(r.ready) * cap),
                target: Some(r.target),
                quantity: Some(r.quantity),
            })
            .collect(),
        per_dyno: cap,
        markers: Vec::new(),
    };
    let labels = PlotLabels {
        title: title.to_string(),
        subtitle,
        load: load_label,
        capacity: capacity_label,
        target: "target (dynos the rules asked for)".to_string(),
        quantity: "quantity (dynos running, incl. booting)".to_string(),
    };
    plot_series(&series, &labels, SIM_STYLE)
}

/// Draw `series` as an SVG document (the simulator's plot and the status page's charts).
///
/// # Errors
/// A message when there is nothing to draw or plotters cannot draw.
pub fn plot_series(
    series: &PlotSeries,
    labels: &PlotLabels,
    style: PlotStyle,
) -> Result<String, String> {
    let rows = &series.minutes;
    if rows.is_empty() {
        return Err("nothing to plot: the series has no minutes".to_string());
    }
    if !(series.per_dyno.is_finite() && series.per_dyno > 0.0) {
        return Err(format!(
            "cannot plot: load per dyno must be a positive number, not {}",
            series.per_dyno
        ));
    }
    let first = series.start;
    let cap = series.per_dyno;
    let per_bucket = minutes_per_bucket(rows.len(), style.max_buckets);
    let bs = buckets(rows, per_bucket);
    let n = rows.len() as f64;
    let top = bs
        .iter()
        .map(|b| {
            b.load_max
                .unwrap_or(0.0)
                .max(b.capacity_max.unwrap_or(0.0))
                .max(f64::from(max_opt(b.quantity_max, b.target_max).unwrap_or(0)) * cap)
        })
        .filter(|v| v.is_finite())
        .fold(cap, f64::max)
        * 1.08;
    let span_days = n / 1440.0;
    let label_x = move |x: &f64| {
        let at = first + TimeDelta::minutes(x.round() as i64);
        if span_days <= 2.0 {
            at.format("%m-%d %H:%M").to_string()
        } else {
            at.format("%m-%d").to_string()
        }
    };

    let mut svg = String::new();
    let mut marks = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (style.width, style.height)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| format!("cannot draw the plot: {e}");
        root.fill(&WHITE).map_err(err)?;
        let (head, body) = root.split_vertically(56);
        head.draw_text(
            &labels.title,
            &("sans-serif", 22).into_font().color(&BLACK),
            (70, 6),
        )
        .map_err(err)?;
        head.draw_text(
            &labels.subtitle,
            &("sans-serif", 15).into_font().color(&RGBColor(80, 80, 80)),
            (70, 34),
        )
        .map_err(err)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0f64..n, 0f64..top)
            .map_err(err)?
            .set_secondary_coord(0f64..n, 0f64..top / cap);
        let mut mesh = chart.configure_mesh();
        mesh.x_labels(12)
            .x_label_formatter(&label_x)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("load per minute")
            .light_line_style(RGBColor(235, 235, 235));
        if !style.light_lines {
            mesh.max_light_lines(0);
        }
        if let Some((x, y)) = style.axis_labels {
            mesh.x_labels(x).y_labels(y);
        }
        mesh.draw().map_err(err)?;
        let mut secondary = chart.configure_secondary_axes();
        secondary
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("dynos");
        if let Some((_, y)) = style.axis_labels {
            secondary.y_labels(y);
        }
        secondary.draw().map_err(err)?;

        let red = RGBColor(220, 30, 30);
        let mark = top * 0.012;
        // Under-provisioned spans: one mark per bucket, or (compact) per run of buckets.
        let mut under: Vec<(f64, f64)> = Vec::new();
        for b in bs.iter().filter(|b| b.under) {
            match under.last_mut() {
                Some(last) if style.simplify_steps && last.1 == b.from => last.1 = b.to,
                _ => under.push((b.from, b.to)),
            }
        }
        chart
            .draw_series(
                under
                    .into_iter()
                    .map(|(from, to)| Rectangle::new([(from, 0.0), (to, mark)], red.filled())),
            )
            .map_err(err)?
            .label("under-provisioned")
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], red.filled()));

        let blue = RGBColor(60, 110, 200);
        let load = segments(
            &bs,
            |b| b.load_max,
            |b, v, run| run.push(((b.from + b.to) / 2.0, v)),
        );
        chart
            .draw_series(
                load.iter()
                    .map(|line| PathElement::new(line.clone(), blue.stroke_width(1))),
            )
            .map_err(err)?
            .label(labels.load.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(2)));

        // A lone minute (sparse history) is a dot: a one-point line is invisible.
        let lone = |lines: &[Vec<(f64, f64)>]| -> Vec<(f64, f64)> {
            lines
                .iter()
                .filter(|l| l.len() == 1)
                .map(|l| l[0])
                .collect()
        };
        chart
            .draw_series(
                lone(&load)
                    .into_iter()
                    .map(|p| Circle::new(p, 3, blue.filled())),
            )
            .map_err(err)?;

        let green = RGBColor(20, 150, 60);
        chart
            .draw_series(
                steps(&bs, |b| b.capacity_min, style.simplify_steps)
                    .into_iter()
                    .map(|line| PathElement::new(line, green.stroke_width(2))),
            )
            .map_err(err)?
            .label(labels.capacity.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], green.stroke_width(2)));

        let orange = RGBColor(240, 140, 0);
        chart
            .draw_secondary_series(
                steps(&bs, |b| b.target_max.map(f64::from), style.simplify_steps)
                    .into_iter()
                    .map(|line| PathElement::new(line, orange.stroke_width(3))),
            )
            .map_err(err)?
            .label(labels.target.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], orange.stroke_width(2)));

        chart
            .draw_secondary_series(
                steps(&bs, |b| b.quantity_max.map(f64::from), style.simplify_steps)
                    .into_iter()
                    .map(|line| PathElement::new(line, BLACK.stroke_width(1))),
            )
            .map_err(err)?
            .label(labels.quantity.as_str())
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;

        markers_svg(
            &mut marks,
            &chart,
            &series.markers,
            n,
            top,
            style.max_markers,
        );
        root.present().map_err(err)?;
    }
    if !marks.is_empty() {
        let end = svg
            .rfind("</svg>")
            .ok_or_else(|| "cannot draw the plot: the SVG has no end tag".to_string())?;
        svg.insert_str(end, &marks);
    }
    Ok(svg)
}

/// One `<g class="scale">` per marker: a triangle at the top of the plot
/// (up: green, pointing up; down: purple, pointing down),
/// with the marker's text as `<title>`. Plotters cannot draw `<title>`, so
/// these are written by hand at the chart's pixel coordinates.
fn markers_svg<DB: DrawingBackend>(
    out: &mut String,
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    markers: &[Marker],
    n: f64,
    top: f64,
    max_markers: usize,
) {
    let mut shown: Vec<&Marker> = markers
        .iter()
        .filter(|m| (0.0..=n).contains(&m.minute))
        .collect();
    shown.sort_by(|a, b| a.minute.total_cmp(&b.minute));
    // Group markers that fall into the same slice of the time axis.
    let slice = if max_markers == 0 {
        0.0
    } else {
        n / max_markers as f64
    };
    let mut groups: Vec<Vec<&Marker>> = Vec::new();
    for m in shown {
        match groups.last_mut() {
            Some(g)
                if slice > 0.0 && (g[0].minute / slice).floor() == (m.minute / slice).floor() =>
            {
                g.push(m);
            }
            _ => groups.push(vec![m]),
        }
    }
    for g in groups {
        let m = g[g.len() - 1];
        let text = if g.len() == 1 {
            escape_xml(&m.text)
        } else {
            let mut t = format!("{} scales:", g.len());
            for each in g.iter().take(3) {
                t.push('\n');
                t.push_str(&escape_xml(&each.text));
            }
            if g.len() > 3 {
                let _ = write!(t, "\n… and {} more", g.len() - 3);
            }
            t
        };
        let (x, y_top) = chart.backend_coord(&(m.minute, top));
        let (colour, tip, base) = if m.up {
            ("#148c3c", y_top, y_top + 12)
        } else {
            ("#8c2c8c", y_top + 12, y_top)
        };
        let _ = writeln!(
            out,
            "<g class=\"scale\"><title>{}</title>\
             <polygon points=\"{},{base} {},{base} {x},{tip}\" fill=\"{colour}\"/></g>",
            text,
            x - 7,
            x + 7,
        );
    }
}

/// Text safe inside XML or HTML element content and double-quoted attributes.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newlines are not allowed in XML.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
