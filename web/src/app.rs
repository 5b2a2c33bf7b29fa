//! The page: source video and before/after on the left, settings and render on the right, the jobs
//! below; a banner while the node cannot be reached.

use crate::batch::BatchPanel;
use crate::cuts::{self, CutsPanel, Found};
use crate::dashboard::Dashboard;
use crate::events::{self, Action, Jobs};
use crate::jobs::JobList;
use crate::media::{self, Meta};
use crate::net::{self, NetError};
use crate::notify;
use crate::preview::BeforeAfter;
use crate::probe::{self, Probed};
use crate::settings::{Form, Settings};
use crate::theme::ThemePicker;
use crate::timeline::Timeline;
use crate::tus::{self, Status};
use crate::viz3d::Viz3d;
use kino_shared::{JobSpec, JobStatus, KeepRange};
use web_sys::{File, HtmlInputElement, HtmlVideoElement};
use yew::prelude::*;

/// Where the render is.
#[derive(Clone, PartialEq)]
enum Render {
    Idle,
    Upload(Status),
    Submitting,
    Submitted(String),
    Failed(String),
}

/// A fresh `Idempotency-Key`: one per press of Render, so a retried request makes no second job.
pub(crate) fn idempotency_key() -> String {
    (0..4)
        .map(|_| format!("{:08x}", (js_sys::Math::random() * 4_294_967_296.0) as u32))
        .collect()
}

/// The "Render" button's work: upload (resumable), then the job.
async fn render(file: File, spec: JobSpec, status: Callback<Render>, jobs: Callback<Action>) {
    let key = idempotency_key();
    let name = file.name();
    let up = Callback::from({
        let status = status.clone();
        move |s| status.emit(Render::Upload(s))
    });
    let id = match tus::upload(file, up).await {
        Ok(id) => id,
        Err(e) => return status.emit(Render::Failed(format!("Upload failed: {e}"))),
    };
    status.emit(Render::Submitting);
    let spec = JobSpec { input: id, ..spec };
    let body = match serde_json::to_string(&spec) {
        Ok(b) => b,
        Err(e) => return status.emit(Render::Failed(e.to_string())),
    };
    let built = net::auth(gloo_net::http::Request::post("/api/jobs"))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &key)
        .body(body);
    let result = match built {
        Ok(r) => match r.send().await {
            Ok(resp) => net::check(resp).await,
            Err(_) => Err(NetError::Unreachable),
        },
        Err(e) => return status.emit(Render::Failed(e.to_string())),
    };
    match result {
        Ok(resp) => match resp.json::<JobStatus>().await {
            Ok(job) => {
                crate::store::set(&format!("kino.job.{}", job.id), &name);
                status.emit(Render::Submitted(job.id.clone()));
                jobs.emit(Action::Created(Box::new(job)));
            }
            Err(e) => status.emit(Render::Failed(format!("unexpected answer: {e}"))),
        },
        Err(e) => status.emit(Render::Failed(format!("The job was refused: {e}"))),
    }
}

/// Which page the address names: the editor, or `#dashboard`.
#[derive(Clone, Copy, PartialEq)]
enum Page {
    Editor,
    Dashboard,
}

fn page_of_address() -> Page {
    let hash = web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    if hash == "#dashboard" {
        Page::Dashboard
    } else {
        Page::Editor
    }
}

