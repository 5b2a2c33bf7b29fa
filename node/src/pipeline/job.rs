//! Running a job end to end, one phase after another: admit → plan → analyse → render → assemble,
//! with the report written as the phases learn things. Safe to call again after any interruption:
//! the plan, the analysis and finished chunks are kept in the store and reused.

use super::analysis_pass;
use super::assembly::{self, assemble_job};
use super::model_choice;
use super::planning::{self, ready_chunks};
use super::preflight::{self, Admitted};
use super::report;
use super::worker::{self, RenderPlan, Rendered};
use crate::analysis::Analysis;
use crate::edit::timeline::Timeline;
use crate::media::{self, assemble};
use crate::pipeline::analyse;
use crate::store::{owner_id, Store};
use kino_shared::ProgressEvent;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::broadcast;

use super::balance::Balance;
pub use super::context::{JobCtx, JobError, JobOutcome};
pub use super::layout::{chunk_dir, quality_dir, scene_dir};
pub use super::preflight::{check_detect_models, check_stages_fit_input, preflight};
pub use super::report::{job_cut, AutoEditReport};
pub use super::resources::{output_size, plan_resources, Resources};

/// How a job runs on this process.
#[derive(Debug, Clone)]
pub struct JobOptions {
    /// Chunk workers in parallel (at most; fewer when memory says so).
    pub workers: usize,
    /// Memory budget for this job's chunk workers.
    pub memory_bytes: u64,
    pub lease_ms: i64,
    pub max_attempts: u32,
    /// Keep chunk files after assembly (for inspection).
    pub keep_chunks: bool,
    pub data_dir: PathBuf,
    /// Chunk slots shared by every job of the process (the node's bounded worker pool).
    pub slots: Option<Arc<tokio::sync::Semaphore>>,
    /// What the `done` event names as the output (a download URL on the node); the path otherwise.
    pub output_link: Option<String>,
    /// This node's name in a farm (empty alone): the first part of its lease owner ids.
    pub node: String,
    /// Raised when the node drains: workers finish the chunk in hand and claim no more.
    pub drain: Option<Arc<AtomicBool>>,
    /// In a farm, the id of this node's data folder: recorded with the plan, so nodes that do not
    /// see the folder fetch the input from one that does.
    pub storage: Option<String>,
}

