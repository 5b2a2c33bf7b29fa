//! A job's render phase on a node that does not have its input (a farm without shared storage).
//! The node that has the file admits, plans, analyses and assembles; this one joins once the job
//! is rendering, with what the store holds (plan, input layout, analysis, cut list), and renders
//! chunks from a local copy of their byte ranges, sending each file back.

use super::analyse::Needs;
use super::analysis_pass;
use super::context::{JobCtx, JobError, JobOutcome};
use super::job::{left_to_others, resources, JobOptions};
use super::model_choice;
use super::remote::RemoteInput;
use super::report;
use super::worker::{self, RenderPlan, Rendered};
use crate::media;
use crate::store::{owner_id, Store};
use kino_shared::{ChunkState, ProgressEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Where a node keeps its copies of other nodes' inputs, and the chunks it renders from them.
pub fn remote_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("remote")
}

/// Renders what is left of `job` from `input` until every chunk is done (the node with the input
/// then assembles), the job fails or is cancelled, or this node is barred from it.
pub async fn run_remote(
    store: &Store,
    job: &str,
    opts: &JobOptions,
    input: RemoteInput,
    events: broadcast::Sender<ProgressEvent>,
    cancel: Arc<AtomicBool>,
) -> Result<JobOutcome, JobError> {
    media::init();
    let ctx = JobCtx::new(store, job, events);
    let mut spec = store.job(job).await?.spec;
    model_choice::stored(&ctx, &mut spec).await?;
    let layout = input.layout().clone();
    let owner = owner_id(&opts.node);
    let _renewal = worker::spawn_lease_renewal(&ctx, &owner, opts.lease_ms, cancel.clone());
    let analysis = analysis_pass::stored(&ctx, Needs::of(&spec), &layout.info).await?;
    if spec.analyse_only {
        // The planning node ends it once the analysis is in; there is nothing to render.
        return Ok(JobOutcome::Elsewhere);
    }
    let a = analysis.as_deref();
    let timeline = report::plan_cut(store, job, &spec, a, &layout.info, input.path())
        .await?
        .map(Arc::new);
    let chunks = store.chunks(job).await?;
    let done = || chunks.iter().filter(|c| c.state == ChunkState::Done);
    let left = chunks.len() - done().count();
    let dir = remote_dir(&opts.data_dir).join(job).join("chunks");
    std::fs::create_dir_all(&dir).map_err(media::MediaError::io(dir.display().to_string()))?;
    let plan = RenderPlan {
        opts: opts.clone(),
        res: resources(&spec, &layout.info, opts, left),
        spec: spec.clone(),
        analysis,
        timeline,
        deinterlace: layout.deinterlace,
        clock: super::planning::planned_clock(store, job, &spec).await?,
        input: input.path().to_owned(),
        dir,
        frames_before: done().map(|c| c.plan.frames).sum(),
        frames_total: chunks.iter().map(|c| c.plan.frames).sum(),
        remote: Some(Arc::new(input)),
    };
    let rendered = worker::render_pending(&ctx, &owner, plan, cancel.clone()).await?;
    Ok(match rendered {
        Rendered::All => JobOutcome::Elsewhere,
        Rendered::Cancelled if cancel.load(Ordering::Relaxed) => JobOutcome::Cancelled,
        Rendered::Cancelled => JobOutcome::Elsewhere,
        Rendered::Failed(reason) => return ctx.fail(reason).await,
        Rendered::Barred => return left_to_others(&ctx, opts).await,
    })
}
