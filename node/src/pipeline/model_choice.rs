//! `scale:model=auto`: which network the job runs, decided once from frames spread over the input
//! (drawn pictures get `fast`, filmed ones `span`; see `kino_shared::kernels::content`) and kept in
//! the report, so every chunk, a resumed run and every node of a farm use the same one.

use super::context::{blocking, JobCtx, JobError};
use crate::media::convert::ToFrame;
use crate::media::decode::FrameSource;
use crate::media::{probe, MediaError};
use crate::store::ReportSection;
use kino_shared::kernels::content::{self, ContentMeasure};
use kino_shared::{has_auto_model, resolve_auto_model, JobSpec, SrModel};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Keyframes measured (spread evenly over the input).
const SAMPLES: usize = 6;

/// The network `auto` chose and what it saw (`GET /api/jobs/{id}/report` → `model_choice`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelChoice {
    pub model: SrModel,
    /// Whether the input looked drawn (animation, cartoons, screen content).
    pub drawn: bool,
    /// The measures averaged over the sampled frames, and how many there were.
    pub measured: ContentMeasure,
    pub frames: usize,
}

impl ReportSection for ModelChoice {
    const NAME: &'static str = "model_choice";
}

/// Replaces `model=auto` in `spec` by the job's choice: the stored one, else measured now and
/// stored. Announces a new choice as a warning-level note, so the user sees it beside the job.
pub async fn resolve(ctx: &JobCtx, spec: &mut JobSpec, input: &Path) -> Result<(), JobError> {
    if !has_auto_model(&spec.stages) {
        return Ok(());
    }
    let choice = match ctx.store.section::<ModelChoice>(&ctx.job).await? {
        Some(c) => c,
        None => {
            let path = input.to_owned();
            let measures = blocking(move || measure_input(&path)).await??;
            let choice = choose(&measures);
            ctx.store.save_section(&ctx.job, &choice).await?;
            ctx.warn(format!(
                "scale: model=auto runs '{}': the input looks {} (flat share {:.2}, 16-colour share {:.2} over {} frames)",
                choice.model.name(),
                if choice.drawn { "drawn (animation)" } else { "filmed" },
                choice.measured.flat,
                choice.measured.palette,
                choice.frames,
            ));
            choice
        }
    };
    resolve_auto_model(&mut spec.stages, choice.drawn);
    Ok(())
}

/// As [`resolve`], for a node that renders chunks of a job another node planned: the choice must
/// be stored (it is saved before the plan).
pub async fn stored(ctx: &JobCtx, spec: &mut JobSpec) -> Result<(), JobError> {
    if !has_auto_model(&spec.stages) {
        return Ok(());
    }
    match ctx.store.section::<ModelChoice>(&ctx.job).await? {
        Some(c) => {
            resolve_auto_model(&mut spec.stages, c.drawn);
            Ok(())
        }
        None => Err(JobError::Internal(
            "the job's model=auto choice is not stored yet".into(),
        )),
    }
}

/// The choice for frames with these measures.
pub fn choose(measures: &[ContentMeasure]) -> ModelChoice {
    let drawn = content::is_drawn(measures);
    ModelChoice {
        model: SrModel::Auto.resolve(drawn),
        drawn,
        measured: content::mean(measures),
        frames: measures.len(),
    }
}

/// Measures the first frame at each of up to [`SAMPLES`] keyframes spread over the input.
pub fn measure_input(path: &Path) -> Result<Vec<ContentMeasure>, MediaError> {
    let index = probe::probe(path, true)?.index;
    let keys: Vec<i64> = index
        .frames
        .iter()
        .filter(|f| f.key)
        .map(|f| f.pts)
        .collect();
    let picks: Vec<i64> = match keys.len() {
        0 => vec![i64::MIN],
        n if n <= SAMPLES => keys,
        n => (0..SAMPLES).map(|i| keys[i * n / SAMPLES]).collect(),
    };
    let mut out = Vec::with_capacity(picks.len());
    let mut convert = ToFrame::default();
    for pts in picks {
        let mut source = FrameSource::open(path, pts, 1)?;
        while let Some((p, f)) = source.next_frame()? {
            if p >= pts {
                out.push(content::measure(&convert.convert(&f)?));
                break;
            }
        }
    }
    Ok(out)
}