#[function_component(App)]
pub fn app() -> Html {
    let page = use_state(page_of_address);
    {
        // Follows the address (links, back and forward) without reloading.
        let page = page.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().map(|w| {
                gloo_events::EventListener::new(&w, "hashchange", move |_| {
                    page.set(page_of_address())
                })
            });
            move || drop(listener)
        });
    }
    let video = use_node_ref();
    let file = use_state(|| None::<File>);
    let src = use_state(|| None::<String>);
    let problem = use_state(|| None::<String>);
    let probed = use_state(|| Probed::Unknown);
    let unplayable = use_state(|| false);
    // Which choice a probe answers: a slow answer for an earlier file is dropped.
    let chosen = use_mut_ref(|| 0u32);
    let meta = use_state(Meta::default);
    let tick = use_state(|| 0u32);
    let form = use_state(Form::saved);
    // The parts of the clip to keep (the timeline's marks), less the stretches the node found and
    // the user leaves cut: sent as the job's `keep`.
    let keep = use_state(Vec::<KeepRange>::new);
    let found = use_state(|| None::<Found>);
    let cuts_status = use_state(|| None::<String>);
    let cuts_busy = use_state(|| false);
    let kept = cuts::keep_with(
        &keep,
        found.as_ref().map_or(&[][..], |f| f.stretches.as_slice()),
    );
    let render_state = use_state(|| Render::Idle);
    let online = use_state(|| None::<bool>);
    let over = use_state(|| false);
    let jobs = use_reducer(Jobs::default);
    let interrupted = use_memo((), |_| tus::interrupted());
    let watch = use_mut_ref(notify::Watch::default);
    {
        // Jobs that end while the page is watched are announced (notification, title count).
        let (jobs, watch) = (jobs.clone(), watch.clone());
        use_effect_with(jobs.events, move |_| {
            let mut w = watch.borrow_mut();
            let ended = w.ended(jobs.by_id.values().map(|j| (j.id.as_str(), j.state)));
            for (id, _) in ended {
                if let Some(job) = jobs.by_id.get(&id) {
                    let name = crate::store::get(&format!("kino.job.{id}"));
                    notify::announce(&mut w, job, name);
                }
            }
        });
    }
    {
        // Looking at the page again clears the count.
        let watch = watch.clone();
        use_effect_with((), move |_| {
            let seen = move || {
                if notify::looked_at() {
                    watch.borrow_mut().unseen = 0;
                    notify::show_count(0);
                }
            };
            let window = web_sys::window();
            let on_focus = window.as_ref().map(|w| {
                let seen = seen.clone();
                gloo_events::EventListener::new(w, "focus", move |_| seen())
            });
            let on_visible = window
                .and_then(|w| w.document())
                .map(|d| gloo_events::EventListener::new(&d, "visibilitychange", move |_| seen()));
            move || drop((on_focus, on_visible))
        });
    }

    {
        let (jobs, online) = (jobs.clone(), online.clone());
        use_effect_with((), move |_| {
            let dispatch = Callback::from(move |a| jobs.dispatch(a));
            let on = Callback::from(move |v| online.set(Some(v)));
            events::connect(dispatch, on);
        });
    }

    let choose = {
        let (file, src, problem, meta) = (file.clone(), src.clone(), problem.clone(), meta.clone());
        let (probed, chosen, unplayable) = (probed.clone(), chosen.clone(), unplayable.clone());
        let (keep, found, cuts_status) = (keep.clone(), found.clone(), cuts_status.clone());
        Callback::from(move |f: File| {
            unplayable.set(false);
            keep.set(Vec::new());
            found.set(None);
            cuts_status.set(None);
            if let Some(old) = &*src {
                let _ = web_sys::Url::revoke_object_url(old);
            }
            meta.set(Meta::default());
            probed.set(Probed::Unknown);
            let turn = {
                let mut c = chosen.borrow_mut();
                *c = c.wrapping_add(1);
                *c
            };
            if let Some(why) = media::refuse(&f) {
                problem.set(Some(why));
                src.set(None);
                file.set(None);
                return;
            }
            problem.set(None);
            src.set(web_sys::Url::create_object_url_with_blob(&f).ok());
            file.set(Some(f.clone()));
            let (probed, chosen) = (probed.clone(), chosen.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let answer = probe::probe(&f).await;
                if *chosen.borrow() == turn {
                    probed.set(answer);
                }
            });
        })
    };
    let onpick = {
        let choose = choose.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(f) = input.files().and_then(|l| l.get(0)) {
                choose.emit(f);
            }
        })
    };
    let ondragover = {
        let over = over.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            over.set(true);
        })
    };
    let ondragleave = {
        let over = over.clone();
        Callback::from(move |_: DragEvent| over.set(false))
    };
    let ondrop = {
        let (over, choose) = (over.clone(), choose.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            over.set(false);
            if let Some(f) = e
                .data_transfer()
                .and_then(|d| d.files())
                .and_then(|l| l.get(0))
            {
                choose.emit(f);
            }
        })
    };
    let bump = {
        let tick = tick.clone();
        Callback::from(move |_: Event| tick.set(tick.wrapping_add(1)))
    };
    let onloadedmetadata = {
        let (meta, video) = (meta.clone(), video.clone());
        Callback::from(move |_: Event| {
            let Some(v) = video.cast::<HtmlVideoElement>() else {
                return;
            };
            let m = Meta {
                duration: v.duration(),
                width: v.video_width(),
                height: v.video_height(),
                fps: None,
            };
            meta.set(m.clone());
            let meta = meta.clone();
            media::measure_fps(
                &v,
                Callback::from(move |fps| {
                    meta.set(Meta {
                        fps: Some(fps),
                        ..m.clone()
                    })
                }),
            );
        })
    };
    let onvideoerror = {
        let unplayable = unplayable.clone();
        Callback::from(move |_: Event| unplayable.set(true))
    };
    // The node's verdict comes first: a file it cannot read is refused whatever the browser says.
    let not_video = match &*probed {
        Probed::NotVideo(why) => Some(why.clone()),
        _ => None,
    };
    let shown_problem = not_video
        .clone()
        .or_else(|| (*problem).clone())
        .or_else(|| unplayable.then(|| media::unplayable(&probed)));

    let parsed = form.parse();
    let errors = parsed.as_ref().err().cloned().unwrap_or_default();
    // Tracking needs the whole video: the preview shows the other stages.
    let preview_stages = parsed.as_ref().ok().map(|spec| {
        spec.stages
            .iter()
            .filter(|s| !matches!(s, kino_shared::StageSpec::Detect(_)))
            .cloned()
            .collect::<Vec<_>>()
    });
    let busy = matches!(*render_state, Render::Upload(_) | Render::Submitting);
    // Set at the click itself: a second click can arrive before the page re-renders the button
    // as disabled, and must not start a second upload and job.
    let in_flight = use_mut_ref(|| false);
    let onrender = {
        let (file, parsed, render_state, jobs, in_flight, keep) = (
            file.clone(),
            parsed.clone(),
            render_state.clone(),
            jobs.clone(),
            in_flight.clone(),
            kept.clone(),
        );
        Callback::from(move |_| {
            let (Some(f), Ok(spec)) = (&*file, &parsed) else {
                return;
            };
            if in_flight.replace(true) {
                return;
            }
            notify::ask_permission();
            let spec = JobSpec {
                keep: keep.clone(),
                ..spec.clone()
            };
            let st = render_state.clone();
            let flag = in_flight.clone();
            let status = Callback::from(move |s: Render| {
                if matches!(s, Render::Submitted(_) | Render::Failed(_)) {
                    *flag.borrow_mut() = false;
                }
                st.set(s)
            });
            let dispatch = {
                let jobs = jobs.clone();
                Callback::from(move |a| jobs.dispatch(a))
            };
            wasm_bindgen_futures::spawn_local(render(f.clone(), spec, status, dispatch));
        })
    };
    let on_find = {
        let (file, found, status, busy) = (
            file.clone(),
            found.clone(),
            cuts_status.clone(),
            cuts_busy.clone(),
        );
        Callback::from(move |_| {
            let Some(f) = (*file).clone() else { return };
            let (found, status, busy) = (found.clone(), status.clone(), busy.clone());
            busy.set(true);
            let say = {
                let status = status.clone();
                Callback::from(move |s: String| status.set(Some(s)))
            };
            wasm_bindgen_futures::spawn_local(async move {
                match cuts::analyse(f, say).await {
                    Ok(f) => {
                        status.set(None);
                        found.set(Some(f));
                    }
                    Err(e) => status.set(Some(format!("The analysis failed: {e}"))),
                }
                busy.set(false);
            });
        })
    };
    let on_toggle = {
        let found = found.clone();
        Callback::from(move |i: usize| {
            if let Some(mut f) = (*found).clone() {
                if let Some(s) = f.stretches.get_mut(i) {
                    s.cut = !s.cut;
                }
                found.set(Some(f));
            }
        })
    };
    let on_keep = {
        let keep = keep.clone();
        Callback::from(move |k: Vec<KeepRange>| keep.set(k))
    };
    let on_form = {
        let form = form.clone();
        Callback::from(move |f: Form| {
            f.save();
            form.set(f)
        })
    };

    // The 3D view shows the job in progress, else the newest.
    let shown = {
        let list = jobs.newest_first();
        list.iter()
            .find(|j| !j.state.is_final())
            .or(list.first())
            .map(|j| (*j).clone())
    };
    let on_dashboard = *page == Page::Dashboard;
    let open_clip = file
        .as_ref()
        .zip(src.as_ref())
        .map(|(f, u)| (AttrValue::from(f.name()), AttrValue::from(u.clone())));
    let m = &*meta;
    let size = file
        .as_ref()
        .map(|f| media::human_size(f.size()))
        .unwrap_or_default();
    html! {
        <>
        <header class="top">
            <h1>{"Kino"}<span class="muted">{" · video enhancement"}</span></h1>
            <nav class="row pages" aria-label="Pages">
                <a href="#" id="nav-editor" aria-current={(!on_dashboard).then_some("page")}>{"Editor"}</a>
                <a href="#dashboard" id="nav-dashboard" aria-current={on_dashboard.then_some("page")}>{"Dashboard"}</a>
            </nav>
            <div class="row">
                <span id="node-status" class="muted" aria-live="polite">{
                    match *online { Some(true) => "node connected", Some(false) => "node unreachable", None => "connecting…" }
                }</span>
                <ThemePicker />
            </div>
        </header>
        if *online == Some(false) {
            <div class="banner" id="offline" role="alert">
                {"The render node cannot be reached. Local preview still works; uploads, jobs and progress resume when it is back."}
            </div>
        }
        <Dashboard shown={on_dashboard} />
        <main hidden={on_dashboard}>
            <section class="panel" aria-labelledby="source-h">
                <h2 id="source-h">{"Source"}</h2>
                <div class={classes!("drop", over.then_some("over"))} {ondragover} {ondragleave} {ondrop}>
                    <label for="file">{"Drop a video here, or choose one: "}</label>
                    <input type="file" id="file" accept="video/*,.mkv,.avi,.mts,.m2ts" onchange={onpick} />
                </div>
                if !interrupted.is_empty() && file.is_none() {
                    <p class="muted" id="resume-hint">{ format!("Unfinished upload of {}: choose the same file and press Render to resume.", interrupted.join(", ")) }</p>
                }
                if let Some(p) = &shown_problem { <p class="err" id="file-error" role="alert">{ p }</p> }
                if let (true, Some(f), None) = (*unplayable, &*file, &not_video) {
                    <cuts::NodeOverview file={f.clone()} />
                }
                if let Some(u) = &*src {
                    <video ref={video.clone()} id="source" src={u.clone()} controls=true autoplay=true muted=true playsinline=true
                        onloadedmetadata={onloadedmetadata} onloadeddata={bump.clone()} onseeked={bump.clone()}
                        onpause={bump.clone()} onerror={onvideoerror} style="margin-top:.6rem" />
                    <Timeline video={video.clone()} file={(*file).clone()} source={(*src).clone().map(AttrValue::from)}
                        duration={m.duration} fps={m.fps} keep={(*keep).clone()} on_keep={on_keep}
                        shade={kept.clone()} scenes={found.as_ref().map(|f| f.scenes.clone()).unwrap_or_default()} />
                    <CutsPanel found={(*found).clone()} status={(*cuts_status).clone()} busy={*cuts_busy || *online != Some(true)}
                        on_find={on_find} on_toggle={on_toggle} />
                    <dl class="meta" id="meta">
                        <dt>{"File"}</dt><dd>{ file.as_ref().map(|f| f.name()).unwrap_or_default() }</dd>
                        <dt>{"Size"}</dt><dd id="meta-size">{ size }</dd>
                        <dt>{"Duration"}</dt><dd id="meta-duration">{ media::duration_text(m, &probed) }</dd>
                        <dt>{"Picture"}</dt><dd id="meta-picture">{ media::picture_text(m, &probed) }</dd>
                        <dt>{"Codec"}</dt><dd id="meta-codec">{ media::codec_text(&probed) }</dd>
                        <dt>{"Frame rate"}</dt><dd id="meta-fps">{ m.fps.map(|f| format!("{f:.3} fps")).unwrap_or_else(|| "measured while playing…".into()) }</dd>
                    </dl>
                    <h2>{"Before / after"}</h2>
                    <BeforeAfter video={video.clone()} stages={preview_stages} tick={*tick}
                        source={(*src).clone().map(AttrValue::from)} fps={m.fps} />
                }
            </section>
            <div>
                <Settings form={(*form).clone()} errors={errors.clone()} on_change={on_form} />
                <section class="panel" aria-labelledby="render-h" style="margin-top:1rem">
                    <h2 id="render-h">{"Render"}</h2>
                    <button type="button" id="render" onclick={onrender} aria-describedby="render-why"
                        disabled={file.is_none() || not_video.is_some() || !errors.is_empty() || busy || *online != Some(true)}>{"Render"}</button>
                    { why_not(file.is_some(), not_video.is_some(), &errors, *online) }
                    { render_status(&render_state) }
                </section>
            </div>
            <div class="wide"><BatchPanel spec={parsed.as_ref().ok().cloned()} jobs={jobs.clone()} online={*online == Some(true)} /></div>
            <div class="wide"><JobList jobs={jobs.clone()} source={open_clip} /></div>
            <div class="wide"><Viz3d job={shown} /></div>
        </main>
        <footer class="muted">
            <a href={net::link("/api/docs")}>{"API documentation"}</a>{" · "}
            <a href="/api/health">{"Health"}</a>{" · "}
            <a href={net::link("/metrics")}>{"Metrics"}</a>
        </footer>
        </>
    }
}

