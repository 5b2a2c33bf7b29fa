//! Two videos compared frame by frame, aligned by presentation time (not by frame number, so an
//! interpolated or retimed result is compared only where it has a frame at a reference instant),
//! with sizes reconciled: the distorted frame is resized to the reference's size (Lanczos) and
//! put in its layout and depth, so an upscale is scored by how much of the source survives.

use super::convert::ToFrame;
use super::decode::FrameSource;
use super::quality::{self, QualityError};
use super::MediaError;
use crate::models::rgb::{from_planar, to_planar};
use kino_shared::kernels::metrics::Totals;
use kino_shared::kernels::resize;
use kino_shared::{Comparison, Frame, FrameQuality, QualitySummary, ResizeFilter};
use std::path::Path;

/// SSIMULACRA2's cost, seconds per pixel on one core (measured here: 3 s for a 1080p frame).
const S2_SECONDS_PER_PIXEL: f64 = 1.5e-6;

/// How to compare.
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// Score every n-th matched frame (1: all).
    pub every: u64,
    pub ssimulacra2: bool,
    /// Decoder threads per video.
    pub threads: usize,
    /// Seconds scoring may take, for about this many distorted frames: `every` is then raised
    /// from the cost of scoring the first frame so the rest stays within it.
    pub budget: Option<(f64, u64)>,
    /// With a budget: score at least this many frames all the same.
    pub at_least: u64,
    /// The distorted video's times are this many times the reference's (slow motion).
    pub time_scale: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            every: 1,
            ssimulacra2: true,
            threads: 0,
            budget: None,
            at_least: 0,
            time_scale: 1.0,
        }
    }
}

/// Decoded frames of one video with their times in seconds.
struct Timed {
    source: FrameSource,
    conv: ToFrame,
    seconds: f64,
}

impl Timed {
    fn open(path: &Path, threads: usize) -> Result<Timed, MediaError> {
        let source = FrameSource::open(path, i64::MIN, threads)?;
        let tb = source.time_base;
        Ok(Timed {
            source,
            conv: ToFrame::default(),
            seconds: tb.numerator() as f64 / tb.denominator().max(1) as f64,
        })
    }
    fn next(&mut self) -> Result<Option<(f64, Frame)>, MediaError> {
        match self.source.next_frame()? {
            Some((pts, f)) => Ok(Some((pts as f64 * self.seconds, self.conv.convert(&f)?))),
            None => Ok(None),
        }
    }
    /// Half the stream's nominal frame duration (the alignment tolerance), seconds.
    fn half_frame(&self) -> f64 {
        let r = self.source.avg_frame_rate;
        if r.numerator() > 0 && r.denominator() > 0 {
            0.5 * r.denominator() as f64 / r.numerator() as f64
        } else {
            0.5 / 25.0
        }
    }
}

