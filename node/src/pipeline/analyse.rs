//! The analysis pass: whole-video measurements that stages need before any chunk renders (global
//! motion for stabilisation, colour statistics for automatic colour, frame signatures for scene
//! detection). Chunks are analysed in
//! parallel and stored with the job (a finished chunk's analysis is never redone); the merge then
//! smooths over the whole video, which per-chunk rendering could not.

pub use crate::analysis::{Analysis, FrameRecord};
use crate::detect::track::{self, TrackerConfig};
use crate::detect::{DetectNeeds, Detection, Detectors};
use crate::edit::FrameMeasure;
use crate::media::convert::{self, ToFrame};
use crate::media::decode::FrameSource;
use crate::media::MediaError;
use crate::pipeline::scenes::SceneDetector;
use crate::pipeline::ChunkPlan;
use kino_shared::kernels::color::{self, AutoCorrection, FrameStats};
use kino_shared::kernels::motion::{self, Motion, SmoothMode};
use kino_shared::kernels::scene::{self, Signature};
use kino_shared::{
    AutoEditParams, ColorParams, JobSpec, SceneParams, StabilizeMode, StabilizeParams, StageSpec,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Longest side of the frames motion is estimated on.
const MOTION_SIDE: usize = 480;
/// Luma-histogram distance above which two frames belong to different scenes.
const CUT_DISTANCE: f32 = 0.6;

/// What a job's stages ask of the analysis pass.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Needs {
    pub motion: Option<StabilizeParams>,
    pub colour: Option<ColorParams>,
    pub scenes: Option<SceneParams>,
    pub auto_edit: Option<AutoEditParams>,
    pub detect: Option<DetectNeeds>,
}

impl Needs {
    pub fn of(spec: &JobSpec) -> Needs {
        let mut n = Needs {
            scenes: spec.scenes,
            auto_edit: spec.auto_edit,
            ..Needs::default()
        };
        for s in &spec.stages {
            match s {
                StageSpec::Stabilize(p) => n.motion = Some(*p),
                StageSpec::Detect(p) => n.detect = Some(DetectNeeds::of(p)),
                StageSpec::Color(p) if p.is_auto() => n.colour = Some(*p),
                // No frame is invented across a cut: interpolation needs the scene pass.
                StageSpec::Interpolate(_) if n.scenes.is_none() => {
                    n.scenes = Some(Default::default())
                }
                _ => {}
            }
        }
        n
    }

    pub fn any(&self) -> bool {
        self.motion.is_some()
            || self.colour.is_some()
            || self.scenes.is_some()
            || self.auto_edit.is_some()
            || self.detect.is_some()
    }

    /// Whether the frame before each chunk must be measured too (motion, cuts, frame change).
    /// Detection needs the cuts (tracks end at them) measured the same whatever the chunking.
    pub fn previous_frame(&self) -> bool {
        self.motion.is_some()
            || self.colour.is_some()
            || self.auto_edit.is_some()
            || self.detect.is_some()
    }
}

