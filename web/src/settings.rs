//! The settings panel: the per-frame stages the shared kernels provide (colour, sharpen, scale),
//! the ones only the node computes (denoise, neural upscale), scene detection, auto-edit, the audio
//! stages and the output, with presets. Fields are kept as typed text so a bad value can be shown
//! and explained next to its field; the checks are the `JobSpec` validation the node applies.

use kino_shared::{
    AtCut, AudioDenoiseEngine, AudioDenoiseParams, AudioStageSpec, AutoEditParams, ColorParams,
    DeinterlaceMode, DeinterlaceParams, DenoiseMode, DenoiseParams, DetectParams, InterpMode,
    InterpolateParams, JobSpec, LoudnessParams, OutputSpec, PixelAspect, ResizeFilter, ScaleParams,
    SceneParams, SharpenParams, SlowmoAudio, SrModel, StageSpec, VideoCodec, PRESETS,
};
use std::collections::BTreeMap;
use yew::prelude::*;

/// What the form holds (text as typed). Kept in the browser between visits; fields a newer page
/// adds take their defaults.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Form {
    /// Temporal: previewed by the node, not in the page.
    pub denoise: bool,
    pub denoise_mode: String,
    pub sigma: String,
    pub strength: String,
    pub temporal_radius: String,
    pub color: bool,
    pub brightness: String,
    pub contrast: String,
    pub saturation: String,
    pub gamma: String,
    pub vibrance: String,
    pub temperature: String,
    pub tint: String,
    pub auto_white_balance: bool,
    pub auto_levels: bool,
    pub sharpen: bool,
    pub amount: String,
    pub radius: String,
    /// Empty: from the estimated noise.
    pub threshold: String,
    pub scale: bool,
    /// Empty fields are left out; a factor excludes width/height.
    pub width: String,
    pub height: String,
    pub factor: String,
    pub filter: String,
    /// Non-square source pixels: `square` (resample, the default) or `keep` (stay anamorphic).
    pub pixels: String,
    /// `none` (classic filter only), or a super-resolution network the node runs.
    pub model: String,
    /// Share of the classic result mixed into the network's.
    pub blend: String,
    /// Scene list, thumbnails and chapters.
    pub scenes: bool,
    /// Cut black, frozen and silent stretches.
    pub auto_edit: bool,
    /// Blur every tracked face in the output (privacy).
    pub blur_faces: bool,
    /// Detect and track objects; boxes and labels drawn into the output.
    pub draw_tracks: bool,
    /// Interlaced sources: `auto` (when the picture is interlaced), `frame`, `field` (50i → 50p)
    /// or `off`.
    pub deinterlace: String,
    /// Frame interpolation (RIFE, on the node): `smooth` to `interp_fps`, or `slowmo` by
    /// `interp_factor`.
    pub interpolate: bool,
    pub interp_mode: String,
    pub interp_fps: String,
    pub interp_factor: String,
    /// At a scene cut: `repeat` the frame before it, or `blend` the two.
    pub interp_at_cut: String,
    /// Slow motion's sound: `stretch` (pitch kept) or `drop`.
    pub interp_audio: String,
    /// `off` or a loudness target in LUFS.
    pub loudness: String,
    pub speech_denoise: bool,
    /// `rnnoise` or `deepfilternet` (stronger; the node falls back to RNNoise without its model).
    pub speech_engine: String,
    pub codec: String,
    pub crf: String,
    pub preset: String,
    /// The picture stages' run order, by kind (`order::STAGES`).
    pub order: Vec<String>,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            denoise: false,
            denoise_mode: "auto".into(),
            sigma: "10".into(),
            strength: "1".into(),
            temporal_radius: "2".into(),
            color: true,
            brightness: "0".into(),
            contrast: "1".into(),
            saturation: "1.2".into(),
            gamma: "1".into(),
            vibrance: "0".into(),
            temperature: "0".into(),
            tint: "0".into(),
            auto_white_balance: false,
            auto_levels: false,
            sharpen: false,
            amount: "0.8".into(),
            radius: "1.2".into(),
            threshold: String::new(),
            scale: false,
            width: String::new(),
            height: String::new(),
            factor: "2".into(),
            filter: "lanczos3".into(),
            pixels: "square".into(),
            model: "none".into(),
            blend: "0".into(),
            scenes: false,
            auto_edit: false,
            blur_faces: false,
            draw_tracks: false,
            deinterlace: "auto".into(),
            interpolate: false,
            interp_mode: "smooth".into(),
            interp_fps: "60".into(),
            interp_factor: "2".into(),
            interp_at_cut: "repeat".into(),
            interp_audio: "stretch".into(),
            loudness: "off".into(),
            speech_denoise: false,
            speech_engine: "rnnoise".into(),
            codec: "h264".into(),
            crf: "20".into(),
            preset: "medium".into(),
            order: crate::order::default_order(),
        }
    }
}

