//! Chunk balance: a plan whose chunks keep every worker busy to the end.
//!
//! Workers claim chunks in index order. Keyframes every few seconds and a target length give plans
//! such as 5 + 5 + 4 s, where one of two workers idles through the whole last chunk (a quarter of
//! the job). Among plans of other chunk counts, each cut at the clean keyframes nearest to an even
//! split, this keeps the one that a simulation of the workers finishes first, counting each chunk's
//! fixed cost (decoder and encoder start, frames decoded only as context): small frames make that
//! cost weigh more, so they get fewer, longer chunks.

use super::plan::{chunks_from_starts, plan_chunks, ChunkPlan};
use crate::media::probe::FrameIndex;

/// What the plan is balanced for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Chunk workers of the node that plans (other farm nodes add theirs; the plan is still no
    /// worse for them than an unbalanced one).
    pub workers: usize,
    /// Pixels of the larger of the input and output frames: the per-frame work.
    pub frame_pixels: u64,
}

/// A chunk's fixed cost, as the pixels of frames a worker renders in that time. Measured on a
/// plain 1080p re-encode at `ultrafast` (the cheapest frames, so the largest share), one worker:
/// 8 chunks took 0.45 s longer than 1, 64 ms a chunk, 6.4 frames' time.
const CHUNK_COST_PIXELS: f64 = 6.5 * 1920.0 * 1080.0;
/// A frame decoded only as context costs this share of a rendered one.
const CONTEXT_WEIGHT: f64 = 0.3;
/// Another plan replaces the plain one only when it finishes this much earlier (the model is rough).
const MIN_GAIN: f64 = 0.03;

/// Plans chunks of about `chunk_seconds` (as `plan_chunks`), then picks the chunk count and
/// keyframe cuts that finish first on `b.workers` workers. No chunk grows past twice the plain
/// plan's average, so a crash never loses much more work than the user's chunk length allows.
pub fn plan_balanced(
    index: &FrameIndex,
    chunk_seconds: f64,
    margin_before: usize,
    b: Balance,
) -> Vec<ChunkPlan> {
    let plain = plan_chunks(index, chunk_seconds, margin_before);
    let n = index.frames.len();
    if b.workers < 2 || plain.is_empty() || chunk_seconds <= 0.0 {
        return plain;
    }
    let keys: Vec<usize> = (1..n)
        .filter(|&i| index.frames[i].key && index.frames[i].clean_start)
        .collect();
    let model = Model {
        keys: &keys,
        workers: b.workers,
        overhead: CHUNK_COST_PIXELS / b.frame_pixels.max(1) as f64,
        margin: margin_before,
        frames: n,
    };
    let plain_starts = starts_of(index, &plain);
    let plain_cost = model.finish(&plain_starts);
    let cap = (2 * n).div_ceil(plain.len());
    // Never fewer chunks than one round of workers less: the point is to fill the last round,
    // not to trade the user's chunk length for less fixed cost.
    let fewest = plain.len().saturating_sub(b.workers - 1).max(1);
    let most = (keys.len() + 1).min(2 * plain.len() + b.workers);
    let best = (fewest..=most)
        .map(|count| even_starts(&keys, n, count))
        .filter(|s| chunk_lengths(s, n).all(|l| l <= cap))
        .map(|s| (model.finish(&s), s))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.len().cmp(&b.1.len())));
    match best {
        Some((cost, starts)) if cost < plain_cost * (1.0 - MIN_GAIN) => {
            chunks_from_starts(index, &starts, margin_before)
        }
        _ => plain,
    }
}

/// Each chunk's first frame index.
fn starts_of(index: &FrameIndex, plan: &[ChunkPlan]) -> Vec<usize> {
    let mut at = 0usize;
    let mut starts = Vec::with_capacity(plan.len());
    for c in plan {
        starts.push(at);
        at += c.frames as usize;
    }
    debug_assert!(at == index.frames.len());
    starts
}

fn chunk_lengths(starts: &[usize], frames: usize) -> impl Iterator<Item = usize> + '_ {
    starts
        .iter()
        .enumerate()
        .map(move |(i, s)| starts.get(i + 1).copied().unwrap_or(frames) - s)
}

/// Starts of `count` chunks cut at the keyframes nearest to an even split (fewer when keyframes
/// are too sparse for that many).
fn even_starts(keys: &[usize], frames: usize, count: usize) -> Vec<usize> {
    let mut starts = vec![0usize];
    for j in 1..count {
        let target = j * frames / count;
        let last = starts.last().copied().unwrap_or(0);
        let at = keys.partition_point(|&k| k < target);
        let nearest = [at.checked_sub(1), Some(at)]
            .into_iter()
            .flatten()
            .filter_map(|i| keys.get(i).copied())
            .filter(|&k| k > last)
            .min_by_key(|&k| k.abs_diff(target));
        if let Some(k) = nearest {
            starts.push(k);
        }
    }
    starts
}

