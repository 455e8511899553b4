//! Line charts as SVG, drawn on the server: one polyline per series over
//! days, an optional shaded band per series (a confidence interval), axes
//! with a few labelled ticks. No script, no external assets.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// (day index, value) points, in day order.
    pub points: Vec<(usize, f64)>,
    /// (day index, low, high) of a band around it, if any.
    pub band: Vec<(usize, f64, f64)>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;
const COLOURS: [&str; 6] = [
    "#1f5eff", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#5f3dc4",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG chart of `series` over `days` day labels, values formatted by
/// `label` (e.g. as percentages). `id` names the chart for tests and CSS.
pub fn line_chart(
    id: &str,
    title: &str,
    days: &[String],
    series: &[Series],
    label: impl Fn(f64) -> String,
) -> String {
    let values = series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
    });
    let (mut low, mut high) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !low.is_finite() || !high.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    if (high - low).abs() < 1e-12 {
        (low, high) = (
            low - 0.5_f64.max(low.abs() * 0.1),
            high + 0.5_f64.max(high.abs() * 0.1),
        );
    }
    let pad = (high - low) * 0.05;
    let (low, high) = (low - pad, high + pad);
    let span = days.len().saturating_sub(1).max(1) as f64;
    let x = |day: usize| LEFT + (WIDTH - LEFT - RIGHT) * day as f64 / span;
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (v - low) / (high - low));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(title)
    );
    // Horizontal grid with value labels.
    for i in 0..=4 {
        let v = low + (high - low) * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e6ec"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#5b6475">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            escape(&label(v)),
            y = y(v)
        );
    }
    // Zero line when the range crosses it (lift charts).
    if low < 0.0 && high > 0.0 {
        let _ = write!(
            svg,
            r##"<line class="zero" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#5b6475" stroke-dasharray="4 3"/>"##,
            WIDTH - RIGHT,
            y = y(0.0)
        );
    }
    // Day labels: first, last and a few between.
    let step = (days.len() / 6).max(1);
    for (i, day) in days.iter().enumerate() {
        if i % step == 0 || i + 1 == days.len() {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#5b6475">{}</text>"##,
                x(i),
                HEIGHT - 12.0,
                escape(day)
            );
        }
    }
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        if !s.band.is_empty() {
            let upper: Vec<String> = s
                .band
                .iter()
                .map(|b| format!("{:.1},{:.1}", x(b.0), y(b.2)))
                .collect();
            let lower: Vec<String> = s
                .band
                .iter()
                .rev()
                .map(|b| format!("{:.1},{:.1}", x(b.0), y(b.1)))
                .collect();
            let _ = write!(
                svg,
                r#"<polygon class="band" points="{} {}" fill="{colour}" fill-opacity="0.15" stroke="none"/>"#,
                upper.join(" "),
                lower.join(" ")
            );
        }
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="series" data-series="{}" points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            escape(&s.name),
            points.join(" ")
        );
        // Dots too, so a single day still shows.
        for p in s.points.iter().filter(|p| p.1.is_finite()) {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                x(p.0),
                y(p.1)
            );
        }
        let _ = write!(
            svg,
            r#"<rect x="{:.1}" y="{}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{}" font-size="12">{}</text>"#,
            LEFT + 8.0 + 130.0 * i as f64,
            TOP,
            LEFT + 22.0 + 130.0 * i as f64,
            TOP + 9.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_and_bands_are_drawn_and_text_escaped() {
        let svg = line_chart(
            "c",
            "A <b> & c",
            &["d1".into(), "d2".into(), "d3".into()],
            &[Series {
                name: "control".into(),
                points: vec![(0, 0.1), (1, 0.2), (2, 0.15)],
                band: vec![(0, 0.0, 0.2), (1, 0.1, 0.3), (2, 0.1, 0.2)],
            }],
            |v| format!("{:.0}%", v * 100.0),
        );
        assert!(svg.starts_with("<svg id=\"c\""));
        assert!(svg.contains("A &lt;b&gt; &amp; c"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<polygon class=\"band\"").count(), 1);
        assert!(svg.contains("data-series=\"control\""));
        // Three points, each within the plot area.
        let points = svg
            .split("points=\"")
            .nth(2)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 3);
    }
}
