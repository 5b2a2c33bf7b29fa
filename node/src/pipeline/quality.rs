//! The report's `quality` section: the assembled output measured against the source (PSNR, SSIM,
//! SSIMULACRA2; see `media::compare`), per frame, per chunk and per scene, like with like: an
//! upscaled output is resized back to the source's size (how much of the source survives), an
//! interpolated one is scored at the source's instants, slow motion on the source's clock. Every
//! frame is scored when that fits in 5 % of the render's time; otherwise every n-th, n chosen from
//! the cost of the first so scoring takes about 5 %, with at least [`MIN_SCORED`] frames. The
//! sound is metered too (loudness, range, true peak), whatever the pictures are.

use super::context::{blocking, JobCtx, JobError};
use super::layout::quality_dir;
use super::preflight::Admitted;
use super::scenes::SceneReport;
use crate::media::audio::measure_loudness;
use crate::media::compare::{compare, set_ssimulacra2, CompareOptions};
use crate::media::thumbnail::write_thumbnails_at;
use crate::media::MediaError;
use crate::store::{now_ms, ReportSection};
use kino_shared::{
    AudioQuality, ChunkMeasures, EncoderLoss, FrameQuality, HdrMode, QualityReport, QualitySummary,
    SpanQuality, StageSpec, WorstMoment,
};
use std::path::{Path, PathBuf};

impl ReportSection for QualityReport {
    const NAME: &'static str = "quality";
}

/// Share of the render's time scoring may take.
pub const BUDGET: f64 = 0.05;
/// At least this many frames are scored (all of a shorter video), even past the budget.
pub const MIN_SCORED: u64 = 30;
/// The worst moments listed.
const WORST: usize = 5;
/// Width of the worst moments' thumbnails.
const THUMBNAIL_WIDTH: u32 = 240;

/// Why the output cannot be compared with the source frame by frame, if it cannot.
fn not_comparable(spec: &kino_shared::JobSpec) -> Option<&'static str> {
    if spec.cut_name().is_some() {
        return Some("not measured: the job cuts the timeline (auto-edit or trim), so output frames are not at the source's times");
    }
    if spec.stages.iter().any(
        |s| matches!(s, StageSpec::Hdr(p) if matches!(p.mode, HdrMode::ToSdr | HdrMode::ToHdr)),
    ) {
        return Some("not measured: the output is in another dynamic range than the source");
    }
    None
}

/// What a job's comparison means, given its stages.
fn meaning(spec: &kino_shared::JobSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    for s in &spec.stages {
        let note = match s {
            StageSpec::Scale(_) => "an upscale is resized back to the source's size: how much of the source survives",
            StageSpec::Interpolate(_) => "only output frames at the source's instants are scored (invented ones have no reference)",
            StageSpec::Stabilize(_) => "stabilisation moves the picture on purpose, so figures are low by design",
            StageSpec::Denoise(_) | StageSpec::Sharpen(_) | StageSpec::Color(_) => {
                "enhancements change the picture on purpose: the figures say how far from the source"
            }
            _ => continue,
        };
        if !out.contains(&note) {
            out.push(note);
        }
    }
    out
}

