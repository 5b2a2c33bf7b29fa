//! The commands that measure or convert without rendering a job: `probe`, `scenes`, `cutlist`,
//! `upscale` (one picture), `interpolate`, `detect` and `compare`.

use super::args::{CompareArgs, CutlistArgs, DetectArgs, InterpolateArgs, ScenesArgs, UpscaleArgs};
use super::error::{CliError, CliResult};
use crate::edit::{ExportFormat, ExportOptions};
use crate::media::probe;
use crate::store::Store;
use std::path::{Path, PathBuf};

pub fn cmd_probe(input: &Path) -> CliResult<u8> {
    let p = probe::probe(input, true)?;
    println!("{}", serde_json::to_string_pretty(&p.info)?);
    Ok(0)
}

/// The cut list format of each path, by its extension.
pub fn cut_list_formats(paths: &[PathBuf]) -> CliResult<Vec<(PathBuf, ExportFormat)>> {
    paths
        .iter()
        .map(|p| {
            ExportFormat::from_path(p)
                .map(|f| (p.clone(), f))
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "{}: unknown cut list format (use .edl, .fcpxml or .otio)",
                        p.display()
                    ))
                })
        })
        .collect()
}

/// Writes a rendered job's cut list (from its report) in each format asked for.
pub async fn write_cut_lists(
    store: &Store,
    job: &str,
    formats: &[(PathBuf, ExportFormat)],
) -> CliResult<()> {
    let report = crate::pipeline::job::job_cut(store, job)
        .await?
        .ok_or_else(|| CliError::Missing("the job has no cut list".into()))?;
    for (path, format) in formats {
        let text = format.write(&report.cut_list, &ExportOptions::default())?;
        std::fs::write(path, text).map_err(CliError::io(format!("writing {}", path.display())))?;
    }
    Ok(())
}