/// Compares `distorted` with `reference`.
pub fn compare(
    reference: &Path,
    distorted: &Path,
    opts: &CompareOptions,
) -> Result<Comparison, MediaError> {
    let mut a = Timed::open(reference, opts.threads)?;
    let mut b = Timed::open(distorted, opts.threads)?;
    let tolerance = a.half_frame().min(b.half_frame());
    let mut every = opts.every.max(1);
    let scale = if opts.time_scale > 0.0 {
        opts.time_scale
    } else {
        1.0
    };
    let mut out = Comparison {
        every,
        ..Default::default()
    };
    let (mut totals, mut s2) = (Totals::default(), Vec::new());
    let mut current = a.next()?;
    let mut ahead = a.next()?;
    let (mut matched, mut first_sizes) = (0u64, None);
    // SSIMULACRA2 on every n-th scored frame (`None`: on none).
    let mut s2_every = Some(1u64);
    while let Some((shown, frame)) = b.next()? {
        let t = shown / scale;
        // The reference frame nearest in time.
        while let (Some((ta, _)), Some((tn, _))) = (&current, &ahead) {
            if (tn - t).abs() < (ta - t).abs() {
                current = ahead.take();
                ahead = a.next()?;
            } else {
                break;
            }
        }
        let Some((ta, reference)) = &current else {
            out.unmatched += 1;
            continue;
        };
        if (ta - t).abs() > tolerance {
            out.unmatched += 1;
            continue;
        }
        matched += 1;
        if (matched - 1) % every != 0 {
            continue;
        }
        first_sizes.get_or_insert((
            (reference.width, reference.height),
            (frame.width, frame.height),
        ));
        let started = std::time::Instant::now();
        let shaped = reshape(&frame, reference);
        let metrics = kino_shared::kernels::metrics::compare(reference, &shaped)
            .map_err(|e| quality_err(e.into()))?;
        if let (1, Some((seconds, frames))) = (matched, opts.budget) {
            // Each scored frame costs about what the first did; SSIMULACRA2 (some 1.5 µs a
            // pixel on one core, far more than the rest) gets what the budget leaves.
            let cost = started.elapsed().as_secs_f64();
            let most = (frames / opts.at_least.max(1)).max(1);
            every = every.max(((cost * frames as f64 / seconds.max(1e-3)).ceil() as u64).min(most));
            out.every = every;
            let scored = frames.div_ceil(every);
            let left = seconds - cost * scored as f64;
            let one = S2_SECONDS_PER_PIXEL * (reference.width * reference.height) as f64;
            let affordable = (left / one).floor();
            s2_every =
                (affordable >= 1.0).then(|| (scored as f64 / affordable).ceil().max(1.0) as u64);
        }
        let with_s2 = opts.ssimulacra2
            && s2_every.is_some_and(|n| (out.frames.len() as u64).is_multiple_of(n))
            && reference.width >= 8
            && reference.height >= 8;
        let s2_value = if with_s2 {
            Some(quality::ssimulacra2(reference, &shaped).map_err(quality_err)?)
        } else {
            None
        };
        totals.add(&metrics);
        if let Some(v) = s2_value {
            s2.push(v);
        }
        out.frames.push(frame_quality(shown, &metrics, s2_value));
    }
    let Some(((rw, rh), (dw, dh))) = first_sizes else {
        return Err(MediaError::Compare(
            "the two videos have no frames at the same times (they do not overlap)".into(),
        ));
    };
    out.compared = if (rw, rh) == (dw, dh) {
        format!("{dw}×{dh} frames at the same times")
    } else {
        format!("frames resized from {dw}×{dh} to the reference's {rw}×{rh} (Lanczos)")
    };
    out.ssimulacra2_every = if opts.ssimulacra2 {
        s2_every.unwrap_or(0)
    } else {
        0
    };
    out.summary = summary(&totals, s2);
    Ok(out)
}

/// One scored frame's figures (PSNR absent where the frames are identical).
pub(crate) fn frame_quality(
    time: f64,
    m: &kino_shared::kernels::metrics::FrameMetrics,
    ssimulacra2: Option<f64>,
) -> FrameQuality {
    let finite = |v: f64| v.is_finite().then_some(v);
    FrameQuality {
        time,
        psnr: finite(m.psnr_weighted()),
        psnr_y: finite(m.psnr(0)),
        ssim: m.ssim_all(),
        ssimulacra2,
    }
}

fn quality_err(e: QualityError) -> MediaError {
    MediaError::Compare(e.to_string())
}

/// `frame` in `like`'s size, layout and depth.
pub(crate) fn reshape(frame: &Frame, like: &Frame) -> Frame {
    let sized = if (frame.width, frame.height) == (like.width, like.height) {
        frame.clone()
    } else {
        resize::resize(frame, like.width, like.height, ResizeFilter::Lanczos3)
    };
    if (sized.layout, sized.bit_depth) == (like.layout, like.bit_depth) {
        sized
    } else {
        from_planar(&to_planar(&sized), like)
    }
}

/// The summary of scored frames (`s2`: their SSIMULACRA2 scores).
pub fn summary(totals: &Totals, s2: Vec<f64>) -> QualitySummary {
    let finite = |v: f64| v.is_finite().then_some(v);
    let planes = totals.planes();
    let mut out = QualitySummary {
        frames: totals.frames() as u64,
        psnr: finite(totals.psnr_weighted()),
        psnr_y: finite(totals.psnr(0)),
        psnr_u: (planes > 1).then(|| finite(totals.psnr(1))).flatten(),
        psnr_v: (planes > 2).then(|| finite(totals.psnr(2))).flatten(),
        ssim: totals.ssim_all(),
        ssim_y: totals.ssim(0),
        ..Default::default()
    };
    set_ssimulacra2(&mut out, s2);
    out
}

/// Fills a summary's SSIMULACRA2 figures from the frames' scores: mean, 5th percentile (nearest
/// rank) and minimum.
pub fn set_ssimulacra2(summary: &mut QualitySummary, mut scores: Vec<f64>) {
    if scores.is_empty() {
        return;
    }
    scores.sort_by(f64::total_cmp);
    let n = scores.len();
    let rank = ((0.05 * n as f64).ceil() as usize).clamp(1, n);
    summary.ssimulacra2_mean = Some(scores.iter().sum::<f64>() / n as f64);
    summary.ssimulacra2_p5 = Some(scores[rank - 1]);
    summary.ssimulacra2_min = Some(scores[0]);
}
