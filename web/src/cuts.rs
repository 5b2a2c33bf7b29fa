//! Scenes and auto-edit on the timeline: an analysis-only job on the node finds the scene starts and
//! the black, frozen and silent stretches; the stretches show as cuts the user switches on or off
//! one by one, and what stays becomes the job's kept ranges (with the in/out marks), so the render
//! and its cut list follow those choices.

use crate::net;
use crate::timeline::clock;
use gloo_net::http::Request;
use gloo_timers::future::TimeoutFuture;
use kino_shared::{AutoEditParams, JobSpec, JobStatus, KeepRange, SceneParams};
use serde_json::Value;
use yew::prelude::*;

/// A stretch auto-edit would remove, seconds from the first frame, and whether it is cut.
#[derive(Clone, PartialEq, Debug)]
pub struct Stretch {
    pub start: f64,
    pub end: f64,
    pub reasons: Vec<String>,
    pub cut: bool,
}

/// What the analysis found.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Found {
    pub stretches: Vec<Stretch>,
    /// Where each scene after the first begins, seconds.
    pub scenes: Vec<f64>,
}

/// The ranges to keep: the marked parts (all of the clip when none is marked) less every stretch
/// that is cut. Empty when that is the whole clip.
pub fn keep_with(marks: &[KeepRange], stretches: &[Stretch]) -> Vec<KeepRange> {
    let mut parts: Vec<KeepRange> = if marks.is_empty() {
        vec![KeepRange {
            start: 0.0,
            end: None,
        }]
    } else {
        marks.to_vec()
    };
    for s in stretches.iter().filter(|s| s.cut) {
        parts = parts
            .into_iter()
            .flat_map(|p| {
                let end = p.end.unwrap_or(f64::INFINITY);
                if s.end <= p.start || s.start >= end {
                    return vec![p];
                }
                let mut out = Vec::new();
                if s.start > p.start {
                    out.push(KeepRange {
                        start: p.start,
                        end: Some(s.start),
                    });
                }
                if s.end < end {
                    out.push(KeepRange {
                        start: s.end,
                        end: p.end,
                    });
                }
                out
            })
            .collect();
    }
    if parts
        == [KeepRange {
            start: 0.0,
            end: None,
        }]
    {
        return Vec::new();
    }
    parts
}

/// The stretches and scene starts of a job report.
pub fn found_in(report: &Value) -> Found {
    let sections = &report["sections"];
    let cut = &sections["auto_edit"]["cut_list"];
    let rate = &cut["source"]["rate"];
    let fps = rate["num"].as_f64().unwrap_or(25.0) / rate["den"].as_f64().unwrap_or(1.0).max(1.0);
    let stretches = cut["removed"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| Stretch {
                    start: r["start"].as_f64().unwrap_or(0.0) / fps,
                    end: r["end"].as_f64().unwrap_or(0.0) / fps,
                    reasons: r["reasons"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    cut: true,
                })
                .collect()
        })
        .unwrap_or_default();
    let scenes = sections["scenes"]["scenes"]
        .as_array()
        .map(|list| {
            list.iter()
                .skip(1)
                .filter_map(|s| s["start_seconds"].as_f64())
                .collect()
        })
        .unwrap_or_default();
    Found { stretches, scenes }
}

