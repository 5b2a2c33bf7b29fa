//! Planning a stream's audio stages: each stage's measuring pass (the loudness gain and ceiling)
//! runs on the signal the stages before it leave, so the target is met on what is heard.

use super::graph::{cut_filters, open_decoder, stream_start, AudioCut};
use super::loudness_pass::{plan_loudness, Encoding};
use super::stages::{choose_format, needs_48k, PlannedStage};
use super::AudioEncoder;
use crate::media::{input, MediaError, Result};
use kino_shared::AudioStageSpec;
use std::path::Path;

/// Plans the audio stages of stream `index` of `path` for encoder `kind`: the loudness gain is
/// measured on the signal as the stages before loudness leave it (denoised, synchronised), so the
/// target is met on what is heard. `sync_offset` is what `plan_sync` found. Returns the planned
/// stages and a line per measurement for the job's log. With auto-edit's `cut`, loudness is
/// measured on the kept audio only, as it will be heard.
pub fn plan_stages(
    path: &Path,
    index: usize,
    kind: AudioEncoder,
    stages: &[AudioStageSpec],
    sync_offset: Option<f64>,
    cut: Option<&AudioCut>,
) -> Result<(Vec<PlannedStage>, Vec<String>)> {
    let (fmt, enc, cut) = {
        let ictx = input::open(path)?;
        let s = ictx
            .stream(index)
            .ok_or_else(|| MediaError::Decode(format!("no audio stream {index}")))?;
        let dec = open_decoder(&s)?;
        let (fmt, sample_fmt, codec) = choose_format(&dec, kind, needs_48k(stages))?;
        (
            fmt,
            Encoding {
                kind,
                sample_fmt,
                codec,
            },
            cut.map(|c| cut_filters(c, stream_start(&s)))
                .unwrap_or_default(),
        )
    };
    let mut planned = Vec::with_capacity(stages.len());
    let mut notes = Vec::new();
    for stage in stages {
        let p = match stage {
            AudioStageSpec::Denoise(p) => {
                let (p, note) = crate::audio::dfn::resolve(p);
                notes.extend(note);
                PlannedStage::Denoise(p)
            }
            AudioStageSpec::Sync(p) => PlannedStage::Sync {
                params: p.clone(),
                offset_seconds: sync_offset
                    .ok_or_else(|| MediaError::Decode("audio sync was not measured".into()))?,
            },
            AudioStageSpec::Loudness(p) => {
                let plan = plan_loudness(path, index, &fmt, &enc, &cut, &planned, p)?;
                let (m, e) = (plan.measured, plan.encoded);
                notes.push(format!(
                    "audio stream {index}: measured {:.1} LUFS, {:.1} dBTP{}; gain {:+.1} dB to {:.1} LUFS under {:.1} dBTP (limiter at {:.1} dBTP; encoded: {:.1} LUFS, {:.1} dBTP)",
                    m.integrated_lufs,
                    m.true_peak_db,
                    if planned.is_empty() { "" } else { " after the stages before loudness" },
                    plan.gain_db,
                    p.target_lufs,
                    p.true_peak_db,
                    plan.ceiling_db,
                    e.integrated_lufs,
                    e.true_peak_db,
                ));
                PlannedStage::Loudness {
                    params: *p,
                    gain_db: plan.gain_db,
                    ceiling_db: plan.ceiling_db,
                }
            }
        };
        planned.push(p);
    }
    Ok((planned, notes))
}
