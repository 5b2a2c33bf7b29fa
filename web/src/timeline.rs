//! The timeline under the player: a filmstrip and the sound's waveform (both made in the browser
//! from the local file, nothing uploaded), the playhead, the kept parts, zoom and scroll. Click or
//! drag to seek; keys as in editing tools: J/K/L, ←/→ a frame (with Shift a second), I/O to mark
//! in and out. The kept parts become the job's `keep` ranges.

use crate::preview::context;
use futures::future::{select, Either};
use gloo_events::EventListener;
use gloo_timers::future::TimeoutFuture;
use kino_shared::KeepRange;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, HtmlCanvasElement, HtmlVideoElement};
use yew::prelude::*;

/// Height of the filmstrip's thumbnails (canvas and CSS pixels), and how many it has at most.
const THUMB_H: u32 = 60;
const MAX_THUMBS: u32 = 64;
/// Columns of the waveform canvas.
const WAVE_W: u32 = 1200;
/// Larger files are not read into memory for the waveform.
const WAVE_MAX_BYTES: f64 = 400e6;
/// The frame rate assumed until the player has measured one.
const DEFAULT_FPS: f64 = 25.0;
/// Zoom steps of the track.
const ZOOMS: [u32; 5] = [1, 2, 4, 8, 16];

#[derive(Properties, PartialEq)]
pub struct Props {
    pub video: NodeRef,
    pub file: Option<File>,
    /// The clip's object URL: the filmstrip is drawn from a second player on it.
    pub source: Option<AttrValue>,
    pub duration: f64,
    pub fps: Option<f64>,
    /// The in/out marks (what I and O edit).
    pub keep: Vec<KeepRange>,
    pub on_keep: Callback<Vec<KeepRange>>,
    /// What the job keeps (the marks less the cut stretches): the rest is shaded.
    #[prop_or_default]
    pub shade: Vec<KeepRange>,
    /// Scene starts found by the node, seconds.
    #[prop_or_default]
    pub scenes: Vec<f64>,
}

/// The frame shown at `t` seconds, at `fps`.
fn frame_at(t: f64, fps: f64) -> f64 {
    (t * fps + 1e-6).floor().max(0.0)
}

/// Waits for `event` (or `error`) on `target`, `ms` at most.
async fn next(target: &web_sys::EventTarget, event: &str, ms: u32) -> Result<(), String> {
    let (tx, rx) = futures::channel::oneshot::channel::<bool>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let ok = {
        let tx = tx.clone();
        EventListener::once(target, event.to_owned(), move |_| {
            if let Some(t) = tx.borrow_mut().take() {
                let _ = t.send(true);
            }
        })
    };
    let failed = EventListener::once(target, "error", move |_| {
        if let Some(t) = tx.borrow_mut().take() {
            let _ = t.send(false);
        }
    });
    let answer = match select(rx, TimeoutFuture::new(ms)).await {
        Either::Left((Ok(true), _)) => Ok(()),
        Either::Left(_) => Err("this browser cannot decode the file".to_owned()),
        Either::Right(_) => Err(format!("the player gave no {event} in {} s", ms / 1000)),
    };
    drop((ok, failed));
    answer
}

/// Draws frames evenly spread over the clip, from a hidden player of `src`: as many as fit the
/// strip's shown width undistorted (more when zoomed in).
async fn draw_filmstrip(
    canvas: &NodeRef,
    src: &str,
    duration: f64,
    alive: &Cell<bool>,
) -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let v: HtmlVideoElement = document
        .create_element("video")
        .ok()
        .and_then(|e| e.dyn_into().ok())
        .ok_or("no video element")?;
    v.set_muted(true);
    v.set_preload("auto");
    v.set_src(src);
    next(&v, "loadeddata", 15_000).await?;
    let (vw, vh) = (v.video_width().max(1), v.video_height().max(1));
    let tw = (f64::from(vw) / f64::from(vh) * f64::from(THUMB_H))
        .round()
        .max(1.0) as u32;
    let c: HtmlCanvasElement = canvas.cast().ok_or("the timeline is gone")?;
    let shown = f64::from(c.client_width().max(1));
    let thumbs = ((shown / f64::from(tw)).round() as u32).clamp(2, MAX_THUMBS);
    c.set_width(tw * thumbs);
    c.set_height(THUMB_H);
    let ctx = context(&c)?;
    for i in 0..thumbs {
        if !alive.get() {
            break;
        }
        v.set_current_time((f64::from(i) + 0.5) * duration / f64::from(thumbs));
        next(&v, "seeked", 10_000).await?;
        let (x, w, h) = (f64::from(i * tw), f64::from(tw), f64::from(THUMB_H));
        ctx.draw_image_with_html_video_element_and_dw_and_dh(&v, x, 0.0, w, h)
            .map_err(|_| "a frame could not be drawn")?;
    }
    v.set_src("");
    Ok(())
}

