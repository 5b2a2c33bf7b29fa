//! The last phase: the rendered chunks are joined (without re-encoding) with the source's audio,
//! chapters and metadata; what assembly measured goes into the report.

use super::context::{blocking, JobCtx, JobError, JobOutcome};
use super::layout::chunk_path;
use super::planning::{cut_away, ChunkCounts};
use super::preflight::Admitted;
use super::render::measures_file;
use super::JobOptions;
use crate::edit::timeline::Timeline;
use crate::media::assemble;
use crate::store::ReportSection;
use kino_shared::{
    ChunkMeasures, HdrMode, JobState, JobTimings, PartTime, ProgressEvent, StageSpec, TargetChunk,
    TargetReport,
};

impl ReportSection for TargetReport {
    const NAME: &'static str = "target_quality";
}
use std::path::{Path, PathBuf};

impl ReportSection for JobTimings {
    const NAME: &'static str = "timings";
}

/// What the run hands to assembly besides the chunks.
pub struct Finishing<'a> {
    /// Auto-edit's cut.
    pub timeline: Option<&'a Timeline>,
    pub chapters: Vec<assemble::Chapter>,
    pub counts: ChunkCounts,
    /// Wall-clock seconds of the run's phases so far (assembly adds its own).
    pub phases: Vec<PartTime>,
}

/// Joins the job's chunk files in `dir` into its output and records the job done.
pub async fn assemble_job(
    ctx: &JobCtx,
    opts: &JobOptions,
    job: &Admitted,
    dir: &Path,
    finishing: Finishing<'_>,
) -> Result<JobOutcome, JobError> {
    let assembly_started = std::time::Instant::now();
    let Finishing {
        timeline,
        chapters,
        counts,
        mut phases,
    } = finishing;
    ctx.set_state(JobState::Assembling).await?;
    let files: Vec<PathBuf> = ctx
        .store
        .chunks(&ctx.job)
        .await?
        .iter()
        .filter(|c| !cut_away(timeline, &c.plan))
        .map(|c| chunk_path(dir, c.plan.index, c.lease_no))
        .collect();
    let spec = &job.spec;
    // Slow motion: the sound is dropped, or stretched with its pitch kept.
    let slowmo = kino_shared::interpolation(&spec.stages).filter(|p| p.stretch() > 1);
    let audio = match slowmo {
        Some(p) if p.audio == kino_shared::SlowmoAudio::Drop => kino_shared::AudioMode::None,
        _ => spec.output.audio,
    };
    let audio_cut = match (timeline, slowmo) {
        (Some(t), _) => Some(t.audio_cut()),
        (None, Some(p)) => Some(crate::media::audio::AudioCut::slowed(p.stretch())),
        (None, None) => None,
    };
    let assembly = assemble::AssemblyOptions {
        audio,
        audio_stages: spec.audio_stages.clone(),
        // A tone-mapped video no longer has the source's HDR10 metadata.
        drop_hdr: spec
            .stages
            .iter()
            .any(|s| matches!(s, StageSpec::Hdr(p) if p.mode == HdrMode::ToSdr)),
        chapters,
        audio_cut,
        stretch: slowmo.map_or(1, |p| p.stretch()),
    };
    let expected_frames = timeline.map_or(counts.frames_total, |t| t.kept_frames());
    let (src, out) = (job.input.clone(), job.output.clone());
    let measured: Vec<PathBuf> = files.iter().map(|f| measures_file(f)).collect();
    let assembled = blocking(move || assemble::assemble(&src, &files, &out, &assembly)).await?;
    let assembled = match assembled {
        Ok(a) => a,
        // In a farm it may be this node's fault (its disk): a failure of the node, and another
        // takes the assembly over when this claim runs out (see `Service::run`).
        Err(e) if !opts.node.is_empty() => return Err(e.into()),
        Err(e) => return ctx.fail(format!("assembly failed: {e}")).await,
    };
    if let Some(sync) = &assembled.audio_sync {
        ctx.store.save_section(&ctx.job, sync).await?;
    }
    for w in assembled.warnings {
        ctx.warn(w);
    }
    if assembled.video_packets != expected_frames {
        ctx.warn(format!(
            "output has {} video frames, expected {expected_frames}",
            assembled.video_packets
        ));
    }
    let measures: Vec<ChunkMeasures> = measured
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    if let Some(tq) = &spec.output.target_quality {
        let chunks: Vec<TargetChunk> = measures.iter().filter_map(|m| m.target.clone()).collect();
        let report = TargetReport {
            metric: Some(tq.metric),
            value: tq.value,
            statistic: tq.statistic,
            seconds: chunks.iter().map(|c| c.seconds).sum(),
            chunks,
        };
        ctx.store.save_section(&ctx.job, &report).await?;
    }
    super::quality::report_quality(ctx, job, &measures, &opts.data_dir).await?;
    phases.push(PartTime {
        part: "assembly".into(),
        seconds: assembly_started.elapsed().as_secs_f64(),
    });
    ctx.store
        .save_section(&ctx.job, &{
            let mut t = job_timings(phases, &measures);
            if let Some(v) = &job.info.video {
                (t.video_seconds, t.height) = (v.duration_seconds, v.height);
            }
            t
        })
        .await?;
    if !(ctx.store)
        .advance_job_state(&ctx.job, JobState::Done, None)
        .await?
    {
        // Cancelled while assembling: the output stays, the job as the user left it.
        return Ok(JobOutcome::Cancelled);
    }
    let output = job.output.display().to_string();
    ctx.send(ProgressEvent::Done {
        job: ctx.job.clone(),
        output: opts.output_link.clone().unwrap_or_else(|| output.clone()),
    });
    if !opts.keep_chunks {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(JobOutcome::Done {
        output,
        frames: assembled.video_packets,
        chunks: counts.chunks,
        resumed: counts.resumed,
    })
}

/// The `timings` section: the run's phases, and the chunks' parts summed in the order first met.
fn job_timings(phases: Vec<PartTime>, measures: &[ChunkMeasures]) -> JobTimings {
    let mut parts: Vec<PartTime> = Vec::new();
    for t in measures.iter().flat_map(|m| &m.timings) {
        match parts.iter_mut().find(|p| p.part == t.part) {
            Some(p) => p.seconds += t.seconds,
            None => parts.push(t.clone()),
        }
    }
    JobTimings {
        phases,
        chunk_parts: parts,
        chunks: measures.iter().filter(|m| !m.timings.is_empty()).count() as u64,
        ..JobTimings::default()
    }
}
