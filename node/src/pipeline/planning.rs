//! The job's chunk plan in the store: made once at keyframes, and moved onto scene cuts when the
//! analysis pass finds them before any chunk is claimed.

use super::analyse::{self, Analysis};
use super::balance::{plan_balanced, Balance};
use super::context::{blocking, JobCtx, JobError};
use super::input_layout::InputLayout;
use super::layout::chunk_path;
use crate::edit::timeline::Timeline;
use crate::enhance as stages;
use crate::enhance::interp::Clock;
use crate::media::interlace::Deinterlace;
use crate::media::{probe, MediaError};
use crate::pipeline::ChunkPlan;
use crate::store::{ReportSection, Store};
use kino_shared::{ChunkState, JobSpec, JobState, ProgressEvent, SpecError};
use std::path::Path;

/// Plans the job if it has no chunks yet.
pub async fn ensure_planned(
    store: &Store,
    job: &str,
    spec: &JobSpec,
    input: &Path,
    deinterlace: Option<Deinterlace>,
    storage: Option<&str>,
    balance: Balance,
) -> Result<(), JobError> {
    let status = store.job(job).await?;
    if status.chunks_total > 0 {
        return Ok(());
    }
    let path = input.to_owned();
    let margin = plan_margin(spec, deinterlace);
    let chunk_seconds = spec.chunk_seconds;
    let storage = storage.map(str::to_owned);
    let interp = kino_shared::interpolation(&spec.stages).copied();
    let trims = !spec.keep.is_empty();
    let (plan, layout, clock, span) = blocking(move || -> Result<_, JobError> {
        let p = probe::probe(&path, true)?;
        let clock = match interp {
            Some(params) => Some(clock_for(&params, &p)?),
            None => None,
        };
        let span = trims.then(|| FrameSpan::of(&p));
        let plan = plan_balanced(&p.index, chunk_seconds, margin, balance);
        let layout = match storage {
            Some(s) => {
                let size = std::fs::metadata(&path)
                    .map_err(MediaError::io(path.display().to_string()))?
                    .len();
                Some(InputLayout::new(&s, size, p.info, deinterlace, &p.index))
            }
            None => None,
        };
        Ok((plan, layout, clock, span))
    })
    .await??;
    // Before the plan: a node without the file takes the job's chunks only once both are there,
    // and every node renders on the same clock.
    if let Some(layout) = layout {
        store.save_section(job, &layout).await?;
    }
    if let Some(c) = &clock {
        store.save_section(job, c).await?;
    }
    if let Some(span) = &span {
        store.save_section(job, span).await?;
    }
    let plan = output_frames(plan, deinterlace, clock.as_ref());
    store.save_plan(job, &plan).await?;
    Ok(())
}

/// Where the video's frames lie, from the index (a trim's frames are counted from them without
/// decoding): the first frame's timestamp and the length in frames at the nominal rate.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct FrameSpan {
    pub first_pts: i64,
    pub frames: u64,
}

impl ReportSection for FrameSpan {
    const NAME: &'static str = "frame_span";
}

impl FrameSpan {
    /// The span of a probed file: its frame count, or the nominal frames between its first and last
    /// timestamps where those are more (variable-rate video).
    fn of(p: &probe::Probe) -> FrameSpan {
        let pts = p.index.frames.iter().map(|f| f.pts);
        let (first, last) = (pts.clone().min().unwrap_or(0), pts.max().unwrap_or(0));
        let tb = p.index.time_base;
        let nominal = p.info.video.as_ref().map_or(0, |v| {
            let [num, den] = v.avg_frame_rate;
            let ticks_per_frame = (f64::from(den.max(1)) * f64::from(tb.denominator()))
                / (f64::from(num.max(1)) * f64::from(tb.numerator().max(1)));
            ((last - first) as f64 / ticks_per_frame).round() as u64 + 1
        });
        FrameSpan {
            first_pts: first,
            frames: nominal.max(p.index.frames.len() as u64),
        }
    }
}

/// Frames of context each chunk must decode before its start: what the stages look back, and the
/// previous frame for motion, colour and frame-change analysis. (Scene signatures are compared in
/// the merge, across chunks.) The deinterlacer, before the stages, needs one decoded frame more.
fn plan_margin(spec: &JobSpec, deinterlace: Option<Deinterlace>) -> usize {
    let needs_prev = usize::from(analyse::Needs::of(spec).previous_frame());
    (stages::spec_margin(&spec.stages).before + usize::from(deinterlace.is_some())).max(needs_prev)
}

/// The output's clock for an interpolating job, from the whole stream (see `enhance::interp`).
fn clock_for(p: &kino_shared::InterpolateParams, probe: &probe::Probe) -> Result<Clock, JobError> {
    let v = probe.info.video.as_ref().ok_or_else(|| {
        JobError::Invalid(SpecError::new(
            "stages.interpolate",
            "the input has no video",
        ))
    })?;
    let frames = &probe.index.frames;
    let first = frames.iter().map(|f| f.pts).min().unwrap_or(0);
    let last = frames.iter().map(|f| f.pts).max().unwrap_or(0);
    let nominal = (v.avg_frame_rate[0] > 0).then(|| {
        let tb = probe.index.time_base;
        (v.avg_frame_rate[1] as i64 * tb.denominator() as i64)
            / (v.avg_frame_rate[0] as i64 * tb.numerator().max(1) as i64)
    });
    // A last frame without a duration lasts one nominal frame.
    let end = probe
        .index
        .end_pts()
        .max(last + nominal.unwrap_or(1).max(1));
    let tb = probe.index.time_base;
    Clock::new(
        p,
        [tb.numerator(), tb.denominator()],
        v.avg_frame_rate,
        (first, last, end),
    )
    .map_err(|e| JobError::Invalid(SpecError::new("stages.interpolate", e.to_string())))
}