/// Measures the job's output against its source and stores the `quality` section (a measurement
/// that fails is a warning, never a failed job).
pub async fn report_quality(
    ctx: &JobCtx,
    job: &Admitted,
    measures: &[ChunkMeasures],
    data_dir: &Path,
) -> Result<(), JobError> {
    let spec = &job.spec;
    if !spec.output.quality {
        return Ok(());
    }
    let audio = measure_audio(ctx, job).await?;
    let encoder = encoder_loss(measures);
    if let Some(why) = not_comparable(spec) {
        let report = QualityReport {
            compared: why.into(),
            audio,
            encoder,
            ..Default::default()
        };
        return Ok(ctx.store.save_section(&ctx.job, &report).await?);
    }
    let status = ctx.store.job(&ctx.job).await?;
    let render_seconds = ((now_ms() - status.created_ms).max(1) as f64) / 1000.0;
    let stretch = kino_shared::interpolation(&spec.stages).map_or(1, |p| p.stretch());
    // Frames the output has at the source's instants (containers without a frame count: from
    // the duration).
    let expected = job.info.video.as_ref().map_or(0, |v| {
        if v.frames > 0 {
            v.frames
        } else {
            (v.duration_seconds * v.fps).round().max(0.0) as u64
        }
    });
    let opts = CompareOptions {
        budget: Some((BUDGET * render_seconds, expected)),
        at_least: MIN_SCORED,
        time_scale: stretch as f64,
        ..Default::default()
    };
    let (src, out) = (job.input.clone(), job.output.clone());
    let started = std::time::Instant::now();
    let measured = blocking(move || compare(&src, &out, &opts)).await?;
    let c = match measured {
        Ok(c) => c,
        Err(e) => {
            ctx.warn(format!("quality report: {e}"));
            let report = QualityReport {
                compared: format!("not measured: {e}"),
                audio,
                encoder,
                ..Default::default()
            };
            return Ok(ctx.store.save_section(&ctx.job, &report).await?);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut compared = c.compared.clone();
    for m in meaning(spec) {
        compared = format!("{compared}; {m}");
    }
    match c.ssimulacra2_every {
        0 => compared.push_str(
            "; SSIMULACRA2 left out: one frame of it would exceed the time budget \
             (`kino-node compare` computes it for every frame)",
        ),
        1 => {}
        n => compared.push_str(&format!("; SSIMULACRA2 on every {n}th scored frame")),
    }
    let chunks = ctx
        .store
        .chunks(&ctx.job)
        .await?
        .iter()
        .map(|row| {
            let tb = job.info.video.as_ref().map_or([1, 1], |v| v.time_base);
            let sec = |pts: i64| pts as f64 * tb[0] as f64 / tb[1].max(1) as f64 * stretch as f64;
            let end = if row.plan.end_pts == i64::MAX {
                f64::INFINITY
            } else {
                sec(row.plan.end_pts)
            };
            let start = if row.plan.start_pts == i64::MIN {
                f64::NEG_INFINITY
            } else {
                sec(row.plan.start_pts)
            };
            (start, end)
        })
        .collect::<Vec<_>>();
    let scenes = match ctx.store.section::<SceneReport>(&ctx.job).await? {
        Some(r) => r
            .scenes
            .iter()
            .map(|s| {
                (
                    s.start_seconds * stretch as f64,
                    s.end_seconds * stretch as f64,
                )
            })
            .collect(),
        None => Vec::new(),
    };
    let report = QualityReport {
        compared,
        measured: true,
        every: c.every,
        ssimulacra2_every: c.ssimulacra2_every,
        seconds,
        share_of_render: seconds / render_seconds,
        summary: c.summary.clone(),
        chunks: spans(&c.frames, &chunks),
        scenes: spans(&c.frames, &scenes),
        worst: thumbnails(ctx, job, data_dir, worst(&c.frames)).await?,
        frames: c.frames,
        audio,
        encoder,
    };
    Ok(ctx.store.save_section(&ctx.job, &report).await?)
}

/// Loudness, loudness range and true peak of each audio stream of the output (a failure is a
/// warning and no figures).
async fn measure_audio(ctx: &JobCtx, job: &Admitted) -> Result<Vec<AudioQuality>, JobError> {
    let out = job.output.clone();
    match blocking(move || measure_loudness(&out)).await? {
        Ok(streams) => Ok(streams
            .into_iter()
            .map(|s| AudioQuality {
                stream: s.index as u32,
                sample_rate: s.rate,
                channels: s.channels as u32,
                integrated_lufs: s
                    .measured
                    .integrated_lufs
                    .is_finite()
                    .then_some(s.measured.integrated_lufs),
                loudness_range_lu: s.measured.loudness_range_lu,
                true_peak_db: s.measured.true_peak_db,
            })
            .collect()),
        Err(e) => {
            ctx.warn(format!("quality report, audio: {e}"));
            Ok(Vec::new())
        }
    }
}

/// Writes a thumbnail of the output at each worst moment (a failure is a warning and no
/// thumbnails).
async fn thumbnails(
    ctx: &JobCtx,
    job: &Admitted,
    data_dir: &Path,
    mut worst: Vec<WorstMoment>,
) -> Result<Vec<WorstMoment>, JobError> {
    let dir = quality_dir(data_dir, &ctx.job);
    let picks: Vec<(f64, PathBuf)> = worst
        .iter()
        .enumerate()
        .map(|(k, w)| (w.frame.time, dir.join(format!("{k:03}.jpg"))))
        .collect();
    let out = job.output.clone();
    let written = blocking(move || {
        std::fs::create_dir_all(&dir).map_err(MediaError::io(dir.display().to_string()))?;
        write_thumbnails_at(&out, &picks, THUMBNAIL_WIDTH)
    })
    .await?;
    match written {
        Ok(()) => {
            for (k, w) in worst.iter_mut().enumerate() {
                w.thumbnail = Some(format!("{k:03}.jpg"));
            }
        }
        Err(e) => ctx.warn(format!("quality report, thumbnails: {e}")),
    }
    Ok(worst)
}

/// The encoder's own loss from the frames each chunk sampled (none when nothing was sampled).
fn encoder_loss(measures: &[ChunkMeasures]) -> Option<EncoderLoss> {
    let frames: Vec<FrameQuality> = measures
        .iter()
        .flat_map(|m| m.encoder.iter().cloned())
        .collect();
    if frames.is_empty() {
        return None;
    }
    let chunks: Vec<SpanQuality> = measures
        .iter()
        .filter_map(|m| {
            let (first, last) = (m.encoder.first()?, m.encoder.last()?);
            Some(SpanQuality {
                start: first.time,
                end: last.time,
                summary: summarise(&m.encoder.iter().collect::<Vec<_>>()),
            })
        })
        .collect();
    Some(EncoderLoss {
        compared: format!(
            "each chunk's encode against the frames handed to its encoder: {} frames \
             evenly sampled from {} chunks (within 5 % of each chunk's render time, at least \
             4 a chunk: a fast render is measured on the start of its chunks)",
            frames.len(),
            chunks.len()
        ),
        summary: summarise(&frames.iter().collect::<Vec<_>>()),
        chunks,
        frames,
        seconds: measures.iter().map(|m| m.encoder_seconds).sum(),
    })
}

/// Summaries of the frames within each `[start, end)` (seconds).
fn spans(frames: &[FrameQuality], bounds: &[(f64, f64)]) -> Vec<SpanQuality> {
    bounds
        .iter()
        .map(|&(start, end)| {
            let inside: Vec<&FrameQuality> = frames
                .iter()
                .filter(|f| f.time >= start && f.time < end)
                .collect();
            SpanQuality {
                start: if start.is_finite() {
                    start
                } else {
                    frames.first().map_or(0.0, |f| f.time)
                },
                end: if end.is_finite() {
                    end
                } else {
                    frames.last().map_or(start, |f| f.time)
                },
                summary: summarise(&inside),
            }
        })
        .collect()
}

/// PSNR over frames from their PSNRs (the mean squared error relative to the peak is
/// 10^(−PSNR/10), so the mean needs no bit depth), SSIM and SSIMULACRA2 as for a whole video.
pub fn summarise(frames: &[&FrameQuality]) -> QualitySummary {
    let db = |values: Vec<Option<f64>>| -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean: f64 = values
            .iter()
            .map(|v| v.map_or(0.0, |p| 10f64.powf(-p / 10.0)))
            .sum::<f64>()
            / n;
        (mean > 0.0).then(|| -10.0 * mean.log10())
    };
    let ssim: Vec<f64> = frames.iter().filter_map(|f| f.ssim).collect();
    let mut out = QualitySummary {
        frames: frames.len() as u64,
        psnr: db(frames.iter().map(|f| f.psnr).collect()),
        psnr_y: db(frames.iter().map(|f| f.psnr_y).collect()),
        ssim: (!ssim.is_empty()).then(|| ssim.iter().sum::<f64>() / ssim.len() as f64),
        ..Default::default()
    };
    set_ssimulacra2(
        &mut out,
        frames.iter().filter_map(|f| f.ssimulacra2).collect(),
    );
    out
}

/// The lowest-scoring frames, worst first (by SSIMULACRA2 where measured, else PSNR), apart by at
/// least a tenth of the video (2 s at most): distinct moments, not five frames of one bad second.
fn worst(frames: &[FrameQuality]) -> Vec<WorstMoment> {
    let key = |f: &FrameQuality| f.ssimulacra2.or(f.psnr).unwrap_or(f64::INFINITY);
    let span = match (frames.first(), frames.last()) {
        (Some(a), Some(b)) => b.time - a.time,
        _ => 0.0,
    };
    let gap = (span / (2 * WORST) as f64).min(2.0);
    let mut all: Vec<FrameQuality> = frames.to_vec();
    all.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let mut picked: Vec<FrameQuality> = Vec::with_capacity(WORST);
    for f in all {
        if picked.len() == WORST {
            break;
        }
        if picked.iter().all(|p| (p.time - f.time).abs() >= gap) {
            picked.push(f);
        }
    }
    picked
        .into_iter()
        .map(|frame| WorstMoment {
            frame,
            thumbnail: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(time: f64, psnr: Option<f64>) -> FrameQuality {
        FrameQuality {
            time,
            psnr,
            psnr_y: psnr,
            ssim: Some(0.9),
            ssimulacra2: psnr.map(|p| p * 2.0),
        }
    }

    #[test]
    fn span_psnr_is_that_of_the_mean_error() {
        // MSE ratios 1e-3 and 1e-4: mean 5.5e-4, 32.596 dB (not the 35 dB mean of the PSNRs).
        let frames = [f(0.0, Some(30.0)), f(0.04, Some(40.0))];
        let s = summarise(&frames.iter().collect::<Vec<_>>());
        assert!((s.psnr.unwrap() - 32.596).abs() < 1e-3, "{:?}", s.psnr);
        // An identical frame adds no error.
        let with_same = [f(0.0, Some(30.0)), f(0.04, None)];
        let s = summarise(&with_same.iter().collect::<Vec<_>>());
        assert!((s.psnr.unwrap() - 33.0103).abs() < 1e-3);
        let parts = spans(&frames, &[(f64::NEG_INFINITY, 0.02), (0.02, f64::INFINITY)]);
        assert_eq!(parts[0].start, 0.0);
        assert_eq!(parts[1].summary.frames, 1);
        assert_eq!(parts[1].end, 0.04);
        assert_eq!(worst(&frames)[0].frame.time, 0.0);
        // Distinct moments: a neighbour of the worst frame is passed over for a later one.
        let run: Vec<FrameQuality> = (0..100)
            .map(|i| {
                f(
                    i as f64 * 0.1,
                    Some(if i < 10 { 20.0 + i as f64 } else { 40.0 }),
                )
            })
            .collect();
        let times: Vec<f64> = worst(&run).iter().map(|w| w.frame.time).collect();
        assert_eq!(times.len(), 5);
        assert_eq!(&times[..2], &[0.0, 1.0], "{times:?}");
    }
}