/// Uploads `file` (or finds its upload) and runs an analysis-only job on it; `say` tells progress.
pub async fn analyse(file: web_sys::File, say: Callback<String>) -> Result<Found, String> {
    let up = {
        let say = say.clone();
        Callback::from(move |s: crate::tus::Status| {
            if let crate::tus::Status::Sending { sent, total, .. } = s {
                say.emit(format!("uploading {:.0}%", sent / total.max(1.0) * 100.0));
            }
        })
    };
    let id = crate::tus::upload(file, up)
        .await
        .map_err(|e| format!("upload failed: {e}"))?;
    let spec = JobSpec {
        input: id,
        stages: Vec::new(),
        audio_stages: Vec::new(),
        scenes: Some(SceneParams {
            thumbnails: false,
            chapters: false,
            ..SceneParams::default()
        }),
        auto_edit: Some(AutoEditParams::default()),
        keep: Vec::new(),
        analyse_only: true,
        output: Default::default(),
        chunk_seconds: 4.0,
    };
    let body = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let job: JobStatus = net::send_json(Request::post("/api/jobs"), body)
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    say.emit("analysing on the node…".into());
    loop {
        TimeoutFuture::new(500).await;
        let s: JobStatus = net::send(Request::get(&format!("/api/jobs/{}", job.id)))
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match s.state {
            kino_shared::JobState::Done => break,
            kino_shared::JobState::Failed | kino_shared::JobState::Cancelled => {
                return Err(s.error.unwrap_or_else(|| "the analysis stopped".into()))
            }
            _ => {}
        }
    }
    let report: Value = net::send(Request::get(&format!("/api/jobs/{}/report", job.id)))
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(found_in(&report))
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub found: Option<Found>,
    pub status: Option<String>,
    pub busy: bool,
    pub on_find: Callback<()>,
    pub on_toggle: Callback<usize>,
}