/// Runs (or resumes) job `job` to completion, failure or cancellation.
pub async fn run_job(
    store: &Store,
    job: &str,
    opts: &JobOptions,
    events: broadcast::Sender<ProgressEvent>,
    cancel: Arc<AtomicBool>,
) -> Result<JobOutcome, JobError> {
    media::init();
    let started = Instant::now();
    let ctx = JobCtx::new(store, job, events);
    let mut admitted = preflight::admit(&ctx).await?;
    model_choice::resolve(&ctx, &mut admitted.spec, &admitted.input).await?;
    let (spec, input) = (&admitted.spec, &admitted.input);
    let deinterlace = admitted.deinterlace;
    let storage = opts.storage.as_deref();
    let balance = balance(store, spec, &admitted.info, opts).await?;
    planning::ensure_planned(store, job, spec, input, deinterlace, storage, balance).await?;
    let clock = planning::planned_clock(store, job, spec).await?;
    if let Some(c) = clock.filter(|c| !c.interpolates) {
        ctx.warn(format!(
            "interpolate: {}/{} fps is not above the source's rate, so frames are dropped (or repeated) evenly and none is invented",
            c.frame_rate[0], c.frame_rate[1]
        ));
    }
    let left = planning::chunks_left(store, job).await?;
    let res = resources(spec, &admitted.info, opts, left);
    let mut phases = vec![phase("prepare", started)];
    let analysing = Instant::now();

    // Leases (analyses, chunks, then the assembly) are renewed while this run lasts; a job that
    // ends on another node (cancelled, failed) stops this one.
    let owner = owner_id(&opts.node);
    let _renewal = worker::spawn_lease_renewal(&ctx, &owner, opts.lease_ms, cancel.clone());
    store.reap_dead_local_leases(job).await?;
    let needs = analyse::Needs::of(spec);
    let claims = analysis_pass::Claims {
        owner: &owner,
        lease_ms: opts.lease_ms,
        workers: res.workers,
    };
    let analysed =
        analysis_pass::analysis(&ctx, needs, input, &admitted.info, &claims, &cancel).await;
    if analysed.is_err() || cancel.load(Ordering::Relaxed) {
        // Analyses in hand go back to the queue at once (a retry claims them straight away).
        store.release_leases(&owner).await?;
    }
    let analysis = match analysed {
        Err(JobError::Media(e)) => return ctx.fail(format!("analysis failed: {e}")).await,
        other => other?,
    };
    if cancel.load(Ordering::Relaxed) {
        return Ok(JobOutcome::Cancelled);
    }
    if let (Some(_), Some(a)) = (&spec.scenes, &analysis) {
        planning::replan_at_scene_cuts(store, job, spec, input, a, deinterlace).await?;
    }
    let (timeline, chapters) = match write_analysis_reports(&ctx, opts, &admitted, &analysis).await
    {
        Err(JobError::Invalid(e)) => return ctx.fail(e.to_string()).await,
        other => other?,
    };

    phases.push(phase("analysis", analysing));
    if spec.analyse_only {
        return analysed_only(&ctx, phases).await;
    }
    let dir = chunk_dir(&opts.data_dir, job);
    let counts = ready_chunks(&ctx, &dir, timeline.as_deref()).await?;
    let rendering = Instant::now();
    let plan = RenderPlan {
        opts: opts.clone(),
        res,
        spec: spec.clone(),
        analysis,
        timeline: timeline.clone(),
        deinterlace: admitted.deinterlace,
        clock,
        input: input.clone(),
        dir: dir.clone(),
        frames_before: counts.frames_before,
        frames_total: counts.frames_total,
        remote: None,
    };
    match worker::render_pending(&ctx, &owner, plan, cancel.clone()).await? {
        Rendered::All => {}
        Rendered::Cancelled => return Ok(JobOutcome::Cancelled),
        Rendered::Failed(reason) => return ctx.fail(reason).await,
        Rendered::Barred => return left_to_others(&ctx, opts).await,
    }
    if !store.claim_assembly(job, &owner, opts.lease_ms).await? {
        return Ok(JobOutcome::Elsewhere);
    }
    let t = timeline.as_deref();
    phases.push(phase("render", rendering));
    let finishing = assembly::Finishing {
        timeline: t,
        chapters,
        counts,
        phases,
    };
    assemble_job(&ctx, opts, &admitted, &dir, finishing).await
}

/// Ends an analysis-only job: its report has the scenes and the cut list; nothing is rendered.
async fn analysed_only(
    ctx: &JobCtx,
    phases: Vec<kino_shared::PartTime>,
) -> Result<JobOutcome, JobError> {
    let timings = kino_shared::JobTimings {
        phases,
        ..Default::default()
    };
    ctx.store.save_section(&ctx.job, &timings).await?;
    if !ctx
        .store
        .advance_job_state(&ctx.job, kino_shared::JobState::Done, None)
        .await?
    {
        return Ok(JobOutcome::Cancelled);
    }
    ctx.send(ProgressEvent::Done {
        job: ctx.job.clone(),
        output: String::new(),
    });
    Ok(JobOutcome::Done {
        output: String::new(),
        frames: 0,
        chunks: 0,
        resumed: 0,
    })
}

/// Seconds since `since`, named.
fn phase(name: &str, since: Instant) -> kino_shared::PartTime {
    kino_shared::PartTime {
        part: name.to_owned(),
        seconds: since.elapsed().as_secs_f64(),
    }
}

