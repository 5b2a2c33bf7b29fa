//! Running a job end to end: plan once, render pending chunks on a bounded pool of workers with
//! leases, then assemble. Safe to call again after any interruption: finished chunks are kept.

use crate::edit::measure::AutoEditError;
use crate::edit::timeline::Timeline;
use crate::edit::{CutList, FrameStats as EditStats};
use crate::enhance as stages;
use crate::media::interlace::{self, FieldOrder};
use crate::media::{self, assemble, encode, probe, MediaError};
use crate::pipeline::analyse::{self, Analysis};
use crate::pipeline::{plan_chunks, render, scenes};
use crate::store::{owner_id, Store, StoreError};
use kino_shared::{ChunkState, DeinterlaceMode, JobSpec, JobState, ProgressEvent, SpecError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::broadcast;

#[derive(Debug, Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Stage(#[from] stages::StageError),
    /// A parameter the job cannot run with, naming its field (HTTP 422, CLI exit 2).
    #[error(transparent)]
    Invalid(#[from] kino_shared::SpecError),
    #[error("internal error: {0}")]
    Internal(String),
}

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
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Done {
        output: String,
        frames: u64,
        chunks: u32,
        resumed: u32,
    },
    Failed(String),
    Cancelled,
}

use super::layout::chunk_path;
pub use super::layout::{chunk_dir, scene_dir};
pub use super::resources::{output_size, plan_resources, Resources};

fn send(events: &broadcast::Sender<ProgressEvent>, e: ProgressEvent) {
    let _ = events.send(e);
}

/// Plans the job if it has no chunks yet. Returns the probe's report for the output checks.
async fn ensure_planned(
    store: &Store,
    job: &str,
    spec: &JobSpec,
    input: &Path,
    deinterlace: bool,
) -> Result<(), JobError> {
    let status = store.job(job).await?;
    if status.chunks_total > 0 {
        return Ok(());
    }
    let path = input.to_owned();
    let margin = plan_margin(spec, deinterlace);
    let chunk_seconds = spec.chunk_seconds;
    let plan = tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
        let p = probe::probe(&path, true)?;
        Ok(plan_chunks(&p.index, chunk_seconds, margin))
    })
    .await
    .map_err(|e| JobError::Internal(e.to_string()))??;
    store.save_plan(job, &plan).await?;
    Ok(())
}

/// Frames of context each chunk must decode before its start: what the stages look back, and the
/// previous frame for motion, colour and frame-change analysis. (Scene signatures are compared in
/// the merge, across chunks.) The deinterlacer, before the stages, needs one decoded frame more.
fn plan_margin(spec: &JobSpec, deinterlace: bool) -> usize {
    let needs_prev = usize::from(analyse::Needs::of(spec).previous_frame());
    (stages::spec_margin(&spec.stages).before + usize::from(deinterlace)).max(needs_prev)
}

/// The field order to deinterlace with, if the job deinterlaces: `auto` when the picture (or,
/// undetermined, the flags) says interlaced, `frame` always, `off` never.
async fn deinterlace_order(spec: &JobSpec, input: &Path) -> Result<Option<FieldOrder>, JobError> {
    let mode = spec.deinterlace_mode();
    if mode == DeinterlaceMode::Off {
        return Ok(None);
    }
    let path = input.to_owned();
    let found =
        tokio::task::spawn_blocking(move || interlace::detect(&path, interlace::DETECT_FRAMES))
            .await
            .map_err(|e| JobError::Internal(e.to_string()))??;
    tracing::info!(?found, "field order");
    Ok(match (mode, found.order) {
        (DeinterlaceMode::Frame, FieldOrder::Progressive) => Some(FieldOrder::TopFirst),
        (_, FieldOrder::Progressive) => None,
        (_, order) => Some(order),
    })
}

