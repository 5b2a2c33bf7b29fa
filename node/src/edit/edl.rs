//! CMX 3600 EDL: the oldest and most widely read interchange format. One event per kept segment and
//! track (`V`, then `A` for mono or `AA` for stereo and more), cuts only, source timecode from the
//! source's own start timecode, record timecode running from the record start without gaps. Clips
//! are linked by the `* FROM CLIP NAME:` comment, which is how NLEs relink an `AX` (auxiliary) reel.

use super::{timecode, CutList, EditError, ExportOptions};
use std::fmt::Write;

/// CMX 3600 event numbers have three digits.
const MAX_EVENTS: usize = 999;

/// The cut list as a CMX 3600 EDL.
pub fn write_edl(cut: &CutList, opts: &ExportOptions) -> Result<String, EditError> {
    cut.check_exportable()?;
    let src = &cut.source;
    let (rate, drop) = (src.rate, src.drop_frame);
    let reel = opts.reel.as_deref().unwrap_or("AX");
    if reel.is_empty()
        || reel.len() > 8
        || !reel.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(EditError::BadReel(reel.to_owned()));
    }
    let mut channels = vec!["V"];
    match src.audio {
        Some(a) if a.channels == 1 => channels.push("A"),
        Some(_) => channels.push("AA"),
        None => {}
    }
    let events = cut.kept.len() * channels.len();
    if events > MAX_EVENTS {
        return Err(EditError::TooManyEvents(events));
    }
    let tc = |frame: u64| timecode::format(frame, rate, drop);
    let name = one_line(src.clip_name());

    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(out, "TITLE: {}", one_line(opts.title(cut)));
    let fcm = if drop { "DROP FRAME" } else { "NON-DROP FRAME" };
    let _ = writeln!(out, "FCM: {fcm}\n");
    let mut record = opts.record_start(src);
    let mut event = 0;
    for seg in &cut.kept {
        let (src_in, src_out) = (src.start_timecode + seg.start, src.start_timecode + seg.end);
        let (rec_in, rec_out) = (record, record + seg.len());
        let times = format!(
            "{} {} {} {}",
            tc(src_in)?,
            tc(src_out)?,
            tc(rec_in)?,
            tc(rec_out)?
        );
        for ch in &channels {
            event += 1;
            let _ = writeln!(out, "{event:03}  {reel:<8} {ch:<5} C        {times}");
            let _ = writeln!(out, "* FROM CLIP NAME:  {name}\n");
        }
        record = rec_out;
    }
    Ok(out)
}

/// Text for a one-line field: a line break in a file name must not start a new EDL line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::{FrameRate, Segment, SourceMedia};

    #[test]
    fn writes_events_for_video_and_audio() {
        let src = SourceMedia::new("/m/shoot.mov", FrameRate::FPS_29_97, 3000, 1920, 1080)
            .with_audio(48000, 2)
            .with_start_timecode("00:59:59;28")
            .expect("tc");
        let cut = CutList::new(
            src,
            vec![Segment::new(0, 30), Segment::new(100, 200)],
            vec![],
        )
        .expect("valid");
        let edl = write_edl(&cut, &ExportOptions::default()).expect("edl");
        let want = "TITLE: shoot\nFCM: DROP FRAME\n\n\
            001  AX       V     C        00:59:59;28 01:00:00;28 01:00:00;00 01:00:01;00\n\
            * FROM CLIP NAME:  shoot.mov\n\n\
            002  AX       AA    C        00:59:59;28 01:00:00;28 01:00:00;00 01:00:01;00\n\
            * FROM CLIP NAME:  shoot.mov\n\n\
            003  AX       V     C        01:00:03;08 01:00:06;18 01:00:01;00 01:00:04;10\n\
            * FROM CLIP NAME:  shoot.mov\n\n\
            004  AX       AA    C        01:00:03;08 01:00:06;18 01:00:01;00 01:00:04;10\n\
            * FROM CLIP NAME:  shoot.mov\n\n";
        assert_eq!(edl, want);
    }

    #[test]
    fn refuses_what_cmx_cannot_say() {
        let src = SourceMedia::new("a.mp4", FrameRate::FPS_25, 5000, 640, 360);
        let many: Vec<Segment> = (0..1000).map(|i| Segment::new(i * 5, i * 5 + 1)).collect();
        let cut = CutList::new(src.clone(), many, vec![]).expect("valid");
        assert!(matches!(
            write_edl(&cut, &ExportOptions::default()),
            Err(EditError::TooManyEvents(1000))
        ));
        let cut = CutList::new(src.clone(), vec![Segment::new(0, 5)], vec![]).expect("valid");
        let opts = ExportOptions {
            reel: Some("TAPE 1".into()),
            ..Default::default()
        };
        assert!(matches!(write_edl(&cut, &opts), Err(EditError::BadReel(_))));
        let empty = CutList::new(src, vec![], vec![]).expect("valid");
        assert!(matches!(
            write_edl(&empty, &ExportOptions::default()),
            Err(EditError::NothingKept)
        ));
        let odd = SourceMedia::new("a.mp4", FrameRate::new(25, 2), 50, 640, 360);
        let cut = CutList::new(odd, vec![Segment::new(0, 5)], vec![]).expect("valid");
        assert!(matches!(
            write_edl(&cut, &ExportOptions::default()),
            Err(EditError::NoTimecode { .. })
        ));
    }
}