/// Where the settings are kept between visits (localStorage).
const SAVED: &str = "kino.settings";

impl Form {
    /// The settings of the last visit, else the defaults.
    pub fn saved() -> Form {
        crate::store::get(SAVED)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }

    /// Keeps these settings for the next visit.
    pub fn save(&self) {
        if let Ok(s) = serde_json::to_string(self) {
            crate::store::set(SAVED, &s);
        }
    }
}

impl Form {
    /// The built-in preset `name` (`Natural` when there is none of that name).
    #[cfg(test)]
    pub fn preset(name: &str) -> Form {
        let all = kino_shared::builtin_presets();
        let p = all.iter().find(|p| p.name == name).or(all.first());
        p.map(|p| Form::from_settings(&p.settings))
            .unwrap_or_default()
    }

    /// The job the form describes (its input left empty), or the errors by field
    /// (`color.contrast`, …).
    pub fn parse(&self) -> Result<JobSpec, BTreeMap<String, String>> {
        let mut errs = BTreeMap::new();
        let mut num = |key: &str, text: &str| -> Option<f64> {
            let t = text.trim();
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    errs.insert(key.to_owned(), format!("'{t}' is not a number"));
                    None
                }
            }
        };
        let mut stages = Vec::new();
        // Fields that must be whole numbers but are not.
        let mut whole = vec![];
        if self.denoise {
            let radius = num("denoise.temporal_radius", &self.temporal_radius);
            if radius.is_some_and(|r| r.fract() != 0.0 || r < 0.0) {
                whole.push("denoise.temporal_radius");
            }
            stages.push(StageSpec::Denoise(DenoiseParams {
                mode: if self.denoise_mode == "manual" {
                    DenoiseMode::Manual
                } else {
                    DenoiseMode::Auto
                },
                sigma: num("denoise.sigma", &self.sigma).unwrap_or(10.0) as f32,
                strength: num("denoise.strength", &self.strength).unwrap_or(1.0) as f32,
                temporal_radius: radius.map(|r| r.clamp(0.0, 99.0) as u32).unwrap_or(2),
            }));
        }
        if self.color {
            let p = ColorParams {
                brightness: num("color.brightness", &self.brightness).unwrap_or(0.0) as f32,
                contrast: num("color.contrast", &self.contrast).unwrap_or(1.0) as f32,
                saturation: num("color.saturation", &self.saturation).unwrap_or(1.0) as f32,
                gamma: num("color.gamma", &self.gamma).unwrap_or(1.0) as f32,
                vibrance: num("color.vibrance", &self.vibrance).unwrap_or(0.0) as f32,
                temperature: num("color.temperature", &self.temperature).unwrap_or(0.0) as f32,
                tint: num("color.tint", &self.tint).unwrap_or(0.0) as f32,
                auto_white_balance: self.auto_white_balance,
                auto_levels: self.auto_levels,
            };
            stages.push(StageSpec::Color(p));
        }
        if self.sharpen {
            let threshold = if self.threshold.trim().is_empty() {
                None
            } else {
                num("sharpen.threshold", &self.threshold).map(|v| v as f32)
            };
            stages.push(StageSpec::Sharpen(SharpenParams {
                amount: num("sharpen.amount", &self.amount).unwrap_or(0.8) as f32,
                radius: num("sharpen.radius", &self.radius).unwrap_or(1.2) as f32,
                threshold,
            }));
        }
        if self.interpolate {
            // Before any upscale: RIFE runs on the source's size, the cheaper place.
            let at_cut = if self.interp_at_cut == "blend" {
                AtCut::Blend
            } else {
                AtCut::Repeat
            };
            let p = if self.interp_mode == "slowmo" {
                let f = num("interpolate.factor", &self.interp_factor);
                if f.is_some_and(|v| v.fract() != 0.0) {
                    whole.push("interpolate.factor");
                }
                InterpolateParams {
                    factor: Some(f.map(|v| v.clamp(0.0, 99.0) as u32).unwrap_or(2)),
                    mode: InterpMode::Slowmo,
                    audio: if self.interp_audio == "drop" {
                        SlowmoAudio::Drop
                    } else {
                        SlowmoAudio::Stretch
                    },
                    at_cut,
                    ..Default::default()
                }
            } else {
                InterpolateParams {
                    fps: Some(num("interpolate.fps", &self.interp_fps).unwrap_or(60.0)),
                    at_cut,
                    ..Default::default()
                }
            };
            stages.push(StageSpec::Interpolate(p));
        }
        if self.scale {
            let mut opt =
                |key: &str, text: &str| (!text.trim().is_empty()).then(|| num(key, text)).flatten();
            let px = |v: Option<f64>| v.map(|v| v.clamp(0.0, u32::MAX as f64).round() as u32);
            let p = ScaleParams {
                width: px(opt("scale.width", &self.width)),
                height: px(opt("scale.height", &self.height)),
                factor: opt("scale.factor", &self.factor),
                filter: if self.filter == "bicubic" {
                    ResizeFilter::Bicubic
                } else {
                    ResizeFilter::Lanczos3
                },
                model: sr_model(&self.model),
                blend: if sr_model(&self.model).is_some() {
                    opt("scale.blend", &self.blend).unwrap_or(0.0) as f32
                } else {
                    0.0
                },
                tile: None,
                pixels: if self.pixels == "keep" {
                    PixelAspect::Keep
                } else {
                    PixelAspect::Square
                },
            };
            stages.push(StageSpec::Scale(p));
        }
        crate::order::apply(&mut stages, &self.order);
        let crf = num("output.crf", &self.crf);
        let output = OutputSpec {
            codec: VideoCodec::parse(&self.codec).unwrap_or_default(),
            crf: crf.map(|v| v.clamp(0.0, 255.0) as u8).unwrap_or(20),
            preset: self.preset.clone(),
            ..Default::default()
        };
        if crf.is_some_and(|v| v.fract() != 0.0 || !(0.0..=255.0).contains(&v)) {
            whole.push("output.crf");
        }
        for key in whole {
            errs.insert(key.into(), "must be a whole number".into());
        }
        // The node's own checks, one stage at a time so every stage's first problem shows.
        for stage in &stages {
            let spec = JobSpec {
                input: "local".into(),
                stages: vec![stage.clone()],
                audio_stages: vec![],
                scenes: None,
                auto_edit: None,
                keep: Vec::new(),
                analyse_only: false,
                output: OutputSpec::default(),
                chunk_seconds: 4.0,
            };
            if let Err(e) = spec.validate() {
                let key = e.field.trim_start_matches("stages.").to_owned();
                errs.entry(key).or_insert(e.message);
            }
        }
        if let Err(e) = output.validate() {
            errs.entry(e.field).or_insert(e.message);
        }
        if self.blur_faces || self.draw_tracks {
            // Objects are tracked before the picture stages change the frame.
            let p = DetectParams {
                faces: self.blur_faces,
                draw: self.draw_tracks,
                blur: if self.blur_faces {
                    vec!["face".into()]
                } else {
                    vec![]
                },
                ..DetectParams::default()
            };
            stages.insert(0, StageSpec::Detect(p));
        }
        // Denoise first: loudness is measured on what the stages before it leave.
        let mut audio_stages = vec![];
        if self.speech_denoise {
            audio_stages.push(AudioStageSpec::Denoise(AudioDenoiseParams {
                engine: if self.speech_engine == "deepfilternet" {
                    AudioDenoiseEngine::DeepFilterNet
                } else {
                    AudioDenoiseEngine::Rnnoise
                },
                ..Default::default()
            }));
        }
        if let Ok(lufs) = self.loudness.parse::<f64>() {
            audio_stages.push(AudioStageSpec::Loudness(LoudnessParams {
                target_lufs: lufs,
                ..Default::default()
            }));
        }
        let mode = match self.deinterlace.as_str() {
            "frame" => Some(DeinterlaceMode::Frame),
            "field" => Some(DeinterlaceMode::Field),
            "off" => Some(DeinterlaceMode::Off),
            _ => None,
        };
        if let Some(mode) = mode {
            stages.insert(0, StageSpec::Deinterlace(DeinterlaceParams { mode }));
        }
        let spec = JobSpec {
            input: "local".into(),
            stages,
            audio_stages,
            scenes: self.scenes.then(SceneParams::default),
            auto_edit: self.auto_edit.then(AutoEditParams::default),
            keep: Vec::new(),
            analyse_only: false,
            output,
            chunk_seconds: 4.0,
        };
        // What only the whole spec shows (stages that do not combine).
        if errs.is_empty() {
            if let Err(e) = spec.validate() {
                errs.insert(e.field.trim_start_matches("stages.").to_owned(), e.message);
            }
        }
        if errs.is_empty() {
            Ok(JobSpec {
                input: String::new(),
                ..spec
            })
        } else {
            Err(errs)
        }
    }
}