/// Moves chunk boundaries onto the detected scene cuts, if no chunk has been claimed yet (a resumed
/// job whose chunks are under way keeps its plan). Returns whether the plan changed.
async fn replan_at_scene_cuts(
    store: &Store,
    job: &str,
    spec: &JobSpec,
    input: &Path,
    a: &Analysis,
    deinterlace: bool,
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
    let plan = tokio::task::spawn_blocking(move || -> Result<_, MediaError> {
        let p = probe::probe(&path, true)?;
        Ok(crate::pipeline::plan::plan_chunks_at(
            &p.index, &cuts, seconds, margin,
        ))
    })
    .await
    .map_err(|e| JobError::Internal(e.to_string()))??;
    let current: Vec<crate::pipeline::ChunkPlan> = store
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
fn detect_every(spec: &JobSpec) -> Option<u32> {
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

/// Runs (or resumes) job `job` to completion, failure or cancellation.
pub async fn run_job(
    store: &Store,
    job: &str,
    opts: &JobOptions,
    events: broadcast::Sender<ProgressEvent>,
    cancel: Arc<AtomicBool>,
) -> Result<JobOutcome, JobError> {
    media::init();
    let status = store.job(job).await?;
    let spec = status.spec.clone();
    let (input, output) = store.job_input_output(job).await?;
    let (input, output) = (PathBuf::from(input), PathBuf::from(output));
    preflight(&spec, &output)?;
    let deinterlace = deinterlace_order(&spec, &input).await?;
    if let Some(order) = deinterlace {
        let message = format!("the input is interlaced ({}): deinterlaced with bwdif, one frame per frame (a deinterlace stage with mode=off keeps it as it is)", order.name());
        send(
            &events,
            ProgressEvent::Warning {
                job: job.into(),
                message,
            },
        );
    }
    ensure_planned(store, job, &spec, &input, deinterlace.is_some()).await?;
    let info = {
        let path = input.clone();
        tokio::task::spawn_blocking(move || probe::probe(&path, false))
            .await
            .map_err(|e| JobError::Internal(e.to_string()))??
            .info
    };
    if let Err(e) = check_stages_fit_input(&spec, &info) {
        store
            .set_job_state(job, JobState::Failed, Some(&e.to_string()))
            .await?;
        return Err(e);
    }
    let mut warnings = stages::neural::warnings(&spec.stages);
    if !info.audio.is_empty() {
        warnings.extend(crate::audio::dfn::warnings(&spec.audio_stages));
    }
    for message in warnings {
        let job = job.into();
        send(&events, ProgressEvent::Warning { job, message });
    }
    let res = {
        let (w, h) = info
            .video
            .as_ref()
            .map(|v| (v.width, v.height))
            .unwrap_or((1920, 1080));
        let (ow, oh) = output_size(&spec, w, h);
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        // No more workers than chunks left, so a short video's encoder gets every core.
        let left = store
            .chunks(job)
            .await?
            .iter()
            .filter(|c| c.state != ChunkState::Done)
            .count();
        plan_resources(
            ow.max(w),
            oh.max(h),
            cores,
            opts.memory_bytes,
            Some(opts.workers.min(left).max(1)),
        )
    };

    let needs = analyse::Needs::of(&spec);
    let records = match analyse_job(store, job, needs, &input, &events, res.workers, &cancel).await
    {
        Ok(r) => r,
        Err(JobError::Media(e)) => {
            return fail(store, &events, job, format!("analysis failed: {e}")).await
        }
        Err(e) => return Err(e),
    };
    if cancel.load(Ordering::Relaxed) {
        return Ok(JobOutcome::Cancelled);
    }
    let analysis = match records {
        Some(records) => {
            let (fps, size) = info
                .video
                .as_ref()
                .map(|v| (v.fps, (v.width as usize, v.height as usize)))
                .unwrap_or((25.0, (0, 0)));
            let merged =
                tokio::task::spawn_blocking(move || Analysis::merge(records, needs, fps, size))
                    .await
                    .map_err(|e| JobError::Internal(e.to_string()))?;
            Some(Arc::new(merged))
        }
        None => None,
    };
    let mut chapters = match (&spec.scenes, &analysis, &info.video) {
        (Some(p), Some(a), Some(v)) => report_scenes(store, job, opts, p, a, v, &input).await?,
        _ => Vec::new(),
    };
    if let (Some(_), Some(a)) = (&spec.scenes, &analysis) {
        replan_at_scene_cuts(store, job, &spec, &input, a, deinterlace.is_some()).await?;
    }
    if let (Some(every), Some(a), Some(v)) = (detect_every(&spec), &analysis, &info.video) {
        let report = crate::detect::mot::TracksReport::new(
            &a.tracks,
            (v.width, v.height),
            v.fps,
            a.pts.len() as u64,
            every,
        );
        let json = serde_json::to_string(&report).map_err(|e| JobError::Internal(e.to_string()))?;
        store
            .save_report_section(job, crate::detect::mot::TRACKS_SECTION, &json)
            .await?;
    }
    let timeline = match (&spec.auto_edit, &analysis) {
        (Some(p), Some(a)) => match plan_auto_edit(store, job, p, a, &info, &input).await {
            Ok(t) => Some(Arc::new(t)),
            Err(JobError::Invalid(e)) => return fail(store, &events, job, e.to_string()).await,
            Err(e) => return Err(e),
        },
        _ => None,
    };
    if let Some(t) = &timeline {
        // Scenes move with the cut; a scene cut away entirely leaves no chapter.
        for c in chapters.iter_mut() {
            c.start = t.out_seconds(c.start);
            c.end = t.out_seconds(c.end);
        }
        chapters.retain(|c| c.end > c.start);
    }

    let dir = chunk_dir(&opts.data_dir, job);
    std::fs::create_dir_all(&dir).map_err(|e| MediaError::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    store.reap_dead_local_leases(job).await?;
    // A chunk recorded as done must still have its file; otherwise it is rendered again.
    for c in store.chunks(job).await? {
        if c.state == ChunkState::Done
            && !cut_away(timeline.as_deref(), &c.plan)
            && !chunk_path(&dir, c.plan.index).is_file()
        {
            store.reset_chunk(job, c.plan.index).await?;
        }
        if c.state == ChunkState::Failed {
            store.reset_chunk(job, c.plan.index).await?;
        }
    }
    let chunks = store.chunks(job).await?;
    let resumed = chunks
        .iter()
        .filter(|c| c.state == ChunkState::Done)
        .count() as u32;
    let frames_total: u64 = chunks.iter().map(|c| c.plan.frames).sum();
    let frames_before: u64 = chunks
        .iter()
        .filter(|c| c.state == ChunkState::Done)
        .map(|c| c.plan.frames)
        .sum();
    send(
        &events,
        ProgressEvent::Planned {
            job: job.into(),
            chunks: chunks.len() as u32,
            frames: frames_total,
            resumed,
        },
    );
    store.set_job_state(job, JobState::Rendering, None).await?;
    send(
        &events,
        ProgressEvent::JobState {
            job: job.into(),
            state: JobState::Rendering,
        },
    );

    let owner = owner_id();
    let frames_now = Arc::new(AtomicU64::new(0));
    let failed: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    // Lease renewal and progress ticks run beside the workers.
    let renew = {
        let (store, owner, lease_ms) = (store.clone(), owner.clone(), opts.lease_ms);
        tokio::spawn(async move {
            let mut t =
                tokio::time::interval(Duration::from_millis((lease_ms / 3).max(100) as u64));
            loop {
                t.tick().await;
                let _ = store.renew_leases(&owner, lease_ms).await;
            }
        })
    };
    let ticker = {
        let (frames_now, events, job) = (frames_now.clone(), events.clone(), job.to_owned());
        tokio::spawn(async move {
            let start = Instant::now();
            let mut window: std::collections::VecDeque<(Instant, u64)> = Default::default();
            let mut t = tokio::time::interval(Duration::from_millis(250));
            loop {
                t.tick().await;
                let now = Instant::now();
                let done = frames_now.load(Ordering::Relaxed);
                window.push_back((now, done));
                while window.len() > 2 && now.duration_since(window[0].0) > Duration::from_secs(5) {
                    window.pop_front();
                }
                let (t0, f0) = window[0];
                let secs = now.duration_since(t0).as_secs_f64();
                let fps = if secs > 0.2 {
                    (done - f0) as f64 / secs
                } else {
                    done as f64 / start.elapsed().as_secs_f64().max(1e-3)
                };
                let done_all = frames_before + done;
                let left = frames_total.saturating_sub(done_all);
                let eta = (fps > 0.0).then(|| left as f64 / fps);
                let _ = events.send(ProgressEvent::Frames {
                    job: job.clone(),
                    frames_done: done_all,
                    frames_total,
                    fps,
                    eta_seconds: eta,
                });
            }
        })
    };

    let mut workers = Vec::new();
    let changed = Arc::new(tokio::sync::Notify::new());
    for _ in 0..res.workers {
        let ctx = WorkerCtx {
            store: store.clone(),
            job: job.to_owned(),
            owner: owner.clone(),
            opts: opts.clone(),
            res,
            spec: spec.clone(),
            analysis: analysis.clone(),
            timeline: timeline.clone(),
            deinterlace,
            input: input.clone(),
            dir: dir.clone(),
            events: events.clone(),
            frames_now: frames_now.clone(),
            failed: failed.clone(),
            stop: stop.clone(),
            cancel: cancel.clone(),
            changed: changed.clone(),
        };
        workers.push(tokio::spawn(worker(ctx)));
    }
    let mut worker_error = None;
    for w in workers {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => worker_error = Some(e),
            Err(e) => worker_error = Some(JobError::Internal(e.to_string())),
        }
    }
    renew.abort();
    ticker.abort();
    if cancel.load(Ordering::Relaxed) {
        store.release_leases(&owner).await?;
        return Ok(JobOutcome::Cancelled);
    }
    if let Some(e) = worker_error {
        store.release_leases(&owner).await?;
        return Err(e);
    }
    let failure = failed.lock().ok().and_then(|f| f.clone());
    if let Some(reason) = failure {
        return fail(store, &events, job, reason).await;
    }

    store.set_job_state(job, JobState::Assembling, None).await?;
    send(
        &events,
        ProgressEvent::JobState {
            job: job.into(),
            state: JobState::Assembling,
        },
    );
    let chunks = store.chunks(job).await?;
    let files: Vec<PathBuf> = chunks
        .iter()
        .filter(|c| !cut_away(timeline.as_deref(), &c.plan))
        .map(|c| chunk_path(&dir, c.plan.index))
        .collect();
    let (src, out) = (input.clone(), output.clone());
    let assembly = assemble::AssemblyOptions {
        audio: spec.output.audio,
        audio_stages: spec.audio_stages.clone(),
        // A tone-mapped video no longer has the source's HDR10 metadata.
        drop_hdr: spec.stages.iter().any(|s| {
            matches!(s, kino_shared::StageSpec::Hdr(p) if p.mode == kino_shared::HdrMode::ToSdr)
        }),
        chapters,
        audio_cut: timeline.as_ref().map(|t| t.audio_cut()),
    };
    let expected_frames = timeline
        .as_ref()
        .map(|t| t.kept_frames())
        .unwrap_or(frames_total);
    let assembled =
        tokio::task::spawn_blocking(move || assemble::assemble(&src, &files, &out, &assembly))
            .await
            .map_err(|e| JobError::Internal(e.to_string()))?;
    let assembled = match assembled {
        Ok(a) => a,
        Err(e) => return fail(store, &events, job, format!("assembly failed: {e}")).await,
    };
    for (name, data) in &assembled.sections {
        store
            .save_report_section(job, name, &data.to_string())
            .await?;
    }
    for w in assembled.warnings {
        send(
            &events,
            ProgressEvent::Warning {
                job: job.into(),
                message: w,
            },
        );
    }
    if assembled.video_packets != expected_frames {
        send(
            &events,
            ProgressEvent::Warning {
                job: job.into(),
                message: format!(
                    "output has {} video frames, expected {expected_frames}",
                    assembled.video_packets
                ),
            },
        );
    }
    store.set_job_state(job, JobState::Done, None).await?;
    let output_s = output.display().to_string();
    send(
        &events,
        ProgressEvent::Done {
            job: job.into(),
            output: opts.output_link.clone().unwrap_or_else(|| output_s.clone()),
        },
    );
    if !opts.keep_chunks {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(JobOutcome::Done {
        output: output_s,
        frames: assembled.video_packets,
        chunks: chunks.len() as u32,
        resumed,
    })
}

/// What the job report says about auto-edit (section `auto_edit`): the cut list and its totals.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AutoEditReport {
    pub kept_frames: u64,
    pub removed_frames: u64,
    pub kept_seconds: f64,
    pub removed_seconds: f64,
    pub cut_list: CutList,
}

impl AutoEditReport {
    /// The report section of a finished job's cut list, if it has one.
    pub fn from_sections(sections: &[(String, String)]) -> Option<Result<Self, serde_json::Error>> {
        sections
            .iter()
            .find(|(n, _)| n == AUTO_EDIT_SECTION)
            .map(|(_, data)| serde_json::from_str(data))
    }
}

/// Report section name of the auto-edit result.
pub const AUTO_EDIT_SECTION: &str = "auto_edit";

/// The job's cut list: decided once from the analysis pass and the audio levels, then stored, so a
/// resumed job cuts exactly the same frames. `Invalid` when nothing would be left.
async fn plan_auto_edit(
    store: &Store,
    job: &str,
    params: &kino_shared::AutoEditParams,
    a: &Analysis,
    info: &kino_shared::MediaInfo,
    input: &Path,
) -> Result<Timeline, JobError> {
    let video = info
        .video
        .as_ref()
        .ok_or_else(|| MediaError::NoVideo(input.display().to_string()))?;
    let tb = (video.time_base[0], video.time_base[1]);
    let first_pts = a.pts.first().copied().unwrap_or(0);
    let stored = AutoEditReport::from_sections(&store.report_sections(job).await?);
    let cut = match stored {
        Some(Ok(r)) => r.cut_list,
        _ => {
            let seconds = tb.0 as f64 / tb.1.max(1) as f64;
            let frames: Vec<EditStats> = a
                .edit
                .iter()
                .map(|&(pts, [black_ratio, diff])| EditStats {
                    pts: pts as f64 * seconds,
                    black_ratio,
                    diff,
                })
                .collect();
            let (input, info, params) = (input.to_owned(), info.clone(), *params);
            let cut = tokio::task::spawn_blocking(move || {
                crate::edit::measure::cut_list_from(&input, &info, &frames, &params)
            })
            .await
            .map_err(|e| JobError::Internal(e.to_string()))?
            .map_err(|e| match e {
                AutoEditError::Media(m) => JobError::Media(m),
                other => SpecError::new("auto_edit", other.to_string()).into(),
            })?;
            if cut.kept.is_empty() {
                return Err(SpecError::new(
                    "auto_edit",
                    "auto-edit would cut every frame (all black, frozen or silent under these thresholds)",
                )
                .into());
            }
            let fps = cut.source.rate.fps();
            let report = AutoEditReport {
                kept_frames: cut.kept_frames(),
                removed_frames: cut.source.duration_frames - cut.kept_frames(),
                kept_seconds: cut.kept_frames() as f64 / fps,
                removed_seconds: (cut.source.duration_frames - cut.kept_frames()) as f64 / fps,
                cut_list: cut,
            };
            let json =
                serde_json::to_string(&report).map_err(|e| JobError::Internal(e.to_string()))?;
            store
                .save_report_section(job, AUTO_EDIT_SECTION, &json)
                .await?;
            report.cut_list
        }
    };
    Ok(Timeline::new(&cut, first_pts, tb))
}

/// Stores the scene list (with thumbnails) in the report and returns the chapters to write.
async fn report_scenes(
    store: &Store,
    job: &str,
    opts: &JobOptions,
    p: &kino_shared::SceneParams,
    a: &Analysis,
    video: &kino_shared::VideoInfo,
    input: &Path,
) -> Result<Vec<assemble::Chapter>, JobError> {
    let mut report = scenes::scene_report(&a.pts, &a.transitions, video);
    if p.thumbnails {
        let dir = scene_dir(&opts.data_dir, job);
        std::fs::create_dir_all(&dir).map_err(MediaError::io(dir.display().to_string()))?;
        let picks: Vec<(i64, PathBuf)> = report
            .scenes
            .iter_mut()
            .filter_map(|s| {
                let name = format!("{:03}.jpg", s.index);
                let pts = *a.pts.get((s.start_frame + s.end_frame) / 2)?;
                let path = dir.join(&name);
                s.thumbnail = Some(name);
                Some((pts, path))
            })
            .collect();
        let input = input.to_owned();
        tokio::task::spawn_blocking(move || {
            media::thumbnail::write_thumbnails(&input, &picks, THUMBNAIL_WIDTH)
        })
        .await
        .map_err(|e| JobError::Internal(e.to_string()))??;
    }
    let json = serde_json::to_string(&report).map_err(|e| JobError::Internal(e.to_string()))?;
    store.save_report_section(job, "scenes", &json).await?;
    Ok(if p.chapters {
        report
            .scenes
            .iter()
            .map(|s| assemble::Chapter {
                start: s.start_seconds,
                end: s.end_seconds,
                title: format!("Scene {}", s.index + 1),
            })
            .collect()
    } else {
        Vec::new()
    })
}

/// Width of scene thumbnails.
const THUMBNAIL_WIDTH: u32 = 320;

/// Runs the analysis pass for the chunks not analysed yet (in parallel), then reads back every
/// chunk's records. `None` when no stage needs it.
async fn analyse_job(
    store: &Store,
    job: &str,
    needs: analyse::Needs,
    input: &Path,
    events: &broadcast::Sender<ProgressEvent>,
    workers: usize,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<Vec<analyse::FrameRecord>>, JobError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    if !needs.any() {
        return Ok(None);
    }
    store.set_job_state(job, JobState::Analysing, None).await?;
    send(
        events,
        ProgressEvent::JobState {
            job: job.into(),
            state: JobState::Analysing,
        },
    );
    let done: std::collections::HashSet<u32> = store
        .analyses(job)
        .await?
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let all = store.chunks(job).await?;
    let total = all.len() as u32;
    let plans: Vec<_> = all.iter().map(|c| c.plan.clone()).collect();
    let first_frames = crate::pipeline::plan::first_frames(&plans);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = (cores / workers.max(1)).max(1);
    let todo: Vec<_> = all
        .into_iter()
        .filter(|c| !done.contains(&c.plan.index))
        .map(|c| c.plan)
        .collect();
    let finished = Arc::new(AtomicU64::new(done.len() as u64));
    stream::iter(todo)
        .map(|plan| {
            let (input, cancel, finished) = (input.to_owned(), cancel.clone(), finished.clone());
            let first = first_frames.get(plan.index as usize).copied().unwrap_or(0);
            async move {
                let index = plan.index;
                let flag = cancel.clone();
                let records = tokio::task::spawn_blocking(move || {
                    analyse::analyse_chunk(&input, &plan, needs, first, threads, &flag)
                })
                .await
                .map_err(|e| JobError::Internal(e.to_string()))??;
                if cancel.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let data = serde_json::to_string(&records)
                    .map_err(|e| JobError::Internal(e.to_string()))?;
                store.save_analysis(job, index, &data).await?;
                let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
                send(
                    events,
                    ProgressEvent::Analysed {
                        job: job.into(),
                        chunk: index,
                        done: n as u32,
                        total,
                    },
                );
                Ok::<(), JobError>(())
            }
        })
        .buffer_unordered(workers.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    let mut records = Vec::new();
    for (index, data) in store.analyses(job).await? {
        let mut r: Vec<analyse::FrameRecord> = serde_json::from_str(&data).map_err(|e| {
            JobError::Store(StoreError::Corrupt(format!(
                "analysis of chunk {index}: {e}"
            )))
        })?;
        records.append(&mut r);
    }
    Ok(Some(records))
}

/// Records a job as failed with its reason and tells the listeners.
async fn fail(
    store: &Store,
    events: &broadcast::Sender<ProgressEvent>,
    job: &str,
    reason: String,
) -> Result<JobOutcome, JobError> {
    store
        .set_job_state(job, JobState::Failed, Some(&reason))
        .await?;
    send(
        events,
        ProgressEvent::Failed {
            job: job.into(),
            error: reason.clone(),
        },
    );
    Ok(JobOutcome::Failed(reason))
}

/// Wakes the job's waiting workers when dropped (whichever way a chunk's handling ends).
struct WakeOnDrop<'a>(&'a tokio::sync::Notify);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.notify_waiters();
    }
}

