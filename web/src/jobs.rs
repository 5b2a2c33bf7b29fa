//! The job list: live progress of every job on the node, cancel and retry, the result to play or
//! download with its report, and ended jobs exported as bundles (and bundles imported).

use crate::compare::AbCompare;
use crate::events::{Action, JobView, Jobs};
use crate::net;
use crate::quality::QualityView;
use gloo_net::http::Request;
use kino_shared::{JobState, JobStatus};
use web_sys::HtmlInputElement;
use yew::prelude::*;

fn eta_text(s: f64) -> String {
    if s >= 3600.0 {
        format!(
            "{:.0} h {:.0} min",
            (s / 3600.0).floor(),
            (s % 3600.0) / 60.0
        )
    } else if s >= 60.0 {
        format!("{:.0} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{s:.0} s")
    }
}

/// "chunk" or "chunks", for `n`.
pub fn chunks(n: impl Into<u64>) -> &'static str {
    if n.into() == 1 {
        "chunk"
    } else {
        "chunks"
    }
}

/// What the job is doing, in words.
fn stage_text(j: &JobView) -> String {
    match (j.state, j.analysed) {
        (JobState::Analysing, Some((d, t))) => format!("analysing {d}/{t} {}", chunks(t)),
        (JobState::Rendering, _) => {
            let (d, t) = (j.chunks_done, j.chunks_total);
            format!("rendering {d}/{t} {}", chunks(t))
        }
        (s, _) => s.as_str().to_owned(),
    }
}

/// The clip open in the editor: its file name and local address (the A/B view's source).
pub type Source = Option<(AttrValue, AttrValue)>;

#[derive(Properties, PartialEq)]
struct ItemProps {
    job: JobView,
    source: Source,
}

#[function_component(JobItem)]
fn job_item(p: &ItemProps) -> Html {
    let j = &p.job;
    let playing = use_state(|| false);
    let comparing = use_state(|| false);
    let player = use_node_ref();
    // A time the quality view asked the result player to show (applied once the player exists).
    let seek = use_state(|| None::<f64>);
    {
        let (player, seek) = (player.clone(), seek.clone());
        use_effect_with((*seek, *playing), move |_| {
            if let (Some(t), Some(v)) = (*seek, player.cast::<web_sys::HtmlVideoElement>()) {
                let _ = v.pause();
                v.set_current_time(t);
                seek.set(None);
            }
        });
    }
    let on_seek = {
        let (playing, seek) = (playing.clone(), seek.clone());
        Callback::from(move |t: f64| {
            playing.set(true);
            seek.set(Some(t));
        })
    };
    let problem = use_state(|| None::<String>);
    let act = |req: fn(&str) -> gloo_net::http::RequestBuilder, path: String| {
        let problem = problem.clone();
        Callback::from(move |_| {
            let (problem, path) = (problem.clone(), path.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match net::send(req(&path)).await {
                    Ok(_) => problem.set(None),
                    Err(e) => problem.set(Some(e.to_string())),
                }
            });
        })
    };
    let cancel = act(Request::delete, format!("/api/jobs/{}", j.id));
    let retry = act(Request::post, format!("/api/jobs/{}/retry", j.id));
    let toggle = {
        let playing = playing.clone();
        Callback::from(move |_| playing.set(!*playing))
    };
    let compare = {
        let comparing = comparing.clone();
        Callback::from(move |_| comparing.set(!*comparing))
    };
    let pct = (j.fraction() * 100.0).floor();
    let mut facts = vec![format!("frames {}/{}", j.frames_done, j.frames_total)];
    if let (Some(fps), false) = (j.fps, j.state.is_final()) {
        facts.push(format!("{fps:.1} fps"));
    }
    if let (Some(eta), false) = (j.eta, j.state.is_final()) {
        facts.push(format!("ETA {}", eta_text(eta)));
    }
    let short = j.id.chars().take(8).collect::<String>();
    // The file name, when this browser rendered it.
    let title =
        crate::store::get(&format!("kino.job.{}", j.id)).unwrap_or_else(|| format!("Job {short}"));
    let stages = if j.stages.is_empty() {
        "no stages".to_owned()
    } else {
        j.stages.join(" → ")
    };
    let output = j.output.as_deref().map(net::link);
    // The A/B view needs this job's source open in the editor (a browser keeps no file).
    let source = p
        .source
        .as_ref()
        .filter(|(name, _)| j.state == JobState::Done && name.as_str() == title)
        .map(|(_, url)| url.clone());
    let report = net::link(&format!("/api/jobs/{}/report", j.id));
    let bundle = net::link(&format!("/api/jobs/{}/bundle?output=true", j.id));
    html! {
        <li class="job" data-job={j.id.clone()} data-state={j.state.as_str()}>
            <div class="row" style="justify-content:space-between">
                <strong title={j.id.clone()}>{ title }<span class="muted">{ format!(" · {stages}") }</span></strong>
                <span class={classes!("state", j.state.as_str())}>{ stage_text(j) }</span>
            </div>
            <div class="bar" role="progressbar" aria-label={format!("Job {short} progress")}
                aria-valuemin="0" aria-valuemax="100" aria-valuenow={pct.to_string()} data-percent={pct.to_string()}>
                <span style={format!("width:{pct}%")} />
            </div>
            <p class="muted" style="margin:.2rem 0">{ format!("{pct}% · {}", facts.join(" · ")) }</p>
            for n in &j.notes { <p class="muted note">{ n }</p> }
            if !j.warnings.is_empty() {
                <ul class="warn">{ for j.warnings.iter().map(|w| html! { <li>{ w }</li> }) }</ul>
            }
            if let Some(e) = &j.error { <p class="err">{ e }</p> }
            if let Some(e) = &*problem { <p class="err">{ e }</p> }
            <div class="row">
                if !j.state.is_final() {
                    <button type="button" class="secondary cancel" onclick={cancel}>{"Cancel"}</button>
                }
                if matches!(j.state, JobState::Failed | JobState::Cancelled) {
                    <button type="button" class="retry" onclick={retry}>{"Retry"}</button>
                }
                if let Some(out) = &output {
                    <button type="button" class="play" onclick={toggle} aria-pressed={playing.to_string()}>
                        { if *playing { "Hide player" } else { "Play" } }
                    </button>
                    if source.is_some() {
                        <button type="button" class="secondary compare" onclick={compare} aria-pressed={comparing.to_string()}
                            title="Source and result playing together, with a wipe">{"A/B"}</button>
                    }
                    <a class="button secondary download" href={out.clone()} download="">{"Download"}</a>
                    <a class="report" href={report} target="_blank" rel="noopener">{"Report"}</a>
                }
                if j.state.is_final() {
                    <a class="bundle" href={bundle} download="" title="The job's settings, report and output as one file, to import on another node">{"Export"}</a>
                }
            </div>
            if let (Some(out), Some(src), true) = (&output, &source, *comparing) {
                <AbCompare job={j.id.clone()} result={out.clone()} source={src.clone()} clock={j.clock.clone()} />
            }
            if let (Some(out), true) = (&output, *playing) {
                <video ref={player} class="result" src={out.clone()} controls=true autoplay=true muted=true style="margin-top:.4rem" />
            }
            if j.state == JobState::Done && output.is_some() {
                <QualityView job={j.id.clone()} on_seek={on_seek} />
            }
        </li>
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub jobs: UseReducerHandle<Jobs>,
    #[prop_or_default]
    pub source: Source,
}

