//! What is checked before any chunk is decoded: spec values, models, output container and codec,
//! stages the input cannot take, and whether the input needs deinterlacing.

use super::context::{blocking, JobCtx, JobError};
use crate::enhance as stages;
use crate::media::interlace::{self, Deinterlace, FieldOrder};
use crate::media::{assemble, encode, probe};
use kino_shared::{DeinterlaceMode, JobSpec, MediaInfo, SpecError};
use std::path::{Path, PathBuf};

/// A job that passed its checks: what the later phases read.
pub struct Admitted {
    pub spec: JobSpec,
    pub input: PathBuf,
    pub output: PathBuf,
    /// The probed input.
    pub info: MediaInfo,
    /// How the job deinterlaces, when it does.
    pub deinterlace: Option<Deinterlace>,
}

/// Loads the job and checks it against its input; announces what the user should know (an
/// interlaced input, a neural model that is missing).
pub async fn admit(ctx: &JobCtx) -> Result<Admitted, JobError> {
    let spec = ctx.store.job(&ctx.job).await?.spec;
    let (input, output) = ctx.store.job_input_output(&ctx.job).await?;
    let (input, output) = (PathBuf::from(input), PathBuf::from(output));
    preflight(&spec, &output)?;
    let deinterlace = deinterlace_order(&spec, &input).await?;
    if let Some(d) = deinterlace {
        let per = if d.per_field {
            "one frame per field, twice the frame rate"
        } else {
            "one frame per frame"
        };
        ctx.warn(format!("the input is interlaced ({}): deinterlaced with bwdif, {per} (a deinterlace stage with mode=off keeps it as it is)", d.order.name()));
    }
    let path = input.clone();
    let info = blocking(move || probe::probe(&path, false)).await??.info;
    check_stages_fit_input(&spec, &info)?;
    let mut warnings = stages::neural::warnings(&spec.stages);
    if !info.audio.is_empty() {
        warnings.extend(crate::audio::dfn::warnings(&spec.audio_stages));
    }
    for message in warnings {
        ctx.warn(message);
    }
    match stages::neural::gpu_note(&spec.stages) {
        Ok(Some(note)) => ctx.note(note),
        Ok(None) => {}
        Err(e) => return Err(SpecError::new("stages.scale", e).into()),
    }
    Ok(Admitted {
        spec,
        input,
        output,
        info,
        deinterlace,
    })
}

/// Whether this node can render `spec` as any node of a farm would: the encoder and every model
/// the stages need are here (alone, a node falls back to the classic filter for a missing
/// super-resolution model; in a farm that would make chunks differ by node). The reason otherwise.
pub fn runnable_here(spec: &JobSpec) -> Result<(), String> {
    encode::find_encoder(spec.output.codec).map_err(|e| e.to_string())?;
    check_detect_models(spec).map_err(|e| e.to_string())?;
    stages::neural::gpu_note(&spec.stages)?;
    match stages::neural::warnings(&spec.stages).into_iter().next() {
        Some(missing) => Err(missing),
        None => Ok(()),
    }
}

/// Refuses stages the input cannot take (HDR tone mapping of SDR video and the reverse) before any
/// chunk is decoded, rather than failing every chunk.
pub fn check_stages_fit_input(
    spec: &JobSpec,
    info: &kino_shared::MediaInfo,
) -> Result<(), JobError> {
    let kind = info
        .video
        .as_ref()
        .map(|v| v.hdr.kind.as_str())
        .unwrap_or("sdr");
    use kino_shared::{HdrMode, StageSpec};
    if let Some(cut) = spec.cut_name() {
        let Some(video) = &info.video else {
            return Err(SpecError::new(cut, "cuts a video, and the input has none").into());
        };
        // Open-ended or not, a range has to start inside the video to keep anything of it.
        let length = video.duration_seconds;
        if let Some((i, r)) = spec
            .keep
            .iter()
            .enumerate()
            .find(|(_, r)| r.start >= length)
        {
            if length > 0.0 {
                return Err(SpecError::new(
                    format!("keep[{i}]"),
                    format!(
                        "starts at {} s, after the video's end ({length:.3} s)",
                        r.start
                    ),
                )
                .into());
            }
        }
    }
    for s in &spec.stages {
        let reason = match s {
            StageSpec::Hdr(p) if p.mode == HdrMode::ToSdr && kind == "sdr" => {
                "to_sdr needs PQ or HLG input; this video is SDR".to_owned()
            }
            StageSpec::Hdr(p) if p.mode == HdrMode::ToHdr && kind != "sdr" => {
                format!("to_hdr needs SDR input; this video is already HDR ({kind})")
            }
            _ => continue,
        };
        return Err(SpecError::new("stages.hdr.mode", reason).into());
    }
    Ok(())
}

/// The detection interval of the job's `detect` stage, if it has one.
pub fn detect_every(spec: &JobSpec) -> Option<u32> {
    spec.stages.iter().find_map(|s| match s {
        kino_shared::StageSpec::Detect(p) => Some(p.every),
        _ => None,
    })
}

/// Refuses a job whose detection models are not in place: its tracks cannot be produced without
/// them (unlike neural upscaling, which falls back to the classic filter).
pub fn check_detect_models(spec: &JobSpec) -> Result<(), JobError> {
    for s in &spec.stages {
        if let kino_shared::StageSpec::Detect(p) = s {
            crate::detect::check_models(p)
                .map_err(|e| SpecError::new("stages.detect", e.to_string()))?;
        }
    }
    // Interpolation has no classic stand-in worth the name: without RIFE the job is refused.
    if kino_shared::interpolation(&spec.stages).is_some() {
        let cfg = crate::models::Config::from_env()
            .map_err(|e| SpecError::new("stages.interpolate", e.to_string()))?;
        for file in [
            crate::models::interp::FILE,
            crate::models::interp::FILE_HALF,
        ] {
            crate::models::check(&cfg, file)
                .map_err(|e| SpecError::new("stages.interpolate", e.to_string()))?;
        }
    }
    Ok(())
}

/// Checks what can be checked before any work: spec values, detection models, output container and
/// codec.
pub fn preflight(spec: &JobSpec, output: &Path) -> Result<(), JobError> {
    spec.validate()?;
    check_detect_models(spec)?;
    let muxer = assemble::muxer_for(output)?;
    if muxer == "webm"
        && !matches!(
            spec.output.codec,
            kino_shared::VideoCodec::Vp9 | kino_shared::VideoCodec::Av1
        )
    {
        return Err(SpecError::new("output.codec", "WebM output needs codec vp9 or av1").into());
    }
    encode::find_encoder(spec.output.codec)
        .map_err(|e| SpecError::new("output.codec", e.to_string()))?;
    Ok(())
}

/// How the job deinterlaces, if it does: `auto` when the picture (or, undetermined, the flags)
/// says interlaced, `frame` and `field` always, `off` never.
async fn deinterlace_order(spec: &JobSpec, input: &Path) -> Result<Option<Deinterlace>, JobError> {
    let mode = spec.deinterlace_mode();
    if mode == DeinterlaceMode::Off {
        return Ok(None);
    }
    let path = input.to_owned();
    let found = blocking(move || interlace::detect(&path, interlace::DETECT_FRAMES)).await??;
    tracing::info!(?found, "field order");
    let per_field = mode == DeinterlaceMode::Field;
    let order = match (mode, found.order) {
        (DeinterlaceMode::Auto, FieldOrder::Progressive) => return Ok(None),
        (_, FieldOrder::Progressive) => FieldOrder::TopFirst,
        (_, order) => order,
    };
    Ok(Some(Deinterlace { order, per_field }))
}
