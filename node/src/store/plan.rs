//! The unit of work the store keeps a row for: one chunk of a job's video.

/// One chunk: the frames with pts in `[start_pts, end_pts)`, decoded from the keyframe at
/// `decode_from_pts` (earlier when a temporal stage needs context or the GOP is open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    pub index: u32,
    pub start_pts: i64,
    /// Exclusive; `i64::MAX` for the last chunk.
    pub end_pts: i64,
    pub decode_from_pts: i64,
    pub frames: u64,
}
