//! The job report's sections written by the pipeline: scenes (with thumbnails and chapters), the
//! detected tracks, and the auto-edit cut list (decided once, so a resumed job cuts the same frames).

use super::analyse::Analysis;
use super::context::{blocking, JobError};
use super::layout::scene_dir;
use super::scenes;
use crate::edit::measure::AutoEditError;
use crate::edit::timeline::Timeline;
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

/// The job's cut list: decided once from the analysis pass and the audio levels, then stored, so a
/// resumed job cuts exactly the same frames. `Invalid` when nothing would be left.
pub async fn plan_auto_edit(
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
    let cut = match store.section::<AutoEditReport>(job).await? {
        Some(r) => r.cut_list,
        None => {
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
            let cut = blocking(move || {
                crate::edit::measure::cut_list_from(&input, &info, &frames, &params)
            })
            .await?
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
            store.save_section(job, &report).await?;
            report.cut_list
        }
    };
    Ok(Timeline::new(&cut, first_pts, tb))
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