/// Measures every frame of `chunk` (and, for motion and cuts, the frame before it). `first_frame`
/// is the index of the chunk's first frame in the video (detection runs on every `every`-th frame
/// of the video, whatever the chunks); `threads` is what a detector may use (0 = every core).
pub fn analyse_chunk(
    input: &Path,
    chunk: &ChunkPlan,
    needs: Needs,
    first_frame: u64,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<Vec<FrameRecord>, MediaError> {
    // Scene signatures alone are cell means over a coarse grid: deblocking does not change them.
    let coarse = needs.motion.is_none()
        && needs.colour.is_none()
        && needs.auto_edit.is_none()
        && needs.detect.is_none();
    let mut detectors = match needs.detect {
        Some(d) => Some(Detectors::open(
            &crate::models::Config::from_env()?,
            d,
            threads,
        )?),
        None => None,
    };
    let scenes_only = coarse && needs.scenes.is_some();
    if scenes_only {
        if let Some(records) = super::scene_pass::scene_records(input, chunk, cancel)? {
            return Ok(records);
        }
    }
    let mut source = FrameSource::open_with(input, chunk.decode_from_pts, 2, coarse)?;
    let mut to_frame = ToFrame::default();
    let mut prev: Option<(Option<motion::Gray>, Option<FrameStats>)> = None;
    // Frame change for auto-edit compares whole frames.
    let mut prev_frame: Option<kino_shared::frame::Frame> = None;
    let mut out = Vec::new();
    while let Some((pts, f)) = source.next_frame()? {
        if cancel.load(Ordering::Relaxed) || pts >= chunk.end_pts {
            break;
        }
        // Scene signatures alone are read from the decoder's buffers; everything else needs a Frame.
        let frame = if scenes_only {
            None
        } else {
            Some(to_frame.convert(&f)?)
        };
        let luma = frame
            .as_ref()
            .zip(needs.motion)
            .map(|(fr, _)| motion::analysis_luma(fr, MOTION_SIDE));
        // Scene signatures replace the histogram as the cut measure when they are computed.
        let stats = frame
            .as_ref()
            .filter(|_| needs.scenes.is_none() || needs.colour.is_some())
            .map(color::stats);
        if pts >= chunk.start_pts {
            let index = first_frame + out.len() as u64;
            let detections = match (&mut detectors, needs.detect, &frame) {
                (Some(d), Some(n), Some(fr)) if n.runs_on(index) => Some(d.detect(fr)?),
                _ => None,
            };
            let (motion, cut) = match &prev {
                Some((pl, ps)) => (
                    match (pl, &luma) {
                        (Some(a), Some((b, scale))) => Some(motion::estimate(a, b, *scale)),
                        _ => None,
                    },
                    match (ps, &stats) {
                        (Some(a), Some(b)) => color::hist_distance(a, b),
                        _ => 0.0,
                    },
                ),
                None => (None, 0.0),
            };
            out.push(FrameRecord {
                pts,
                motion,
                colour: needs
                    .colour
                    .zip(stats.as_ref())
                    .map(|(p, st)| AutoCorrection::from_stats(st, &p)),
                cut,
                scene: match (needs.scenes, &frame) {
                    (None, _) => None,
                    (Some(_), Some(fr)) => Some(scene::signature(fr)),
                    (Some(_), None) => Some(convert::signature(&mut to_frame, &f)?),
                },
                edit: needs.auto_edit.zip(frame.as_ref()).map(|(p, fr)| {
                    let s = FrameMeasure::measure(
                        0.0,
                        fr,
                        prev_frame.as_ref(),
                        p.black_pixel_threshold,
                    );
                    [s.black_ratio, s.diff]
                }),
                detections,
            });
        }
        prev = Some((luma.map(|(g, _)| g), stats));
        if needs.auto_edit.is_some() {
            prev_frame = frame;
        }
    }
    Ok(out)
}

impl Analysis {
    /// Merges every chunk's records (in any order) into per-frame corrections.
    pub fn merge(
        mut records: Vec<FrameRecord>,
        needs: Needs,
        fps: f64,
        (width, height): (usize, usize),
    ) -> Analysis {
        records.sort_by_key(|r| r.pts);
        records.dedup_by_key(|r| r.pts);
        let fps = if fps.is_finite() && fps > 0.0 {
            fps
        } else {
            25.0
        };
        let mut a = Analysis {
            zoom: 1.0,
            width,
            pts: records.iter().map(|r| r.pts).collect(),
            ..Default::default()
        };
        if let Some(p) = needs.scenes {
            let sigs: Option<Vec<Signature>> = records.iter().map(|r| r.scene.clone()).collect();
            a.transitions = SceneDetector {
                fps,
                min_scene_seconds: p.min_scene_seconds as f64,
                gradual: p.gradual,
            }
            .detect(&sigs.unwrap_or_default());
        }
        // Scene index of every frame: the detector's transitions when it ran, else histogram jumps.
        let scene: Vec<usize> = if needs.scenes.is_some() {
            let mut next = a.transitions.iter().map(|t| t.frame).peekable();
            (0..records.len())
                .scan(0usize, |s, i| {
                    while next.next_if(|&f| f <= i).is_some() {
                        *s += 1;
                    }
                    Some(*s)
                })
                .collect()
        } else {
            records
                .iter()
                .scan(0usize, |s, r| {
                    if r.cut > CUT_DISTANCE {
                        *s += 1;
                    }
                    Some(*s)
                })
                .collect()
        };
        if let Some(d) = needs.detect {
            let frames: Vec<(u64, Vec<Detection>)> = records
                .iter()
                .enumerate()
                .filter_map(|(i, r)| Some((i as u64, r.detections.clone()?)))
                .collect();
            // A track survives one second without detections (at least two detection frames),
            // and never across a scene cut.
            let lost = (fps.round() as u64).max(2 * d.every as u64);
            let cuts: Vec<u64> = (1..scene.len())
                .filter(|&i| scene[i] != scene[i - 1])
                .map(|i| i as u64)
                .collect();
            a.tracks = track::track_all(TrackerConfig::new(d.min_score, lost), &frames, &cuts);
        }
        if needs.auto_edit.is_some() {
            a.edit = records
                .iter()
                .filter_map(|r| r.edit.map(|e| (r.pts, e)))
                .collect();
        }
        if needs.colour.is_some() {
            // Gaussian over ±1 s, never across a cut: statistics change only where the scene does.
            let radius = fps.round() as usize;
            let sigma = radius as f32 / 2.0;
            for (i, r) in records.iter().enumerate() {
                let lo = i.saturating_sub(radius);
                let hi = (i + radius + 1).min(records.len());
                let items: Vec<(f32, AutoCorrection)> = (lo..hi)
                    .filter(|&j| scene[j] == scene[i])
                    .filter_map(|j| {
                        let d = j as f32 - i as f32;
                        records[j]
                            .colour
                            .map(|c| ((-(d * d) / (2.0 * sigma * sigma)).exp(), c))
                    })
                    .collect();
                a.colour.insert(r.pts, AutoCorrection::mean(&items));
            }
        }
        if let Some(p) = needs.motion {
            let motions: Vec<Motion> = records
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    // Motion across a cut means nothing: the new scene starts from rest.
                    if i == 0 || scene[i] != scene[i - 1] {
                        Motion::default()
                    } else {
                        r.motion.unwrap_or_default()
                    }
                })
                .collect();
            let mode = match p.mode {
                StabilizeMode::Tripod => SmoothMode::Tripod,
                StabilizeMode::Smooth => SmoothMode::Smooth {
                    radius_frames: ((p.smoothing_seconds as f64 * fps).round() as usize).max(1),
                },
            };
            // Corrections stay within twice what `max_zoom` crops away: a whip pan is followed
            // (with some border at its height, filled as `edge` says) instead of being held back
            // by hundreds of pixels and released with a jump. Measured on the handheld test clip:
            // a bound of 1× crop kept too little of the shake removal, 2× the best of 1×/2×/none.
            let crop = |side: usize| 2.0 * (1.0 - 1.0 / p.max_zoom.max(1.0)) * side as f32 / 2.0;
            let corrections = motion::smooth_within(&motions, mode, (crop(width), crop(height)));
            a.zoom = motion::auto_zoom(&corrections, width, height, p.max_zoom);
            for (r, c) in records.iter().zip(corrections) {
                a.stabilize.insert(r.pts, c);
            }
        }
        a
    }
}

