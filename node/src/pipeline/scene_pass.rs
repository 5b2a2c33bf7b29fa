//! The scene-only analysis pass, decoding about half the frames. Decoding is all its cost at 1080p,
//! so it skips the frames no other frame refers to (non-reference B-frames) and fills their
//! signatures in: by straight interpolation between the decoded frames either side when those two
//! are alike (signatures are cell means, so inside a dissolve or a fade the blend is what the frame
//! holds), and by decoding them after all where the two differ enough for a cut to lie between.
//! Cuts come out on the same frames as when every frame is decoded; the middle of a dissolve or
//! fade can move by a frame (measured on the test montage).

use super::scenes::CUT_MIN;
use super::ChunkPlan;
use crate::analysis::FrameRecord;
use crate::media::convert::{self, ToFrame};
use crate::media::decode::FrameSource;
use crate::media::MediaError;
use kino_shared::kernels::scene::{distance, Signature};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Packets read past the chunk's end for the B-frames shown before it (beyond any reorder depth).
const READ_AHEAD: usize = 16;
/// Skipped frames are decoded when their decoded neighbours differ this much: a cut may lie
/// between (a cut is at least `CUT_MIN` from the frame before it).
const REFINE_MIN: f32 = 0.75 * CUT_MIN;
/// See [`possible_cuts`].
const REFINE_RATIO: f32 = 2.0;
/// Decoded pairs each side that set the local level of change.
const CONTEXT: usize = 3;
/// Runs to decode closer than this (seconds) share one decoder instead of seeking again.
const SHARE_SECONDS: f64 = 1.0;

/// Scene signatures of every frame of `chunk`, or `None` when this stream does not allow it
/// (packets without timestamps, or frames that do not add up to the chunk's count): the caller
/// then decodes every frame.
pub fn scene_records(
    input: &Path,
    chunk: &ChunkPlan,
    cancel: &AtomicBool,
) -> Result<Option<Vec<FrameRecord>>, MediaError> {
    let mut src = FrameSource::open_with(input, chunk.decode_from_pts, 2, true)?;
    src.skip_nonref(Vec::new());
    let mut conv = ToFrame::default();
    // Decoded frames in display order: the chunk's, the last one before it and the first after it.
    let mut got: Vec<(i64, Signature)> = Vec::new();
    while let Some((pts, f)) = src.next_frame()? {
        if cancel.load(Ordering::Relaxed) {
            return Ok(Some(Vec::new()));
        }
        if pts < chunk.start_pts {
            got.clear();
        }
        got.push((pts, convert::signature(&mut conv, &f)?));
        if pts >= chunk.end_pts {
            break;
        }
    }
    src.read_ahead(READ_AHEAD);
    let Some(seen) = src.packet_pts() else {
        return Ok(None);
    };
    let mut frames: Vec<i64> = seen
        .iter()
        .copied()
        .filter(|&p| p >= chunk.start_pts && p < chunk.end_pts)
        .collect();
    frames.sort_unstable();
    frames.dedup();
    if frames.len() as u64 != chunk.frames {
        return Ok(None);
    }
    // Every frame of the chunk and the decoded anchors either side, with what is known of it.
    let mut line: Vec<(i64, Option<Signature>)> = frames.iter().map(|&p| (p, None)).collect();
    for (pts, sig) in got {
        match line.binary_search_by_key(&pts, |e| e.0) {
            Ok(i) => line[i].1 = Some(sig),
            Err(_) if pts < chunk.start_pts || pts >= chunk.end_pts => {
                let i = line.partition_point(|e| e.0 < pts);
                line.insert(i, (pts, Some(sig)));
            }
            // A decoded frame the packets did not announce: timestamps cannot be trusted.
            Err(_) => return Ok(None),
        }
    }
    if line.iter().all(|e| e.1.is_none()) {
        return Ok(None);
    }
    let runs = missing_runs(&line);
    let wanted = possible_cuts(&line, &runs);
    decode_runs(input, &mut line, &wanted, src.time_base, cancel)?;
    fill_by_interpolation(&mut line);
    Ok(Some(
        line.into_iter()
            .filter(|(p, _)| *p >= chunk.start_pts && *p < chunk.end_pts)
            .map(|(pts, sig)| FrameRecord {
                pts,
                motion: None,
                colour: None,
                cut: 0.0,
                scene: sig,
                edit: None,
                detections: None,
            })
            .collect(),
    ))
}

