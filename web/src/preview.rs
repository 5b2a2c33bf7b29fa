//! Before/after of the current frame: the video's frame is drawn into a canvas, its pixels go through
//! `kino_shared::preview` (the kernels the node renders with) and the result is drawn over it, cut by
//! a split the user moves. A 1080p frame takes tens of milliseconds, so it runs on the page's thread
//! when the frame or the settings change rather than in a worker. Temporal stages (denoise) and
//! neural ones are sent to the node's `/api/preview` with the frame instead.

use crate::net;
use gloo_net::http::Request;
use kino_shared::preview::{is_per_frame, process_rgba};
use kino_shared::StageSpec;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{Clamped, JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlVideoElement, ImageData};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub video: NodeRef,
    /// The stages to show; `None` while the settings are invalid.
    pub stages: Option<Vec<StageSpec>>,
    /// Changes whenever the video shows another frame worth previewing (loaded, seeked, paused).
    pub tick: u32,
    /// The clip shown (its object URL): another clip clears the last one's frames and status, even
    /// when the browser cannot play the new one.
    pub source: Option<AttrValue>,
    /// The clip's measured frame rate: interpolation previews the frame half-way to the next one.
    #[prop_or_default]
    pub fps: Option<f64>,
}

/// A software canvas: its pixels are read back (and an accelerated one drew blank in headless
/// Chromium's screenshots).
pub(crate) fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
    // The pixels are read back every time: ask for a canvas kept in memory, not on the GPU.
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"willReadFrequently".into(), &JsValue::TRUE);
    canvas
        .get_context_with_context_options("2d", &opts)
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into().ok())
        .ok_or_else(|| "this browser gives no 2D canvas".to_owned())
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_default()
}

/// Draws the current frame into `before` and returns its size and RGBA pixels.
fn grab(
    video: &HtmlVideoElement,
    before: &HtmlCanvasElement,
) -> Result<(u32, u32, Vec<u8>), String> {
    // HAVE_CURRENT_DATA: a frame is there to draw.
    if video.ready_state() < 2 {
        return Err("waiting for the first frame…".into());
    }
    let (w, h) = (video.video_width(), video.video_height());
    if w == 0 || h == 0 {
        return Err("the video has no picture to preview".into());
    }
    before.set_width(w);
    before.set_height(h);
    let bctx = context(before)?;
    bctx.draw_image_with_html_video_element(video, 0.0, 0.0)
        .map_err(|_| "the frame could not be drawn".to_owned())?;
    let data = bctx
        .get_image_data(0.0, 0.0, w as f64, h as f64)
        .map_err(|_| "the frame's pixels could not be read".to_owned())?
        .data();
    Ok((w, h, data.0))
}

/// Draws processed RGBA pixels into `after`.
fn show(after: &HtmlCanvasElement, rgba: &[u8], w: u32, h: u32) -> Result<(), String> {
    after.set_width(w);
    after.set_height(h);
    let img = ImageData::new_with_u8_clamped_array_and_sh(Clamped(rgba), w, h)
        .map_err(|_| "the processed frame could not be shown".to_owned())?;
    context(after)?
        .put_image_data(&img, 0.0, 0.0)
        .map_err(|_| "the processed frame could not be shown".to_owned())
}

/// A frame the node processed, with the node's warning (a neural model missing, …).
struct NodeFrame {
    rgba: Vec<u8>,
    width: u32,
    height: u32,
    warning: Option<String>,
}

/// Resolves when `target` fires `event` (rejects on `error`).
async fn event(target: &web_sys::HtmlVideoElement, event: &str) -> Result<(), String> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let _ = target.add_event_listener_with_callback(event, &resolve);
        let _ = target.add_event_listener_with_callback("error", &reject);
    });
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|_| "the next frame could not be decoded".to_owned())
}

/// The RGBA of the clip's frame at `at` seconds, from a second, hidden player (the visible one
/// stays where the user left it).
async fn frame_at(url: &str, at: f64, w: u32, h: u32) -> Result<Vec<u8>, String> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let video: HtmlVideoElement = doc
        .create_element("video")
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .ok_or("no video element")?;
    video.set_muted(true);
    video.set_preload("auto");
    // In the page (1 px, invisible) so the browser presents its frames: a player outside the page
    // may still show the first frame when `seeked` fires (seen on a loaded machine).
    let _ = video.set_attribute(
        "style",
        "position:fixed;left:0;top:0;width:1px;height:1px;opacity:0;pointer-events:none",
    );
    if let Some(body) = doc.body() {
        let _ = body.append_child(&video);
    }
    let drawn = seek_and_draw(&doc, &video, url, at, w, h).await;
    video.remove();
    drawn
}