/// The analysis pass over a whole file without a job (the CLI's `scenes` and `detect`): chunks
/// planned at keyframes and measured in parallel on `workers` threads, then merged. A network gets
/// `threads` threads, or (`None`) the cores shared among the workers. Returns the merge and the
/// video it describes.
pub fn analyse_file(
    input: &Path,
    needs: Needs,
    chunk_seconds: f64,
    workers: usize,
    threads: Option<usize>,
) -> Result<(Analysis, kino_shared::VideoInfo), MediaError> {
    use rayon::prelude::*;
    let p = crate::media::probe::probe(input, true)?;
    let video = p
        .info
        .video
        .clone()
        .ok_or_else(|| MediaError::NoVideo(input.display().to_string()))?;
    // The frame before each chunk too where measures compare neighbours, so cuts at chunk starts
    // are seen as in one chunk.
    let margin = usize::from(needs.previous_frame());
    let plan = crate::pipeline::plan_chunks(&p.index, chunk_seconds, margin);
    let first = crate::pipeline::plan::first_frames(&plan);
    let cancel = AtomicBool::new(false);
    let workers = workers.clamp(1, plan.len().max(1));
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = threads.unwrap_or((cores / workers).max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| MediaError::Decode(e.to_string()))?;
    let records = pool.install(|| {
        plan.par_iter()
            .map(|c| analyse_chunk(input, c, needs, first[c.index as usize], threads, &cancel))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let size = (video.width as usize, video.height as usize);
    let a = Analysis::merge(records.concat(), needs, video.fps, size);
    Ok((a, video))
}

/// Scene detection alone: the scene list of `input`.
pub fn scenes_of_file(
    input: &Path,
    params: SceneParams,
    chunk_seconds: f64,
    workers: usize,
) -> Result<super::scenes::SceneReport, MediaError> {
    let needs = Needs {
        scenes: Some(params),
        ..Needs::default()
    };
    let (a, video) = analyse_file(input, needs, chunk_seconds, workers, Some(1))?;
    Ok(super::scenes::scene_report(&a.pts, &a.transitions, &video))
}

/// Detection and tracking alone: the tracks of `input`.
pub fn tracks_of_file(
    input: &Path,
    params: &kino_shared::DetectParams,
    chunk_seconds: f64,
    workers: usize,
) -> Result<crate::detect::mot::TracksReport, MediaError> {
    let needs = Needs {
        detect: Some(DetectNeeds::of(params)),
        ..Needs::default()
    };
    let (a, video) = analyse_file(input, needs, chunk_seconds, workers, None)?;
    Ok(crate::detect::mot::TracksReport::new(
        &a.tracks,
        (video.width, video.height),
        video.fps,
        a.pts.len() as u64,
        params.every,
    ))
}