/// Draws the first channel's peaks, decoded by the browser (resampled to 8 kHz).
async fn draw_waveform(canvas: &NodeRef, file: &File) -> Result<(), String> {
    if file.size() > WAVE_MAX_BYTES {
        return Err("too large to decode in the browser".into());
    }
    let bytes = JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| "the file could not be read")?;
    let ctx = web_sys::OfflineAudioContext::new_with_number_of_channels_and_length_and_sample_rate(
        1, 8000, 8000.0,
    )
    .map_err(|_| "no audio decoder")?;
    let decoding = ctx
        .decode_audio_data(&bytes.unchecked_into())
        .map_err(|_| "no audio decoder")?;
    let audio: web_sys::AudioBuffer = JsFuture::from(decoding)
        .await
        .map_err(|_| "no sound this browser can decode")?
        .unchecked_into();
    let samples = audio.get_channel_data(0).map_err(|_| "no sound")?;
    let c: HtmlCanvasElement = canvas.cast().ok_or("the timeline is gone")?;
    let h = 48u32;
    c.set_width(WAVE_W);
    c.set_height(h);
    let g = context(&c)?;
    let per = (samples.len() as f64 / f64::from(WAVE_W)).max(1.0);
    g.set_fill_style_str("#3b82f6");
    for x in 0..WAVE_W {
        let a = (f64::from(x) * per) as usize;
        let b = ((f64::from(x + 1) * per) as usize).min(samples.len());
        let peak = samples
            .get(a..b)
            .unwrap_or_default()
            .iter()
            .fold(0f32, |m, s| m.max(s.abs()));
        let bar = (f64::from(peak.min(1.0)) * f64::from(h)).max(1.0);
        g.fill_rect(f64::from(x), (f64::from(h) - bar) / 2.0, 1.0, bar);
    }
    Ok(())
}

/// What a key does to the player and the marks; `None` when the key is not the timeline's.
fn on_key(
    key: &str,
    shift: bool,
    v: &HtmlVideoElement,
    fps: f64,
    keep: &[KeepRange],
) -> Option<Option<Vec<KeepRange>>> {
    let t = v.current_time();
    let seek_frame = |f: f64| {
        v.set_current_time(((f.max(0.0) + 0.5) / fps).min(v.duration().max(0.0)));
    };
    match key {
        "k" | "K" => {
            let _ = v.pause();
        }
        "l" | "L" => {
            // Each press while playing plays faster, up to 4×.
            let rate = if v.paused() {
                1.0
            } else {
                (v.playback_rate() * 2.0).min(4.0)
            };
            v.set_playback_rate(rate);
            let _ = v.play();
        }
        "j" | "J" => {
            // Browsers do not play backwards: a second back per press (held: keeps going).
            let _ = v.pause();
            v.set_current_time((t - 1.0).max(0.0));
        }
        "ArrowLeft" | "ArrowRight" => {
            let _ = v.pause();
            let step = if shift { fps.round() } else { 1.0 };
            let dir = if key == "ArrowLeft" { -1.0 } else { 1.0 };
            seek_frame(frame_at(t, fps) + dir * step);
        }
        "Home" => seek_frame(0.0),
        "End" => v.set_current_time(v.duration().max(0.0)),
        "i" | "I" => return Some(Some(mark_in(keep, frame_at(t, fps) / fps))),
        "o" | "O" => return Some(mark_out(keep, (frame_at(t, fps) + 1.0) / fps)),
        _ => return None,
    }
    Some(None)
}