/// The runs (of `runs`) a cut may lie in: where the decoded frames either side differ by at least
/// `REFINE_MIN` and by `REFINE_RATIO` times the mean difference of the neighbouring decoded pairs
/// (the detector asks for `CUT_RATIO` = 3 times, frame to frame; the margin covers the motion a
/// run adds). Runs at the chunk's edges, with a neighbour missing, are always decoded.
fn possible_cuts(
    line: &[(i64, Option<Signature>)],
    runs: &[(usize, usize)],
) -> Vec<(usize, usize)> {
    // Differences between consecutive decoded frames, at the index of the later one.
    let decoded: Vec<usize> = (0..line.len()).filter(|&i| line[i].1.is_some()).collect();
    let pair = |k: usize| -> Option<f32> {
        Some(distance(
            line[*decoded.get(k.checked_sub(1)?)?].1.as_ref()?,
            line[*decoded.get(k)?].1.as_ref()?,
        ))
    };
    runs.iter()
        .copied()
        .filter(|&(a, b)| {
            let (Some(l), Some(r)) = (anchor(line, a, -1), anchor(line, b - 1, 1)) else {
                return true;
            };
            let d = distance(l, r);
            if d < REFINE_MIN {
                return false;
            }
            // The pair (l, r) is decoded[k - 1], decoded[k].
            let k = decoded.partition_point(|&i| i < b);
            let ctx: Vec<f32> = (k.saturating_sub(CONTEXT)..k + CONTEXT + 1)
                .filter(|&j| j != k)
                .filter_map(pair)
                .collect();
            let level = if ctx.is_empty() {
                0.0
            } else {
                ctx.iter().sum::<f32>() / ctx.len() as f32
            };
            d >= REFINE_RATIO * level
        })
        .collect()
}

/// Index ranges `[a, b)` of frames without a signature.
fn missing_runs(line: &[(i64, Option<Signature>)]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i].1.is_some() {
            i += 1;
            continue;
        }
        let a = i;
        while i < line.len() && line[i].1.is_none() {
            i += 1;
        }
        runs.push((a, i));
    }
    runs
}

/// The signature next to index `i` in direction `step` (-1 or 1), if that frame has one.
fn anchor(line: &[(i64, Option<Signature>)], i: usize, step: isize) -> Option<&Signature> {
    let j = i.checked_add_signed(step)?;
    line.get(j)?.1.as_ref()
}

/// Decodes the frames of `runs` (index ranges of `line`) for real: reference frames from the
/// keyframe before each run, the skipped ones only inside the runs.
fn decode_runs(
    input: &Path,
    line: &mut [(i64, Option<Signature>)],
    runs: &[(usize, usize)],
    tb: crate::media::ffmpeg::Rational,
    cancel: &AtomicBool,
) -> Result<(), MediaError> {
    if runs.is_empty() {
        return Ok(());
    }
    let keep: Vec<(i64, i64)> = runs
        .iter()
        .map(|&(a, b)| (line[a].0, line[b - 1].0))
        .collect();
    let share = (SHARE_SECONDS * tb.denominator() as f64 / tb.numerator().max(1) as f64) as i64;
    let mut conv = ToFrame::default();
    let mut src: Option<FrameSource> = None;
    let mut last = i64::MIN;
    for &(a, b) in runs {
        let (first, end) = (line[a].0, line[b - 1].0);
        if src.is_none() || first.saturating_sub(last) > share {
            let mut s = FrameSource::open_with(input, first, 1, true)?;
            s.skip_nonref(keep.clone());
            src = Some(s);
        }
        let Some(s) = src.as_mut() else {
            continue;
        };
        while last < end {
            if cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            let Some((pts, f)) = s.next_frame()? else {
                src = None;
                break;
            };
            last = pts;
            if let Ok(i) = line[a..b].binary_search_by_key(&pts, |e| e.0) {
                line[a + i].1 = Some(convert::signature(&mut conv, &f)?);
            }
        }
    }
    Ok(())
}

/// Fills the frames still without a signature from their neighbours: the straight blend between
/// the two, by time, or a copy of the one there is.
fn fill_by_interpolation(line: &mut [(i64, Option<Signature>)]) {
    for (a, b) in missing_runs(line) {
        // The neighbours (pts, signature); runs are maximal, so only the line's ends lack one.
        let left = a
            .checked_sub(1)
            .and_then(|i| Some((line[i].0, line[i].1.clone()?)));
        let right = line.get(b).and_then(|e| Some((e.0, e.1.clone()?)));
        for e in &mut line[a..b] {
            e.1 = match (&left, &right) {
                (Some((lp, l)), Some((rp, r))) if rp > lp => {
                    let t = (e.0 - lp) as f32 / (rp - lp) as f32;
                    Some(Signature(
                        l.0.iter()
                            .zip(&r.0)
                            .map(|(&x, &y)| (x as f32 * (1.0 - t) + y as f32 * t).round() as u8)
                            .collect(),
                    ))
                }
                (Some((_, l)), _) => Some(l.clone()),
                (None, r) => r.as_ref().map(|(_, r)| r.clone()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(v: u8) -> Option<Signature> {
        Some(Signature(vec![v; 4]))
    }

    #[test]
    fn runs_are_found_and_filled_by_time() {
        let mut line = vec![(0, sig(0)), (1, None), (2, None), (4, sig(100)), (5, None)];
        assert_eq!(missing_runs(&line), vec![(1, 3), (4, 5)]);
        fill_by_interpolation(&mut line);
        assert_eq!(line[1].1, sig(25));
        assert_eq!(line[2].1, sig(50));
        assert_eq!(line[4].1, sig(100));
    }
}