/// Sends a job bundle file to the node; the imported job joins the list.
async fn import_bundle(file: web_sys::File) -> Result<JobStatus, String> {
    let req = net::auth(Request::post("/api/jobs/import"))
        .header("Content-Type", "application/x-tar")
        .body(file)
        .map_err(|e| e.to_string())?;
    let resp = req
        .send()
        .await
        .map_err(|_| net::NetError::Unreachable.to_string())?;
    let resp = net::check(resp).await.map_err(|e| e.to_string())?;
    resp.json::<JobStatus>().await.map_err(|e| e.to_string())
}

#[function_component(JobList)]
pub fn job_list(p: &Props) -> Html {
    let list = p.jobs.newest_first();
    let said = use_state(|| None::<(bool, String)>);
    let import = {
        let (jobs, said) = (p.jobs.clone(), said.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            input.set_value("");
            let (jobs, said) = (jobs.clone(), said.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match import_bundle(file).await {
                    Ok(job) => {
                        let short = job.id.chars().take(8).collect::<String>();
                        said.set(Some((false, format!("Imported as job {short}"))));
                        jobs.dispatch(Action::Created(Box::new(job)));
                    }
                    Err(e) => said.set(Some((true, format!("Import refused: {e}")))),
                }
            });
        })
    };
    html! {
        <section class="panel" aria-labelledby="jobs-h">
            <h2 id="jobs-h">{"Jobs"}</h2>
            <div class="row">
                <input id="bundle-import" type="file" accept=".tar,application/x-tar" class="visually-hidden" onchange={import} />
                <label class="button secondary" for="bundle-import">{"Import a job…"}</label>
                if let Some((err, text)) = &*said {
                    <span id="bundle-message" class={if *err { "err" } else { "muted" }} role="status">{ text }</span>
                }
            </div>
            if list.is_empty() {
                <p class="muted">{"No jobs on this node yet. Render a video to start one."}</p>
            }
            <ul class="jobs">
                { for list.into_iter().map(|j| html! { <JobItem key={j.id.clone()} job={j.clone()} source={p.source.clone()} /> }) }
            </ul>
        </section>
    }
}
