//! Finding what to cut: runs of black frames, frozen frames and silence, from measurements the
//! analysis pass takes (one [`FrameMeasure`] per decoded frame, one RMS level per audio window).
//! Pure functions: no decoding here, so the rules can be tested on synthetic sequences.
//!
//! The parameters follow FFmpeg's `blackdetect`, `freezedetect` and `silencedetect`, with the same
//! defaults, so values people already tuned for those filters carry over:
//! - black: a frame is black when at least `black_ratio_threshold` (blackdetect `pic_th`, 0.98) of
//!   its pixels have luma at or below `black_pixel_threshold` (`pix_th`, 0.10 of the nominal range);
//! - frozen: a frame is frozen when its mean absolute luma difference to the previous frame is at
//!   most `freeze_noise` (freezedetect `n`, 0.001 = −60 dB);
//! - silence: a window is silent when its RMS level is at most `silence_threshold_db` (silencedetect
//!   `n`, −60 dB). silencedetect compares each sample's amplitude; a short-window RMS is steadier
//!   against single quiet samples in noise and differs from it by well under a window's length;
//! - each run must last at least its `*_min_duration` (the filters' `d`, 2 s) to be cut.
//!
//! Then `margin` seconds of each cut are given back on both sides (not at the very start or end of
//! the source), so speech and motion are not clipped at the boundaries, as auto-editor's margin does.

use super::{CutList, CutReason, EditError, FrameRate, Removed, Segment, SourceMedia};
use kino_shared::api::SpecError;
pub use kino_shared::api::{AutoEditParams, Combine};
use kino_shared::frame::{Frame, Plane, Samples};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Level reported for a window of digital silence (log of zero), low enough to be silent under any
/// allowed threshold and still a finite number in JSON.
pub const SILENT_DB: f32 = -200.0;

/// What the analysis pass measures on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameMeasure {
    /// Presentation time, seconds, on the same clock as [`AudioLevels::start`].
    pub pts: f64,
    /// Fraction of pixels whose luma is at or below the black pixel threshold, 0…1.
    pub black_ratio: f32,
    /// Mean absolute luma difference to the previous frame, as a fraction of full scale, 0…1
    /// (ignored for the first frame).
    pub diff: f32,
}

impl FrameMeasure {
    /// Measures a decoded frame's luma the way blackdetect and freezedetect do: the black threshold
    /// is a fraction of the nominal range (16–235 scaled to the bit depth for limited range), the
    /// difference is normalised by the largest code value. A previous frame of another size counts
    /// as changed.
    pub fn measure(
        pts: f64,
        frame: &Frame,
        prev: Option<&Frame>,
        black_pixel_threshold: f64,
    ) -> FrameMeasure {
        let Some(luma) = frame.planes.first() else {
            return FrameMeasure {
                pts,
                black_ratio: 0.0,
                diff: 1.0,
            };
        };
        let shift = frame.bit_depth.saturating_sub(8);
        let (black, white) = if frame.colour.full_range {
            (0.0, frame.max_value() as f64)
        } else {
            ((16u32 << shift) as f64, (235u32 << shift) as f64)
        };
        let th = black + black_pixel_threshold * (white - black);
        let (count, black_count) = match &luma.samples {
            Samples::U8(s) => (s.len(), s.iter().filter(|&&v| v as f64 <= th).count()),
            Samples::U16(s) => (s.len(), s.iter().filter(|&&v| v as f64 <= th).count()),
        };
        let black_ratio = if count == 0 {
            0.0
        } else {
            black_count as f32 / count as f32
        };
        let sad = |p: &Plane| -> Option<u64> {
            if p.width != luma.width || p.height != luma.height {
                return None;
            }
            match (&luma.samples, &p.samples) {
                (Samples::U8(a), Samples::U8(b)) => {
                    Some(a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y) as u64).sum())
                }
                (Samples::U16(a), Samples::U16(b)) => {
                    Some(a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y) as u64).sum())
                }
                _ => None,
            }
        };
        let diff = match prev.and_then(|p| p.planes.first()).and_then(sad) {
            Some(sad) if count > 0 => (sad as f64 / count as f64 / frame.max_value() as f64) as f32,
            _ => 1.0,
        };
        FrameMeasure {
            pts,
            black_ratio,
            diff,
        }
    }
}