impl ReportSection for Clock {
    const NAME: &'static str = "output_clock";
}

/// The output clock an interpolating job was planned with.
pub async fn planned_clock(
    store: &Store,
    job: &str,
    spec: &JobSpec,
) -> Result<Option<Clock>, JobError> {
    if kino_shared::interpolation(&spec.stages).is_none() {
        return Ok(None);
    }
    match store.section::<Clock>(job).await? {
        Some(c) => Ok(Some(c)),
        None => Err(JobError::Internal(
            "an interpolating job has no output clock".into(),
        )),
    }
}

/// The plan with each chunk's frame count as it comes out (a frame per field doubles it; an output
/// clock has its own grid).
fn output_frames(
    mut plan: Vec<ChunkPlan>,
    deinterlace: Option<Deinterlace>,
    clock: Option<&Clock>,
) -> Vec<ChunkPlan> {
    let factor = deinterlace.map_or(1, |d| d.rate_factor());
    for c in &mut plan {
        c.frames = match clock {
            Some(k) => k.count(k.ticks(c.start_pts), k.ticks(c.end_pts)),
            None => c.frames * factor,
        };
    }
    plan
}

/// Moves chunk boundaries onto the detected scene cuts, if no chunk has been claimed yet (a resumed
/// job whose chunks are under way keeps its plan). Returns whether the plan changed.
pub async fn replan_at_scene_cuts(
    store: &Store,
    job: &str,
    spec: &JobSpec,
    input: &Path,
    a: &Analysis,
    deinterlace: Option<Deinterlace>,
) -> Result<bool, JobError> {
    let cuts: Vec<i64> = a
        .transitions
        .iter()
        .filter_map(|t| a.pts.get(t.frame).copied())
        .collect();
    if cuts.is_empty() {
        return Ok(false);
    }
    let (path, margin, seconds) = (
        input.to_owned(),
        plan_margin(spec, deinterlace),
        spec.chunk_seconds,
    );
    let plan = blocking(move || -> Result<_, MediaError> {
        let p = probe::probe(&path, true)?;
        Ok(super::plan::plan_chunks_at(
            &p.index, &cuts, seconds, margin,
        ))
    })
    .await??;
    let clock = planned_clock(store, job, spec).await?;
    let plan = output_frames(plan, deinterlace, clock.as_ref());
    let current: Vec<ChunkPlan> = store
        .chunks(job)
        .await?
        .into_iter()
        .map(|c| c.plan)
        .collect();
    if current == plan {
        return Ok(false);
    }
    Ok(store.replan(job, &plan).await?)
}

/// Whether auto-edit removes every frame of `plan` (the chunk is not rendered and leaves no file).
pub fn cut_away(timeline: Option<&Timeline>, plan: &ChunkPlan) -> bool {
    timeline.is_some_and(|t| !t.keeps_any(plan.start_pts, plan.end_pts))
}

/// Where the chunks stand when rendering starts.
#[derive(Debug, Clone, Copy)]
pub struct ChunkCounts {
    pub chunks: u32,
    /// Chunks done by an earlier run, kept.
    pub resumed: u32,
    pub frames_total: u64,
    /// Frames of the resumed chunks.
    pub frames_before: u64,
}

/// Makes the chunks ready to render in `dir`: leases of dead local processes are released, a chunk
/// recorded as done whose file is gone is rendered again, failed chunks get new attempts. Announces
/// the plan and the `rendering` state.
pub async fn ready_chunks(
    ctx: &JobCtx,
    dir: &Path,
    timeline: Option<&Timeline>,
) -> Result<ChunkCounts, JobError> {
    let (store, job) = (&ctx.store, ctx.job.as_str());
    std::fs::create_dir_all(dir).map_err(MediaError::io(dir.display().to_string()))?;
    store.reap_dead_local_leases(job).await?;
    for c in store.chunks(job).await? {
        let lost = c.state == ChunkState::Done
            && !cut_away(timeline, &c.plan)
            && !chunk_path(dir, c.plan.index, c.lease_no).is_file();
        if lost || c.state == ChunkState::Failed {
            store.reset_chunk(job, c.plan.index).await?;
        }
    }
    let chunks = store.chunks(job).await?;
    let done = || chunks.iter().filter(|c| c.state == ChunkState::Done);
    let counts = ChunkCounts {
        chunks: chunks.len() as u32,
        resumed: done().count() as u32,
        frames_total: chunks.iter().map(|c| c.plan.frames).sum(),
        frames_before: done().map(|c| c.plan.frames).sum(),
    };
    ctx.send(ProgressEvent::Planned {
        job: job.into(),
        chunks: counts.chunks,
        frames: counts.frames_total,
        resumed: counts.resumed,
    });
    ctx.set_state(JobState::Rendering).await?;
    Ok(counts)
}

/// Chunks not done yet.
pub async fn chunks_left(store: &Store, job: &str) -> Result<usize, JobError> {
    let chunks = store.chunks(job).await?;
    Ok(chunks
        .iter()
        .filter(|c| c.state != ChunkState::Done)
        .count())
}
