//! A finished job's quality and timings under it: the per-frame curve of the report's `quality` section (the
//! output against its source) and the worst moments as thumbnails; clicking either seeks the result
//! player there.

use crate::net;
use gloo_net::http::Request;
use kino_shared::{FrameQuality, JobTimings, QualityReport};
use serde::Deserialize;
use std::rc::Rc;
use yew::prelude::*;

/// The part of `GET /api/jobs/{id}/report` this view reads.
#[derive(Deserialize)]
struct Report {
    sections: Sections,
}

#[derive(Deserialize)]
struct Sections {
    #[serde(default)]
    quality: Option<QualityReport>,
    #[serde(default)]
    timings: Option<JobTimings>,
}

/// The curve's drawing size (the SVG scales to its box).
const W: f64 = 600.0;
const H: f64 = 90.0;
/// PSNR drawn for identical frames (infinite).
const PSNR_CAP: f64 = 60.0;

/// Which figure the curve draws: SSIMULACRA2 when every scored frame has it, else PSNR.
#[derive(Clone, Copy, PartialEq)]
pub enum Metric {
    Ssimulacra2,
    Psnr,
}

impl Metric {
    fn of(frames: &[FrameQuality]) -> Metric {
        if !frames.is_empty() && frames.iter().all(|f| f.ssimulacra2.is_some()) {
            Metric::Ssimulacra2
        } else {
            Metric::Psnr
        }
    }

    fn value(self, f: &FrameQuality) -> f64 {
        match self {
            Metric::Ssimulacra2 => f.ssimulacra2.unwrap_or(100.0),
            Metric::Psnr => f.psnr.unwrap_or(PSNR_CAP).min(PSNR_CAP),
        }
    }

    fn label(self, v: f64) -> String {
        match self {
            Metric::Ssimulacra2 => format!("SSIMULACRA2 {v:.1}"),
            Metric::Psnr => format!("{v:.1} dB"),
        }
    }
}

/// `m:ss.cc`.
fn clock(t: f64) -> String {
    let t = t.max(0.0);
    format!("{}:{:05.2}", (t / 60.0).floor(), t % 60.0)
}

/// The curve's points in drawing units, and the time span `(first, last)` it covers.
pub fn points(frames: &[FrameQuality], metric: Metric) -> (String, (f64, f64)) {
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
        return (String::new(), (0.0, 0.0));
    };
    let span = (first.time, last.time);
    let values: Vec<f64> = frames.iter().map(|f| metric.value(f)).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = (hi - lo).max(1.0);
    let width = (span.1 - span.0).max(1e-6);
    let pts = frames
        .iter()
        .zip(&values)
        .map(|(f, v)| {
            let x = (f.time - span.0) / width * W;
            let y = H - 4.0 - (v - lo) / range * (H - 8.0);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    (pts, span)
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub job: String,
    /// Seeks the result player to a time of the output, seconds.
    pub on_seek: Callback<f64>,
}

/// The report's sections this view draws, as fetched.
type Fetched = Option<Result<(Option<Rc<QualityReport>>, Option<JobTimings>), String>>;

#[function_component(QualityView)]
pub fn quality_view(p: &Props) -> Html {
    let report = use_state(|| Fetched::None);
    {
        let (report, job) = (report.clone(), p.job.clone());
        use_effect_with(p.job.clone(), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let got = match net::send(Request::get(&format!("/api/jobs/{job}/report"))).await {
                    Ok(r) => r
                        .json::<Report>()
                        .await
                        .map(|r| (r.sections.quality.map(Rc::new), r.sections.timings))
                        .map_err(|e| format!("the report cannot be read: {e}")),
                    Err(e) => Err(e.to_string()),
                };
                report.set(Some(got));
            });
        });
    }
    match &*report {
        None => html! { <p class="muted quality">{"Loading the quality report…"}</p> },
        Some(Err(e)) => html! { <p class="err quality">{ e }</p> },
        Some(Ok((q, t))) => html! {
            <>
                if let Some(q) = q {
                    <QualityCurve job={p.job.clone()} on_seek={p.on_seek.clone()} report={q.clone()} />
                }
                if let Some(t) = t { { crate::timings::timings_bar(t) } }
            </>
        },
    }
}

