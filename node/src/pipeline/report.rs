//! The job report's sections written by the pipeline: scenes (with thumbnails and chapters), the
//! detected tracks, and the auto-edit cut list (decided once, so a resumed job cuts the same frames).

use super::analyse::Analysis;
use super::context::{blocking, JobError};
use super::layout::scene_dir;
use super::planning::FrameSpan;
use super::scenes;
use crate::edit::measure::{self, AutoEditError};
use crate::edit::timeline::Timeline;
use crate::edit::trim;
use crate::edit::{CutList, FrameMeasure};
use crate::media::{self, assemble, MediaError};
use crate::store::{ReportSection, Store};
use kino_shared::SpecError;
use std::path::{Path, PathBuf};

/// What the job report says about auto-edit (section `auto_edit`): the cut list and its totals.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AutoEditReport {
    pub kept_frames: u64,
    pub removed_frames: u64,
    pub kept_seconds: f64,
    pub removed_seconds: f64,
    pub cut_list: CutList,
}

impl ReportSection for AutoEditReport {
    const NAME: &'static str = "auto_edit";
}

impl ReportSection for scenes::SceneReport {
    const NAME: &'static str = "scenes";
}

/// The cut list of a job that trims without auto-edit (section `trim`), shaped as auto-edit's.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TrimReport(pub AutoEditReport);

impl ReportSection for TrimReport {
    const NAME: &'static str = "trim";
}

impl AutoEditReport {
    fn of(cut: CutList) -> AutoEditReport {
        let fps = cut.source.rate.fps();
        let (total, kept) = (cut.source.duration_frames, cut.kept_frames());
        AutoEditReport {
            kept_frames: kept,
            removed_frames: total - kept,
            kept_seconds: kept as f64 / fps,
            removed_seconds: (total - kept) as f64 / fps,
            cut_list: cut,
        }
    }
}

/// A job's cut list (auto-edit's, or the trim's), once it has been decided.
pub async fn job_cut(store: &Store, job: &str) -> Result<Option<AutoEditReport>, JobError> {
    Ok(match store.section::<AutoEditReport>(job).await? {
        Some(r) => Some(r),
        None => store.section::<TrimReport>(job).await?.map(|t| t.0),
    })
}

/// The job's cut, if it cuts (auto-edit, trim or both): decided once — from the analysis pass and
/// the audio levels for auto-edit, from the index for a trim — then stored, so a resumed job (or
/// another farm node) cuts exactly the same frames. `Invalid` when nothing would be left.
pub async fn plan_cut(
    store: &Store,
    job: &str,
    spec: &kino_shared::JobSpec,
    a: Option<&Analysis>,
    info: &kino_shared::MediaInfo,
    input: &Path,
) -> Result<Option<Timeline>, JobError> {
    let video = info
        .video
        .as_ref()
        .ok_or_else(|| MediaError::NoVideo(input.display().to_string()))?;
    let tb = (video.time_base[0], video.time_base[1]);
    let (cut, first_pts) = match (&spec.auto_edit, a) {
        (Some(params), Some(a)) => {
            let first_pts = a.pts.first().copied().unwrap_or(0);
            let cut = match store.section::<AutoEditReport>(job).await? {
                Some(r) => r.cut_list,
                None => {
                    let cut = auto_edit_cut(params, a, info, input, tb).await?;
                    let cut = trim::apply(cut, &spec.keep);
                    check_kept(&cut, spec)?;
                    store
                        .save_section(job, &AutoEditReport::of(cut.clone()))
                        .await?;
                    cut
                }
            };
            (cut, first_pts)
        }
        (Some(_), None) => return Err(JobError::Internal("auto-edit without its analysis".into())),
        (None, _) if spec.keep.is_empty() => return Ok(None),
        (None, _) => {
            let span = store.section::<FrameSpan>(job).await?.ok_or_else(|| {
                JobError::Internal("a trim planned without its frame span".into())
            })?;
            let cut = match store.section::<TrimReport>(job).await? {
                Some(r) => r.0.cut_list,
                None => {
                    let source = measure::source_media(input, info, span.frames)?;
                    let cut = trim::apply(trim::whole(source), &spec.keep);
                    check_kept(&cut, spec)?;
                    store
                        .save_section(job, &TrimReport(AutoEditReport::of(cut.clone())))
                        .await?;
                    cut
                }
            };
            (cut, span.first_pts)
        }
    };
    Ok(Some(Timeline::new(&cut, first_pts, tb)))
}

/// Auto-edit's cut list from the analysis pass's frame measures and the audio levels.
async fn auto_edit_cut(
    params: &kino_shared::AutoEditParams,
    a: &Analysis,
    info: &kino_shared::MediaInfo,
    input: &Path,
    tb: (i32, i32),
) -> Result<CutList, JobError> {
    let seconds = tb.0 as f64 / tb.1.max(1) as f64;
    let frames: Vec<FrameMeasure> = a
        .edit
        .iter()
        .map(|&(pts, [black_ratio, diff])| FrameMeasure {
            pts: pts as f64 * seconds,
            black_ratio,
            diff,
        })
        .collect();
    let (input, info, params) = (input.to_owned(), info.clone(), *params);
    blocking(move || measure::cut_list_from(&input, &info, &frames, &params))
        .await?
        .map_err(|e| match e {
            AutoEditError::Media(m) => JobError::Media(m),
            other => SpecError::new("auto_edit", other.to_string()).into(),
        })
}

/// A cut that keeps no frame is refused, naming what removed them.
fn check_kept(cut: &CutList, spec: &kino_shared::JobSpec) -> Result<(), JobError> {
    if !cut.kept.is_empty() {
        return Ok(());
    }
    let seconds = cut.source.duration_frames as f64 / cut.source.rate.fps();
    let message = if spec.auto_edit.is_some() && spec.keep.is_empty() {
        "auto-edit would cut every frame (all black, frozen or silent under these thresholds)"
            .to_owned()
    } else if spec.auto_edit.is_some() {
        format!("the kept ranges and auto-edit together keep no frame of the video ({seconds:.3} s long)")
    } else {
        format!("the kept ranges keep no frame of the video ({seconds:.3} s long)")
    };
    let field = if spec.keep.is_empty() {
        "auto_edit"
    } else {
        "keep"
    };
    Err(SpecError::new(field, message).into())
}

/// Stores the scene list (with thumbnails) in the report and returns the chapters to write.
pub async fn report_scenes(
    store: &Store,
    job: &str,
    data_dir: &Path,
    p: &kino_shared::SceneParams,
    a: &Analysis,
    video: &kino_shared::VideoInfo,
    input: &Path,
) -> Result<Vec<assemble::Chapter>, JobError> {
    let mut report = scenes::scene_report(&a.pts, &a.transitions, video);
    if p.thumbnails {
        let dir = scene_dir(data_dir, job);
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
        blocking(move || media::thumbnail::write_thumbnails(&input, &picks, THUMBNAIL_WIDTH))
            .await??;
    }
    store.save_section(job, &report).await?;
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

/// Stores the tracks of the job's `detect` stage (`every`: its detection interval).
pub async fn report_tracks(
    store: &Store,
    job: &str,
    a: &Analysis,
    video: &kino_shared::VideoInfo,
    every: u32,
) -> Result<(), JobError> {
    let report = crate::detect::mot::TracksReport::new(
        &a.tracks,
        (video.width, video.height),
        video.fps,
        a.pts.len() as u64,
        every,
    );
    Ok(store.save_section(job, &report).await?)
}