/// The button that asks the node, and each stretch found with its switch.
#[function_component(CutsPanel)]
pub fn cuts_panel(p: &Props) -> Html {
    let onclick = {
        let on_find = p.on_find.clone();
        Callback::from(move |_: MouseEvent| on_find.emit(()))
    };
    html! {
        <div class="cuts" id="cuts">
            <div class="row">
                <button type="button" class="secondary" id="find-cuts" {onclick} disabled={p.busy}
                    title="Uploads the clip and lets the node find scene cuts and black, frozen or silent stretches">
                    {"Find scenes and cuts"}
                </button>
                if let Some(s) = &p.status { <span class="muted" id="cuts-status" role="status">{ s }</span> }
            </div>
            if let Some(f) = &p.found {
                <p class="muted" id="cuts-found" data-scenes={f.scenes.len().to_string()} data-stretches={f.stretches.len().to_string()}>
                    { format!("{} scene cuts (marks on the timeline); {} stretches to cut{}", f.scenes.len(), f.stretches.len(),
                        if f.stretches.is_empty() { "." } else { " — untick one to keep it:" }) }
                </p>
                <ul class="cuts-list" id="cuts-list">
                    { for f.stretches.iter().enumerate().map(|(i, s)| {
                        let on_toggle = p.on_toggle.clone();
                        let id = format!("cut-{i}");
                        html! {
                            <li>
                                <input type="checkbox" id={id.clone()} checked={s.cut}
                                    onchange={Callback::from(move |_: Event| on_toggle.emit(i))} />
                                <label for={id}>{ format!("cut {} – {} ({})", clock(s.start), clock(s.end), s.reasons.join(", ")) }</label>
                            </li>
                        }
                    }) }
                </ul>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: f64, end: Option<f64>) -> KeepRange {
        KeepRange { start, end }
    }

    fn cut(start: f64, end: f64, on: bool) -> Stretch {
        Stretch {
            start,
            end,
            reasons: vec!["black".into()],
            cut: on,
        }
    }

    #[test]
    fn cut_stretches_come_out_of_the_marked_parts() {
        assert!(keep_with(&[], &[cut(1.0, 2.0, false)]).is_empty());
        assert_eq!(
            keep_with(&[], &[cut(1.0, 2.0, true), cut(3.0, 4.0, true)]),
            [r(0.0, Some(1.0)), r(2.0, Some(3.0)), r(4.0, None)]
        );
        assert_eq!(
            keep_with(
                &[r(1.5, Some(5.0))],
                &[cut(1.0, 2.0, true), cut(3.0, 4.0, false)]
            ),
            [r(2.0, Some(5.0))]
        );
        assert!(kino_shared::validate_keep(&keep_with(&[], &[cut(0.0, 1.0, true)])).is_ok());
    }

    #[test]
    fn a_report_gives_seconds() {
        let report = serde_json::json!({"sections": {
            "auto_edit": {"cut_list": {"source": {"rate": {"num": 25, "den": 1}},
                "removed": [{"start": 43, "end": 96, "reasons": ["black"]}]}},
            "scenes": {"scenes": [{"start_seconds": 0.0}, {"start_seconds": 2.4}]}
        }});
        let f = found_in(&report);
        assert_eq!(f.scenes, [2.4]);
        assert!((f.stretches[0].start - 1.72).abs() < 1e-9);
        assert!((f.stretches[0].end - 3.84).abs() < 1e-9);
    }
}

/// The node's filmstrip and waveform of a file (`GET /api/uploads/{id}/overview`).
#[derive(Clone, PartialEq, Debug, serde::Deserialize)]
pub struct Overview {
    pub duration: f64,
    pub thumbs: Vec<String>,
    pub peaks: Vec<f32>,
}

/// Uploads `file` (or finds its upload) and asks the node for its overview.
pub async fn overview(file: web_sys::File, say: Callback<String>) -> Result<Overview, String> {
    let up = Callback::from(move |s: crate::tus::Status| {
        if let crate::tus::Status::Sending { sent, total, .. } = s {
            say.emit(format!("uploading {:.0}%", sent / total.max(1.0) * 100.0));
        }
    });
    let id = crate::tus::upload(file, up)
        .await
        .map_err(|e| format!("upload failed: {e}"))?;
    net::send(Request::get(&format!(
        "/api/uploads/{id}/overview?thumbs=16&height=60&columns=600"
    )))
    .await
    .map_err(|e| e.to_string())?
    .json()
    .await
    .map_err(|e| e.to_string())
}

#[derive(Properties, PartialEq)]
pub struct OverviewProps {
    pub file: web_sys::File,
}

/// For a file the browser cannot play: the node's filmstrip and waveform, on request (the file is
/// uploaded for it, and the render then needs no second upload).
#[function_component(NodeOverview)]
pub fn node_overview(p: &OverviewProps) -> Html {
    let got = use_state(|| None::<Overview>);
    let status = use_state(|| None::<String>);
    let onclick = {
        let (file, got, status) = (p.file.clone(), got.clone(), status.clone());
        Callback::from(move |_: MouseEvent| {
            let (file, got, status) = (file.clone(), got.clone(), status.clone());
            let say = {
                let status = status.clone();
                Callback::from(move |s| status.set(Some(s)))
            };
            wasm_bindgen_futures::spawn_local(async move {
                match overview(file, say).await {
                    Ok(o) => {
                        status.set(None);
                        got.set(Some(o));
                    }
                    Err(e) => status.set(Some(format!("The node could not show it: {e}"))),
                }
            });
        })
    };
    let max = got
        .as_ref()
        .map_or(1.0, |o| o.peaks.iter().copied().fold(1e-6, f32::max));
    html! {
        <div class="timeline" id="node-overview">
            if let Some(o) = &*got {
                <div class="tl-scroll">
                    <div class="tl-track">
                        <div class="node-strip">{ for o.thumbs.iter().map(|t| html! { <img src={t.clone()} alt="" /> }) }</div>
                        <svg class="tl-wave" viewBox={format!("0 0 {} 40", o.peaks.len().max(1))} preserveAspectRatio="none" aria-hidden="true">
                            { for o.peaks.iter().enumerate().map(|(x, p)| {
                                let h = (p / max * 40.0).max(0.5);
                                html! { <rect x={x.to_string()} y={format!("{:.2}", (40.0 - h) / 2.0)} width="1" height={format!("{h:.2}")} fill="#3b82f6" /> }
                            }) }
                        </svg>
                    </div>
                </div>
                <p class="muted">{ format!("{:.1} s, from the node (this browser cannot play the file; trim it with the CLI or the API's keep).", o.duration) }</p>
            } else {
                <div class="row">
                    <button type="button" class="secondary" id="node-overview-get" {onclick}>{"Show its timeline from the node"}</button>
                    if let Some(s) = &*status { <span class="muted" role="status">{ s }</span> }
                </div>
            }
        </div>
    }
}
