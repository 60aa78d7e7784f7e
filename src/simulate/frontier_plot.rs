//! Policy frontiers: cost against shortfall for swept configs, as an SVG and
//! as domination counts.
//!
//! Each point is one simulated config: x = cost × oracle, y = under-provisioned
//! minutes in %. Points belong to a family (one predecessor's rule with its
//! knobs swept, or dynopilot's own tuner grid); each family's frontier (its
//! points no other of its points dominates) is drawn as a line, so a reader
//! sees at once where one family is cheaper for the same shortfall. A point
//! dominates another when it is no worse on both axes and better on one
//! ([`crate::tune::dominates`], the tuner's own test), and the counts say how
//! many predecessor points some dynopilot point dominates: a family entirely
//! dominated is one a user never needs to pick.
//!
//! Drawing uses plotters' SVG backend, as [`super::plot`] does, with its XML
//! escaping for the `<title>` texts.

use std::fmt::Write as _;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::plot::escape_xml;
use crate::tune::{dominates, Score};

/// Whose config a point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// A predecessor's rule (Dynosaur, autoscalebot, Swop, HPA).
    Predecessor,
    /// dynopilot's own points: its tuner grid and its recommended default.
    Dynopilot,
}

/// One simulated config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontierPoint {
    /// The family it belongs to (`Dynosaur`, `dynopilot grid`, ...).
    pub family: String,
    pub side: Side,
    /// Its knobs, for people (`per_dyno 40, 5m`).
    pub label: String,
    pub cost_vs_oracle: f64,
    pub under_provisioned_pct: f64,
    /// The family's shipped setting (a predecessor's defaults, dynopilot's
    /// recommended config): drawn larger and counted on its own.
    #[serde(default)]
    pub default: bool,
}

impl FrontierPoint {
    /// The two axes as the tuner scores them, for [`dominates`].
    fn score(&self) -> Score {
        Score {
            minutes: 0,
            dyno_minutes: 0,
            oracle_dyno_minutes: 0,
            cost_vs_oracle: self.cost_vs_oracle,
            under_provisioned_minutes: 0,
            under_provisioned_pct: self.under_provisioned_pct,
        }
    }

    fn finite(&self) -> bool {
        self.cost_vs_oracle.is_finite() && self.under_provisioned_pct.is_finite()
    }
}

/// Whether some point of `by` dominates `p`.
pub fn is_dominated(p: &FrontierPoint, by: &[FrontierPoint]) -> bool {
    let s = p.score();
    by.iter().any(|q| dominates(&q.score(), &s))
}

/// How many of `points` some point of `by` dominates.
pub fn dominated_count(points: &[FrontierPoint], by: &[FrontierPoint]) -> usize {
    points.iter().filter(|p| is_dominated(p, by)).count()
}

/// The points of `points` none of them dominates, cheapest first (equal
/// points kept once).
pub fn frontier_of(points: &[FrontierPoint]) -> Vec<FrontierPoint> {
    let mut front: Vec<FrontierPoint> = points
        .iter()
        .filter(|p| p.finite() && !is_dominated(p, points))
        .cloned()
        .collect();
    front.sort_by(|a, b| {
        a.cost_vs_oracle
            .total_cmp(&b.cost_vs_oracle)
            .then(a.under_provisioned_pct.total_cmp(&b.under_provisioned_pct))
    });
    front.dedup_by(|a, b| {
        a.cost_vs_oracle == b.cost_vs_oracle && a.under_provisioned_pct == b.under_provisioned_pct
    });
    front
}

/// One family's line in the domination table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyCount {
    pub family: String,
    pub side: Side,
    /// Points swept.
    pub points: usize,
    /// Of those, on the family's own frontier.
    pub frontier: usize,
    /// Of those, dominated by some dynopilot point (grid or default).
    pub dominated_by_dynopilot: usize,
    /// Of those, dominated by dynopilot's recommended default alone.
    pub dominated_by_default: usize,
    /// Whether the family's default point is dominated by some dynopilot point.
    pub default_dominated: Option<bool>,
}

