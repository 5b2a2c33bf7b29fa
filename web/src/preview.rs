//! Before/after of the current frame: the video's frame is drawn into a canvas, its pixels go through
//! `kino_shared::preview` (the kernels the node renders with) and the result is drawn over it, cut by
//! a split the user moves. A 1080p frame takes tens of milliseconds, so it runs on the page's thread
//! when the frame or the settings change rather than in a worker.

use kino_shared::StageSpec;
use wasm_bindgen::{Clamped, JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlVideoElement, ImageData};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub video: NodeRef,
    /// The per-frame stages to show; `None` while the settings are invalid.
    pub stages: Option<Vec<StageSpec>>,
    /// Changes whenever the video shows another frame worth previewing (loaded, seeked, paused).
    pub tick: u32,
}

fn context(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
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

/// Draws the current frame and its processed version; returns the kernels' time and the whole
/// time (with grabbing and drawing the pixels) in ms.
fn render(
    video: &HtmlVideoElement,
    before: &HtmlCanvasElement,
    after: &HtmlCanvasElement,
    stages: &[StageSpec],
) -> Result<(f64, f64), String> {
    let start = now();
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
    let t0 = now();
    let (out, ow, oh) = kino_shared::preview::process_rgba(&data, w as usize, h as usize, stages)
        .map_err(|e| e.to_string())?;
    let ms = now() - t0;
    after.set_width(ow as u32);
    after.set_height(oh as u32);
    let img = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&out), ow as u32, oh as u32)
        .map_err(|_| "the processed frame could not be shown".to_owned())?;
    context(after)?
        .put_image_data(&img, 0.0, 0.0)
        .map_err(|_| "the processed frame could not be shown".to_owned())?;
    Ok((ms, now() - start))
}

/// The split before/after view.
#[function_component(BeforeAfter)]
pub fn before_after(props: &Props) -> Html {
    let before = use_node_ref();
    let after = use_node_ref();
    let split = use_state(|| 50.0f64);
    let status = use_state(String::new);
    let version = use_mut_ref(|| 0u32);
    {
        let (video, before, after, status, version) = (
            props.video.clone(),
            before.clone(),
            after.clone(),
            status.clone(),
            version.clone(),
        );
        use_effect_with((props.tick, props.stages.clone()), move |(_, stages)| {
            let canvases = (
                video.cast::<HtmlVideoElement>(),
                before.cast::<HtmlCanvasElement>(),
                after.cast::<HtmlCanvasElement>(),
            );
            match (stages, canvases) {
                (None, _) => status.set("fix the settings to see the preview".into()),
                (Some(st), (Some(v), Some(b), Some(a))) => match render(&v, &b, &a, st) {
                    Ok((ms, total)) => {
                        *version.borrow_mut() += 1;
                        let _ = a.set_attribute("data-ms", &format!("{ms:.1}"));
                        let _ = a.set_attribute("data-total-ms", &format!("{total:.1}"));
                        let _ = a.set_attribute("data-version", &version.borrow().to_string());
                        let _ = a.set_attribute("data-time", &v.current_time().to_string());
                        status.set(format!(
                            "frame at {:.2} s, {} × {} → {} × {}, computed in {ms:.0} ms",
                            v.current_time(),
                            v.video_width(),
                            v.video_height(),
                            a.width(),
                            a.height()
                        ));
                    }
                    Err(e) => status.set(e),
                },
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