/// The network chosen in the form's `model` select, `none` for the classic filter alone.
fn sr_model(name: &str) -> Option<SrModel> {
    match name {
        "fast" => Some(SrModel::Fast),
        "quality" => Some(SrModel::Quality),
        "small" => Some(SrModel::Small),
        "span" => Some(SrModel::Span),
        "auto" => Some(SrModel::Auto),
        _ => None,
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub form: Form,
    pub errors: BTreeMap<String, String>,
    pub on_change: Callback<Form>,
}

/// A number field with its error beside it.
fn number(
    props: &Props,
    key: &'static str,
    label: &'static str,
    value: &str,
    set: fn(&mut Form, String),
) -> Html {
    let id = format!("f-{}", key.replace('.', "-"));
    let err_id = format!("{id}-err");
    let err = props.errors.get(key);
    let oninput = {
        let form = props.form.clone();
        let cb = props.on_change.clone();
        Callback::from(move |e: InputEvent| {
            let mut f = form.clone();
            set(
                &mut f,
                e.target_unchecked_into::<web_sys::HtmlInputElement>()
                    .value(),
            );
            cb.emit(f);
        })
    };
    html! {
        <div>
            <label for={id.clone()}>{ label }</label>
            <input type="text" inputmode="decimal" id={id} value={value.to_owned()} {oninput}
                aria-invalid={err.is_some().to_string()} aria-describedby={err_id.clone()} />
            if let Some(msg) = err { <p class="err" id={err_id}>{ msg }</p> }
        </div>
    }
}

fn checkbox(
    props: &Props,
    id: &'static str,
    label: &'static str,
    on: bool,
    set: fn(&mut Form, bool),
) -> Html {
    let onchange = {
        let form = props.form.clone();
        let cb = props.on_change.clone();
        Callback::from(move |e: Event| {
            let mut f = form.clone();
            set(
                &mut f,
                e.target_unchecked_into::<web_sys::HtmlInputElement>()
                    .checked(),
            );
            cb.emit(f);
        })
    };
    html! {
        <label class="check"><input type="checkbox" id={id} checked={on} {onchange} />{ label }</label>
    }
}

fn select(
    props: &Props,
    id: &'static str,
    label: &'static str,
    value: &str,
    options: &[&'static str],
    set: fn(&mut Form, String),
) -> Html {
    let onchange = {
        let form = props.form.clone();
        let cb = props.on_change.clone();
        Callback::from(move |e: Event| {
            let mut f = form.clone();
            set(
                &mut f,
                e.target_unchecked_into::<web_sys::HtmlSelectElement>()
                    .value(),
            );
            cb.emit(f);
        })
    };
    let err = props
        .errors
        .get(id.trim_start_matches("f-").replace('-', ".").as_str())
        .cloned();
    html! {
        <div>
            <label for={id}>{ label }</label>
            <select id={id} {onchange}>
                { for options.iter().map(|o| html! { <option value={*o} selected={value == *o}>{ *o }</option> }) }
            </select>
            if let Some(msg) = err { <p class="err">{ msg }</p> }
        </div>
    }
}

/// The ordered stages switched on.
fn on_stages(f: &Form) -> Vec<&'static str> {
    let on = [f.denoise, f.color, f.sharpen, f.interpolate, f.scale];
    crate::order::STAGES
        .iter()
        .zip(on)
        .filter_map(|(k, on)| on.then_some(*k))
        .collect()
}

/// The settings panel.
#[function_component(Settings)]
pub fn settings(props: &Props) -> Html {
    let f = &props.form;
    let scale_err = props.errors.get("scale").cloned();
    html! {
        <section class="panel" aria-labelledby="settings-h">
            <h2 id="settings-h">{"Enhancements"}</h2>
            <crate::presets::PresetBar form={f.clone()} on_apply={props.on_change.clone()} />
            <fieldset>
                <legend>{ checkbox(props, "stage-denoise", "Denoise", f.denoise, |f, v| f.denoise = v) }</legend>
                if f.denoise {
                    <div class="fields">
                        { select(props, "f-denoise-mode", "Noise level", &f.denoise_mode, &["auto", "manual"], |f, v| f.denoise_mode = v) }
                        { number(props, "denoise.sigma", "Sigma, manual (0.5…50)", &f.sigma, |f, v| f.sigma = v) }
                        { number(props, "denoise.strength", "Strength (0…3)", &f.strength, |f, v| f.strength = v) }
                        { number(props, "denoise.temporal_radius", "Frames each side (0…3)", &f.temporal_radius, |f, v| f.temporal_radius = v) }
                    </div>
                    <p class="muted">{"Temporal: the node previews it on the current frame."}</p>
                }
            </fieldset>
            <fieldset>
                <legend>{ checkbox(props, "stage-color", "Colour", f.color, |f, v| f.color = v) }</legend>
                if f.color {
                    <div class="fields">
                        { number(props, "color.brightness", "Brightness (−1…1)", &f.brightness, |f, v| f.brightness = v) }
                        { number(props, "color.contrast", "Contrast (0…4)", &f.contrast, |f, v| f.contrast = v) }
                        { number(props, "color.saturation", "Saturation (0…4)", &f.saturation, |f, v| f.saturation = v) }
                        { number(props, "color.gamma", "Gamma (0.1…10)", &f.gamma, |f, v| f.gamma = v) }
                        { number(props, "color.vibrance", "Vibrance (−1…1)", &f.vibrance, |f, v| f.vibrance = v) }
                        { number(props, "color.temperature", "Temperature (−1…1)", &f.temperature, |f, v| f.temperature = v) }
                        { number(props, "color.tint", "Tint (−1…1)", &f.tint, |f, v| f.tint = v) }
                    </div>
                    <div class="row">
                        { checkbox(props, "auto-wb", "Auto white balance", f.auto_white_balance, |f, v| f.auto_white_balance = v) }
                        { checkbox(props, "auto-levels", "Auto levels", f.auto_levels, |f, v| f.auto_levels = v) }
                    </div>
                }
            </fieldset>
            <fieldset>
                <legend>{ checkbox(props, "stage-sharpen", "Sharpen", f.sharpen, |f, v| f.sharpen = v) }</legend>
                if f.sharpen {
                    <div class="fields">
                        { number(props, "sharpen.amount", "Amount (0…5)", &f.amount, |f, v| f.amount = v) }
                        { number(props, "sharpen.radius", "Radius px (0.3…5)", &f.radius, |f, v| f.radius = v) }
                        { number(props, "sharpen.threshold", "Threshold (empty: auto)", &f.threshold, |f, v| f.threshold = v) }
                    </div>
                }
            </fieldset>
            <fieldset>
                <legend>{ checkbox(props, "stage-scale", "Scale", f.scale, |f, v| f.scale = v) }</legend>
                if f.scale {
                    <div class="fields">
                        { number(props, "scale.factor", "Factor (≤ 16)", &f.factor, |f, v| f.factor = v) }
                        { number(props, "scale.width", "or width px", &f.width, |f, v| f.width = v) }
                        { number(props, "scale.height", "and/or height px", &f.height, |f, v| f.height = v) }
                        { select(props, "f-scale-filter", "Filter", &f.filter, &["lanczos3", "bicubic"], |f, v| f.filter = v) }
                        { select(props, "f-scale-pixels", "Non-square pixels", &f.pixels, &["square", "keep"], |f, v| f.pixels = v) }
                        { select(props, "f-scale-model", "Neural model", &f.model, &["none", "auto", "span", "fast", "quality", "small"], |f, v| f.model = v) }
                        if f.model != "none" {
                            { number(props, "scale.blend", "Blend with filter (0…1)", &f.blend, |f, v| f.blend = v) }
                        }
                    </div>
                    if f.model != "none" {
                        <p class="muted">{"Neural: the node previews it on the current frame (seconds on a CPU)."}</p>
                    }
                    if let Some(msg) = scale_err { <p class="err">{ msg }</p> }
                }
            </fieldset>
            <fieldset>
                <legend>{ checkbox(props, "stage-interpolate", "Frame interpolation", f.interpolate, |f, v| f.interpolate = v) }</legend>
                if f.interpolate {
                    <div class="fields">
                        { select(props, "f-interp-mode", "Mode", &f.interp_mode, &["smooth", "slowmo"], |f, v| f.interp_mode = v) }
                        if f.interp_mode == "slowmo" {
                            { number(props, "interpolate.factor", "Slower by (2…8)", &f.interp_factor, |f, v| f.interp_factor = v) }
                            { select(props, "f-interp-audio", "Sound", &f.interp_audio, &["stretch", "drop"], |f, v| f.interp_audio = v) }
                        } else {
                            { number(props, "interpolate.fps", "Frame rate (≤ 240)", &f.interp_fps, |f, v| f.interp_fps = v) }
                        }
                        { select(props, "f-interp-cut", "At a scene cut", &f.interp_at_cut, &["repeat", "blend"], |f, v| f.interp_at_cut = v) }
                    </div>
                    <p class="muted">{"RIFE on the node: the preview shows the frame half-way to the next one (seconds on a CPU). No frame is made across a scene cut."}</p>
                }
            </fieldset>
            <crate::order::StageOrder order={f.order.clone()} on={on_stages(f)} errors={props.errors.clone()}
                on_change={{
                    let (form, on_change) = (f.clone(), props.on_change.clone());
                    Callback::from(move |order: Vec<String>| on_change.emit(Form { order, ..form.clone() }))
                }} />
            <fieldset>
                <legend>{"Whole video"}</legend>
                <div class="row">
                    { checkbox(props, "f-scenes", "Scenes: list, thumbnails, chapters", f.scenes, |f, v| f.scenes = v) }
                    { checkbox(props, "f-auto-edit", "Auto-edit: cut black, frozen and silent parts", f.auto_edit, |f, v| f.auto_edit = v) }
                    { checkbox(props, "f-blur-faces", "Blur faces", f.blur_faces, |f, v| f.blur_faces = v) }
                    { checkbox(props, "f-draw-tracks", "Track objects: boxes and labels", f.draw_tracks, |f, v| f.draw_tracks = v) }
                </div>
                <div class="fields">
                    { select(props, "f-deinterlace-mode", "Interlaced video", &f.deinterlace, &["auto", "frame", "field", "off"], |f, v| f.deinterlace = v) }
                </div>
                if f.blur_faces || f.draw_tracks {
                    <p class="muted">{"Tracked over the whole video by the node: not in the preview; tracks come with the report."}</p>
                }
            </fieldset>
            <fieldset>
                <legend>{"Audio"}</legend>
                <div class="fields">
                    { select(props, "f-loudness", "Loudness target (LUFS)", &f.loudness, &["off", "-14", "-16", "-23"], |f, v| f.loudness = v) }
                </div>
                <div class="row">
                    { checkbox(props, "f-speech-denoise", "Speech denoise", f.speech_denoise, |f, v| f.speech_denoise = v) }
                </div>
                if f.speech_denoise {
                    <div class="fields">
                        { select(props, "f-speech-engine", "Speech denoise engine", &f.speech_engine, &["rnnoise", "deepfilternet"], |f, v| f.speech_engine = v) }
                    </div>
                }
            </fieldset>
            <fieldset>
                <legend>{"Output"}</legend>
                <div class="fields">
                    { select(props, "f-output-codec", "Codec", &f.codec, &["h264", "h265", "av1", "vp9"], |f, v| f.codec = v) }
                    { number(props, "output.crf", "Quality CRF", &f.crf, |f, v| f.crf = v) }
                    { select(props, "f-output-preset", "Speed preset", &f.preset, &PRESETS, |f, v| f.preset = v) }
                </div>
            </fieldset>
        </section>
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
