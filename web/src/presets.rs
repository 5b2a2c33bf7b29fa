//! Presets in the editor: the built-in ones and the user's (kept on the node), applied to the
//! settings form; saved, renamed, deleted, exported and imported.

use crate::net;
use crate::settings::Form;
use gloo_net::http::Request;
use kino_shared::{
    builtin_presets, AtCut, AudioDenoiseEngine, AudioStageSpec, DeinterlaceMode, DenoiseMode,
    InterpMode, PixelAspect, Preset, PresetSettings, ResizeFilter, SlowmoAudio, StageSpec,
    VideoCodec,
};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::HtmlInputElement;
use yew::prelude::*;

fn num(v: impl std::fmt::Display) -> String {
    v.to_string()
}

impl Form {
    /// The form showing `s`. Settings the form has no field for (detection classes, a stage's
    /// tile size, …) are left out: [`Form::shows`] tells whether any were.
    pub fn from_settings(s: &PresetSettings) -> Form {
        let mut f = Form {
            color: false,
            ..Form::default()
        };
        for stage in &s.stages {
            match stage {
                StageSpec::Denoise(p) => {
                    f.denoise = true;
                    f.denoise_mode = match p.mode {
                        DenoiseMode::Manual => "manual",
                        _ => "auto",
                    }
                    .into();
                    f.sigma = num(p.sigma);
                    f.strength = num(p.strength);
                    f.temporal_radius = num(p.temporal_radius);
                }
                StageSpec::Color(p) => {
                    f.color = true;
                    f.brightness = num(p.brightness);
                    f.contrast = num(p.contrast);
                    f.saturation = num(p.saturation);
                    f.gamma = num(p.gamma);
                    f.vibrance = num(p.vibrance);
                    f.temperature = num(p.temperature);
                    f.tint = num(p.tint);
                    f.auto_white_balance = p.auto_white_balance;
                    f.auto_levels = p.auto_levels;
                }
                StageSpec::Sharpen(p) => {
                    f.sharpen = true;
                    f.amount = num(p.amount);
                    f.radius = num(p.radius);
                    f.threshold = p.threshold.map(num).unwrap_or_default();
                }
                StageSpec::Interpolate(p) => {
                    f.interpolate = true;
                    f.interp_mode = match p.mode {
                        InterpMode::Slowmo => "slowmo",
                        _ => "smooth",
                    }
                    .into();
                    if let Some(fps) = p.fps {
                        f.interp_fps = num(fps);
                    }
                    if let Some(k) = p.factor {
                        f.interp_factor = num(k);
                    }
                    f.interp_at_cut = match p.at_cut {
                        AtCut::Blend => "blend",
                        _ => "repeat",
                    }
                    .into();
                    f.interp_audio = match p.audio {
                        SlowmoAudio::Drop => "drop",
                        _ => "stretch",
                    }
                    .into();
                }
                StageSpec::Scale(p) => {
                    f.scale = true;
                    f.width = p.width.map(num).unwrap_or_default();
                    f.height = p.height.map(num).unwrap_or_default();
                    f.factor = p.factor.map(num).unwrap_or_default();
                    f.filter = match p.filter {
                        ResizeFilter::Bicubic => "bicubic",
                        _ => "lanczos3",
                    }
                    .into();
                    f.model = p.model.map_or("none", |m| m.name()).into();
                    f.blend = num(p.blend);
                    f.pixels = match p.pixels {
                        PixelAspect::Keep => "keep",
                        _ => "square",
                    }
                    .into();
                }
                StageSpec::Detect(p) => {
                    f.blur_faces = p.faces && p.blur.iter().any(|c| c == "face");
                    f.draw_tracks = p.draw;
                }
                StageSpec::Deinterlace(p) => {
                    f.deinterlace = match p.mode {
                        DeinterlaceMode::Frame => "frame",
                        DeinterlaceMode::Field => "field",
                        DeinterlaceMode::Off => "off",
                        _ => "auto",
                    }
                    .into();
                }
                _ => {}
            }
        }
        for stage in &s.audio_stages {
            match stage {
                AudioStageSpec::Loudness(p) => f.loudness = num(p.target_lufs),
                AudioStageSpec::Denoise(p) => {
                    f.speech_denoise = true;
                    f.speech_engine = match p.engine {
                        AudioDenoiseEngine::DeepFilterNet => "deepfilternet",
                        _ => "rnnoise",
                    }
                    .into();
                }
                AudioStageSpec::Sync(_) => {}
            }
        }
        f.order = crate::order::of_stages(&s.stages);
        f.scenes = s.scenes.is_some();
        f.auto_edit = s.auto_edit.is_some();
        f.codec = match s.output.codec {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
            VideoCodec::Av1 => "av1",
            VideoCodec::Vp9 => "vp9",
        }
        .into();
        f.crf = num(s.output.crf);
        f.preset = s.output.preset.clone();
        f
    }