/// The marks with the last part starting at `t` (a new part after a closed one that ends before
/// it; the last part's end is dropped when `t` is past it).
pub fn mark_in(keep: &[KeepRange], t: f64) -> Vec<KeepRange> {
    let mut out = keep.to_vec();
    let before = |k: &[KeepRange]| k.last().and_then(|l| l.end).is_some_and(|e| e <= t);
    match out.last_mut() {
        Some(_) if before(keep) => out.push(KeepRange {
            start: t,
            end: None,
        }),
        Some(last) => {
            let prev_end = keep
                .len()
                .checked_sub(2)
                .and_then(|i| keep[i].end)
                .unwrap_or(0.0);
            last.start = t.max(prev_end);
            if last.end.is_some_and(|e| e <= last.start) {
                last.end = None;
            }
        }
        None => out.push(KeepRange {
            start: t,
            end: None,
        }),
    }
    out
}

/// The marks with the last part ending at `t`; `None` when `t` is not after its start.
pub fn mark_out(keep: &[KeepRange], t: f64) -> Option<Vec<KeepRange>> {
    let mut out = keep.to_vec();
    match out.last_mut() {
        Some(last) if t > last.start => last.end = Some(t),
        Some(_) => return None,
        None => out.push(KeepRange {
            start: 0.0,
            end: Some(t),
        }),
    }
    Some(out)
}

/// "0:01.52" style times, to the hundredth.
pub(crate) fn clock(t: f64) -> String {
    let m = (t / 60.0).floor();
    format!("{}:{:05.2}", m as u64, t - m * 60.0)
}