struct WorkerCtx {
    store: Store,
    job: String,
    owner: String,
    opts: JobOptions,
    res: Resources,
    spec: JobSpec,
    analysis: Option<Arc<Analysis>>,
    timeline: Option<Arc<Timeline>>,
    deinterlace: Option<FieldOrder>,
    input: PathBuf,
    dir: PathBuf,
    events: broadcast::Sender<ProgressEvent>,
    frames_now: Arc<AtomicU64>,
    failed: Arc<std::sync::Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    cancel: Arc<AtomicBool>,
    /// Woken whenever a worker of this job finishes with a chunk (done or failed).
    changed: Arc<tokio::sync::Notify>,
}

impl WorkerCtx {
    /// Records chunk `index` as done (if this worker still holds it) and announces it.
    async fn complete(&self, index: u32, frames: u64) -> Result<(), JobError> {
        if self
            .store
            .complete_chunk(&self.job, index, &self.owner)
            .await?
        {
            send(
                &self.events,
                ProgressEvent::ChunkDone {
                    job: self.job.clone(),
                    chunk: index,
                    frames,
                },
            );
        }
        Ok(())
    }
}

/// Whether auto-edit removes every frame of `plan` (the chunk is not rendered and leaves no file).
fn cut_away(timeline: Option<&Timeline>, plan: &crate::pipeline::ChunkPlan) -> bool {
    timeline.is_some_and(|t| !t.keeps_any(plan.start_pts, plan.end_pts))
}