#[derive(Properties, PartialEq)]
struct CurveProps {
    job: String,
    on_seek: Callback<f64>,
    report: Rc<QualityReport>,
}

#[function_component(QualityCurve)]
fn quality_curve(p: &CurveProps) -> Html {
    let curve = use_node_ref();
    let q = &*p.report;
    if !q.measured || q.frames.is_empty() {
        return html! { <p class="muted quality">{ format!("Quality: {}", q.compared) }</p> };
    }
    let metric = Metric::of(&q.frames);
    let (line, (t0, t1)) = points(&q.frames, metric);
    let onclick = {
        let (on_seek, curve) = (p.on_seek.clone(), curve.clone());
        // Not the event's current target: Yew listens at the page's root.
        Callback::from(move |e: MouseEvent| {
            let Some(el) = curve.cast::<web_sys::Element>() else {
                return;
            };
            let rect = el.get_bounding_client_rect();
            let x = (e.client_x() as f64 - rect.left()) / rect.width().max(1.0);
            on_seek.emit(t0 + x.clamp(0.0, 1.0) * (t1 - t0));
        })
    };
    let summary = match metric {
        Metric::Ssimulacra2 => q
            .summary
            .ssimulacra2_p5
            .map(|v| format!("SSIMULACRA2 P5 {v:.1}")),
        Metric::Psnr => q.summary.psnr.map(|v| format!("PSNR {v:.2} dB")),
    };
    let ssim = q.summary.ssim.map(|v| format!("SSIM {v:.4}"));
    let encoder = q.encoder.as_ref().map(|e| match e.summary.psnr {
        Some(v) => format!("the encoder alone: {v:.2} dB"),
        None => "the encoder alone: lossless".to_owned(),
    });
    let facts: Vec<String> = [summary, ssim, encoder].into_iter().flatten().collect();
    html! {
        <div class="quality" data-metric={if metric == Metric::Psnr { "psnr" } else { "ssimulacra2" }}>
            <p class="muted" style="margin:.3rem 0" title={q.compared.clone()}>
                { format!("Quality against the source · {}", facts.join(" · ")) }
            </p>
            <svg ref={curve} class="curve" viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none" role="img"
                aria-label={format!("Per-frame quality, {} frames; click to seek the result", q.frames.len())}
                data-start={t0.to_string()} data-end={t1.to_string()} onclick={onclick}>
                <polyline points={line} fill="none" stroke="var(--accent)" stroke-width="1.5"
                    vector-effect="non-scaling-stroke" />
                { for q.worst.iter().map(|w| {
                    let x = (w.frame.time - t0) / (t1 - t0).max(1e-6) * W;
                    html! { <line x1={format!("{x:.1}")} x2={format!("{x:.1}")} y1="0" y2={H.to_string()}
                        stroke="var(--err)" stroke-width="1" vector-effect="non-scaling-stroke" /> }
                }) }
            </svg>
            <div class="worst row" role="list" aria-label="Worst moments">
                { for q.worst.iter().map(|w| {
                    let t = w.frame.time;
                    let on_seek = p.on_seek.clone();
                    let label = format!("{} · {}", clock(t), metric.label(metric.value(&w.frame)));
                    html! {
                        <button type="button" class="secondary moment" role="listitem" data-time={t.to_string()}
                            aria-label={format!("Seek the result to {label}")}
                            onclick={Callback::from(move |_| on_seek.emit(t))}>
                            if let Some(name) = &w.thumbnail {
                                <img src={net::link(&format!("/api/jobs/{}/quality/{name}", p.job))} alt="" loading="lazy" />
                            }
                            <span>{ label }</span>
                        </button>
                    }
                }) }
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(time: f64, psnr: Option<f64>) -> FrameQuality {
        FrameQuality {
            time,
            psnr,
            ..Default::default()
        }
    }

    #[test]
    fn the_curve_spans_the_box_and_caps_identical_frames() {
        let frames = [f(1.0, Some(30.0)), f(2.0, None), f(3.0, Some(45.0))];
        let (line, span) = points(&frames, Metric::of(&frames));
        assert_eq!(span, (1.0, 3.0));
        assert_eq!(line, "0.0,86.0 300.0,4.0 600.0,45.0");
        assert_eq!(clock(75.5), "1:15.50");
    }
}
