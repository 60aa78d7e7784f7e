//! `--plot`: the run as an SVG, in the spirit of Dynosaur's hysteresis figure.
//!
//! Load and the capacity of the ready dynos share the left axis (load per
//! minute); target and quantity are drawn on the right axis in dynos, scaled so
//! that one dyno sits exactly at `capacity` on the left: where the load line
//! crosses above the capacity line, users waited. A month is ~45,000 minutes,
//! far more than pixels, so the series is downsampled for drawing only: per
//! bucket the *max* load and the *min* ready capacity (the worst case, so a
//! shortfall never disappears), the max target and quantity, and a red mark
//! under every bucket with an under-provisioned minute.

use chrono::TimeDelta;
use plotters::prelude::*;

use super::Simulation;

const WIDTH: u32 = 1600;
const HEIGHT: u32 = 640;
/// At most this many buckets (about one per pixel of the plot area).
const MAX_BUCKETS: usize = 1440;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    from: f64,
    to: f64,
    load_max: f64,
    capacity_min: f64,
    capacity_max: f64,
    target_max: u32,
    quantity_max: u32,
    under: bool,
}

fn buckets(sim: &Simulation) -> Vec<Bucket> {
    let rows = &sim.series;
    let cap = sim.report.capacity;
    let per = rows.len().div_ceil(MAX_BUCKETS).max(1);
    rows.chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let from = (i * per) as f64;
            let mut b = Bucket {
                from,
                to: from + chunk.len() as f64,
                load_max: 0.0,
                capacity_min: f64::INFINITY,
                capacity_max: 0.0,
                target_max: 0,
                quantity_max: 0,
                under: false,
            };
            for r in chunk {
                let capacity = f64::from(r.ready) * cap;
                b.load_max = b.load_max.max(r.load);
                b.capacity_min = b.capacity_min.min(capacity);
                b.capacity_max = b.capacity_max.max(capacity);
                b.target_max = b.target_max.max(r.target);
                b.quantity_max = b.quantity_max.max(r.quantity);
                b.under |= r.load > capacity;
            }
            b
        })
        .collect()
}

/// Step points: each bucket's value held from its start to its end.
fn steps(buckets: &[Bucket], value: impl Fn(&Bucket) -> f64) -> Vec<(f64, f64)> {
    buckets
        .iter()
        .flat_map(|b| [(b.from, value(b)), (b.to, value(b))])
        .collect()
}

/// Render the run as an SVG document titled `title`.
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
    let bs = buckets(sim);
    let n = rows.len() as f64;
    let top = bs
        .iter()
        .map(|b| {
            b.load_max
                .max(b.capacity_max)
                .max(f64::from(b.quantity_max.max(b.target_max)) * cap)
        })
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
    let per_bucket = rows.len().div_ceil(MAX_BUCKETS).max(1);
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

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| format!("cannot draw the plot: {e}");
        root.fill(&WHITE).map_err(err)?;
        let (head, body) = root.split_vertically(56);
        head.draw_text(
            title,
            &("sans-serif", 22).into_font().color(&BLACK),
            (70, 6),
        )
        .map_err(err)?;
        head.draw_text(
            &subtitle,
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
        chart
            .configure_mesh()
            .x_labels(12)
            .x_label_formatter(&label_x)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("load per minute")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("dynos")
            .draw()
            .map_err(err)?;

        let red = RGBColor(220, 30, 30);
        let mark = top * 0.012;
        chart
            .draw_series(
                bs.iter()
                    .filter(|b| b.under)
                    .map(|b| Rectangle::new([(b.from, 0.0), (b.to, mark)], red.filled())),
            )
            .map_err(err)?
            .label("under-provisioned")
            .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], red.filled()));

        let blue = RGBColor(60, 110, 200);
        chart
            .draw_series(LineSeries::new(
                bs.iter().map(|b| ((b.from + b.to) / 2.0, b.load_max)),
                blue.stroke_width(1),
            ))
            .map_err(err)?
            .label(load_label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(2)));

        let green = RGBColor(20, 150, 60);
        chart
            .draw_series(LineSeries::new(
                steps(&bs, |b| b.capacity_min),
                green.stroke_width(2),
            ))
            .map_err(err)?
            .label(capacity_label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], green.stroke_width(2)));

        let orange = RGBColor(240, 140, 0);
        chart
            .draw_secondary_series(LineSeries::new(
                steps(&bs, |b| f64::from(b.target_max)),
                orange.stroke_width(3),
            ))
            .map_err(err)?
            .label("target (dynos the rules asked for)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], orange.stroke_width(2)));

        chart
            .draw_secondary_series(LineSeries::new(
                steps(&bs, |b| f64::from(b.quantity_max)),
                BLACK.stroke_width(1),
            ))
            .map_err(err)?
            .label("quantity (dynos running, incl. booting)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