/// Why Render is disabled, next to it, with a link to what to fix (a field may be scrolled out of
/// view). Nothing when it is enabled or busy (the status says what it does).
fn why_not(
    has_file: bool,
    not_video: bool,
    errors: &std::collections::BTreeMap<String, String>,
    online: Option<bool>,
) -> Html {
    let reason = if !has_file {
        html! { <>{"Choose a video first: "}<a href="#file">{"the file"}</a>{"."}</> }
    } else if not_video {
        html! { <>{"The node cannot read this file as a video: "}<a href="#file">{"choose another"}</a>{"."}</> }
    } else if !errors.is_empty() {
        let n = errors.len();
        html! {
            <>
                { if n == 1 { "Fix this setting: ".to_owned() } else { format!("Fix these {n} settings: ") } }
                { for errors.iter().enumerate().map(|(i, (key, msg))| html! {
                    <>
                        if i > 0 { {", "} }
                        <a href={format!("#f-{}", key.replace('.', "-"))} title={msg.clone()}>{ key.clone() }</a>
                    </>
                }) }
            </>
        }
    } else if online == Some(false) {
        html! { {"The node cannot be reached."} }
    } else if online.is_none() {
        html! { {"Connecting to the node…"} }
    } else {
        return html! {};
    };
    html! { <p class="err" id="render-why">{ reason }</p> }
}