/// Audio level per fixed window: `rms_db[i]` covers `[start + i·window, start + (i+1)·window)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioLevels {
    /// Time of the first sample, seconds, on the frames' clock.
    pub start: f64,
    /// Window length, seconds.
    pub window: f64,
    /// RMS over all channels per window, dBFS ([`SILENT_DB`] for digital silence).
    pub rms_db: Vec<f32>,
}

/// Streams decoded samples into [`AudioLevels`] so a long file never has to be held in memory.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    /// Samples (all channels) per window.
    per_window: usize,
    in_window: usize,
    sum_sq: f64,
    levels: AudioLevels,
}

impl LevelMeter {
    /// Windows of `window` seconds (rounded to whole sample frames, at least one) of audio at
    /// `sample_rate` with `channels` channels, the first sample at `start` seconds. 10 ms windows
    /// resolve a cut to a third of a frame.
    pub fn new(sample_rate: u32, channels: u16, start: f64, window: f64) -> Self {
        let frames = ((window * sample_rate as f64).round() as usize).max(1);
        LevelMeter {
            per_window: frames * channels.max(1) as usize,
            in_window: 0,
            sum_sq: 0.0,
            levels: AudioLevels {
                start,
                window: frames as f64 / sample_rate.max(1) as f64,
                rms_db: Vec::new(),
            },
        }
    }

    /// Adds interleaved samples (full scale ±1); may end mid sample frame, the next call continues.
    pub fn push_interleaved(&mut self, samples: &[f32]) {
        for &s in samples {
            self.add(s);
        }
    }

    /// Adds one buffer of planar samples, one slice per channel, all of the same length.
    pub fn push_planar(&mut self, channels: &[&[f32]]) {
        let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        for i in 0..len {
            for c in channels {
                self.add(c[i]);
            }
        }
    }

    fn add(&mut self, s: f32) {
        let s = if s.is_finite() { s as f64 } else { 0.0 };
        self.sum_sq += s * s;
        self.in_window += 1;
        if self.in_window == self.per_window {
            self.close_window();
        }
    }

    fn close_window(&mut self) {
        let ms = self.sum_sq / self.in_window.max(1) as f64;
        let db = if ms > 0.0 {
            (10.0 * ms.log10()).max(SILENT_DB as f64) as f32
        } else {
            SILENT_DB
        };
        self.levels.rms_db.push(db);
        self.sum_sq = 0.0;
        self.in_window = 0;
    }

    /// The levels, with a last partial window measured over what it holds.
    pub fn finish(mut self) -> AudioLevels {
        if self.in_window > 0 {
            self.close_window();
        }
        self.levels
    }
}

/// Kept and removed parts of the analysed frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stretches {
    /// Frames analysed, at the nominal rate (the source's duration for the cut list).
    pub total_frames: u64,
    pub kept: Vec<Segment>,
    pub removed: Vec<Removed>,
}

impl Stretches {
    /// Everything was cut (an all-black or all-silent source): nothing to render or export.
    pub fn nothing_kept(&self) -> bool {
        self.kept.is_empty()
    }

    /// The cut list for `source`. Parts of the source past the analysed frames are kept; segments
    /// past the end of a shorter source are clipped.
    pub fn into_cut_list(self, source: SourceMedia) -> Result<CutList, EditError> {
        let end = source.duration_frames;
        let clip = |s: Segment| Segment::new(s.start.min(end), s.end.min(end));
        let mut kept: Vec<Segment> = self
            .kept
            .into_iter()
            .map(clip)
            .filter(|s| !s.is_empty())
            .collect();
        if end > self.total_frames {
            match kept.last_mut() {
                Some(last) if last.end == self.total_frames => last.end = end,
                _ => kept.push(Segment::new(self.total_frames, end)),
            }
        }
        let removed = self
            .removed
            .into_iter()
            .map(|r| Removed {
                segment: clip(r.segment),
                reasons: r.reasons,
            })
            .filter(|r| !r.segment.is_empty())
            .collect();
        CutList::new(source, kept, removed)
    }
}