    /// Whether this form renders exactly `s` (else some of its settings have no field here).
    pub fn shows(&self, s: &PresetSettings) -> bool {
        self.parse()
            .is_ok_and(|spec| PresetSettings::from_spec(&spec) == *s)
    }
}

/// Fetches every preset (built-in first); the built-in ones alone when the node cannot be asked.
async fn fetch_presets() -> Result<Vec<Preset>, String> {
    match net::send(Request::get("/api/presets")).await {
        Ok(r) => r.json::<Vec<Preset>>().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Properties, PartialEq)]
pub struct BarProps {
    pub form: Form,
    pub on_apply: Callback<Form>,
}

/// The presets row: one button per preset (pressed when the form shows it), and for the user's
/// presets save, rename, delete, export and import.
#[function_component(PresetBar)]
pub fn preset_bar(p: &BarProps) -> Html {
    let presets = use_state(builtin_presets);
    let name = use_state(String::new);
    let message = use_state(|| None::<(bool, String)>);
    let reload = {
        let presets = presets.clone();
        let message = message.clone();
        Callback::from(move |said: Option<String>| {
            let (presets, message) = (presets.clone(), message.clone());
            spawn_local(async move {
                match fetch_presets().await {
                    Ok(list) => {
                        presets.set(list);
                        if let Some(s) = said {
                            message.set(Some((false, s)));
                        }
                    }
                    Err(e) => message.set(Some((true, format!("Presets: {e}")))),
                }
            });
        })
    };
    {
        let reload = reload.clone();
        use_effect_with((), move |_| reload.emit(None));
    }
    let active: Option<Preset> = presets
        .iter()
        .find(|pr| Form::from_settings(&pr.settings) == p.form)
        .cloned();
    let mut builtin_index = 0;
    let buttons = presets.iter().enumerate().map(|(i, pr)| {
        let form = Form::from_settings(&pr.settings);
        let pressed = (form == p.form).to_string();
        let (apply, message) = (p.on_apply.clone(), message.clone());
        let partial = !form.shows(&pr.settings);
        let title = pr.name.clone();
        let onclick = Callback::from(move |_| {
            message.set(partial.then(|| {
                (
                    true,
                    format!("'{title}' has settings the editor has no field for; they were left out"),
                )
            }));
            apply.emit(form.clone())
        });
        let id = if pr.builtin {
            builtin_index += 1;
            format!("preset-{}", builtin_index - 1)
        } else {
            format!("user-preset-{i}")
        };
        let class = if pr.builtin { "secondary preset" } else { "secondary preset user" };
        html! { <button type="button" {class} {id} aria-pressed={pressed} {onclick}>{ &pr.name }</button> }
    });
    let settings = p.form.parse().map(|s| PresetSettings::from_spec(&s));
    let on_name = {
        let name = name.clone();
        Callback::from(move |e: InputEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            name.set(input.value());
        })
    };
    let save = {
        let (name, message, reload) = ((*name).clone(), message.clone(), reload.clone());
        let settings = settings.clone();
        Callback::from(move |_| {
            let Ok(settings) = settings.clone() else {
                message.set(Some((true, "Fix the settings marked below first".into())));
                return;
            };
            let (name, message, reload) = (name.trim().to_owned(), message.clone(), reload.clone());
            spawn_local(async move {
                let req = Request::put(&format!("/api/presets/{}", encode(&name)));
                let body = serde_json::to_string(&settings).unwrap_or_default();
                match net::send_json(req, body).await {
                    Ok(_) => reload.emit(Some(format!("Saved '{name}'"))),
                    Err(e) => message.set(Some((true, e.to_string()))),
                }
            });
        })
    };
    let user_active = active
        .as_ref()
        .filter(|a| !a.builtin)
        .map(|a| a.name.clone());
    let rename = {
        let (to, message, reload) = ((*name).clone(), message.clone(), reload.clone());
        let from = user_active.clone();
        Callback::from(move |_| {
            let Some(from) = from.clone() else { return };
            let (to, message, reload) = (to.trim().to_owned(), message.clone(), reload.clone());
            spawn_local(async move {
                let req = Request::post(&format!("/api/presets/{}/rename", encode(&from)));
                let body = serde_json::json!({ "name": to }).to_string();
                match net::send_json(req, body).await {
                    Ok(_) => reload.emit(Some(format!("Renamed '{from}' to '{to}'"))),
                    Err(e) => message.set(Some((true, e.to_string()))),
                }
            });
        })
    };
    let delete = {
        let (message, reload) = (message.clone(), reload.clone());
        let target = user_active.clone();
        Callback::from(move |_| {
            let Some(target) = target.clone() else { return };
            let (message, reload) = (message.clone(), reload.clone());
            spawn_local(async move {
                let req = Request::delete(&format!("/api/presets/{}", encode(&target)));
                match net::send(req).await {
                    Ok(_) => reload.emit(Some(format!("Deleted '{target}'"))),
                    Err(e) => message.set(Some((true, e.to_string()))),
                }
            });
        })
    };
    let import = {
        let (message, reload) = (message.clone(), reload.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            input.set_value("");
            let (message, reload) = (message.clone(), reload.clone());
            spawn_local(async move {
                let text = match JsFuture::from(file.text()).await {
                    Ok(t) => t.as_string().unwrap_or_default(),
                    Err(_) => {
                        message.set(Some((true, "The file cannot be read".into())));
                        return;
                    }
                };
                match net::send_json(Request::post("/api/presets/import"), text).await {
                    Ok(r) => {
                        let names = r
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|v| {
                                let n = v["names"]
                                    .as_array()?
                                    .iter()
                                    .filter_map(|n| n.as_str().map(str::to_owned))
                                    .collect::<Vec<_>>();
                                Some(n.join(", "))
                            })
                            .unwrap_or_default();
                        reload.emit(Some(format!("Imported: {names}")));
                    }
                    Err(e) => message.set(Some((true, format!("Import refused: {e}")))),
                }
            });
        })
    };
    let can_save = !name.trim().is_empty();
    html! {
        <div class="presets" role="group" aria-label="Presets" style="margin-bottom:.6rem">
            <div class="row">
                <span class="muted">{"Presets:"}</span>{ for buttons }
            </div>
            <div class="row">
                <label for="preset-name" class="muted">{"Name"}</label>
                <input id="preset-name" type="text" maxlength="64" value={(*name).clone()} oninput={on_name} placeholder="My look" />
                <button type="button" class="secondary" id="preset-save" disabled={!can_save} onclick={save}>{"Save as preset"}</button>
                if user_active.is_some() {
                    <button type="button" class="secondary" id="preset-rename" disabled={!can_save} onclick={rename}>{"Rename"}</button>
                    <button type="button" class="secondary" id="preset-delete" onclick={delete}>{"Delete"}</button>
                }
                <a class="button secondary" id="preset-export" href={net::link("/api/presets/export")} download="kino-presets.json">{"Export"}</a>
                <input id="preset-import" type="file" accept=".json,application/json" class="visually-hidden" onchange={import} />
                <label class="button secondary" for="preset-import">{"Import…"}</label>
            </div>
            if let Some((err, text)) = &*message {
                <p id="preset-message" class={if *err { "err" } else { "muted" }} role="status">{ text }</p>
            }
        </div>
    }
}

/// A preset's name in a URL path.
fn encode(name: &str) -> String {
    js_sys::encode_uri_component(name).into()
}
