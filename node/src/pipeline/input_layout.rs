//! What a node without the job's file needs to render its chunks (a farm without shared storage):
//! the input's probe and deinterlacing as the planning node found them, and where the file's
//! header, index and keyframes lie, so it fetches only the bytes of the chunks it renders.

use crate::media::interlace::Deinterlace;
use crate::media::probe::FrameIndex;
use crate::store::{ChunkPlan, ReportSection};
use kino_shared::MediaInfo;
use serde::{Deserialize, Serialize};

/// Bytes fetched before a chunk's first keyframe and after its last packet, for what a container
/// keeps beside the packets (cluster and chunk headers).
const SLACK: u64 = 256 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputLayout {
    /// The data folder the input lies in: nodes that see the same folder read it directly.
    pub storage: String,
    /// The input's size in bytes.
    pub size: u64,
    pub info: MediaInfo,
    pub deinterlace: Option<Deinterlace>,
    /// End of the first video packet: the container's header (and an index kept in front).
    pub head_end: u64,
    /// End of the last video packet: what follows is an index kept at the end, or trailing audio.
    pub tail_start: u64,
    /// Each keyframe's pts and byte offset, by pts; empty when the container gives no offsets
    /// (then a chunk needs the whole file).
    pub keys: Vec<(i64, u64)>,
}

impl ReportSection for InputLayout {
    const NAME: &'static str = "input_layout";
}

impl InputLayout {
    /// The layout of a `size`-byte input in folder `storage` from its frame index.
    pub fn new(
        storage: &str,
        size: u64,
        info: MediaInfo,
        deinterlace: Option<Deinterlace>,
        index: &FrameIndex,
    ) -> InputLayout {
        let known = !index.frames.is_empty() && index.frames.iter().all(|f| f.pos >= 0);
        let (mut head_end, mut tail_start, mut keys) = (size, 0, Vec::new());
        if known {
            let first = index.frames.iter().min_by_key(|f| f.pos);
            head_end = first.map_or(size, |f| f.pos as u64 + u64::from(f.size));
            tail_start = (index.frames.iter())
                .map(|f| f.pos as u64 + u64::from(f.size))
                .max()
                .unwrap_or(0);
            keys = (index.frames.iter())
                .filter(|f| f.key)
                .map(|f| (f.pts, f.pos as u64))
                .collect();
        }
        InputLayout {
            storage: storage.to_owned(),
            size,
            info,
            deinterlace,
            head_end: head_end.min(size),
            tail_start: tail_start.min(size),
            keys,
        }
    }

    /// The byte ranges decoding `chunk` reads: the header, the trailing index, and the packets
    /// from the keyframe it decodes from to the keyframe after the one that follows its end (a
    /// decoder reads a few packets ahead, and frames shown before a keyframe can follow it).
    pub fn ranges(&self, chunk: &ChunkPlan) -> Vec<(u64, u64)> {
        if self.keys.is_empty() {
            return vec![(0, self.size)];
        }
        let from = self
            .keys
            .iter()
            .rev()
            .find(|k| k.0 <= chunk.decode_from_pts)
            .or(self.keys.first())
            .map_or(0, |k| k.1);
        let after: Vec<u64> = (self.keys.iter())
            .filter(|k| k.0 >= chunk.end_pts && k.1 > from)
            .map(|k| k.1)
            .take(2)
            .collect();
        let to = if chunk.end_pts == i64::MAX || after.len() < 2 {
            self.size
        } else {
            after[1] + SLACK
        };
        vec![
            (0, self.head_end),
            (from.saturating_sub(SLACK), to.min(self.size)),
            (self.tail_start, self.size),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ffmpeg::Rational;
    use crate::media::probe::FrameEntry;

    #[test]
    fn a_chunk_needs_its_packets_the_header_and_the_trailing_index() {
        // 100 frames of 100 kB, a keyframe every 10, after a 1 kB header; 50 kB index at the end.
        let frames = (0..100)
            .map(|i| FrameEntry {
                pts: i,
                duration: 1,
                key: i % 10 == 0,
                clean_start: i % 10 == 0,
                pos: 1000 + i * 100_000,
                size: 100_000,
            })
            .collect();
        let index = FrameIndex {
            time_base: Rational(1, 25),
            frames,
        };
        let size = 1000 + 100 * 100_000 + 50_000;
        let info = MediaInfo {
            format: "mov,mp4".into(),
            duration_seconds: None,
            size_bytes: size,
            bit_rate: None,
            video: None,
            audio: Vec::new(),
        };
        let l = InputLayout::new("s", size, info, None, &index);
        assert_eq!((l.head_end, l.tail_start), (101_000, 1000 + 10_000_000));
        let chunk = ChunkPlan {
            index: 3,
            start_pts: 30,
            end_pts: 40,
            decode_from_pts: 30,
            frames: 10,
        };
        let r = l.ranges(&chunk);
        assert_eq!(r[0], (0, 101_000));
        assert_eq!(r[1], (3_001_000 - SLACK, 5_001_000 + SLACK));
        assert_eq!(r[2], (10_001_000, size));
        // The last chunk reads to the end.
        let last = ChunkPlan {
            end_pts: i64::MAX,
            ..chunk
        };
        assert_eq!(l.ranges(&last)[1].1, size);
    }
}
