//! A hand-rolled SVG plot of `ramp`: whole-session latency percentiles against the vote rate
//! each stage achieved, baseline and server in two colour families on one pair of log-scale
//! axes, with the bound as a line and a legend. (Hand-rolled: a few hundred bytes of markup
//! do not need the `plotters` crate and its dependencies.)

use std::fmt::Write;

/// One line of the plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Shown in the legend (e.g. "server p99"); faint series are left out of it.
    pub label: String,
    /// A CSS colour.
    pub colour: &'static str,
    /// Dashed (for p50) or solid (p99).
    pub dashed: bool,
    /// Drawn thin and translucent (runs other than the median one).
    pub faint: bool,
    /// (votes per second achieved, latency in ms, whether the stage held), in stage order.
    pub points: Vec<(f64, f64, bool)>,
}

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

/// A log-scale axis from `lo` to `hi` onto pixels `from` .. `to`.
#[derive(Debug, Clone, Copy)]
struct Axis {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
}

impl Axis {
    /// An axis covering `values` out to whole decades' 1-2-5 steps.
    fn covering(values: impl Iterator<Item = f64>, from: f64, to: f64) -> Axis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite() && *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (1.0, 10.0);
        }
        let (lo, hi) = (nice_below(lo), nice_above(hi));
        let hi = if hi <= lo { lo * 10.0 } else { hi };
        Axis { lo, hi, from, to }
    }

    fn at(&self, v: f64) -> f64 {
        let v = v.max(self.lo * 1e-3);
        let t = (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln());
        self.from + t * (self.to - self.from)
    }

    /// Ticks at 1, 2 and 5 of every decade within the axis.
    fn ticks(&self) -> Vec<f64> {
        let mut ticks = Vec::new();
        let mut decade = 10f64.powf(self.lo.log10().floor());
        while decade <= self.hi {
            for m in [1.0, 2.0, 5.0] {
                let t = decade * m;
                if t >= self.lo * 0.999 && t <= self.hi * 1.001 {
                    ticks.push(t);
                }
            }
            decade *= 10.0;
        }
        ticks
    }
}

fn nice_below(v: f64) -> f64 {
    let decade = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|t| *t <= v)
        .unwrap_or(decade)
}

fn nice_above(v: f64) -> f64 {
    let decade = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|t| *t >= v)
        .unwrap_or(decade * 10.0)
}

