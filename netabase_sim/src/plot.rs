//! Plots of runs' survival samples, as SVG: how many online nodes hold each record over
//! simulated time, one line pair per run, so runs of one scenario with and without a feature can
//! be compared in one picture.

use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;
use crate::time::hours;

/// A plot could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("the plot {path} could not be drawn: {message}")]
pub struct PlotError {
    path: String,
    message: String,
}

/// Draws the holders per record over simulated time (the mean as a solid line, the fewest as a
/// dashed one) of each `(label, report)` into an SVG file at `path`, titled `title`.
pub fn plot_holders(title: &str, runs: &[(&str, &Report)], path: &Path) -> Result<(), PlotError> {
    draw(title, runs, path).map_err(|message| PlotError {
        path: path.display().to_string(),
        message,
    })
}

fn draw(title: &str, runs: &[(&str, &Report)], path: &Path) -> Result<(), String> {
    let text = |error: &dyn std::fmt::Display| error.to_string();
    let samples = || runs.iter().flat_map(|(_, report)| report.samples.iter());
    let end = samples().map(|sample| hours(sample.at)).fold(1.0, f64::max);
    let top = samples()
        .map(|sample| sample.holders_mean.max(f64::from(sample.holders_min)))
        .fold(1.0, f64::max)
        .ceil()
        + 1.0;

    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| text(&error))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..end, 0.0..top)
        .map_err(|error| text(&error))?;
    chart
        .configure_mesh()
        .x_desc("simulated hours since the first put")
        .y_desc("online nodes holding a record")
        .draw()
        .map_err(|error| text(&error))?;
    for (index, (label, report)) in runs.iter().enumerate() {
        let colour = Palette99::pick(index).to_rgba();
        let mean = report
            .samples
            .iter()
            .map(|sample| (hours(sample.at), sample.holders_mean));
        chart
            .draw_series(LineSeries::new(mean, colour.stroke_width(2)))
            .map_err(|error| text(&error))?
            .label(format!("{label}: mean"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
            });
        let fewest = report
            .samples
            .iter()
            .map(|sample| (hours(sample.at), f64::from(sample.holders_min)));
        chart
            .draw_series(DashedLineSeries::new(fewest, 6, 4, colour.stroke_width(1)))
            .map_err(|error| text(&error))?
            .label(format!("{label}: fewest"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], colour));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|error| text(&error))?;
    root.present().map_err(|error| text(&error))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::{Operations, Sample};
    use crate::scenario::Scenario;

    fn report(holders: &[&[u32]]) -> Report {
        let mut report = Report::new(&Scenario::default(), Duration::ZERO);
        for (hour, holders) in holders.iter().enumerate() {
            report.samples.push(Sample::new(
                Duration::from_secs(3600 * hour as u64),
                10,
                (holders, holders),
                Operations::default(),
                (0, 0),
                None,
            ));
        }
        report
    }

    #[test]
    fn each_run_gets_a_mean_and_a_fewest_line_in_the_svg() {
        let with = report(&[&[5, 5], &[4, 5], &[5, 5]]);
        let without = report(&[&[5, 5], &[3, 4], &[1, 2]]);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("holders.svg");
        plot_holders(
            "holders",
            &[("republish on", &with), ("republish off", &without)],
            &path,
        )
        .expect("the plot is drawn");
        let svg = std::fs::read_to_string(&path).expect("the plot is written");
        assert!(svg.starts_with("<svg"), "{svg}");
        for label in [
            "republish on: mean",
            "republish on: fewest",
            "republish off: mean",
            "republish off: fewest",
        ] {
            assert!(svg.contains(label), "{label} is in the legend");
        }
        assert!(svg.matches("<polyline").count() >= 2, "{svg}");
    }

    #[test]
    fn a_plot_that_cannot_be_written_says_where() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("missing").join("holders.svg");
        let error = plot_holders("holders", &[("run", &report(&[&[1]]))], &path)
            .expect_err("no such directory");
        assert!(error.to_string().contains("holders.svg"), "{error}");
    }
}