/// The cost model: frames rendered, plus context frames and a fixed cost per chunk.
struct Model<'a> {
    keys: &'a [usize],
    workers: usize,
    /// A chunk's fixed cost in frames.
    overhead: f64,
    margin: usize,
    frames: usize,
}

impl Model<'_> {
    /// When the last worker finishes, each taking the next chunk in index order when free.
    fn finish(&self, starts: &[usize]) -> f64 {
        let mut free = vec![0.0f64; self.workers];
        for (i, len) in chunk_lengths(starts, self.frames).enumerate() {
            let s = starts[i];
            let context = if s == 0 {
                0
            } else {
                let from = s.saturating_sub(self.margin);
                let k = self.keys.partition_point(|&k| k <= from);
                from - k.checked_sub(1).map_or(0, |k| self.keys[k]) + (s - from)
            };
            let cost = len as f64 + self.overhead + CONTEXT_WEIGHT * context as f64;
            if let Some(w) = free.iter_mut().min_by(|a, b| a.total_cmp(b)) {
                *w += cost;
            }
        }
        free.into_iter().fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::plan::tests::index_at;

    fn index(n: usize, gop: usize) -> FrameIndex {
        index_at(20, n, gop)
    }

    fn lengths(plan: &[ChunkPlan]) -> Vec<u64> {
        plan.iter().map(|c| c.frames).collect()
    }

    const HD: u64 = 1920 * 1080;

    #[test]
    fn three_chunks_on_two_workers_become_an_even_number() {
        // 14 s at 20 fps, a keyframe every 2.5 s: 4 s chunks are 5 + 5 + 4 s.
        let idx = index(280, 50);
        assert_eq!(lengths(&plan_chunks(&idx, 4.0, 0)), [100, 100, 80]);
        let plan = plan_balanced(
            &idx,
            4.0,
            0,
            Balance {
                workers: 2,
                frame_pixels: HD,
            },
        );
        assert_eq!(lengths(&plan), [150, 130]);
        assert_eq!(plan.iter().map(|c| c.frames).sum::<u64>(), 280);
        assert!(plan.windows(2).all(|w| w[0].end_pts == w[1].start_pts));
        assert_eq!(plan[1].decode_from_pts, plan[1].start_pts);
    }

    #[test]
    fn one_worker_and_balanced_plans_stay_as_they_are() {
        let idx = index(280, 50);
        let one = Balance {
            workers: 1,
            frame_pixels: HD,
        };
        assert_eq!(plan_balanced(&idx, 4.0, 0, one), plan_chunks(&idx, 4.0, 0));
        // 16 s in four chunks of 4 s on two workers: nothing to gain.
        let idx = index(320, 40);
        let two = Balance {
            workers: 2,
            frame_pixels: HD,
        };
        assert_eq!(plan_balanced(&idx, 4.0, 0, two), plan_chunks(&idx, 4.0, 0));
    }

    #[test]
    fn chunks_never_grow_past_twice_the_plain_length() {
        let idx = index(2000, 10);
        let b = Balance {
            workers: 3,
            frame_pixels: HD,
        };
        let plain = plan_chunks(&idx, 4.0, 0);
        let avg = 2000 / plain.len() as u64;
        let plan = plan_balanced(&idx, 4.0, 0, b);
        assert!(
            plan.iter().all(|c| c.frames <= 2 * avg),
            "{:?}",
            lengths(&plan)
        );
        assert_eq!(plan.iter().map(|c| c.frames).sum::<u64>(), 2000);
    }

    #[test]
    fn a_clip_shorter_than_a_chunk_is_split_over_the_workers_when_frames_are_large() {
        let idx = index(60, 10);
        let plan = plan_balanced(
            &idx,
            4.0,
            0,
            Balance {
                workers: 2,
                frame_pixels: 4 * HD,
            },
        );
        assert_eq!(lengths(&plan), [30, 30]);
        // Tiny frames: the fixed cost of a second chunk outweighs the idle worker.
        let plan = plan_balanced(
            &idx,
            4.0,
            0,
            Balance {
                workers: 2,
                frame_pixels: 64 * 64,
            },
        );
        assert_eq!(plan.len(), 1);
    }
}