fn render_status(r: &Render) -> Html {
    match r {
        Render::Idle => {
            html! { <p class="muted">{"The file uploads to the node (resumably), then the job starts."}</p> }
        }
        Render::Upload(Status::Sending {
            sent,
            total,
            resumed,
        }) => {
            let pct = if *total > 0.0 {
                (sent / total * 100.0).floor()
            } else {
                100.0
            };
            html! {
                <div id="upload" data-percent={pct.to_string()} data-resumed={resumed.to_string()}>
                    <progress max="100" value={pct.to_string()} aria-label="Upload progress" />
                    <p class="muted">{ format!("{}uploading: {pct}% of {}", if *resumed { "resumed, " } else { "" }, media::human_size(*total)) }</p>
                </div>
            }
        }
        Render::Upload(Status::Waiting(msg)) => {
            html! { <p class="warn" id="upload-wait">{ msg }</p> }
        }
        Render::Submitting => html! { <p class="muted">{"Uploaded; creating the job…"}</p> },
        Render::Submitted(id) => {
            html! { <p id="submitted" data-job={id.clone()}>{ format!("Job {} started: follow it below.", id.chars().take(8).collect::<String>()) }</p> }
        }
        Render::Failed(e) => html! { <p class="err" id="render-error" role="alert">{ e }</p> },
    }
}
