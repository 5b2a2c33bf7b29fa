//! SMPTE timecode ⇄ frame counts, including drop-frame (SMPTE 12M): at 29.97 fps frame numbers
//! 00 and 01 (at 59.94: 00–03) are skipped at the start of every minute except each tenth, so the
//! timecode stays within a frame or two of wall-clock time.

use super::{EditError, FrameRate};

/// Timecode wraps after 24 hours; past that a frame has no timecode.
const HOURS: u64 = 24;

/// Frames skipped per dropped minute: 2 at 29.97, 4 at 59.94.
fn drop_count(base: u64) -> u64 {
    base / 15
}

fn base_of(rate: FrameRate) -> Result<u64, EditError> {
    rate.timecode_base()
        .map(u64::from)
        .ok_or(EditError::NoTimecode {
            num: rate.num,
            den: rate.den,
        })
}

/// `frame` (a count from 00:00:00:00) as `HH:MM:SS:FF`, or `HH:MM:SS;FF` when `drop_frame`.
pub fn format(frame: u64, rate: FrameRate, drop_frame: bool) -> Result<String, EditError> {
    let base = base_of(rate)?;
    if drop_frame && !rate.supports_drop_frame() {
        return Err(EditError::DropFrameRate {
            num: rate.num,
            den: rate.den,
        });
    }
    let mut f = frame;
    if drop_frame {
        // Renumber: add back the frame numbers skipped before this frame.
        let drop = drop_count(base);
        let per_10min = base * 600 - drop * 9;
        let per_min = base * 60 - drop;
        let (tens, rem) = (f / per_10min, f % per_10min);
        f += drop * 9 * tens;
        if rem > drop {
            f += drop * ((rem - drop) / per_min);
        }
    }
    let (ff, secs) = (f % base, f / base);
    let (ss, mm, hh) = (secs % 60, secs / 60 % 60, secs / 3600);
    if hh >= HOURS {
        return Err(EditError::TimecodeOverflow(frame));
    }
    let sep = if drop_frame { ';' } else { ':' };
    Ok(format!("{hh:02}:{mm:02}:{ss:02}{sep}{ff:02}"))
}

/// Parses `HH:MM:SS:FF` (non-drop) or `HH:MM:SS;FF` / `HH:MM:SS.FF` / `HH;MM;SS;FF` (drop-frame)
/// at `rate`; returns the frame count and whether it was drop-frame.
pub fn parse(tc: &str, rate: FrameRate) -> Result<(u64, bool), EditError> {
    let bad = || EditError::BadTimecode(tc.to_owned());
    let base = base_of(rate)?;
    let tc = tc.trim();
    let drop_frame = tc.contains([';', '.']);
    let parts: Vec<&str> = tc.split([':', ';', '.']).collect();
    let [hh, mm, ss, ff] = parts.as_slice() else {
        return Err(bad());
    };
    let num = |s: &str| -> Result<u64, EditError> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (hh, mm, ss, ff) = (num(hh)?, num(mm)?, num(ss)?, num(ff)?);
    if hh >= HOURS || mm >= 60 || ss >= 60 || ff >= base {
        return Err(bad());
    }
    if drop_frame && !rate.supports_drop_frame() {
        return Err(EditError::DropFrameRate {
            num: rate.num,
            den: rate.den,
        });
    }
    let mut frames = (hh * 3600 + mm * 60 + ss) * base + ff;
    if drop_frame {
        let drop = drop_count(base);
        if ss == 0 && ff < drop && !mm.is_multiple_of(10) {
            return Err(bad()); // a skipped frame number
        }
        let minutes = hh * 60 + mm;
        frames -= drop * (minutes - minutes / 10);
    }
    Ok((frames, drop_frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_drop_counts_plainly() {
        let r = FrameRate::FPS_25;
        assert_eq!(format(0, r, false).unwrap(), "00:00:00:00");
        assert_eq!(format(90_000, r, false).unwrap(), "01:00:00:00");
        assert_eq!(
            format(90_000 + 25 * 61 + 24, r, false).unwrap(),
            "01:01:01:24"
        );
        // 23.976 counts 24 frames per timecode second.
        assert_eq!(
            format(24, FrameRate::FPS_23_976, false).unwrap(),
            "00:00:01:00"
        );
        assert_eq!(
            parse("01:01:01:24", r).unwrap(),
            (90_000 + 25 * 61 + 24, false)
        );
    }

    #[test]
    fn drop_frame_skips_numbers_at_minutes() {
        let r = FrameRate::FPS_29_97;
        let cases = [
            (1799, "00:00:59;29"),
            (1800, "00:01:00;02"),
            (17_981, "00:09:59;29"),
            (17_982, "00:10:00;00"),
            (107_892, "01:00:00;00"),
        ];
        for (frame, tc) in cases {
            assert_eq!(format(frame, r, true).unwrap(), tc);
            assert_eq!(parse(tc, r).unwrap(), (frame, true));
        }
        let r = FrameRate::FPS_59_94;
        assert_eq!(format(3600, r, true).unwrap(), "00:01:00;04");
        assert_eq!(format(35_964, r, true).unwrap(), "00:10:00;00");
        assert_eq!(parse("00:01:00;04", r).unwrap(), (3600, true));
        // Every frame of an hour round-trips and numbers never repeat.
        let mut prev = String::new();
        for f in 0..(107_892 + 10) {
            let tc = format(f, FrameRate::FPS_29_97, true).unwrap();
            assert!(tc > prev, "{tc} after {prev}");
            assert_eq!(parse(&tc, FrameRate::FPS_29_97).unwrap().0, f);
            prev = tc;
        }
    }

    #[test]
    fn rejects_what_has_no_timecode() {
        assert!(parse("00:01:00;00", FrameRate::FPS_29_97).is_err()); // skipped number
        assert!(parse("00:00:00:25", FrameRate::FPS_25).is_err());
        assert!(parse("00:00:00;00", FrameRate::FPS_25).is_err());
        assert!(parse("1:2", FrameRate::FPS_25).is_err());
        assert!(parse("aa:00:00:00", FrameRate::FPS_25).is_err());
        assert!(format(0, FrameRate::new(25, 2), false).is_err());
        assert!(format(0, FrameRate::FPS_24, true).is_err());
        assert!(matches!(
            format(24 * 3600 * 25, FrameRate::FPS_25, false),
            Err(EditError::TimecodeOverflow(_))
        ));
    }
}
