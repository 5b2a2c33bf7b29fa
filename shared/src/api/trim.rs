//! Trim: the parts of the source a job keeps (in/out points, several ranges), written by the
//! editor's timeline, the CLI's `--trim` and the auto-edit choices a user makes.

use super::SpecError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Most kept ranges one job may list (an edit with more parts belongs in an editing tool).
pub const MAX_KEEP_RANGES: usize = 10_000;

/// One kept range, seconds from the source's first frame, half-open `[start, end)`. The node keeps
/// the frames whose start is in it, on the frame grid: frame `i` is kept when
/// `round(start × fps) ≤ i < round(end × fps)`, so a range given as frame times is frame-exact.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepRange {
    pub start: f64,
    /// `None` keeps to the end of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
}

impl KeepRange {
    /// First and end frame of the range at `fps` (end `None`: the source's end), before clamping.
    pub fn frames(&self, fps: f64) -> (u64, Option<u64>) {
        let at = |t: f64| (t * fps).round().max(0.0) as u64;
        (at(self.start), self.end.map(at))
    }
}

/// Checks a job's kept ranges: finite, non-negative, each non-empty, in order and apart (a range
/// open to the end only last). The error names the offending range.
pub fn validate_keep(keep: &[KeepRange]) -> Result<(), SpecError> {
    if keep.len() > MAX_KEEP_RANGES {
        return Err(SpecError::new(
            "keep",
            format!("at most {MAX_KEEP_RANGES} ranges, got {}", keep.len()),
        ));
    }
    let mut last_end: Option<f64> = None;
    for (i, r) in keep.iter().enumerate() {
        let field = format!("keep[{i}]");
        let bad = |what: String| Err(SpecError::new(field.clone(), what));
        if !r.start.is_finite() || r.start < 0.0 {
            return bad(format!("start must be a time ≥ 0 seconds, got {}", r.start));
        }
        if let Some(end) = r.end {
            if !end.is_finite() || end <= r.start {
                return bad(format!("end ({end}) must be after start ({})", r.start));
            }
        } else if i + 1 < keep.len() {
            return bad("only the last range may be open to the end".into());
        }
        if let Some(prev) = last_end {
            if r.start < prev {
                return bad(format!(
                    "starts at {} s, before the previous range ends ({prev} s): list ranges in order, apart",
                    r.start
                ));
            }
        }
        last_end = r.end;
    }
    Ok(())
}

/// Why a `--trim` range did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrimParseError(String);

/// Parses a time: seconds (`7`, `1.5`), `mm:ss[.fff]` or `hh:mm:ss[.fff]`.
pub fn parse_time(s: &str) -> Result<f64, TrimParseError> {
    let bad = || {
        TrimParseError(format!(
            "`{s}` is not a time (seconds, mm:ss.fff or hh:mm:ss.fff)"
        ))
    };
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let mut seconds = 0.0;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        // Whole minutes and hours; seconds may have a fraction. Digits only (no signs, no `inf`).
        let digits = p.chars().all(|c| c.is_ascii_digit() || (last && c == '.'));
        let v: f64 = p.parse().map_err(|_| bad())?;
        if !digits || (!last && parts.len() > 1 && i > 0 && v >= 60.0) {
            return Err(bad());
        }
        if last && parts.len() > 1 && v >= 60.0 {
            return Err(bad());
        }
        seconds = seconds * 60.0 + v;
    }
    Ok(seconds)
}

impl FromStr for KeepRange {
    type Err = TrimParseError;

    /// `START-END` (`00:01.5-00:07`), or `START-` to keep to the end.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once('-').ok_or_else(|| {
            TrimParseError(format!(
                "`{s}` is not a range: give START-END, e.g. 00:01.5-00:07 (or START- to keep to the end)"
            ))
        })?;
        let start = parse_time(a)?;
        let end = match b.trim() {
            "" => None,
            b => Some(parse_time(b)?),
        };
        if end.is_some_and(|e| e <= start) {
            return Err(TrimParseError(format!(
                "`{s}`: the end must be after the start"
            )));
        }
        Ok(KeepRange { start, end })
    }
}

impl fmt::Display for KeepRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(e) => write!(f, "{}-{}", self.start, e),
            None => write!(f, "{}-", self.start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_in_the_forms_people_type() {
        let r: KeepRange = "00:01.5-00:07".parse().unwrap();
        assert_eq!(
            r,
            KeepRange {
                start: 1.5,
                end: Some(7.0)
            }
        );
        let r: KeepRange = "1:02:03.25-".parse().unwrap();
        assert_eq!(
            r,
            KeepRange {
                start: 3723.25,
                end: None
            }
        );
        let r: KeepRange = "2-2.5".parse().unwrap();
        assert_eq!(
            r,
            KeepRange {
                start: 2.0,
                end: Some(2.5)
            }
        );
        for bad in [
            "7",
            "a-b",
            "5-3",
            "00:61-00:70",
            "-1-2",
            "1:-2",
            "inf-",
            "1::2-3",
            "3-3",
        ] {
            assert!(bad.parse::<KeepRange>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn validation_names_the_range_at_fault() {
        let r = |start, end| KeepRange { start, end };
        assert!(validate_keep(&[r(0.0, Some(1.0)), r(1.0, Some(2.0)), r(5.0, None)]).is_ok());
        let e = validate_keep(&[r(0.0, Some(3.0)), r(2.0, Some(4.0))]).unwrap_err();
        assert_eq!(e.field, "keep[1]");
        let e = validate_keep(&[r(0.0, None), r(2.0, Some(4.0))]).unwrap_err();
        assert_eq!(e.field, "keep[0]");
        let e = validate_keep(&[r(f64::NAN, None)]).unwrap_err();
        assert_eq!(e.field, "keep[0]");
        assert!(validate_keep(&[r(2.0, Some(2.0))]).is_err());
    }

    #[test]
    fn frame_times_map_to_their_frames() {
        // 30000/1001 fps: the frame at 1.5015 s is frame 45 exactly.
        let fps = 30000.0 / 1001.0;
        let r = KeepRange {
            start: 1.5015,
            end: Some(45.0 / fps + 10.0 / fps),
        };
        assert_eq!(r.frames(fps), (45, Some(55)));
    }
}