/// Why measurements could not be turned into cuts.
#[derive(Debug, Error)]
pub enum StretchError {
    #[error(transparent)]
    Params(#[from] SpecError),
    #[error(transparent)]
    Rate(#[from] EditError),
    #[error("no frames were measured")]
    NoFrames,
    #[error("frame {index} has timestamp {pts}, not finite and after the previous frame's")]
    BadPts { index: usize, pts: f64 },
}

/// A detected run in frames, before combining.
type Runs = Vec<Segment>;

/// Finds the parts to cut in the measured frames (and audio, when given), mapping timestamps to
/// frames at `rate` from the first frame's pts. Without audio, silence detection has no input and
/// takes no part (in `All` mode too).
pub fn find_stretches(
    rate: FrameRate,
    frames: &[FrameMeasure],
    audio: Option<&AudioLevels>,
    params: &AutoEditParams,
) -> Result<Stretches, StretchError> {
    params.validate()?;
    rate.check()?;
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
        return Err(StretchError::NoFrames);
    };
    let mut prev = f64::NEG_INFINITY;
    for (index, f) in frames.iter().enumerate() {
        if !f.pts.is_finite() || f.pts <= prev {
            return Err(StretchError::BadPts { index, pts: f.pts });
        }
        prev = f.pts;
    }
    let origin = first.pts;
    let fps = rate.fps();
    let nearest = |t: f64| ((t - origin) * fps).round().max(0.0) as u64;
    let total = nearest(last.pts) + 1;
    let to_frame = |t: f64| nearest(t).min(total);
    // Where frame i starts and ends on the nominal grid; its end is the next frame's start.
    let starts: Vec<u64> = frames.iter().map(|f| to_frame(f.pts)).collect();
    let end_of = |i: usize| starts.get(i + 1).copied().unwrap_or(total);
    let end_pts = |i: usize| frames.get(i + 1).map_or(last.pts + 1.0 / fps, |f| f.pts);

    // Runs of flagged frames lasting at least `min` seconds, in frames.
    let frame_runs = |flag: &dyn Fn(usize) -> bool, min: f64| -> Runs {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < frames.len() {
            if !flag(i) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j + 1 < frames.len() && flag(j + 1) {
                j += 1;
            }
            if end_pts(j) - frames[i].pts >= min - 1e-9 && starts[i] < end_of(j) {
                runs.push(Segment::new(starts[i], end_of(j)));
            }
            i = j + 1;
        }
        runs
    };

    let mut detections: Vec<(CutReason, Runs)> = Vec::new();
    if params.black {
        let th = params.black_ratio_threshold as f32;
        let runs = frame_runs(&|i| frames[i].black_ratio >= th, params.black_min_duration);
        detections.push((CutReason::Black, runs));
    }
    if params.frozen {
        let th = params.freeze_noise as f32;
        let runs = frame_runs(
            &|i| i > 0 && frames[i].diff <= th,
            params.freeze_min_duration,
        );
        detections.push((CutReason::Frozen, runs));
    }
    if let (true, Some(levels)) = (params.silence, audio) {
        detections.push((CutReason::Silence, silence_runs(levels, params, to_frame)));
    }

    let merged = match params.combine {
        Combine::Any => union(detections.iter().flat_map(|(_, r)| r.iter().copied())),
        Combine::All => match detections.split_first() {
            Some(((_, first), rest)) => rest
                .iter()
                .fold(first.clone(), |acc, (_, r)| intersect(&acc, r)),
            None => Vec::new(),
        },
    };

    let margin = (params.margin * fps).round() as u64;
    let mut removed = Vec::new();
    for seg in merged {
        let reasons: Vec<CutReason> = detections
            .iter()
            .filter(|(_, runs)| runs.iter().any(|r| r.start < seg.end && seg.start < r.end))
            .map(|(reason, _)| *reason)
            .collect();
        let start = if seg.start == 0 {
            0
        } else {
            seg.start + margin
        };
        let end = if seg.end == total {
            total
        } else {
            seg.end.saturating_sub(margin)
        };
        if start < end {
            removed.push(Removed {
                segment: Segment::new(start, end),
                reasons,
            });
        }
    }
    let mut kept = Vec::new();
    let mut at = 0;
    for r in &removed {
        if r.segment.start > at {
            kept.push(Segment::new(at, r.segment.start));
        }
        at = r.segment.end;
    }
    if at < total {
        kept.push(Segment::new(at, total));
    }
    Ok(Stretches {
        total_frames: total,
        kept,
        removed,
    })
}

/// Silent runs of windows lasting at least the minimum, in frames.
fn silence_runs(
    levels: &AudioLevels,
    params: &AutoEditParams,
    to_frame: impl Fn(f64) -> u64,
) -> Runs {
    let th = params.silence_threshold_db as f32;
    let w = levels.window;
    let mut runs = Vec::new();
    if !(w.is_finite() && w > 0.0 && levels.start.is_finite()) {
        return runs;
    }
    let db = &levels.rms_db;
    let mut i = 0;
    while i < db.len() {
        if db[i] > th || db[i].is_nan() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < db.len() && db[j + 1] <= th {
            j += 1;
        }
        let (t0, t1) = (
            levels.start + i as f64 * w,
            levels.start + (j + 1) as f64 * w,
        );
        let (s, e) = (to_frame(t0), to_frame(t1));
        if t1 - t0 >= params.silence_min_duration - 1e-9 && s < e {
            runs.push(Segment::new(s, e));
        }
        i = j + 1;
    }
    runs
}

/// Sorted, merged union of segments (touching ones join).
fn union(segments: impl Iterator<Item = Segment>) -> Runs {
    let mut all: Vec<Segment> = segments.collect();
    all.sort_by_key(|s| s.start);
    let mut out: Runs = Vec::new();
    for s in all {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Intersection of two sorted, disjoint segment lists.
fn intersect(a: &[Segment], b: &[Segment]) -> Runs {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (start, end) = (a[i].start.max(b[j].start), a[i].end.min(b[j].end));
        if start < end {
            out.push(Segment::new(start, end));
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_shared::frame::{ChromaLayout, ColourInfo};

    const R25: FrameRate = FrameRate::FPS_25;

    /// `seconds` of frames at `rate`, black where `black(t)`, frozen where `frozen(t)`.
    fn frames(
        rate: FrameRate,
        seconds: f64,
        black: impl Fn(f64) -> bool,
        frozen: impl Fn(f64) -> bool,
    ) -> Vec<FrameMeasure> {
        let n = (seconds * rate.fps()).round() as u64;
        (0..n)
            .map(|i| {
                let pts = rate.seconds(i) + 10.0; // a non-zero start, as in MPEG-TS
                let t = rate.seconds(i);
                FrameMeasure {
                    pts,
                    black_ratio: if black(t) { 1.0 } else { 0.3 },
                    diff: if frozen(t) { 0.0 } else { 0.05 },
                }
            })
            .collect()
    }

    /// 10 ms windows over `seconds`, silent where `silent(t)`.
    fn audio(seconds: f64, silent: impl Fn(f64) -> bool) -> AudioLevels {
        let n = (seconds * 100.0).round() as usize;
        AudioLevels {
            start: 10.0,
            window: 0.01,
            rms_db: (0..n)
                .map(|i| {
                    if silent(i as f64 * 0.01 + 0.005) {
                        -75.0
                    } else {
                        -20.0
                    }
                })
                .collect(),
        }
    }

    fn params(f: impl FnOnce(&mut AutoEditParams)) -> AutoEditParams {
        let mut p = AutoEditParams::default();
        f(&mut p);
        p
    }

    /// Kept segments equal `want` (in seconds) within a frame.
    fn assert_kept(d: &Stretches, rate: FrameRate, want: &[(f64, f64)]) {
        assert_eq!(d.kept.len(), want.len(), "kept {:?}", d.kept);
        for (seg, &(a, b)) in d.kept.iter().zip(want) {
            for (got, t) in [(seg.start, a), (seg.end, b)] {
                let want = rate.frame_at(t);
                assert!(
                    (got as i64 - want).abs() <= 1,
                    "boundary {got} vs {want} (t {t}) in {:?}",
                    d.kept
                );
            }
        }
    }

    #[test]
    fn black_run_is_cut_with_margins() {
        let f = frames(R25, 20.0, |t| (5.0..9.0).contains(&t), |_| false);
        let d = find_stretches(R25, &f, None, &AutoEditParams::default()).unwrap();
        assert_eq!(d.total_frames, 500);
        assert_kept(&d, R25, &[(0.0, 5.2), (8.8, 20.0)]);
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].reasons, vec![CutReason::Black]);
        // Frame exact at 25 fps: 5.2 s = frame 130, 8.8 s = frame 220.
        assert_eq!(d.removed[0].segment, Segment::new(130, 220));
        let no_margin = find_stretches(R25, &f, None, &params(|p| p.margin = 0.0)).unwrap();
        assert_eq!(no_margin.removed[0].segment, Segment::new(125, 225));
    }

    #[test]
    fn short_runs_are_kept() {
        let f = frames(R25, 20.0, |t| (5.0..6.5).contains(&t), |_| false);
        let d = find_stretches(R25, &f, None, &AutoEditParams::default()).unwrap();
        assert_kept(&d, R25, &[(0.0, 20.0)]);
        assert!(d.removed.is_empty());
        let d = find_stretches(R25, &f, None, &params(|p| p.black_min_duration = 1.5)).unwrap();
        assert_kept(&d, R25, &[(0.0, 5.2), (6.3, 20.0)]);
        // A run exactly the minimum long is cut.
        let f = frames(R25, 20.0, |t| (5.0..7.0).contains(&t), |_| false);
        let d = find_stretches(R25, &f, None, &AutoEditParams::default()).unwrap();
        assert_eq!(d.removed.len(), 1);
    }

    #[test]
    fn silence_at_start_and_end_gets_no_outer_margin() {
        let f = frames(R25, 30.0, |_| false, |_| false);
        let a = audio(30.0, |t| t < 3.0 || (12.0..16.0).contains(&t) || t >= 27.0);
        let d = find_stretches(R25, &f, Some(&a), &AutoEditParams::default()).unwrap();
        assert_kept(&d, R25, &[(2.8, 12.2), (15.8, 27.2)]);
        assert_eq!(d.removed[0].segment.start, 0);
        assert_eq!(d.removed[2].segment.end, 750);
        assert!(d
            .removed
            .iter()
            .all(|r| r.reasons == vec![CutReason::Silence]));
    }

    #[test]
    fn ntsc_boundaries_are_frame_exact() {
        let r = FrameRate::FPS_29_97;
        // Silence from frame 300 to frame 450 exactly (10.01 s to 15.015 s).
        let (s0, s1) = (r.seconds(300), r.seconds(450));
        let f = frames(r, 30.0, |_| false, |_| false);
        let a = AudioLevels {
            start: 10.0,
            window: 0.001,
            rms_db: (0..30_000)
                .map(|i| {
                    let t = i as f64 * 0.001 + 0.0005;
                    if t > s0 && t < s1 {
                        -90.0
                    } else {
                        -10.0
                    }
                })
                .collect(),
        };
        let d = find_stretches(r, &f, Some(&a), &params(|p| p.margin = 0.0)).unwrap();
        let seg = d.removed[0].segment;
        assert!(
            seg.start.abs_diff(300) <= 1 && seg.end.abs_diff(450) <= 1,
            "{seg:?}"
        );
        // 6 frames of margin at 29.97 (0.2 s rounds to 6).
        let d = find_stretches(r, &f, Some(&a), &AutoEditParams::default()).unwrap();
        let with = d.removed[0].segment;
        assert_eq!((with.start, with.end), (seg.start + 6, seg.end - 6));
    }

    #[test]
    fn combine_any_unites_and_all_intersects() {
        let f = frames(R25, 20.0, |t| (2.0..6.0).contains(&t), |_| false);
        let a = audio(20.0, |t| (4.0..8.0).contains(&t));
        let any = find_stretches(R25, &f, Some(&a), &params(|p| p.margin = 0.0)).unwrap();
        assert_kept(&any, R25, &[(0.0, 2.0), (8.0, 20.0)]);
        assert_eq!(
            any.removed[0].reasons,
            vec![CutReason::Black, CutReason::Silence]
        );
        let all = find_stretches(
            R25,
            &f,
            Some(&a),
            &params(|p| {
                p.margin = 0.0;
                p.combine = Combine::All;
            }),
        )
        .unwrap();
        assert_kept(&all, R25, &[(0.0, 4.0), (6.0, 20.0)]);
        // Without audio, `All` falls back to the detections that have input.
        let video_only = find_stretches(
            R25,
            &f,
            None,
            &params(|p| {
                p.margin = 0.0;
                p.combine = Combine::All;
            }),
        )
        .unwrap();
        assert_kept(&video_only, R25, &[(0.0, 2.0), (6.0, 20.0)]);
    }

    #[test]
    fn frozen_frames_after_the_first_still_are_cut() {
        let f = frames(R25, 20.0, |_| false, |t| (3.0..7.0).contains(&t));
        let off = find_stretches(R25, &f, None, &AutoEditParams::default()).unwrap();
        assert!(off.removed.is_empty(), "frozen is off by default");
        let d = find_stretches(
            R25,
            &f,
            None,
            &params(|p| {
                p.frozen = true;
                p.margin = 0.0;
            }),
        )
        .unwrap();
        assert_kept(&d, R25, &[(0.0, 3.0), (7.0, 20.0)]);
        assert_eq!(d.removed[0].reasons, vec![CutReason::Frozen]);
    }

    #[test]
    fn all_black_or_all_silent_cuts_everything_cleanly() {
        let f = frames(R25, 10.0, |_| true, |_| false);
        let d = find_stretches(R25, &f, None, &AutoEditParams::default()).unwrap();
        assert!(d.nothing_kept());
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].segment, Segment::new(0, 250));
        let src = SourceMedia::new("a.mp4", R25, 250, 64, 64);
        let cut = d.into_cut_list(src).expect("valid, empty");
        assert!(matches!(
            crate::edit::ExportFormat::Edl.write(&cut, &Default::default()),
            Err(EditError::NothingKept)
        ));

        let f = frames(R25, 10.0, |_| false, |_| false);
        let a = audio(10.0, |_| true);
        let d = find_stretches(R25, &f, Some(&a), &AutoEditParams::default()).unwrap();
        assert!(d.nothing_kept());
        assert_eq!(d.removed[0].reasons, vec![CutReason::Silence]);
        // Digital silence (SILENT_DB) is silent at the lowest threshold allowed.
        let zero = AudioLevels {
            start: 10.0,
            window: 0.01,
            rms_db: vec![SILENT_DB; 1000],
        };
        let p = params(|p| p.silence_threshold_db = -120.0);
        assert!(find_stretches(R25, &f, Some(&zero), &p)
            .unwrap()
            .nothing_kept());
    }