/// Claims and renders chunks until none is left (waiting for chunks other processes hold).
async fn worker(ctx: WorkerCtx) -> Result<(), JobError> {
    loop {
        if ctx.stop.load(Ordering::Relaxed) || ctx.cancel.load(Ordering::Relaxed) {
            return Ok(());
        }
        let _permit = match &ctx.opts.slots {
            Some(s) => Some(
                s.clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| JobError::Internal(e.to_string()))?,
            ),
            None => None,
        };
        if ctx.stop.load(Ordering::Relaxed) || ctx.cancel.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Registered before the claim, so a chunk finishing in between still wakes this worker.
        let changed = ctx.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let Some(chunk) = ctx
            .store
            .claim_chunk(&ctx.job, &ctx.owner, ctx.opts.lease_ms)
            .await?
        else {
            let all = ctx.store.chunks(&ctx.job).await?;
            if all
                .iter()
                .all(|c| matches!(c.state, ChunkState::Done | ChunkState::Failed))
            {
                return Ok(());
            }
            // Someone else holds a lease: wait for it to finish here, or (another process's) to
            // finish or expire.
            drop(_permit);
            tokio::select! {
                _ = &mut changed => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        };
        let index = chunk.plan.index;
        if cut_away(ctx.timeline.as_deref(), &chunk.plan) {
            // Auto-edit removes all of it: done, with nothing to render.
            let _wake = WakeOnDrop(&ctx.changed);
            ctx.frames_now
                .fetch_add(chunk.plan.frames, Ordering::Relaxed);
            ctx.complete(index, 0).await?;
            continue;
        }
        send(
            &ctx.events,
            ProgressEvent::ChunkClaimed {
                job: ctx.job.clone(),
                chunk: index,
                worker: ctx.owner.clone(),
            },
        );
        let part = ctx.dir.join(format!("chunk-{index:05}.part.mp4"));
        let done_path = chunk_path(&ctx.dir, index);
        let counted = Arc::new(AtomicU64::new(0));
        let result = {
            let (input, spec, plan, res, analysis, timeline, deinterlace) = (
                ctx.input.clone(),
                ctx.spec.clone(),
                chunk.plan.clone(),
                ctx.res,
                ctx.analysis.clone(),
                ctx.timeline.clone(),
                ctx.deinterlace,
            );
            let (part, frames_now, counted, cancel) = (
                part.clone(),
                ctx.frames_now.clone(),
                counted.clone(),
                ctx.cancel.clone(),
            );
            tokio::task::spawn_blocking(move || {
                let on_frame = |n: u64| {
                    frames_now.fetch_add(n, Ordering::Relaxed);
                    counted.fetch_add(n, Ordering::Relaxed);
                };
                let job = render::ChunkJob {
                    input: &input,
                    spec: &spec,
                    res,
                    analysis,
                    timeline,
                    deinterlace,
                };
                let r = render::render_chunk(&job, &plan, &part, &on_frame, &cancel);
                // Durable before it is recorded as done.
                r.and_then(|o| {
                    std::fs::File::open(&part)
                        .and_then(|f| f.sync_all())
                        .map_err(|e| MediaError::Io {
                            path: part.display().to_string(),
                            source: e,
                        })?;
                    Ok(o)
                })
            })
            .await
            .map_err(|e| JobError::Internal(e.to_string()))?
        };
        let _wake = WakeOnDrop(&ctx.changed);
        match result {
            Ok(outcome) => {
                std::fs::rename(&part, &done_path).map_err(|e| MediaError::Io {
                    path: done_path.display().to_string(),
                    source: e,
                })?;
                if outcome.frames + outcome.cut != chunk.plan.frames || outcome.dropped > 0 {
                    send(
                        &ctx.events,
                        ProgressEvent::Warning {
                            job: ctx.job.clone(),
                            message: format!(
                                "chunk {index}: encoded {} frames, planned {} ({} dropped)",
                                outcome.frames, chunk.plan.frames, outcome.dropped
                            ),
                        },
                    );
                }
                ctx.complete(index, outcome.frames).await?;
            }
            Err(render::RenderError::Cancelled) => {
                ctx.frames_now
                    .fetch_sub(counted.load(Ordering::Relaxed), Ordering::Relaxed);
                let _ = std::fs::remove_file(&part);
                return Ok(());
            }
            Err(e) => {
                ctx.frames_now
                    .fetch_sub(counted.load(Ordering::Relaxed), Ordering::Relaxed);
                let _ = std::fs::remove_file(&part);
                let msg = e.to_string();
                let state = ctx
                    .store
                    .fail_chunk(&ctx.job, index, &ctx.owner, &msg, ctx.opts.max_attempts)
                    .await?;
                send(
                    &ctx.events,
                    ProgressEvent::ChunkFailed {
                        job: ctx.job.clone(),
                        chunk: index,
                        attempt: chunk.attempts,
                        error: msg.clone(),
                    },
                );
                if state == ChunkState::Failed {
                    if let Ok(mut f) = ctx.failed.lock() {
                        f.get_or_insert_with(|| {
                            format!(
                                "chunk {index} failed after {} attempts: {msg}",
                                chunk.attempts
                            )
                        });
                    }
                    ctx.stop.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(200 * chunk.attempts as u64)).await;
            }
        }
    }
}