/// Loads `url` into `video`, seeks to `at` and, once that frame is presented, reads it at w×h.
async fn seek_and_draw(
    doc: &web_sys::Document,
    video: &HtmlVideoElement,
    url: &str,
    at: f64,
    w: u32,
    h: u32,
) -> Result<Vec<u8>, String> {
    let loaded = event(video, "loadeddata");
    video.set_src(url);
    loaded.await?;
    let presented = presented(video);
    let seeked = event(video, "seeked");
    video.set_current_time(at);
    seeked.await?;
    // The sought frame on screen (1 s at most: browsers without the callback go on at once).
    if let Some(p) = presented {
        let _ = futures::future::select(
            wasm_bindgen_futures::JsFuture::from(p),
            gloo_timers::future::TimeoutFuture::new(1_000),
        )
        .await;
    }
    let canvas: HtmlCanvasElement = doc
        .create_element("canvas")
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .ok_or("no canvas")?;
    canvas.set_width(w);
    canvas.set_height(h);
    let ctx = context(&canvas)?;
    ctx.draw_image_with_html_video_element_and_dw_and_dh(video, 0.0, 0.0, w as f64, h as f64)
        .map_err(|_| "the next frame could not be drawn".to_owned())?;
    let data = ctx
        .get_image_data(0.0, 0.0, w as f64, h as f64)
        .map_err(|_| "the next frame's pixels could not be read".to_owned())?
        .data();
    Ok(data.0)
}

/// A promise of the next frame `video` presents (`requestVideoFrameCallback`), where the browser
/// has it.
fn presented(video: &HtmlVideoElement) -> Option<js_sys::Promise> {
    let rvfc = crate::media::frame_callback(video)?;
    let video = video.clone();
    Some(js_sys::Promise::new(&mut |resolve, _| {
        let _ = rvfc.call1(&video, &resolve);
    }))
}

/// The node's result for stages the page cannot compute (temporal and neural ones). With an
/// interpolate stage `rgba` holds two frames and the node makes the one half-way between them.
async fn on_node(w: u32, h: u32, rgba: &[u8], stages: &[StageSpec]) -> Result<NodeFrame, String> {
    let json = serde_json::to_string(stages).map_err(|e| e.to_string())?;
    let body = js_sys::Uint8Array::from(rgba);
    let mut query = vec![
        ("width", w.to_string()),
        ("height", h.to_string()),
        ("stages", json),
    ];
    if stages.iter().any(|s| s.name() == "interpolate") {
        query.push(("time", "0.5".into()));
    }
    let req = net::auth(Request::post("/api/preview"))
        .query(query)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .map_err(|e| e.to_string())?;
    let resp = req.send().await.map_err(|_| {
        "the node cannot be reached, and only the node previews these stages".to_owned()
    })?;
    let resp = net::check(resp)
        .await
        .map_err(|e| format!("the node could not preview this frame: {e}"))?;
    let dim = |name: &str| resp.headers().get(name).and_then(|v| v.parse::<u32>().ok());
    let (Some(ow), Some(oh)) = (dim("Kino-Width"), dim("Kino-Height")) else {
        return Err("the node's preview came without its size".into());
    };
    let warning = resp.headers().get("Kino-Warning");
    let out = resp
        .binary()
        .await
        .map_err(|_| "the node's preview was cut off".to_owned())?;
    if out.len() != (ow * oh * 4) as usize {
        return Err("the node's preview has the wrong size".into());
    }
    Ok(NodeFrame {
        rgba: out,
        width: ow,
        height: oh,
        warning,
    })
}

/// Records a shown preview on the canvas (the tests and benchmarks read it) and in words.
fn done(
    video: &HtmlVideoElement,
    after: &HtmlCanvasElement,
    version: &Rc<RefCell<u32>>,
    (ms, total): (f64, f64),
    by: &str,
) -> String {
    *version.borrow_mut() += 1;
    let _ = after.set_attribute("data-ms", &format!("{ms:.1}"));
    let _ = after.set_attribute("data-total-ms", &format!("{total:.1}"));
    let _ = after.set_attribute("data-version", &version.borrow().to_string());
    let _ = after.set_attribute("data-time", &video.current_time().to_string());
    let _ = after.set_attribute("data-by", by);
    format!(
        "frame at {:.2} s, {} × {} → {} × {}, computed {by} in {ms:.0} ms",
        video.current_time(),
        video.video_width(),
        video.video_height(),
        after.width(),
        after.height()
    )
}