    #[test]
    fn jittered_timestamps_stay_within_a_frame() {
        // Variable-rate style timestamps: ±3 ms of jitter around 25 fps.
        let mut f = frames(R25, 20.0, |t| (5.0..9.0).contains(&t), |_| false);
        for (i, s) in f.iter_mut().enumerate() {
            s.pts += [0.003, -0.002, 0.0, 0.001][i % 4];
        }
        let d = find_stretches(R25, &f, None, &params(|p| p.margin = 0.0)).unwrap();
        assert_kept(&d, R25, &[(0.0, 5.0), (9.0, 20.0)]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let p = AutoEditParams::default();
        assert!(matches!(
            find_stretches(R25, &[], None, &p),
            Err(StretchError::NoFrames)
        ));
        let mut f = frames(R25, 1.0, |_| false, |_| false);
        f[3].pts = f64::NAN;
        assert!(matches!(
            find_stretches(R25, &f, None, &p),
            Err(StretchError::BadPts { index: 3, .. })
        ));
        let mut f = frames(R25, 1.0, |_| false, |_| false);
        f[2].black_ratio = f32::NAN;
        f[4].diff = f32::NAN;
        assert!(find_stretches(R25, &f, None, &p).is_ok());
        assert!(matches!(
            find_stretches(FrameRate::new(0, 1), &f, None, &p),
            Err(StretchError::Rate(_))
        ));
        let broken = AudioLevels {
            start: f64::NAN,
            window: 0.0,
            rms_db: vec![-90.0; 10],
        };
        assert!(find_stretches(R25, &f, Some(&broken), &p)
            .unwrap()
            .removed
            .is_empty());
    }

    #[test]
    fn params_validate_with_field_names() {
        let p: AutoEditParams = serde_json::from_str("{}").unwrap();
        assert_eq!(p, AutoEditParams::default());
        assert!(p.validate().is_ok());
        let bad = params(|p| p.margin = -1.0).validate().unwrap_err();
        assert_eq!(bad.field, "auto_edit.margin");
        let bad = params(|p| p.silence_threshold_db = f64::NAN)
            .validate()
            .unwrap_err();
        assert_eq!(bad.field, "auto_edit.silence_threshold_db");
        let none = params(|p| {
            p.black = false;
            p.silence = false;
        })
        .validate()
        .unwrap_err();
        assert_eq!(none.field, "auto_edit");
        assert!(serde_json::from_str::<AutoEditParams>(r#"{"marign": 1}"#).is_err());
        let p: AutoEditParams =
            serde_json::from_str(r#"{"combine": "all", "frozen": true}"#).unwrap();
        assert_eq!((p.combine, p.frozen), (Combine::All, true));
        assert!(matches!(
            find_stretches(
                R25,
                &frames(R25, 1.0, |_| false, |_| false),
                None,
                &params(|p| p.margin = 99.0)
            ),
            Err(StretchError::Params(_))
        ));
    }

    #[test]
    fn measures_black_and_difference_like_ffmpeg() {
        let limited = ColourInfo::default();
        let black = Frame::new(64, 32, ChromaLayout::Yuv420, 8, limited);
        let s = FrameMeasure::measure(1.0, &black, None, 0.10);
        assert_eq!((s.black_ratio, s.diff), (1.0, 1.0));
        let mut grey = black.clone();
        grey.planes[0].samples = Samples::U8(vec![126; 64 * 32]);
        let s = FrameMeasure::measure(1.0, &grey, Some(&black), 0.10);
        assert_eq!(s.black_ratio, 0.0);
        assert!((s.diff - 110.0 / 255.0).abs() < 1e-6);
        assert_eq!(
            FrameMeasure::measure(1.0, &grey, Some(&grey), 0.1).diff,
            0.0
        );
        // 10-bit limited range: black is 64, the 10 % threshold is 64 + 0.1 × 876.
        let mut ten = Frame::new(8, 8, ChromaLayout::Yuv420, 10, limited);
        ten.planes[0].samples =
            Samples::U16((0..64).map(|i| if i < 32 { 151 } else { 152 }).collect());
        assert_eq!(
            FrameMeasure::measure(0.0, &ten, None, 0.10).black_ratio,
            0.5
        );
    }

    #[test]
    fn level_meter_windows_and_levels() {
        let mut m = LevelMeter::new(48_000, 2, 0.5, 0.01);
        // 10 ms of a full-scale square wave (RMS 0 dBFS), then 10 ms at half (−6.02 dB), then zeros,
        // pushed in uneven pieces that split sample frames.
        let mut samples: Vec<f32> = (0..960)
            .map(|i| if i % 4 < 2 { 1.0 } else { -1.0 })
            .collect();
        samples.extend(std::iter::repeat_n(0.5, 960));
        samples.extend(std::iter::repeat_n(0.0, 960));
        samples.extend([0.25; 3]);
        for piece in samples.chunks(333) {
            m.push_interleaved(piece);
        }
        let l = m.finish();
        assert_eq!((l.start, l.window), (0.5, 0.01));
        assert_eq!(l.rms_db.len(), 4);
        assert!(l.rms_db[0].abs() < 1e-4);
        assert!((l.rms_db[1] + 6.0206).abs() < 1e-3);
        assert_eq!(l.rms_db[2], SILENT_DB);
        assert!((l.rms_db[3] + 12.0412).abs() < 1e-3, "partial window");
        let mut p = LevelMeter::new(48_000, 2, 0.0, 0.01);
        let (a, b) = (vec![0.5f32; 480], vec![0.5f32; 480]);
        p.push_planar(&[&a, &b]);
        assert_eq!(p.finish().rms_db.len(), 1);
    }
}
