//! The analysis pass: the chunks not analysed yet are analysed in parallel (scene signatures,
//! motion, detections, edit statistics, as the stages need), each chunk's records stored as it
//! finishes, then every chunk's records merged into one [`Analysis`] of the whole video. Chunks are
//! claimed for a lease, as renders are, so the nodes of a farm share the pass.

use super::analyse::{self, Analysis};
use super::context::{blocking, JobCtx, JobError};
use crate::store::StoreError;
use kino_shared::{JobState, MediaInfo, ProgressEvent};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The job's whole-video analysis, if a stage needs one: runs what is left of the pass, then merges.
pub async fn analysis(
    ctx: &JobCtx,
    needs: analyse::Needs,
    input: &Path,
    info: &MediaInfo,
    claims: &Claims<'_>,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<Arc<Analysis>>, JobError> {
    let Some(records) = analyse_job(ctx, needs, input, claims, cancel).await? else {
        return Ok(None);
    };
    merge(records, needs, info).await
}

/// The job's whole-video analysis from what the store holds, for a node that takes no part in the
/// pass (it does not have the input): every chunk's analysis must be there.
pub async fn stored(
    ctx: &JobCtx,
    needs: analyse::Needs,
    info: &MediaInfo,
) -> Result<Option<Arc<Analysis>>, JobError> {
    if !needs.any() {
        return Ok(None);
    }
    merge(stored_records(ctx).await?, needs, info).await
}

async fn merge(
    records: Vec<analyse::FrameRecord>,
    needs: analyse::Needs,
    info: &MediaInfo,
) -> Result<Option<Arc<Analysis>>, JobError> {
    let (fps, size) = info
        .video
        .as_ref()
        .map(|v| (v.fps, (v.width as usize, v.height as usize)))
        .unwrap_or((25.0, (0, 0)));
    let merged = blocking(move || Analysis::merge(records, needs, fps, size)).await?;
    Ok(Some(Arc::new(merged)))
}

/// Who claims analyses, for how long, with how many workers.
pub struct Claims<'a> {
    pub owner: &'a str,
    pub lease_ms: i64,
    pub workers: usize,
}

/// Runs the analysis pass for the chunks not analysed yet (claimed one at a time by `workers`
/// workers, waiting for the ones other processes hold), then reads back every chunk's records.
/// `None` when no stage needs it.
async fn analyse_job(
    ctx: &JobCtx,
    needs: analyse::Needs,
    input: &Path,
    claims: &Claims<'_>,
    cancel: &Arc<AtomicBool>,
) -> Result<Option<Vec<analyse::FrameRecord>>, JobError> {
    if !needs.any() {
        return Ok(None);
    }
    let (store, job) = (&ctx.store, ctx.job.as_str());
    ctx.set_state(JobState::Analysing).await?;
    let all = store.chunks(job).await?;
    let total = all.len() as u32;
    let plans: Vec<_> = all.iter().map(|c| c.plan.clone()).collect();
    let first_frames = super::plan::first_frames(&plans);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = (cores / claims.workers.max(1)).max(1);
    let worker = || async {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Ok::<(), JobError>(());
            }
            let Some(index) = store
                .claim_analysis(job, claims.owner, claims.lease_ms)
                .await?
            else {
                let analysed = store.analyses(job).await?.len() as u32;
                if analysed >= total {
                    return Ok(());
                }
                // Held elsewhere: finished there, or claimable again when its lease runs out.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                continue;
            };
            let Some(plan) = plans.get(index as usize).cloned() else {
                return Err(JobError::Internal(format!("no chunk {index} in the plan")));
            };
            let first = first_frames.get(index as usize).copied().unwrap_or(0);
            let (input, flag) = (input.to_owned(), cancel.clone());
            let records = blocking(move || {
                analyse::analyse_chunk(&input, &plan, needs, first, threads, &flag)
            })
            .await??;
            if cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            let data =
                serde_json::to_string(&records).map_err(|e| JobError::Internal(e.to_string()))?;
            store.save_analysis(job, index, &data, claims.owner).await?;
            let done = store.analyses(job).await?.len() as u32;
            ctx.send(ProgressEvent::Analysed {
                job: job.into(),
                chunk: index,
                done,
                total,
            });
        }
    };
    futures_util::future::try_join_all((0..claims.workers.max(1)).map(|_| worker())).await?;
    if cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    Ok(Some(stored_records(ctx).await?))
}

/// Every chunk's analysis records as stored, in chunk order.
async fn stored_records(ctx: &JobCtx) -> Result<Vec<analyse::FrameRecord>, JobError> {
    let mut records = Vec::new();
    for (index, data) in ctx.store.analyses(&ctx.job).await? {
        let mut r: Vec<analyse::FrameRecord> = serde_json::from_str(&data).map_err(|e| {
            JobError::Store(StoreError::Corrupt(format!(
                "analysis of chunk {index}: {e}"
            )))
        })?;
        records.append(&mut r);
    }
    Ok(records)
}