/// This node failed too often in the job: the others go on with it, or, when no live node may take
/// it any more, it fails with what every node said.
pub async fn left_to_others(ctx: &JobCtx, opts: &JobOptions) -> Result<JobOutcome, JobError> {
    let store = &ctx.store;
    let others = store.nodes_left_for(&ctx.job, 3 * opts.lease_ms).await?;
    tracing::warn!(
        job = ctx.job,
        ?others,
        "this node failed too often in the job"
    );
    if !others.is_empty() {
        return Ok(JobOutcome::Elsewhere);
    }
    // What each node said last.
    let mut last: Vec<kino_shared::NodeFailure> = Vec::new();
    for f in store.failures(&ctx.job).await? {
        last.retain(|l| l.node != f.node);
        last.push(f);
    }
    let said: Vec<String> = last
        .into_iter()
        .map(|f| match f.chunk {
            Some(c) => format!("{} (chunk {c}): {}", f.node, f.error),
            None => format!("{}: {}", f.node, f.error),
        })
        .collect();
    ctx.fail(format!(
        "every node failed this job {} times or more: {}",
        crate::store::BAR_AFTER,
        said.join("; ")
    ))
    .await
}

/// Workers and threads for the job's output size: no more workers than chunks left, so a short
/// video's encoder gets every core.
pub(super) fn resources(
    spec: &kino_shared::JobSpec,
    info: &kino_shared::MediaInfo,
    opts: &JobOptions,
    chunks_left: usize,
) -> Resources {
    let (w, h) = work_size(spec, info);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let workers = opts.workers.min(chunks_left).max(1);
    plan_resources(w, h, cores, opts.memory_bytes, Some(workers))
}

/// What the chunk plan is balanced for: this node's workers when every chunk is left, and the
/// larger of the input and output frames. With other live nodes in a farm it is not balanced (one
/// worker): their workers are not known here, and fewer, longer chunks could leave them idle.
async fn balance(
    store: &Store,
    spec: &kino_shared::JobSpec,
    info: &kino_shared::MediaInfo,
    opts: &JobOptions,
) -> Result<Balance, JobError> {
    let others = store
        .nodes()
        .await?
        .iter()
        .filter(|n| n.name != opts.node && !n.draining && n.silent_ms < 3 * opts.lease_ms)
        .count();
    let (w, h) = work_size(spec, info);
    let workers = match others {
        0 => resources(spec, info, opts, usize::MAX).workers,
        _ => 1,
    };
    Ok(Balance {
        workers,
        frame_pixels: u64::from(w) * u64::from(h),
    })
}

/// The larger of the input's and the output's frame size, which sets a job's memory and per-frame
/// work (1920×1080 when the input has no video).
fn work_size(spec: &kino_shared::JobSpec, info: &kino_shared::MediaInfo) -> (u32, u32) {
    let (w, h) = info
        .video
        .as_ref()
        .map(|v| (v.width, v.height))
        .unwrap_or((1920, 1080));
    let (ow, oh) = output_size(spec, w, h);
    (w.max(ow), h.max(oh))
}

/// Writes what the analysis found into the report (scenes, tracks, the cut list of auto-edit and
/// trim) and returns the cut and the chapters to write (scenes moved with the cut; a scene cut
/// away entirely leaves no chapter).
async fn write_analysis_reports(
    ctx: &JobCtx,
    opts: &JobOptions,
    job: &Admitted,
    analysis: &Option<Arc<Analysis>>,
) -> Result<(Option<Arc<Timeline>>, Vec<assemble::Chapter>), JobError> {
    let (store, id, spec) = (&ctx.store, ctx.job.as_str(), &job.spec);
    let mut chapters = Vec::new();
    if let (Some(a), Some(v)) = (analysis, &job.info.video) {
        if let Some(p) = &spec.scenes {
            chapters =
                report::report_scenes(store, id, &opts.data_dir, p, a, v, &job.input).await?;
        }
        if let Some(every) = preflight::detect_every(spec) {
            report::report_tracks(store, id, a, v, every).await?;
        }
    }
    let a = analysis.as_deref();
    let Some(timeline) = report::plan_cut(store, id, spec, a, &job.info, &job.input).await? else {
        return Ok((None, chapters));
    };
    for c in chapters.iter_mut() {
        c.start = timeline.out_seconds(c.start);
        c.end = timeline.out_seconds(c.end);
    }
    chapters.retain(|c| c.end > c.start);
    Ok((Some(Arc::new(timeline)), chapters))
}
