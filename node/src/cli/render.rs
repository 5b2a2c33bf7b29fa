//! `kino-node render`: one job through the same service the node runs (admission, the store, the
//! pipeline), on this process, with a progress bar; run again with the same arguments to resume.

use super::args::RenderArgs;
use super::error::{CliError, CliResult};
use super::serve::open_store;
use super::tools::{cut_list_formats, write_cut_lists, write_tracks};
use crate::media::MediaError;
use crate::pipeline::{run_job, JobOptions, JobOutcome};
use crate::service;
use crate::store::Store;
use indicatif::{ProgressBar, ProgressStyle};
use kino_shared::{
    Container, JobSpec, OutputSpec, ProgressEvent, StageSpec, TargetQuality, TargetStatistic,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub async fn cmd_render(a: RenderArgs) -> CliResult<u8> {
    let input = std::path::absolute(&a.input)
        .map_err(CliError::io(format!("input path {}", a.input.display())))?;
    let output = std::path::absolute(&a.output)
        .map_err(CliError::io(format!("output path {}", a.output.display())))?;
    let mut audio_stages = a.audio_stages;
    crate::media::audio::absolute_tracks(&mut audio_stages)?;
    let spec = JobSpec {
        input: input.display().to_string(),
        stages: a.stages,
        audio_stages,
        scenes: a.scenes,
        auto_edit: a.auto_edit,
        keep: a.trim.clone(),
        analyse_only: false,
        output: OutputSpec {
            codec: a.codec,
            crf: a.crf,
            preset: a.preset,
            audio: a.audio,
            container: output
                .extension()
                .and_then(|e| e.to_str())
                .and_then(Container::from_extension)
                .ok_or_else(|| MediaError::Output {
                    path: output.display().to_string(),
                    reason: "unsupported output extension (use .mp4, .m4v, .mov, .mkv or .webm)"
                        .into(),
                })?,
            quality: a.quality == "on",
            target_quality: a.target_quality.map(|t| TargetQuality {
                statistic: if a.target_statistic == "mean" {
                    TargetStatistic::Mean
                } else {
                    TargetStatistic::P5
                },
                crf_min: a.target_crf.map(|r| r.0),
                crf_max: a.target_crf.map(|r| r.1),
                ..t
            }),
        },
        chunk_seconds: a.chunk_seconds,
    };
    let cut_formats = cut_list_formats(&a.cut_list)?;
    if (a.tracks.is_some() || a.mot.is_some())
        && !spec
            .stages
            .iter()
            .any(|s| matches!(s, StageSpec::Detect(_)))
    {
        return Err(CliError::Usage(
            "--tracks and --mot need a detect stage (--stage detect)".into(),
        ));
    }
    if !cut_formats.is_empty() && spec.cut_name().is_none() {
        return Err(CliError::Usage(
            "--cut-list needs --auto-edit or --trim".into(),
        ));
    }
    // Fail fast on bad parameters and input, before anything is stored: the checks HTTP jobs get.
    let admitted = service::admit(spec, input.clone(), output.clone()).await?;
    let spec = admitted.spec.clone();
    if output
        .parent()
        .is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir())
    {
        return Err(MediaError::Output {
            path: output.display().to_string(),
            reason: "its folder does not exist".into(),
        }
        .into());
    }

    let (data_dir, store) = open_store(a.data_dir).await?;
    let key = service::jobs::job_key(&input, &spec, &output)?;
    let (tx, rx) = tokio::sync::broadcast::channel(4096);
    let job_id = match store.find_resumable(&key).await? {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            service::jobs::submit(&store, &tx, &admitted, &id, Some(&key)).await?;
            id
        }
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let opts = JobOptions {
        workers: a.jobs.unwrap_or(cores).max(1),
        memory_bytes: a.max_memory_mb * 1024 * 1024,
        lease_ms: 30_000,
        max_attempts: a.max_attempts.max(1),
        keep_chunks: a.keep_chunks,
        data_dir: data_dir.clone(),
        slots: None,
        output_link: None,
        node: String::new(),
        drain: None,
        storage: None,
    };

    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let printer = tokio::spawn(show_progress(rx, a.events));
    let outcome = run_job(&store, &job_id, &opts, tx, cancel).await;
    let _ = printer.await;
    match outcome? {
        JobOutcome::Done {
            output,
            frames,
            chunks,
            resumed,
        } => {
            eprintln!("kino-node: wrote {output} ({frames} frames, {chunks} chunks, {resumed} resumed from an earlier run)");
            if let Some(path) = &a.report {
                write_report(&store, &job_id, path, &data_dir).await?;
            }
            if !cut_formats.is_empty() {
                write_cut_lists(&store, &job_id, &cut_formats).await?;
            }
            if a.tracks.is_some() || a.mot.is_some() {
                let report = store
                    .section::<crate::detect::mot::TracksReport>(&job_id)
                    .await?
                    .ok_or_else(|| {
                        CliError::Missing("the job has no tracks (it needs a detect stage)".into())
                    })?;
                write_tracks(&report, a.tracks.as_deref(), a.mot.as_deref())?;
            }
            Ok(0)
        }
        JobOutcome::Failed(reason) => {
            eprintln!("kino-node: error: render failed: {reason}");
            Ok(1)
        }
        JobOutcome::Cancelled | JobOutcome::Elsewhere => {
            eprintln!("kino-node: interrupted; run the same command again to resume");
            Ok(130)
        }
    }
}