/// Families in order of first appearance, with their counts.
pub fn family_counts(points: &[FrontierPoint]) -> Vec<FamilyCount> {
    let ours: Vec<FrontierPoint> = points
        .iter()
        .filter(|p| p.side == Side::Dynopilot)
        .cloned()
        .collect();
    let our_default: Vec<FrontierPoint> = ours.iter().filter(|p| p.default).cloned().collect();
    families(points)
        .into_iter()
        .map(|(family, side, members)| {
            let shipped = members.iter().find(|p| p.default);
            FamilyCount {
                points: members.len(),
                frontier: frontier_of(&members).len(),
                dominated_by_dynopilot: dominated_count(&members, &ours),
                dominated_by_default: dominated_count(&members, &our_default),
                default_dominated: shipped.map(|p| is_dominated(p, &ours)),
                family,
                side,
            }
        })
        .collect()
}

/// Points grouped by family, in order of first appearance.
fn families(points: &[FrontierPoint]) -> Vec<(String, Side, Vec<FrontierPoint>)> {
    let mut out: Vec<(String, Side, Vec<FrontierPoint>)> = Vec::new();
    for p in points {
        match out.iter_mut().find(|(f, _, _)| *f == p.family) {
            Some((_, _, members)) => members.push(p.clone()),
            None => out.push((p.family.clone(), p.side, vec![p.clone()])),
        }
    }
    out
}

/// A family's colour: dynopilot in black, predecessors from a fixed palette.
fn colour(side: Side, index: usize) -> RGBColor {
    const PALETTE: [RGBColor; 6] = [
        RGBColor(60, 110, 200),
        RGBColor(220, 120, 0),
        RGBColor(20, 150, 60),
        RGBColor(200, 40, 40),
        RGBColor(140, 70, 170),
        RGBColor(120, 120, 120),
    ];
    match side {
        Side::Dynopilot => RGBColor(0, 0, 0),
        Side::Predecessor => PALETTE[index % PALETTE.len()],
    }
}

/// The drawing's view: points dearer than this (cost × oracle) are counted but not drawn.
pub const VIEW_MAX_COST: f64 = 2.0;
/// Points with more under-provisioned minutes than this (%) are counted but not drawn.
pub const VIEW_MAX_UNDER: f64 = 8.0;