fn label(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Escapes text for an SVG element or attribute.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The plot: each series a polyline through its points sorted by rate (a stage that did not
/// hold is an open circle), the bound a horizontal line.
pub fn ramp_plot(title: &str, series: &[Series], bound_ms: f64) -> String {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let x = Axis::covering(points().map(|p| p.0), LEFT, WIDTH - RIGHT);
    let y = Axis::covering(
        points().map(|p| p.1).chain([bound_ms * 1.5]),
        HEIGHT - BOTTOM,
        TOP,
    );
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" font-size="14" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape(title)
    );
    // Grid and tick labels.
    for t in x.ticks() {
        let px = x.at(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e4e4e4"/>"##,
            HEIGHT - BOTTOM
        );
        let _ = writeln!(
            svg,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            HEIGHT - BOTTOM + 16.0,
            label(t)
        );
    }
    for t in y.ticks() {
        let py = y.at(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/>"##,
            WIDTH - RIGHT
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            py + 4.0,
            label(t)
        );
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
        WIDTH - RIGHT - LEFT,
        HEIGHT - BOTTOM - TOP
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">votes per second achieved (log scale)</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 18.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">whole-session latency, ms (log scale)</text>"#,
        (TOP + HEIGHT - BOTTOM) / 2.0,
        (TOP + HEIGHT - BOTTOM) / 2.0
    );
    // The bound.
    let by = y.at(bound_ms);
    let _ = writeln!(
        svg,
        r##"<line class="bound" x1="{LEFT}" y1="{by:.1}" x2="{:.1}" y2="{by:.1}" stroke="#444" stroke-width="1.5" stroke-dasharray="2 3"/>"##,
        WIDTH - RIGHT
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">bound {} ms</text>"##,
        WIDTH - RIGHT - 4.0,
        by - 4.0,
        label(bound_ms)
    );
    for s in series {
        let mut sorted = s.points.clone();
        sorted.retain(|p| p.0.is_finite() && p.1.is_finite() && p.0 > 0.0);
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let coords: Vec<String> = sorted
            .iter()
            .map(|p| format!("{:.1},{:.1}", x.at(p.0), y.at(p.1)))
            .collect();
        let (width, opacity) = if s.faint { (1.0, 0.3) } else { (2.0, 1.0) };
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<polyline class="series" data-label="{}" points="{}" fill="none" stroke="{}" stroke-width="{width}" stroke-opacity="{opacity}"{dash}/>"#,
            escape(&s.label),
            coords.join(" "),
            s.colour
        );
        for p in &sorted {
            let fill = if p.2 { s.colour } else { "white" };
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{}" fill="{fill}" stroke="{}" fill-opacity="{opacity}" stroke-opacity="{opacity}"/>"#,
                x.at(p.0),
                y.at(p.1),
                if s.faint { 2 } else { 3 },
                s.colour
            );
        }
    }
    // The legend: one entry per series that is not faint, then the markers.
    let lx = WIDTH - RIGHT + 16.0;
    let mut ly = TOP + 10.0;
    let _ = writeln!(svg, r#"<g class="legend">"#);
    for s in series.iter().filter(|s| !s.faint) {
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/>"#,
            lx + 28.0,
            s.colour
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 34.0,
            ly + 4.0,
            escape(&s.label)
        );
        ly += 20.0;
    }
    for (text, fill) in [("stage held", "#666"), ("stage not held", "white")] {
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{ly:.1}" r="3" fill="{fill}" stroke="#666"/>"##,
            lx + 14.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{text}</text>"#,
            lx + 34.0,
            ly + 4.0
        );
        ly += 20.0;
    }
    if series.iter().any(|s| s.faint) {
        let _ = writeln!(
            svg,
            r##"<text x="{lx:.1}" y="{:.1}" fill="#666">faint: the other runs</text>"##,
            ly + 4.0
        );
    }
    let _ = writeln!(svg, "</g>");
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The element names of `xml`, in order, checking that every tag is closed in order (a
    /// tiny well-formedness check: no DTD, comments or CDATA in what the plot writes).
    fn elements(xml: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').expect("a tag ends") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
            let text = &rest[..start];
            assert!(!text.contains('>'), "a stray '>' in text: {text}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "closed in order");
            } else {
                let name = tag.split_whitespace().next().expect("a name").to_string();
                // Attribute quotes balance.
                assert_eq!(tag.matches('"').count() % 2, 0, "quotes balance in {tag}");
                names.push(name.trim_end_matches('/').to_string());
                if !tag.ends_with('/') {
                    open.push(name);
                }
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        assert!(rest.trim().is_empty());
        names
    }

    fn series(label: &str, colour: &'static str, points: &[(f64, f64, bool)]) -> Series {
        Series {
            label: label.into(),
            colour,
            dashed: label.ends_with("p50"),
            faint: false,
            points: points.to_vec(),
        }
    }

    fn polyline_xs(svg: &str) -> Vec<Vec<f64>> {
        svg.lines()
            .filter(|l| l.starts_with("<polyline"))
            .map(|l| {
                let points = l.split("points=\"").nth(1).expect("points");
                let points = &points[..points.find('"').expect("end of points")];
                points
                    .split_whitespace()
                    .map(|p| p.split(',').next().expect("x").parse().expect("a number"))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_plot_is_well_formed_with_a_line_per_series_a_bound_and_a_legend() {
        let svg = ramp_plot(
            "ramp <test> & more",
            &[
                series(
                    "baseline p50",
                    "#1f77b4",
                    &[(100.0, 0.8, true), (150.0, 1.0, true)],
                ),
                series(
                    "baseline p99",
                    "#1f77b4",
                    &[(100.0, 2.0, true), (150.0, 60.0, false)],
                ),
                series(
                    "server p50",
                    "#d62728",
                    &[(98.0, 1.1, true), (149.0, 1.5, true)],
                ),
                series(
                    "server p99",
                    "#d62728",
                    &[(98.0, 3.0, true), (149.0, 90.0, false)],
                ),
            ],
            50.0,
        );
        let names = elements(&svg);
        assert_eq!(names.first().map(String::as_str), Some("svg"));
        assert_eq!(names.iter().filter(|n| *n == "polyline").count(), 4);
        assert_eq!(names.iter().filter(|n| *n == "circle").count(), 8 + 2);
        assert!(svg.contains("class=\"bound\""));
        assert!(svg.contains("bound 50 ms"));
        assert!(svg.contains("ramp &lt;test&gt; &amp; more"));
        for label in ["baseline p50", "baseline p99", "server p50", "server p99"] {
            assert!(
                svg.contains(&format!(">{label}</text>")),
                "legend has {label}"
            );
        }
        assert!(svg.contains("votes per second"));
        assert!(svg.contains("whole-session latency"));
    }

    #[test]
    fn points_go_right_as_the_rate_rises_whatever_the_stage_order() {
        // The last stage achieved less than the one before (the server fell behind): the line
        // is still drawn in order of rate.
        let points = [(100.0, 1.0, true), (400.0, 2.0, true), (250.0, 80.0, false)];
        let svg = ramp_plot("t", &[series("server p99", "red", &points)], 50.0);
        let xs = polyline_xs(&svg);
        assert_eq!(xs.len(), 1);
        assert_eq!(xs[0].len(), 3);
        assert!(xs[0].windows(2).all(|w| w[0] < w[1]), "{:?}", xs[0]);
        // And a higher rate always lands further right, on any series.
        let a = Axis::covering([3.0, 7000.0].into_iter(), 0.0, 100.0);
        let mut last = f64::NEG_INFINITY;
        for v in [3.0, 10.0, 99.0, 100.0, 1234.0, 7000.0] {
            assert!(a.at(v) > last);
            last = a.at(v);
        }
        // Latency goes up the page: a larger latency, a smaller y.
        let y = Axis::covering([0.5, 300.0].into_iter(), 500.0, 40.0);
        assert!(y.at(300.0) < y.at(0.5));
    }

    #[test]
    fn faint_series_stay_out_of_the_legend() {
        let mut faint = series("server p99 (run 2)", "red", &[(100.0, 1.0, true)]);
        faint.faint = true;
        let svg = ramp_plot(
            "t",
            &[series("server p99", "red", &[(100.0, 2.0, true)]), faint],
            50.0,
        );
        elements(&svg);
        assert!(!svg.contains(">server p99 (run 2)</text>"));
        assert!(svg.contains("faint: the other runs"));
    }

    #[test]
    fn ticks_are_one_two_five_within_the_axis() {
        let a = Axis::covering([120.0, 3500.0].into_iter(), 0.0, 1.0);
        assert_eq!((a.lo, a.hi), (100.0, 5000.0));
        assert_eq!(a.ticks(), [100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]);
    }
}