/// Writes the job's report sections as one JSON object (`{"scenes": …, "audio_sync": …}`), and the
/// scene and quality thumbnails into the folders beside it named like it with `.scenes` and
/// `.quality`.
async fn write_report(store: &Store, job: &str, path: &Path, data_dir: &Path) -> CliResult<()> {
    use crate::pipeline::job::{quality_dir, scene_dir};
    for (thumbs, kind) in [
        (scene_dir(data_dir, job), "scenes"),
        (quality_dir(data_dir, job), "quality"),
    ] {
        if !thumbs.is_dir() {
            continue;
        }
        let folder = path.with_extension(kind);
        std::fs::create_dir_all(&folder)
            .map_err(CliError::io(format!("creating {}", folder.display())))?;
        let what = || format!("reading {}", thumbs.display());
        for entry in std::fs::read_dir(&thumbs).map_err(CliError::io(what()))? {
            let entry = entry.map_err(CliError::io(what()))?;
            std::fs::copy(entry.path(), folder.join(entry.file_name()))
                .map_err(CliError::io(format!("copying {}", entry.path().display())))?;
        }
    }
    let sections: serde_json::Map<String, serde_json::Value> =
        store.report_sections(job).await?.into_iter().collect();
    std::fs::write(path, serde_json::to_vec_pretty(&sections)?).map_err(CliError::io(format!(
        "writing the report {}",
        path.display()
    )))?;
    Ok(())
}

/// Draws the progress bar (or prints JSON lines) until the event stream closes.
async fn show_progress(mut rx: tokio::sync::broadcast::Receiver<ProgressEvent>, json: bool) {
    let bar = ProgressBar::hidden();
    if !json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    let (mut chunks_done, mut chunks_total) = (0u32, 0u32);
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        };
        if json {
            if let Ok(s) = serde_json::to_string(&ev) {
                println!("{s}");
            }
        }
        match &ev {
            ProgressEvent::Planned {
                chunks,
                frames,
                resumed,
                ..
            } => {
                chunks_total = *chunks;
                chunks_done = *resumed;
                bar.set_length(*frames);
            }
            ProgressEvent::ChunkDone { .. } => chunks_done += 1,
            ProgressEvent::Analysed { done, total, .. } => {
                bar.set_message(format!("| analysing: chunks {done}/{total}"));
                bar.tick();
            }
            ProgressEvent::Frames {
                frames_done,
                fps,
                eta_seconds,
                ..
            } => {
                bar.set_position(*frames_done);
                let eta = eta_seconds
                    .map(|s| format!("{:02}:{:02}", (s as u64) / 60, (s as u64) % 60))
                    .unwrap_or_else(|| "--:--".into());
                bar.set_message(format!(
                    "| {fps:.1} fps | chunks {chunks_done}/{chunks_total} | ETA {eta}"
                ));
            }
            ProgressEvent::Warning { message, .. } => bar.println(format!("warning: {message}")),
            ProgressEvent::Note { message, .. } => bar.println(format!("note: {message}")),
            ProgressEvent::Done { .. } | ProgressEvent::Failed { .. } => {
                bar.finish_and_clear();
            }
            _ => {}
        }
    }
    bar.finish_and_clear();
}