/// Grabs the frame and shows its processed version: in the page when every stage works on one
/// frame, else by the node (asynchronously; a newer request wins).
#[allow(clippy::too_many_arguments)]
fn preview(
    v: HtmlVideoElement,
    b: HtmlCanvasElement,
    a: HtmlCanvasElement,
    stages: Vec<StageSpec>,
    version: Rc<RefCell<u32>>,
    latest: Rc<RefCell<u32>>,
    status: UseStateHandle<String>,
    next: Option<(AttrValue, f64)>,
) {
    let start = now();
    let (w, h, data) = match grab(&v, &b) {
        Ok(g) => g,
        Err(e) => return status.set(e),
    };
    let ticket = {
        let mut l = latest.borrow_mut();
        *l += 1;
        *l
    };
    if stages.iter().all(is_per_frame) {
        let t0 = now();
        match process_rgba(&data, w as usize, h as usize, &stages) {
            Ok((out, ow, oh)) => {
                let ms = now() - t0;
                match show(&a, &out, ow as u32, oh as u32) {
                    Ok(()) => {
                        status.set(done(&v, &a, &version, (ms, now() - start), "in this page"))
                    }
                    Err(e) => status.set(e),
                }
            }
            Err(e) => status.set(e.to_string()),
        }
        return;
    }
    let interpolates = stages.iter().any(|s| s.name() == "interpolate");
    status.set("the node is computing this frame…".into());
    wasm_bindgen_futures::spawn_local(async move {
        let t0 = now();
        let mut data = data;
        if let (true, Some((url, step))) = (interpolates, next) {
            match frame_at(&url, v.current_time() + step, w, h).await {
                Ok(b) => data.extend_from_slice(&b),
                Err(e) => return status.set(e),
            }
        }
        let result = on_node(w, h, &data, &stages).await;
        if *latest.borrow() != ticket {
            return;
        }
        let ms = now() - t0;
        let shown = result.and_then(|f| show(&a, &f.rgba, f.width, f.height).map(|()| f.warning));
        match shown {
            Ok(warning) => {
                let text = done(&v, &a, &version, (ms, now() - start), "by the node");
                status.set(match warning {
                    Some(w) => format!("{text}. Warning: {w}"),
                    None => text,
                })
            }
            Err(e) => status.set(e),
        }
    });
}

/// The split before/after view.
#[function_component(BeforeAfter)]
pub fn before_after(props: &Props) -> Html {
    let before = use_node_ref();
    let after = use_node_ref();
    let split = use_state(|| 50.0f64);
    let status = use_state(String::new);
    let version = use_mut_ref(|| 0u32);
    let latest = use_mut_ref(|| 0u32);
    {
        let (before, after, status, latest) = (
            before.clone(),
            after.clone(),
            status.clone(),
            latest.clone(),
        );
        use_effect_with(props.source.clone(), move |_| {
            // A frame of the node's still on its way belongs to the old clip: dropped.
            *latest.borrow_mut() += 1;
            for canvas in [&before, &after] {
                if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                    c.set_width(0);
                    c.set_height(0);
                }
            }
            status.set(String::new());
        });
    }
    {
        let (video, before, after, status) = (
            props.video.clone(),
            before.clone(),
            after.clone(),
            status.clone(),
        );
        // The next frame's source and distance, for interpolation.
        let next = props
            .source
            .clone()
            .map(|u| (u, 1.0 / props.fps.filter(|f| *f > 1.0).unwrap_or(30.0)));
        use_effect_with((props.tick, props.stages.clone()), move |(_, stages)| {
            let canvases = (
                video.cast::<HtmlVideoElement>(),
                before.cast::<HtmlCanvasElement>(),
                after.cast::<HtmlCanvasElement>(),
            );
            match (stages, canvases) {
                (None, _) => status.set("fix the settings to see the preview".into()),
                (Some(st), (Some(v), Some(b), Some(a))) => {
                    preview(v, b, a, st.clone(), version, latest, status, next)
                }
                _ => {}
            }
        });
    }
    let oninput = {
        let split = split.clone();
        Callback::from(move |e: InputEvent| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlInputElement>()
                .value_as_number();
            if v.is_finite() {
                split.set(v);
            }
        })
    };
    let s = *split;
    html! {
        <div>
            <div class="compare">
                <canvas ref={before} id="before" aria-label="Current frame before enhancement" />
                <canvas ref={after} id="after" class="after" aria-label="Current frame after enhancement"
                    style={format!("clip-path: inset(0 0 0 {s}%)")} />
                <div class="divider" style={format!("left: calc({s}% - 1px)")} />
                <span class="tag" style="left:.3rem">{"Before"}</span>
                <span class="tag" style="right:.3rem">{"After"}</span>
            </div>
            <label class="visually-hidden" for="split">{"Before/after split"}</label>
            <input type="range" id="split" min="0" max="100" step="1" value={s.to_string()} {oninput} />
            <p class="muted" id="preview-status" aria-live="polite">{ (*status).clone() }</p>
        </div>
    }
}
