//! Trim: a job's kept ranges (in/out points) as a cut list, alone or on top of auto-edit's, so the
//! one renderer of cut lists ([`super::timeline`]) and the one set of exporters serve both.

use super::{CutList, CutReason, Removed, Segment, SourceMedia};
use kino_shared::KeepRange;

/// The frames `keep` keeps of a `total`-frame source at `fps`, in order, clamped to the source.
/// Ranges that round to no frame, or start past the end, keep nothing.
pub fn keep_segments(keep: &[KeepRange], fps: f64, total: u64) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for r in keep {
        let (a, b) = r.frames(fps);
        let s = Segment::new(a.min(total), b.unwrap_or(total).min(total));
        if s.is_empty() {
            continue;
        }
        // Ranges that touch on the frame grid make one part.
        match out.last_mut() {
            Some(l) if l.end >= s.start => l.end = l.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Everything of `source` kept: the cut list of a job that only trims.
pub fn whole(source: SourceMedia) -> CutList {
    let total = source.duration_frames;
    CutList {
        source,
        kept: vec![Segment::new(0, total)],
        removed: Vec::new(),
    }
}

/// `cut` with only what `keep` also keeps. Every removed part lists why: auto-edit's reasons where
/// it overlaps what auto-edit removed, `trimmed` where it overlaps what the trim leaves out.
pub fn apply(cut: CutList, keep: &[KeepRange]) -> CutList {
    if keep.is_empty() {
        return cut;
    }
    let total = cut.source.duration_frames;
    let trim = keep_segments(keep, cut.source.rate.fps(), total);
    let kept = intersect(&cut.kept, &trim);
    let overlaps = |a: &Segment, b: &Segment| a.start < b.end && b.start < a.end;
    let removed = gaps(&kept, total)
        .into_iter()
        .map(|gap| {
            let mut reasons: Vec<CutReason> = cut
                .removed
                .iter()
                .filter(|r| overlaps(&r.segment, &gap))
                .flat_map(|r| r.reasons.iter().copied())
                .collect();
            if gaps(&trim, total).iter().any(|t| overlaps(t, &gap)) {
                reasons.push(CutReason::Trimmed);
            }
            reasons.sort();
            reasons.dedup();
            Removed {
                segment: gap,
                reasons,
            }
        })
        .collect();
    CutList {
        source: cut.source,
        kept,
        removed,
    }
}

/// Frames in both lists (each in order, apart).
fn intersect(a: &[Segment], b: &[Segment]) -> Vec<Segment> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let s = Segment::new(a[i].start.max(b[j].start), a[i].end.min(b[j].end));
        if !s.is_empty() {
            out.push(s);
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The parts of `[0, total)` between the segments.
fn gaps(kept: &[Segment], total: u64) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = 0;
    for s in kept {
        if s.start > at {
            out.push(Segment::new(at, s.start));
        }
        at = s.end;
    }
    if at < total {
        out.push(Segment::new(at, total));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::FrameRate;

    fn source(total: u64) -> SourceMedia {
        SourceMedia::new("/x.mp4", FrameRate::new(25, 1), total, 64, 64)
    }

    fn range(start: f64, end: Option<f64>) -> KeepRange {
        KeepRange { start, end }
    }

    #[test]
    fn in_and_out_points_keep_their_frames() {
        // 00:01.5-00:07 at 25 fps: frames 38 (1.52 s, the first whose start is in) … 174.
        let cut = apply(whole(source(250)), &[range(1.5, Some(7.0))]);
        assert_eq!(cut.kept, vec![Segment::new(38, 175)]);
        assert_eq!(cut.removed.len(), 2);
        assert!(cut
            .removed
            .iter()
            .all(|r| r.reasons == [CutReason::Trimmed]));
        cut.validate().unwrap();
    }

    #[test]
    fn several_ranges_touching_ranges_and_ranges_past_the_end() {
        let keep = [
            range(0.0, Some(1.0)),
            range(1.0, Some(2.0)),
            range(4.0, Some(5.0)),
            range(9.0, None),
            range(20.0, None),
        ];
        assert_eq!(
            keep_segments(&keep, 25.0, 240),
            vec![
                Segment::new(0, 50),
                Segment::new(100, 125),
                Segment::new(225, 240)
            ]
        );
        assert!(keep_segments(&[range(20.0, None)], 25.0, 240).is_empty());
    }

    #[test]
    fn trim_on_auto_edit_keeps_what_both_keep_with_both_reasons() {
        let auto = CutList {
            source: source(100),
            kept: vec![Segment::new(0, 40), Segment::new(60, 100)],
            removed: vec![Removed {
                segment: Segment::new(40, 60),
                reasons: vec![CutReason::Black],
            }],
        };
        // Keep 1 s … 3 s (frames 25 … 74): auto-edit's 40 … 59 still goes.
        let cut = apply(auto, &[range(1.0, Some(3.0))]);
        assert_eq!(cut.kept, vec![Segment::new(25, 40), Segment::new(60, 75)]);
        let reasons: Vec<_> = cut.removed.iter().map(|r| r.reasons.clone()).collect();
        assert_eq!(
            reasons,
            vec![
                vec![CutReason::Trimmed],
                vec![CutReason::Black],
                vec![CutReason::Trimmed]
            ]
        );
        cut.validate().unwrap();
    }
}