/// The frontier drawing: every point, each family's frontier as a line, the
/// shipped settings as larger marks, and a `<title>` per point with its label
/// and figures (shown on hover).
///
/// # Errors
/// When no point has finite figures, or plotters cannot draw.
pub fn frontier_svg(title: &str, points: &[FrontierPoint]) -> Result<String, String> {
    let finite: Vec<&FrontierPoint> = points.iter().filter(|p| p.finite()).collect();
    if finite.is_empty() {
        return Err("nothing to plot: no point has finite figures".to_string());
    }
    // Sweeps reach absurd corners (a 1-minute window short a quarter of the
    // time, thresholds that run 3× the oracle); drawn to scale they would
    // squash the region anyone would choose from into a corner.
    let in_view = |p: &FrontierPoint| {
        p.finite() && p.cost_vs_oracle <= VIEW_MAX_COST && p.under_provisioned_pct <= VIEW_MAX_UNDER
    };
    let drawn: Vec<&FrontierPoint> = finite.iter().copied().filter(|p| in_view(p)).collect();
    let outside = finite.len() - drawn.len();
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
    for p in &drawn {
        x0 = x0.min(p.cost_vs_oracle);
        x1 = x1.max(p.cost_vs_oracle);
        y1 = y1.max(p.under_provisioned_pct);
    }
    if drawn.is_empty() {
        (x0, x1, y1) = (1.0, VIEW_MAX_COST, VIEW_MAX_UNDER);
    }
    let pad = ((x1 - x0) * 0.04).max(0.01);
    let (x0, x1, y1) = (x0 - pad, x1 + pad, (y1 * 1.06).max(0.1));
    let (width, height) = (960u32, 640u32);
    let mut svg = String::new();
    let mut titles = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| format!("cannot draw the frontier: {e}");
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("cost × oracle (dyno-minutes / perfect foresight)")
            .y_desc("under-provisioned minutes, %")
            .x_label_formatter(&|x| format!("{x:.2}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(err)?;
        let mut predecessor_index = 0;
        for (family, side, all) in families(points) {
            // The frontier is the family's own, drawn as far as the view goes.
            let front: Vec<(f64, f64)> = frontier_of(&all)
                .iter()
                .filter(|p| in_view(p))
                .map(|p| (p.cost_vs_oracle, p.under_provisioned_pct))
                .collect();
            let members: Vec<FrontierPoint> = all.into_iter().filter(|p| in_view(p)).collect();
            let c = colour(side, predecessor_index);
            if side == Side::Predecessor {
                predecessor_index += 1;
            }
            let coords: Vec<(f64, f64)> = members
                .iter()
                .filter(|p| p.finite())
                .map(|p| (p.cost_vs_oracle, p.under_provisioned_pct))
                .collect();
            let series = match side {
                Side::Dynopilot => chart.draw_series(
                    coords
                        .iter()
                        .map(|&p| TriangleMarker::new(p, 4, c.filled()).into_dyn()),
                ),
                Side::Predecessor => chart.draw_series(
                    coords
                        .iter()
                        .map(|&p| Circle::new(p, 4, c.stroke_width(1)).into_dyn()),
                ),
            }
            .map_err(err)?;
            series
                .label(family.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
            chart
                .draw_series(std::iter::once(PathElement::new(front, c.stroke_width(2))))
                .map_err(err)?;
            chart
                .draw_series(members.iter().filter(|p| p.default && p.finite()).map(|p| {
                    Circle::new(
                        (p.cost_vs_oracle, p.under_provisioned_pct),
                        8,
                        c.stroke_width(3),
                    )
                }))
                .map_err(err)?;
            for p in members.iter().filter(|p| p.finite()) {
                let (px, py) = chart.backend_coord(&(p.cost_vs_oracle, p.under_provisioned_pct));
                let _ = write!(
                    titles,
                    r#"<circle class="point" cx="{px}" cy="{py}" r="5" fill-opacity="0" stroke="none"><title>{}: {} ({:.3} × oracle, {:.2} %){}</title></circle>"#,
                    escape_xml(&p.family),
                    escape_xml(&p.label),
                    p.cost_vs_oracle,
                    p.under_provisioned_pct,
                    if p.default { ", default" } else { "" }
                );
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        if outside > 0 {
            root.draw_text(
                &format!(
                    "{outside} of {} points lie outside this view (cost above {VIEW_MAX_COST}× or under-provisioned above {VIEW_MAX_UNDER} %): counted in the tables, not drawn",
                    finite.len()
                ),
                &("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
                (16, height as i32 - 18),
            )
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    let end = svg
        .rfind("</svg>")
        .ok_or_else(|| "cannot draw the frontier: the SVG has no end tag".to_string())?;
    svg.insert_str(end, &titles);
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(family: &str, side: Side, cost: f64, under: f64) -> FrontierPoint {
        FrontierPoint {
            family: family.into(),
            side,
            label: format!("{cost}/{under}"),
            cost_vs_oracle: cost,
            under_provisioned_pct: under,
            default: false,
        }
    }

    #[test]
    fn domination_needs_no_worse_on_both_axes_and_better_on_one() {
        let ours = [point("d", Side::Dynopilot, 1.3, 1.0)];
        let theirs = [
            point("p", Side::Predecessor, 1.4, 1.0), // worse cost, same risk: dominated
            point("p", Side::Predecessor, 1.3, 1.5), // same cost, worse risk: dominated
            point("p", Side::Predecessor, 1.3, 1.0), // equal: not dominated
            point("p", Side::Predecessor, 1.2, 3.0), // cheaper: not dominated
            point("p", Side::Predecessor, 1.5, 0.5), // safer: not dominated
            point("p", Side::Predecessor, 1.31, 1.01), // worse on both: dominated
        ];
        assert_eq!(dominated_count(&theirs, &ours), 3);
    }

    #[test]
    fn family_counts_count_per_family_against_every_dynopilot_point() {
        let mut grid_default = point("dynopilot", Side::Dynopilot, 1.4, 1.0);
        grid_default.default = true;
        let mut shipped = point("A", Side::Predecessor, 1.5, 2.0);
        shipped.default = true;
        let points = vec![
            shipped,
            point("A", Side::Predecessor, 1.2, 4.0),
            point("B", Side::Predecessor, 1.25, 2.5),
            point("dynopilot", Side::Dynopilot, 1.2, 3.0),
            grid_default,
        ];
        let counts = family_counts(&points);
        let names: Vec<&str> = counts.iter().map(|c| c.family.as_str()).collect();
        assert_eq!(names, ["A", "B", "dynopilot"]);
        // A: (1.5, 2.0) by the default; (1.2, 4.0) by the grid's (1.2, 3.0).
        assert_eq!(counts[0].points, 2);
        assert_eq!(counts[0].frontier, 2);
        assert_eq!(counts[0].dominated_by_dynopilot, 2);
        assert_eq!(counts[0].dominated_by_default, 1);
        assert_eq!(counts[0].default_dominated, Some(true));
        // B: (1.25, 2.5) lies between the two dynopilot points: not dominated.
        assert_eq!(counts[1].dominated_by_dynopilot, 0);
        assert_eq!(counts[1].default_dominated, None);
    }

    #[test]
    fn the_frontier_keeps_only_undominated_points_cheapest_first() {
        let points = [
            point("p", Side::Predecessor, 1.5, 0.5),
            point("p", Side::Predecessor, 1.2, 3.0),
            point("p", Side::Predecessor, 1.3, 3.5),
            point("p", Side::Predecessor, 1.2, 3.0),
            point("p", Side::Predecessor, f64::NAN, 0.1),
        ];
        let front: Vec<(f64, f64)> = frontier_of(&points)
            .iter()
            .map(|p| (p.cost_vs_oracle, p.under_provisioned_pct))
            .collect();
        assert_eq!(front, vec![(1.2, 3.0), (1.5, 0.5)]);
    }

    #[test]
    fn the_drawing_has_every_point_each_family_and_its_frontier() {
        let mut shipped = point("Dyno<saur>", Side::Predecessor, 1.26, 4.05);
        shipped.default = true;
        let points = vec![
            shipped,
            point("Dyno<saur>", Side::Predecessor, 1.41, 1.5),
            point("Dyno<saur>", Side::Predecessor, 1.45, 1.6),
            point("dynopilot grid", Side::Dynopilot, 1.30, 2.0),
            point("dynopilot grid", Side::Dynopilot, 1.47, 1.0),
        ];
        let svg = frontier_svg("NASA", &points).expect("drawn");
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        // One hover title per point, the label escaped.
        assert_eq!(svg.matches(r#"class="point""#).count(), 5);
        assert!(svg.contains("Dyno&lt;saur&gt;: 1.26/4.05 (1.260 × oracle, 4.05 %), default"));
        // The legend names each family, the title is drawn.
        assert!(svg.contains("dynopilot grid"));
        assert!(svg.contains("NASA"));
        // Dynopilot's points are triangles, the predecessor's circles (3, and
        // a ring around its default), plus one invisible hover circle each.
        assert_eq!(svg.matches("<polygon").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3 + 1 + 5);
        // Each family's frontier is a 2-pixel line (the predecessor's through
        // 2 of its 3 points: 1.45 / 1.6 is dominated), beside a 2-pixel legend
        // swatch per family.
        let wide: Vec<usize> = svg
            .split("<polyline")
            .skip(1)
            .filter(|l| l.contains(r#"stroke-width="2""#))
            .filter_map(|l| l.split(r#"points=""#).nth(1))
            .map(|p| p.split('"').next().unwrap_or("").split_whitespace().count())
            .collect();
        assert_eq!(wide, vec![2, 2, 2, 2], "two frontiers, two swatches");
    }

    #[test]
    fn points_outside_the_view_are_counted_but_not_drawn() {
        let points = vec![
            point("p", Side::Predecessor, 1.2, 2.0),
            point("p", Side::Predecessor, 0.9, 27.0),
            point("p", Side::Predecessor, 3.5, 0.2),
            point("d", Side::Dynopilot, 1.3, 1.0),
        ];
        let svg = frontier_svg("view", &points).expect("drawn");
        assert_eq!(svg.matches(r#"class="point""#).count(), 2);
        assert!(svg.contains("2 of 4 points lie outside this view"));
        assert!(!svg.contains("0.900 × oracle"));
    }

    #[test]
    fn nothing_to_draw_is_an_error() {
        let err = frontier_svg("x", &[point("p", Side::Predecessor, f64::NAN, 1.0)])
            .expect_err("no finite point");
        assert!(err.contains("nothing to plot"), "{err}");
    }
}