#[function_component(Timeline)]
pub fn timeline(p: &Props) -> Html {
    let strip = use_node_ref();
    let wave = use_node_ref();
    let track = use_node_ref();
    let now = use_state(|| 0.0f64);
    let last_now = use_mut_ref(|| f64::NAN);
    let zoom = use_state(|| 0usize);
    let strip_state = use_state(String::new);
    let wave_state = use_state(String::new);
    let hint = use_state(|| None::<String>);
    let fps = p
        .fps
        .filter(|f| f.is_finite() && *f > 0.0)
        .unwrap_or(DEFAULT_FPS);
    let duration = if p.duration.is_finite() {
        p.duration
    } else {
        0.0
    };

    // The playhead follows playback.
    {
        let (video, now, last) = (p.video.clone(), now.clone(), last_now.clone());
        use_effect_with(p.source.clone(), move |_| {
            let every = gloo_timers::callback::Interval::new(50, move || {
                if let Some(v) = video.cast::<HtmlVideoElement>() {
                    let t = v.current_time();
                    if *last.borrow() != t {
                        *last.borrow_mut() = t;
                        now.set(t);
                    }
                }
            });
            move || drop(every)
        });
    }
    {
        let (strip, state) = (strip.clone(), strip_state.clone());
        let key = (p.source.clone(), duration.to_bits(), *zoom);
        use_effect_with(key, move |(src, _, _)| {
            let alive = Rc::new(Cell::new(true));
            state.set(String::new());
            if let (Some(src), true) = (src.clone(), duration > 0.0) {
                let alive = alive.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let r = draw_filmstrip(&strip, &src, duration, &alive).await;
                    if alive.get() {
                        state.set(r.map_or_else(|e| e, |()| "drawn".into()));
                    }
                });
            }
            move || alive.set(false)
        });
    }
    {
        let (wave, state) = (wave.clone(), wave_state.clone());
        use_effect_with(p.file.clone(), move |file| {
            let alive = Rc::new(Cell::new(true));
            state.set(String::new());
            if let Some(f) = file.clone() {
                let alive = alive.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let r = draw_waveform(&wave, &f).await;
                    if alive.get() {
                        state.set(r.map_or_else(|e| e, |()| "drawn".into()));
                    }
                });
            }
            move || alive.set(false)
        });
    }
    // Keys anywhere on the page except where typing uses them. The listener reads the latest marks
    // and rate: keys may come faster than the page re-renders.
    let latest = use_mut_ref(|| (Vec::<KeepRange>::new(), DEFAULT_FPS, Callback::noop()));
    *latest.borrow_mut() = (p.keep.clone(), fps, p.on_keep.clone());
    {
        let (video, latest, hint) = (p.video.clone(), latest.clone(), hint.clone());
        use_effect_with((), move |_| {
            let listener = web_sys::window().and_then(|w| w.document()).map(|d| {
                EventListener::new(&d, "keydown", move |e| {
                    let Some(e) = e.dyn_ref::<web_sys::KeyboardEvent>() else {
                        return;
                    };
                    let typing = e
                        .target()
                        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                        .is_some_and(|el| {
                            matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                        });
                    let Some(v) = video.cast::<HtmlVideoElement>() else {
                        return;
                    };
                    // A control that used the key (the 3D view's arrows) keeps it.
                    let used = e.default_prevented();
                    if typing || used || e.ctrl_key() || e.meta_key() || e.alt_key() {
                        return;
                    }
                    let (keep, fps, on_keep) = latest.borrow().clone();
                    let Some(marks) = on_key(&e.key(), e.shift_key(), &v, fps, &keep) else {
                        return;
                    };
                    e.prevent_default();
                    match marks {
                        Some(k) => {
                            hint.set(None);
                            // Seen by the next key even before the page re-renders.
                            latest.borrow_mut().0 = k.clone();
                            on_keep.emit(k);
                        }
                        None if matches!(e.key().as_str(), "o" | "O") => {
                            hint.set(Some("The out point must come after the in point.".into()))
                        }
                        None => {}
                    }
                })
            });
            move || drop(listener)
        });
    }
    let seek = {
        let (video, track) = (p.video.clone(), track.clone());
        move |x: i32| {
            let (Some(v), Some(el)) = (
                video.cast::<HtmlVideoElement>(),
                track.cast::<web_sys::Element>(),
            ) else {
                return;
            };
            let r = el.get_bounding_client_rect();
            if r.width() > 0.0 && duration > 0.0 {
                let frac = ((f64::from(x) - r.left()) / r.width()).clamp(0.0, 1.0);
                v.set_current_time(frac * duration);
            }
        }
    };
    let onpointerdown = {
        let (seek, track) = (seek.clone(), track.clone());
        Callback::from(move |e: PointerEvent| {
            if let Some(el) = track.cast::<web_sys::Element>() {
                let _ = el.set_pointer_capture(e.pointer_id());
            }
            seek(e.client_x());
        })
    };
    let onpointermove = Callback::from(move |e: PointerEvent| {
        if e.buttons() & 1 == 1 {
            seek(e.client_x());
        }
    });
    let zoom_by = |d: isize| {
        let zoom = zoom.clone();
        Callback::from(move |_: MouseEvent| {
            let z = (*zoom as isize + d).clamp(0, ZOOMS.len() as isize - 1) as usize;
            zoom.set(z);
        })
    };
    let clear = {
        let on_keep = p.on_keep.clone();
        Callback::from(move |_: MouseEvent| on_keep.emit(Vec::new()))
    };
    let remove = |i: usize| {
        let (on_keep, keep) = (p.on_keep.clone(), p.keep.clone());
        Callback::from(move |_: MouseEvent| {
            let mut k = keep.clone();
            k.remove(i);
            on_keep.emit(k);
        })
    };
    let pct = |t: f64| {
        if duration > 0.0 {
            (t / duration * 100.0).clamp(0.0, 100.0)
        } else {
            0.0
        }
    };
    // Shaded: what the kept parts leave out.
    let mut cuts = Vec::new();
    let mut at = 0.0;
    for k in &p.shade {
        if k.start > at {
            cuts.push((at, k.start));
        }
        at = k.end.unwrap_or(duration);
    }
    if !p.shade.is_empty() && at < duration {
        cuts.push((at, duration));
    }
    let kept_s: f64 = p
        .shade
        .iter()
        .map(|k| k.end.unwrap_or(duration).min(duration) - k.start)
        .sum();
    let width = ZOOMS[*zoom] * 100;
    html! {
        <div class="timeline" id="timeline-panel">
            <div class="row tl-tools">
                <button type="button" class="secondary" id="tl-zoom-out" onclick={zoom_by(-1)} disabled={*zoom == 0} aria-label="Zoom out">{"−"}</button>
                <span class="muted" id="tl-zoom">{ format!("{}×", ZOOMS[*zoom]) }</span>
                <button type="button" class="secondary" id="tl-zoom-in" onclick={zoom_by(1)} disabled={*zoom + 1 == ZOOMS.len()} aria-label="Zoom in">{"+"}</button>
                <span class="muted" id="tl-time">{ format!("{} · frame {}", clock(*now), frame_at(*now, fps) as u64) }</span>
                if !p.keep.is_empty() {
                    <button type="button" class="secondary" id="tl-clear" onclick={clear}>{"Keep all"}</button>
                }
            </div>
            <div class="tl-scroll">
                <div class="tl-track" ref={track} id="timeline" style={format!("width:{width}%")}
                    role="slider" tabindex="0" aria-label="Playhead (J K L, arrows by frame, I and O mark in and out)"
                    aria-valuemin="0" aria-valuemax={format!("{duration:.3}")} aria-valuenow={format!("{:.3}", *now)}
                    aria-valuetext={clock(*now)} {onpointerdown} {onpointermove}>
                    <canvas ref={strip} id="filmstrip" class="tl-strip" data-state={(*strip_state).clone()} />
                    <canvas ref={wave} id="waveform" class="tl-wave" data-state={(*wave_state).clone()} />
                    // In a box of their own: a varying number of siblings would make the
                    // canvases (diffed from the end) be made anew, blank.
                    <div class="tl-cuts">
                        { for cuts.iter().map(|&(a, b)| html! {
                            <div class="tl-cut" style={format!("left:{:.4}%;width:{:.4}%", pct(a), pct(b) - pct(a))} />
                        }) }
                        { for p.scenes.iter().map(|&t| html! {
                            <div class="tl-scene" style={format!("left:{:.4}%", pct(t))} title={format!("scene at {}", clock(t))} />
                        }) }
                    </div>
                    <div class="tl-head" id="playhead" style={format!("left:{:.4}%", pct(*now))} />
                </div>
            </div>
            if let Some(h) = &*hint { <p class="warn" role="status">{ h }</p> }
            if p.keep.is_empty() {
                <p class="muted" id="tl-kept" data-keep={serde_json::to_string(&p.shade).unwrap_or_default()}>{
                    if p.shade.is_empty() {
                        "Keeps the whole clip. Mark in (I) and out (O) to keep a part; mark in again after an out point to add another part.".to_owned()
                    } else {
                        format!("Keeps {:.2} s: all but the cuts below. Mark in (I) and out (O) to keep a part.", kept_s.max(0.0))
                    }
                }</p>
            } else {
                <ol class="tl-parts" id="tl-kept" data-keep={serde_json::to_string(&p.keep).unwrap_or_default()}>
                    { for p.keep.iter().enumerate().map(|(i, k)| html! {
                        <li>
                            { format!("{} – {}", clock(k.start), k.end.map_or("end".into(), clock)) }
                            <button type="button" class="secondary" onclick={remove(i)} aria-label={format!("Remove part {}", i + 1)}>{"×"}</button>
                        </li>
                    }) }
                    <li class="muted">{ format!("{:.2} s kept", kept_s.max(0.0)) }</li>
                </ol>
            }
            if !(*strip_state).is_empty() && *strip_state != "drawn" {
                <p class="muted" id="filmstrip-note">{ format!("Filmstrip: {}", *strip_state) }</p>
            }
            if !(*wave_state).is_empty() && *wave_state != "drawn" {
                <p class="muted" id="waveform-note">{ format!("Waveform: {}", *wave_state) }</p>
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

    #[test]
    fn in_and_out_edit_the_last_part_and_a_later_in_adds_one() {
        let k = mark_in(&[], 1.0);
        assert_eq!(k, [r(1.0, None)]);
        let k = mark_out(&k, 3.0).unwrap();
        assert_eq!(k, [r(1.0, Some(3.0))]);
        assert!(mark_out(&k, 0.5).is_none());
        let k = mark_in(&k, 2.0);
        assert_eq!(k, [r(2.0, Some(3.0))]);
        let k = mark_in(&k, 5.0);
        assert_eq!(k, [r(2.0, Some(3.0)), r(5.0, None)]);
        // An in point before the previous part's end is held at it (parts stay apart).
        let k = mark_in(&k, 2.5);
        assert_eq!(k, [r(2.0, Some(3.0)), r(3.0, None)]);
        assert_eq!(mark_out(&[], 2.0).unwrap(), [r(0.0, Some(2.0))]);
        assert!(kino_shared::validate_keep(&k).is_ok());
    }

    #[test]
    fn frames_are_counted_from_their_start() {
        assert_eq!(frame_at(0.0, 25.0), 0.0);
        assert_eq!(frame_at(0.04, 25.0), 1.0);
        assert_eq!(frame_at(1.52 + 0.02, 25.0), 38.0);
    }
}
