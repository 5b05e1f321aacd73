//! Small bar charts drawn as SVG on the server: no script, no library, readable on a phone.
//! Every label comes from vigie itself (dates, figures), and is escaped all the same.

use std::fmt::Write as _;

use crate::store::kpis;

const WIDTH: f64 = 280.0;
const HEIGHT: f64 = 80.0;
const LABEL: f64 = 14.0;

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Duration,
    Count,
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Duration => kpis::shown_duration(value),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// Bars for `points` (`(label, value)`, `None` drawn as a gap), titled `title` for screen
/// readers, each bar with its figure as a tooltip.
pub fn bars(title: &str, points: &[(String, Option<f64>)], unit: Unit) -> String {
    let top = points
        .iter()
        .filter_map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let slot = WIDTH / points.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {}" role="img" aria-label="{}"><title>{}</title>"#,
        HEIGHT + LABEL,
        escape(title),
        escape(title)
    );
    for (i, (label, value)) in points.iter().enumerate() {
        let x = i as f64 * slot + slot * 0.15;
        let width = slot * 0.7;
        if let Some(value) = value {
            let height = (value / top * HEIGHT).max(1.0);
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{width:.1}" height="{height:.1}"><title>{}: {}</title></rect>"#,
                HEIGHT - height,
                escape(label),
                escape(&unit.show(*value))
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}">{}</text>"#,
            x + width / 2.0,
            HEIGHT + LABEL - 2.0,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_bar_fills_the_chart_and_gaps_stay_empty() {
        let svg = bars(
            "t",
            &[
                ("a".into(), Some(10.0)),
                ("b".into(), None),
                ("c".into(), Some(5.0)),
            ],
            Unit::Count,
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"height="80.0""#), "{svg}");
        assert!(svg.contains(r#"height="40.0""#), "{svg}");
        assert!(svg.contains("<title>c: 5</title>"));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bars("<b>", &[("<i>".into(), Some(1.0))], Unit::Count);
        assert!(!svg.contains("<b>") && !svg.contains("<i>"));
    }
}
