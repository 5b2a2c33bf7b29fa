//! The analysis pass: the chunks not analysed yet are analysed in parallel (scene signatures,
//! motion, detections, edit statistics, as the stages need), each chunk's records stored as it
//! finishes, then every chunk's records merged into one [`Analysis`] of the whole video.

use super::analyse::{self, Analysis};
use super::context::{blocking, JobCtx, JobError};
use crate::store::StoreError;
use kino_shared::{JobState, MediaInfo, ProgressEvent};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The job's whole-video analysis, if a stage needs one: runs what is left of the pass, then merges.
pub async fn analysis(
    ctx: &JobCtx,
    needs: analyse::Needs,
    input: &Path,
    info: &MediaInfo,
    workers: usize,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<Arc<Analysis>>, JobError> {
    let Some(records) = analyse_job(ctx, needs, input, workers, cancel).await? else {
        return Ok(None);
    };
    let (fps, size) = info
        .video
        .as_ref()
        .map(|v| (v.fps, (v.width as usize, v.height as usize)))
        .unwrap_or((25.0, (0, 0)));
    let merged = blocking(move || Analysis::merge(records, needs, fps, size)).await?;
    Ok(Some(Arc::new(merged)))
}

/// Runs the analysis pass for the chunks not analysed yet (in parallel), then reads back every
/// chunk's records. `None` when no stage needs it.
async fn analyse_job(
    ctx: &JobCtx,
    needs: analyse::Needs,
    input: &Path,
    workers: usize,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<Vec<analyse::FrameRecord>>, JobError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    if !needs.any() {
        return Ok(None);
    }
    let (store, job) = (&ctx.store, ctx.job.as_str());
    ctx.set_state(JobState::Analysing).await?;
    let done: std::collections::HashSet<u32> = store
        .analyses(job)
        .await?
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let all = store.chunks(job).await?;
    let total = all.len() as u32;
    let plans: Vec<_> = all.iter().map(|c| c.plan.clone()).collect();
    let first_frames = super::plan::first_frames(&plans);
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
                let records = blocking(move || {
                    analyse::analyse_chunk(&input, &plan, needs, first, threads, &flag)
                })
                .await??;
                if cancel.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let data = serde_json::to_string(&records)
                    .map_err(|e| JobError::Internal(e.to_string()))?;
                store.save_analysis(job, index, &data).await?;
                let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
                ctx.send(ProgressEvent::Analysed {
                    job: job.into(),
                    chunk: index,
                    done: n as u32,
                    total,
                });
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
