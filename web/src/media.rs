//! The source video: picked or dropped, played at once from the local file (an object URL, nothing
//! uploaded yet), with what the browser can tell about it. The frame rate is measured from the
//! presented frames' media times (`requestVideoFrameCallback`), as browsers do not expose it.

use crate::probe::Probed;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{File, HtmlVideoElement};
use yew::prelude::*;

/// Extensions taken as video even when the browser gives no MIME type.
const VIDEO_EXTENSIONS: [&str; 12] = [
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mts", "m2ts", "ts", "mpg", "mpeg", "ogv",
];

/// Why a file is refused before anything is played, or `None` when it looks like a video.
pub fn refuse(file: &File) -> Option<String> {
    let kind = file.type_();
    let name = file.name();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if kind.starts_with("video/") || (kind.is_empty() && VIDEO_EXTENSIONS.contains(&ext.as_str())) {
        return None;
    }
    let what = if kind.is_empty() {
        "an unknown type".to_owned()
    } else {
        kind
    };
    Some(format!(
        "“{name}” is not a video ({what}). Choose a video file such as MP4, MOV, MKV or WebM."
    ))
}

/// "12.3 MB" style sizes.
pub fn human_size(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", units[i])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// "1:02.5" style durations.
pub fn human_duration(s: f64) -> String {
    if !s.is_finite() {
        return "unknown".into();
    }
    let m = (s / 60.0).floor();
    format!("{}:{:04.1}", m as u64, s - m * 60.0)
}

/// What is shown about the loaded video.
#[derive(Clone, PartialEq, Default)]
pub struct Meta {
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    /// Measured while playing; `None` until enough frames were seen.
    pub fps: Option<f64>,
}

/// The duration the browser measured, else the node's reading.
pub fn duration_text(m: &Meta, probed: &Probed) -> String {
    match probed {
        _ if m.width > 0 => human_duration(m.duration),
        Probed::Info(i) => i.duration_seconds.map_or("unknown".into(), human_duration),
        _ => "…".into(),
    }
}

/// The picture size the browser shows, else the node's reading.
pub fn picture_text(m: &Meta, probed: &Probed) -> String {
    match probed {
        _ if m.width > 0 => format!("{} × {}", m.width, m.height),
        Probed::Info(i) => i
            .video
            .as_ref()
            .map_or("no video".into(), |v| format!("{} × {}", v.width, v.height)),
        _ => "…".into(),
    }
}

/// Video and audio codecs as the node reads them.
pub fn codec_text(probed: &Probed) -> String {
    match probed {
        Probed::Info(i) => {
            let mut parts: Vec<String> = i.video.iter().map(|v| v.codec.clone()).collect();
            parts.extend(i.audio.iter().map(|a| a.codec.clone()));
            parts.join(", ")
        }
        Probed::NotVideo(_) => "not a video".into(),
        Probed::Unknown => "…".into(),
    }
}

/// Why there is no preview, and whether the node can still render the file.
pub fn unplayable(probed: &Probed) -> String {
    let then = match probed {
        Probed::Info(i) => format!(
            " The node reads it ({}): it can render it.",
            i.video
                .as_ref()
                .map_or("no video".into(), |v| v.codec.clone())
        ),
        _ => " If it is a video, the node may still render it.".into(),
    };
    format!("This browser cannot play this file, so there is no preview.{then}")
}

/// The video's `requestVideoFrameCallback`, where the browser has it.
pub fn frame_callback(video: &HtmlVideoElement) -> Option<js_sys::Function> {
    js_sys::Reflect::get(video, &JsValue::from_str("requestVideoFrameCallback"))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()
}

/// Measures the frame rate from consecutive presented frames (the smallest step between media times
/// over a few frames: dropped frames only make steps longer).
pub fn measure_fps(video: &HtmlVideoElement, done: Callback<f64>) {
    let Some(rvfc) = frame_callback(video) else {
        return;
    };
    let first = rvfc.clone();
    type Cb = Closure<dyn FnMut(JsValue, JsValue)>;
    let slot: Rc<RefCell<Option<Cb>>> = Rc::default();
    let steps: Rc<RefCell<(Option<f64>, Vec<f64>)>> = Rc::default();
    let video2 = video.clone();
    let slot2 = slot.clone();
    let cb: Cb = Closure::new(move |_now: JsValue, meta: JsValue| {
        let t = js_sys::Reflect::get(&meta, &JsValue::from_str("mediaTime"))
            .ok()
            .and_then(|v| v.as_f64());
        let mut s = steps.borrow_mut();
        if let (Some(t), Some(prev)) = (t, s.0) {
            let d = t - prev;
            if d > 1e-4 {
                s.1.push(d);
            }
        }
        s.0 = t.or(s.0);
        if s.1.len() >= 12 {
            let min = s.1.iter().copied().fold(f64::INFINITY, f64::min);
            done.emit((1.0 / min * 1000.0).round() / 1000.0);
            // Dropped outside its own call: freeing a closure while it runs is not allowed.
            let slot3 = slot2.clone();
            gloo_timers::callback::Timeout::new(0, move || drop(slot3.borrow_mut().take()))
                .forget();
            return;
        }
        drop(s);
        if let Some(f) = slot2.borrow().as_ref() {
            let _ = rvfc.call1(&video2, f.as_ref().unchecked_ref());
        }
    });
    let _ = first.call1(video, cb.as_ref().unchecked_ref());
    *slot.borrow_mut() = Some(cb);
}
