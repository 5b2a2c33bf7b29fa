//! Chunk planning: split the frame index at keyframes into chunks of about `chunk_seconds`.

use crate::media::probe::FrameIndex;

pub use crate::store::ChunkPlan;

/// The index in the video of each chunk's first frame, by chunk index (chunks in any order).
pub fn first_frames(plan: &[ChunkPlan]) -> Vec<u64> {
    let mut sorted: Vec<&ChunkPlan> = plan.iter().collect();
    sorted.sort_by_key(|c| c.index);
    let mut out = vec![0; sorted.last().map(|c| c.index as usize + 1).unwrap_or(0)];
    let mut n = 0;
    for c in sorted {
        out[c.index as usize] = n;
        n += c.frames;
    }
    out
}

/// Plans chunks. `margin_before` frames of context must be decodable before each chunk's start.
pub fn plan_chunks(index: &FrameIndex, chunk_seconds: f64, margin_before: usize) -> Vec<ChunkPlan> {
    plan_chunks_at(index, &[], chunk_seconds, margin_before)
}

/// Plans chunks that also start at scene cuts (`cuts`: timestamps of each new scene's first frame),
/// decoding from the keyframe before when a cut is not one. Each chunk's encoder then opens a scene
/// with its keyframe instead of spending one mid-scene, and no chunk mixes two scenes. A cut closer
/// than a quarter chunk to the previous start moves that (keyframe) start instead of adding one.
pub fn plan_chunks_at(
    index: &FrameIndex,
    cuts: &[i64],
    chunk_seconds: f64,
    margin_before: usize,
) -> Vec<ChunkPlan> {
    let frames = &index.frames;
    if frames.is_empty() {
        return Vec::new();
    }
    let tb = index.time_base;
    let ticks = if chunk_seconds <= 0.0 {
        i64::MAX
    } else {
        (chunk_seconds * tb.denominator() as f64 / tb.numerator().max(1) as f64).max(1.0) as i64
    };
    let cut_set: std::collections::HashSet<i64> = if ticks == i64::MAX {
        Default::default()
    } else {
        cuts.iter().copied().collect()
    };
    // Chunk starts: the first frame, then each scene cut, and each clean keyframe at least `ticks`
    // after the last start.
    let mut starts = vec![0usize];
    let mut at_cut = vec![true];
    for (i, f) in frames.iter().enumerate().skip(1) {
        let last = *starts.last().unwrap_or(&0);
        let since = f.pts.saturating_sub(frames[last].pts);
        if cut_set.contains(&f.pts) {
            if since >= ticks / 4 {
                starts.push(i);
                at_cut.push(true);
            } else if !at_cut.last().copied().unwrap_or(true) {
                if let (Some(s), Some(c)) = (starts.last_mut(), at_cut.last_mut()) {
                    *s = i;
                    *c = true;
                }
            }
        } else if f.key && f.clean_start && since >= ticks {
            starts.push(i);
            at_cut.push(false);
        }
    }
    // Avoid a tiny last chunk: merge it when shorter than a quarter of the target.
    if starts.len() > 1 && ticks != i64::MAX {
        let last_start = frames[starts[starts.len() - 1]].pts;
        if index.end_pts() - last_start < ticks / 4 {
            starts.pop();
        }
    }
    chunks_from_starts(index, &starts, margin_before)
}

/// The chunks that begin at frames `starts` (ascending, the first 0), each decoding from the clean
/// keyframe at or before `margin_before` frames ahead of its start.
pub(super) fn chunks_from_starts(
    index: &FrameIndex,
    starts: &[usize],
    margin_before: usize,
) -> Vec<ChunkPlan> {
    let frames = &index.frames;
    let keyframe_at_or_before = |i: usize| -> i64 {
        let k = frames[..=i]
            .iter()
            .rposition(|f| f.key && f.clean_start)
            .unwrap_or(0);
        if k == 0 {
            // Decode from the very start of the stream.
            i64::MIN
        } else {
            frames[k].pts
        }
    };
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            let end_idx = starts.get(n + 1).copied().unwrap_or(frames.len());
            ChunkPlan {
                index: n as u32,
                start_pts: if n == 0 { i64::MIN } else { frames[s].pts },
                end_pts: if end_idx == frames.len() {
                    i64::MAX
                } else {
                    frames[end_idx].pts
                },
                decode_from_pts: if n == 0 {
                    i64::MIN
                } else {
                    keyframe_at_or_before(s.saturating_sub(margin_before))
                },
                frames: (end_idx - s) as u64,
            }
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::media::ffmpeg::Rational;
    use crate::media::probe::FrameEntry;

    fn index(n: usize, gop: usize) -> FrameIndex {
        index_at(25, n, gop)
    }

    /// `n` frames at `fps`, a clean keyframe every `gop` frames.
    pub(in crate::pipeline) fn index_at(fps: i32, n: usize, gop: usize) -> FrameIndex {
        FrameIndex {
            time_base: Rational(1, fps),
            frames: (0..n)
                .map(|i| FrameEntry {
                    pts: i as i64,
                    duration: 1,
                    key: i % gop == 0,
                    clean_start: i % gop == 0,
                    pos: -1,
                    size: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn chunks_cover_every_frame_once_and_start_at_keyframes() {
        let idx = index(1000, 50);
        let plan = plan_chunks(&idx, 4.0, 0);
        assert_eq!(plan.iter().map(|c| c.frames).sum::<u64>(), 1000);
        assert_eq!(plan.len(), 10);
        assert!(plan.windows(2).all(|w| w[0].end_pts == w[1].start_pts));
        assert!(plan[1..]
            .iter()
            .all(|c| c.start_pts % 50 == 0 && c.decode_from_pts == c.start_pts));
    }

    #[test]
    fn margin_moves_decode_start_back_one_gop() {
        let plan = plan_chunks(&index(400, 50), 4.0, 3);
        assert_eq!(plan[1].start_pts, 100);
        assert_eq!(plan[1].decode_from_pts, 50);
    }

    #[test]
    fn scene_cuts_start_chunks_and_decode_from_the_keyframe_before() {
        let idx = index(1000, 50);
        // Cuts at 130 and 210 (mid-GOP) start chunks; 215 is too close to 210 and ignored; 460 is
        // close after the keyframe start at 450, which moves there.
        let plan = plan_chunks_at(&idx, &[130, 210, 215, 460], 4.0, 0);
        let starts: Vec<i64> = plan.iter().map(|c| c.start_pts).collect();
        assert_eq!(&starts[..7], &[i64::MIN, 100, 130, 210, 350, 460, 600]);
        assert_eq!(plan[2].decode_from_pts, 100);
        assert_eq!(plan[3].decode_from_pts, 200);
        assert_eq!(plan.iter().map(|c| c.frames).sum::<u64>(), 1000);
        assert!(plan.windows(2).all(|w| w[0].end_pts == w[1].start_pts));
    }

    #[test]
    fn zero_seconds_is_one_chunk() {
        let plan = plan_chunks(&index(300, 50), 0.0, 0);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].frames, 300);
    }
}