pub fn cmd_cutlist(a: CutlistArgs) -> CliResult<u8> {
    use crate::edit::measure::AutoEditError;
    a.settings
        .validate()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let formats = cut_list_formats(&a.output)?;
    let list = match crate::edit::measure::cut_list(&a.input, &a.settings) {
        Ok(l) => l,
        Err(AutoEditError::Media(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    for (path, format) in &formats {
        let text = format.write(&list, &ExportOptions::default())?;
        std::fs::write(path, text).map_err(CliError::io(format!("writing {}", path.display())))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        let fps = list.source.rate.fps();
        println!(
            "kept {} of {} frames in {} segments",
            list.kept_frames(),
            list.source.duration_frames,
            list.kept.len()
        );
        for s in &list.kept {
            println!(
                "  keep {:>7}-{:<7} {:.3}s-{:.3}s",
                s.start,
                s.end,
                s.start as f64 / fps,
                s.end as f64 / fps
            );
        }
    }
    Ok(0)
}

pub fn cmd_scenes(a: ScenesArgs) -> CliResult<u8> {
    a.settings
        .validate()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let workers = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let report = crate::pipeline::analyse::scenes_of_file(&a.input, a.settings, 4.0, workers)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    println!(
        "{} scenes in {} frames ({} cuts, {} dissolves, {} fades)",
        report.scenes.len(),
        report.frames,
        report.cuts,
        report.dissolves,
        report.fades
    );
    for sc in &report.scenes {
        let how = sc
            .transition
            .map(|t| format!("{t:?}").to_lowercase())
            .unwrap_or_else(|| "start".into());
        let span = format!("{:.3}s-{:.3}s", sc.start_seconds, sc.end_seconds);
        println!(
            "{:>4}  frames {:>6}-{:<6}  {span:<22}  {how}",
            sc.index + 1,
            sc.start_frame,
            sc.end_frame.saturating_sub(1),
        );
    }
    Ok(0)
}

/// `kino-node upscale`: one picture through a super-resolution network.
pub fn cmd_upscale(a: UpscaleArgs) -> CliResult<u8> {
    use crate::media::still;
    use crate::models::{sr::SrNet, tile::Tiling, Config};
    if a.factor != 2 && a.factor != 4 {
        return Err(CliError::Usage(format!(
            "--factor must be 2 or 4, got {}",
            a.factor
        )));
    }
    crate::media::init();
    let pic = still::read_rgb(&a.input)?;
    let cfg = Config::from_env()?;
    // `auto` decides on the picture itself.
    let frame = kino_shared::preview::rgba_to_frame(
        &pic.data
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect::<Vec<u8>>(),
        pic.width,
        pic.height,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let drawn =
        kino_shared::kernels::content::is_drawn(&[kino_shared::kernels::content::measure(&frame)]);
    let model = a.model.resolve(drawn);
    if a.model == kino_shared::SrModel::Auto {
        eprintln!("model=auto: {}", model.name());
    }
    let mut net = SrNet::open(&cfg, model, a.factor, a.threads, a.tile)?;
    if let Some(c) = a.context {
        net.tiling.context = c;
        net.whole_up_to = 0;
    }
    if a.untiled {
        net.tiling = Tiling::whole(pic.width, pic.height);
    }
    let mut result = None;
    for _ in 0..a.repeat.unwrap_or(1).max(1) {
        let t = std::time::Instant::now();
        result = Some(net.upscale_rgb8(pic.width, pic.height, &pic.data)?);
        if a.repeat.is_some() {
            println!("{:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let Some((width, height, data)) = result else {
        return Ok(1);
    };
    let out = still::Rgb8 {
        width,
        height,
        data,
    };
    // quality ×2: the ×4 network, then a box downscale.
    let out = if net.scale != a.factor {
        out.shrink(net.scale / a.factor)
    } else {
        out
    };
    still::write_png(&a.output, &out)?;
    Ok(0)
}

/// `kino-node interpolate`: the picture between two frames.
pub fn cmd_interpolate(a: InterpolateArgs) -> CliResult<u8> {
    use crate::media::still;
    use crate::models::{interp::RifeNet, Config};
    if !(0.0..=1.0).contains(&a.time) {
        return Err(CliError::Usage(format!(
            "--time must be within 0…1, got {}",
            a.time
        )));
    }
    crate::media::init();
    let (first, second) = (still::read_rgb(&a.first)?, still::read_rgb(&a.second)?);
    if (first.width, first.height) != (second.width, second.height) {
        return Err(CliError::Usage(format!(
            "the frames differ in size: {}x{} and {}x{}",
            first.width, first.height, second.width, second.height
        )));
    }
    let (w, h) = (first.width, first.height);
    let mut net = RifeNet::open(&Config::from_env()?, w, h, a.threads)?;
    let mut result = None;
    for _ in 0..a.repeat.unwrap_or(1).max(1) {
        let t = std::time::Instant::now();
        result = Some(net.interpolate_rgb8(w, h, &first.data, &second.data, a.time)?);
        if a.repeat.is_some() {
            println!("{:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let Some(data) = result else {
        return Ok(1);
    };
    still::write_png(
        &a.output,
        &still::Rgb8 {
            width: w,
            height: h,
            data,
        },
    )?;
    Ok(0)
}

/// Writes tracks as JSON and/or MOT CSV.
pub fn write_tracks(
    report: &crate::detect::mot::TracksReport,
    json: Option<&Path>,
    mot: Option<&Path>,
) -> CliResult<()> {
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_vec_pretty(report)?)
            .map_err(CliError::io(format!("writing {}", path.display())))?;
    }
    if let Some(path) = mot {
        std::fs::write(path, report.to_mot())
            .map_err(CliError::io(format!("writing {}", path.display())))?;
    }
    Ok(())
}

/// `kino-node detect`: tracks of a file, without rendering.
pub fn cmd_detect(a: DetectArgs) -> CliResult<u8> {
    a.settings
        .validate()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    crate::detect::check_models(&a.settings)
        .map_err(|e| CliError::Usage(format!("detect: {e}")))?;
    crate::media::init();
    let workers = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let report =
        crate::pipeline::analyse::tracks_of_file(&a.input, &a.settings, a.chunk_seconds, workers)?;
    write_tracks(&report, a.tracks.as_deref(), a.mot.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    let boxes: usize = report.tracks.iter().map(|t| t.frames.len()).sum();
    println!(
        "{} tracks, {boxes} boxes in {} frames (detection on every {})",
        report.tracks.len(),
        report.frames,
        report.every
    );
    for t in &report.tracks {
        let (first, last) = (
            t.frames.first().map(|b| b.frame).unwrap_or(0),
            t.frames.last().map(|b| b.frame).unwrap_or(0),
        );
        println!(
            "{:>5}  {:<14} frames {first:>6}-{last:<6} {} detections",
            t.id,
            t.class,
            t.frames.len()
        );
    }
    Ok(0)
}

pub fn cmd_compare(a: CompareArgs) -> CliResult<u8> {
    use crate::media::compare::{compare, CompareOptions};
    crate::media::init();
    let opts = CompareOptions {
        every: a.every,
        ssimulacra2: !a.no_ssimulacra2,
        ..Default::default()
    };
    let c = compare(&a.reference, &a.distorted, &opts)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(0);
    }
    let s = &c.summary;
    let db = |v: Option<f64>| v.map_or("inf".to_owned(), |v| format!("{v:.4}"));
    let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.6}"));
    let sampled = if c.every > 1 {
        format!(", every {}", c.every)
    } else {
        String::new()
    };
    println!(
        "compared: {} ({} frames{sampled}; {} without a reference frame at their time)",
        c.compared, s.frames, c.unmatched
    );
    println!(
        "PSNR y:{} u:{} v:{} average:{}",
        db(s.psnr_y),
        db(s.psnr_u),
        db(s.psnr_v),
        db(s.psnr)
    );
    println!("SSIM Y:{} All:{}", opt(s.ssim_y), opt(s.ssim));
    if let Some(mean) = s.ssimulacra2_mean {
        println!(
            "SSIMULACRA2 mean:{mean:.4} p5:{} min:{}",
            opt(s.ssimulacra2_p5),
            opt(s.ssimulacra2_min)
        );
    }
    Ok(0)
}
