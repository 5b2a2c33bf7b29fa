//! Target-quality encoding of one chunk (as Av1an does it): probe encodes of a few evenly sampled
//! frames search the highest CRF whose frames meet the target against the frames before encoding,
//! then the chunk is encoded at that CRF and measured again, every frame (or every n-th when
//! SSIMULACRA2 of all would cost too much); while the encode misses the target (a whole chunk has
//! B-frames a probe of spaced frames has not), the CRF steps down. Probes are saved as they finish
//! so a render interrupted after some does not redo them.

use super::convert::to_frame;
use super::decode::FrameSource;
use super::encode::{ChunkWriter, VideoTarget};
use super::spool::Spool;
use super::{quality, MediaError, Result};
use kino_shared::{
    Frame, OutputSpec, TargetChunk, TargetMetric, TargetProbe, TargetQuality, TargetStatistic,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The after-the-fact measurement scores every frame up to this many pixels per chunk for
/// SSIMULACRA2 (about 1.5 µs a pixel), every n-th beyond.
const MEASURE_PIXELS: f64 = 40e6;
/// Encodes of the whole chunk at lower CRFs when the measurement misses the target.
const RETRIES: u8 = 3;

/// Encodes the spooled chunk into `out` at the CRF that meets `tq`; finished probes are kept in
/// `probes_file` (named by the chunk, not its lease, so a later render of it finds them).
pub fn encode_to_target(
    spool: &Spool,
    out: &Path,
    probes_file: &Path,
    spec: &OutputSpec,
    target: &VideoTarget,
    tq: &TargetQuality,
    index: u32,
) -> Result<TargetChunk> {
    let started = Instant::now();
    let n = spool.frames();
    let picks = (tq.probe_frames as usize).clamp(1, n.max(1));
    // Evenly spaced, centred in their stretch.
    let sampled: Vec<usize> = (0..picks).map(|k| (2 * k + 1) * n / (2 * picks)).collect();
    let known: Vec<TargetProbe> = std::fs::read(probes_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut result = TargetChunk {
        index,
        ..Default::default()
    };
    let (lo, hi) = tq.crf_range(spec.codec);
    let meets = |score: f64| score >= tq.value;
    let probe = |crf: u8, result: &mut TargetChunk| -> Result<f64> {
        if let Some(p) = known.iter().find(|p| p.crf == crf) {
            result.resumed_probes += 1;
            result.probes.push(p.clone());
            return Ok(p.score);
        }
        let t = Instant::now();
        let file = sidecar(out, &format!("probe{crf}.mp4"));
        encode(spool, &file, spec, crf, target, |i| {
            sampled.binary_search(&i).is_ok()
        })?;
        let scores = score(spool, &file, tq.metric, false, |i| {
            sampled.binary_search(&i).is_ok()
        });
        let _ = std::fs::remove_file(&file);
        let s = statistic(&scores?, tq.statistic);
        result.probes.push(TargetProbe {
            crf,
            score: s,
            seconds: t.elapsed().as_secs_f64(),
        });
        let mut all = known.clone();
        all.extend(result.probes.iter().filter(|p| !known.contains(p)).cloned());
        if let Ok(text) = serde_json::to_vec(&all) {
            let _ = std::fs::write(probes_file, text);
        }
        Ok(s)
    };
    // Binary search for the highest passing CRF within the probe budget.
    let (mut a, mut b) = (lo as i32, hi as i32);
    let mut best: Option<u8> = None;
    let mut used = 0;
    while a <= b && used < tq.probes {
        let mid = ((a + b) / 2) as u8;
        used += 1;
        if meets(probe(mid, &mut result)?) {
            best = Some(mid);
            a = mid as i32 + 1;
        } else {
            b = mid as i32 - 1;
        }
    }
    let mut crf = match best {
        Some(c) => c,
        None => {
            // Nothing passed: the best setting allowed is the last chance.
            let s = probe(lo, &mut result)?;
            if !meets(s) {
                return Err(unmet(tq, lo, s));
            }
            lo
        }
    };
    let pixels = (target.width * target.height) as f64;
    let every = match tq.metric {
        TargetMetric::Psnr => 1,
        TargetMetric::Ssimulacra2 => ((n as f64 * pixels / MEASURE_PIXELS).ceil() as usize).max(1),
    };
    let mut tries = 0;
    loop {
        encode(spool, out, spec, crf, target, |_| true)?;
        let scores = score(spool, out, tq.metric, true, |i| i % every == 0)?;
        result.measured_frames = scores.len() as u64;
        result.measured = statistic(&scores, tq.statistic);
        result.crf = crf;
        if meets(result.measured) {
            break;
        }
        if crf <= lo || tries >= RETRIES {
            return Err(unmet(tq, crf, result.measured));
        }
        tries += 1;
        // Down by about what the miss is worth (a CRF step is roughly 0.5 dB / 1 SSIMULACRA2).
        let step = ((tq.value - result.measured).ceil() as u8).clamp(1, 4);
        crf = crf.saturating_sub(step).max(lo);
    }
    let _ = std::fs::remove_file(probes_file);
    result.seconds = started.elapsed().as_secs_f64();
    Ok(result)
}

fn unmet(tq: &TargetQuality, crf: u8, score: f64) -> MediaError {
    MediaError::Encode(format!(
        "target quality {:?} {} = {} cannot be met: CRF {crf}, the best allowed, gives {score:.2}",
        tq.metric,
        tq.statistic_name(),
        tq.value
    ))
}

/// `out` with `suffix` in place of its extension (the chunk's helper files sit beside it).
fn sidecar(out: &Path, suffix: &str) -> PathBuf {
    out.with_extension(suffix)
}

/// Encodes the spooled frames `keep` picks into `file` at `crf`.
fn encode(
    spool: &Spool,
    file: &Path,
    spec: &OutputSpec,
    crf: u8,
    target: &VideoTarget,
    keep: impl Fn(usize) -> bool,
) -> Result<()> {
    let spec = OutputSpec {
        crf,
        ..spec.clone()
    };
    let mut w = ChunkWriter::create(file, &spec, target)?;
    spool.replay(|i, f, pts, d| if keep(i) { w.write(f, pts, d) } else { Ok(()) })?;
    w.finish()?;
    Ok(())
}

/// Scores of the frames `pick` selects: `file` holds every spooled frame (`all`) or only those.
fn score(
    spool: &Spool,
    file: &Path,
    metric: TargetMetric,
    all: bool,
    pick: impl Fn(usize) -> bool,
) -> Result<Vec<f64>> {
    let mut decoded = FrameSource::open(file, i64::MIN, 1)?;
    let mut out = Vec::new();
    spool.replay(|i, f, _, _| {
        let chosen = pick(i);
        if !all && !chosen {
            return Ok(());
        }
        let (_, d) = decoded
            .next_frame()?
            .ok_or_else(|| MediaError::Decode("the probe encode has fewer frames".into()))?;
        if chosen {
            out.push(frame_score(&to_frame(f)?, &to_frame(&d)?, metric)?);
        }
        Ok(())
    })?;
    Ok(out)
}

fn frame_score(reference: &Frame, encoded: &Frame, metric: TargetMetric) -> Result<f64> {
    let err = |e: String| MediaError::Compare(e);
    match metric {
        TargetMetric::Psnr => Ok(kino_shared::kernels::metrics::compare(reference, encoded)
            .map_err(|e| err(e.to_string()))?
            .psnr_weighted()
            .min(100.0)),
        TargetMetric::Ssimulacra2 => {
            quality::ssimulacra2(reference, encoded).map_err(|e| err(e.to_string()))
        }
    }
}

/// The 5th-percentile frame (the lowest of fewer than 20) or the mean.
fn statistic(scores: &[f64], which: TargetStatistic) -> f64 {
    if scores.is_empty() {
        return f64::NAN;
    }
    match which {
        TargetStatistic::Mean => scores.iter().sum::<f64>() / scores.len() as f64,
        TargetStatistic::P5 => {
            let mut s = scores.to_vec();
            s.sort_by(f64::total_cmp);
            let k = ((0.05 * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
            s[k]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ffmpeg;
    use super::*;
    use ffmpeg::format::Pixel;
    use ffmpeg::util::frame::Video as AvFrame;

    /// A moving gradient, 64×48, 20 frames, spooled.
    fn spooled(dir: &Path) -> Spool {
        super::super::init();
        let mut spool = Spool::create(&dir.join("s.spool")).unwrap();
        for i in 0..20i64 {
            let mut f = AvFrame::new(Pixel::YUV420P, 64, 48);
            for p in 0..3 {
                let stride = f.stride(p);
                for (y, row) in f.data_mut(p).chunks_mut(stride).enumerate() {
                    for (x, v) in row.iter_mut().enumerate() {
                        *v = ((x * 3 + y * 5 + i as usize * 7 + p * 40) % 200 + 20) as u8;
                    }
                }
            }
            spool.push(&f, i, 1).unwrap();
        }
        spool.close().unwrap();
        spool
    }

    fn target() -> VideoTarget {
        VideoTarget {
            width: 64,
            height: 48,
            pixel: Pixel::YUV420P,
            colour: Default::default(),
            time_base: ffmpeg::Rational::new(1, 25),
            frame_rate: Some(ffmpeg::Rational::new(25, 1)),
            threads: 1,
            lookahead: None,
            hdr: Default::default(),
            sar: kino_shared::Sar { num: 1, den: 1 },
        }
    }

    /// A probe saved by an interrupted render is used, not encoded again, and the search goes on
    /// from it; the probes file goes once the chunk is done.
    #[test]
    fn finished_probes_are_not_redone() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spooled(dir.path());
        let tq: TargetQuality = "psnr=30".parse().unwrap();
        let spec = OutputSpec {
            preset: "ultrafast".into(),
            target_quality: Some(tq.clone()),
            ..Default::default()
        };
        let probes = dir.path().join("chunk.probes.json");
        // The first probe of the search (the middle of 10..=45) was done before: it passed.
        let saved = vec![TargetProbe {
            crf: 27,
            score: 35.0,
            seconds: 1.0,
        }];
        std::fs::write(&probes, serde_json::to_vec(&saved).unwrap()).unwrap();
        let out = dir.path().join("chunk.mp4");
        let r = encode_to_target(&spool, &out, &probes, &spec, &target(), &tq, 0).unwrap();
        assert_eq!(r.resumed_probes, 1, "{r:?}");
        assert_eq!(r.probes[0], saved[0]);
        assert!(
            r.probes.len() > 1 && r.probes[1..].iter().all(|p| p.crf > 27),
            "{r:?}"
        );
        assert!(r.measured >= 30.0, "{r:?}");
        assert!(!probes.exists());
        assert!(out.is_file());
    }
}
