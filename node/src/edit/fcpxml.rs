//! Final Cut Pro XML 1.10 (read by Final Cut Pro and DaVinci Resolve): one format and one asset
//! (picture and, when present, audio) in `resources`, and a project whose sequence spine holds one
//! `asset-clip` per kept segment. Every time is a rational number of seconds (`N/Ds`) computed from
//! whole frames, so it is exact at NTSC rates where decimal seconds are not.

use super::{media_url, CutList, EditError, ExportOptions, FrameRate};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use std::io;

/// The FCPXML version written; 1.10 is read by Final Cut Pro 10.6.6 and later and by Resolve 18+.
pub const VERSION: &str = "1.10";

/// The cut list as an FCPXML 1.10 document.
pub fn write_fcpxml(cut: &CutList, opts: &ExportOptions) -> Result<String, EditError> {
    cut.check_exportable()?;
    let src = &cut.source;
    let rate = src.rate;
    let t = |frames: u64| time(frames, rate);
    let name = src.clip_name();
    let title = opts.title(cut);
    let tc_format = if src.drop_frame { "DF" } else { "NDF" };
    let url = media_url(&src.path);
    let (width, height) = (src.width.to_string(), src.height.to_string());
    let frame_duration = frame_duration(rate);
    let asset_start = t(src.start_timecode);
    let asset_duration = t(src.duration_frames);
    let record = opts.record_start(src);
    let seq_duration = t(cut.kept_frames());
    let tc_start = t(record);
    let audio = src.audio.map(|a| {
        let layout = match a.channels {
            1 => "mono",
            2 => "stereo",
            _ => "surround",
        };
        (
            a.channels.to_string(),
            a.sample_rate.to_string(),
            layout,
            rate_label(a.sample_rate),
        )
    });

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 4);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::DocType(BytesText::from_escaped("fcpxml")))?;
    w.create_element("fcpxml")
        .with_attribute(("version", VERSION))
        .write_inner_content(|w| {
            w.create_element("resources").write_inner_content(|w| {
                w.create_element("format")
                    .with_attributes([
                        ("id", "r1"),
                        ("frameDuration", frame_duration.as_str()),
                        ("width", width.as_str()),
                        ("height", height.as_str()),
                    ])
                    .write_empty()?;
                let mut asset = w.create_element("asset").with_attributes([
                    ("id", "r2"),
                    ("name", name),
                    ("start", asset_start.as_str()),
                    ("duration", asset_duration.as_str()),
                    ("hasVideo", "1"),
                    ("format", "r1"),
                    ("videoSources", "1"),
                ]);
                if let Some((channels, sample_rate, _, _)) = &audio {
                    asset = asset.with_attributes([
                        ("hasAudio", "1"),
                        ("audioSources", "1"),
                        ("audioChannels", channels.as_str()),
                        ("audioRate", sample_rate.as_str()),
                    ]);
                }
                asset.write_inner_content(|w| {
                    w.create_element("media-rep")
                        .with_attributes([("kind", "original-media"), ("src", url.as_str())])
                        .write_empty()?;
                    Ok(())
                })?;
                Ok(())
            })?;
            w.create_element("library").write_inner_content(|w| {
                w.create_element("event")
                    .with_attribute(("name", title))
                    .write_inner_content(|w| {
                        w.create_element("project")
                            .with_attribute(("name", title))
                            .write_inner_content(|w| {
                                let mut seq = w.create_element("sequence").with_attributes([
                                    ("format", "r1"),
                                    ("duration", seq_duration.as_str()),
                                    ("tcStart", tc_start.as_str()),
                                    ("tcFormat", tc_format),
                                ]);
                                if let Some((_, _, layout, label)) = &audio {
                                    seq = seq.with_attribute(("audioLayout", *layout));
                                    if let Some(label) = label {
                                        seq = seq.with_attribute(("audioRate", *label));
                                    }
                                }
                                seq.write_inner_content(|w| {
                                    w.create_element("spine").write_inner_content(|w| {
                                        write_clips(w, cut, record, tc_format)
                                    })?;
                                    Ok(())
                                })?;
                                Ok(())
                            })?;
                        Ok(())
                    })?;
                Ok(())
            })?;
            Ok(())
        })?;
    String::from_utf8(w.into_inner())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e).into())
}

/// One `asset-clip` per kept segment, end to end from the sequence's start timecode.
fn write_clips(
    w: &mut Writer<Vec<u8>>,
    cut: &CutList,
    record: u64,
    tc_format: &str,
) -> io::Result<()> {
    let src = &cut.source;
    let mut offset = record;
    for seg in &cut.kept {
        let (at, start, duration) = (
            time(offset, src.rate),
            time(src.start_timecode + seg.start, src.rate),
            time(seg.len(), src.rate),
        );
        let mut clip = w.create_element("asset-clip").with_attributes([
            ("ref", "r2"),
            ("offset", at.as_str()),
            ("name", src.clip_name()),
            ("start", start.as_str()),
            ("duration", duration.as_str()),
            ("format", "r1"),
            ("tcFormat", tc_format),
        ]);
        if src.has_audio() {
            clip = clip.with_attribute(("audioRole", "dialogue"));
        }
        clip.write_empty()?;
        offset += seg.len();
    }
    Ok(())
}

/// `frames` at `rate` as FCPXML time: seconds as a reduced fraction, `Ns` when whole, `0s` for 0.
pub fn time(frames: u64, rate: FrameRate) -> String {
    let (n, d) = (frames as u128 * rate.den as u128, rate.num as u128);
    if n == 0 {
        return "0s".into();
    }
    let g = gcd(n, d);
    let (n, d) = (n / g, d / g);
    if d == 1 {
        format!("{n}s")
    } else {
        format!("{n}/{d}s")
    }
}

/// One frame's duration written the way Final Cut Pro writes it for its standard rates (`100/2400s`
/// for 24p, `1001/30000s` for 29.97), reduced otherwise.
fn frame_duration(rate: FrameRate) -> String {
    match (rate.num, rate.den) {
        (n @ (24 | 30 | 48 | 60), 1) => format!("100/{}s", n * 100),
        (n, 1001) if n.is_multiple_of(1000) => format!("1001/{n}s"),
        _ => time(1, rate),
    }
}

/// The sequence `audioRate` values FCPXML's DTD allows.
fn rate_label(hz: u32) -> Option<&'static str> {
    Some(match hz {
        32_000 => "32k",
        44_100 => "44.1k",
        48_000 => "48k",
        88_200 => "88.2k",
        96_000 => "96k",
        176_400 => "176.4k",
        192_000 => "192k",
        _ => return None,
    })
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::{Segment, SourceMedia};

    #[test]
    fn times_are_exact_rationals() {
        assert_eq!(time(0, FrameRate::FPS_29_97), "0s");
        assert_eq!(time(30, FrameRate::FPS_29_97), "1001/1000s");
        assert_eq!(time(1, FrameRate::FPS_23_976), "1001/24000s");
        assert_eq!(time(50, FrameRate::FPS_25), "2s");
        assert_eq!(time(29, FrameRate::FPS_25), "29/25s");
        assert_eq!(frame_duration(FrameRate::FPS_24), "100/2400s");
        assert_eq!(frame_duration(FrameRate::FPS_25), "1/25s");
        assert_eq!(frame_duration(FrameRate::FPS_59_94), "1001/60000s");
    }

    #[test]
    fn writes_a_spine_of_asset_clips() {
        let src = SourceMedia::new("/m/a & b.mov", FrameRate::FPS_25, 250, 1920, 1080)
            .with_audio(48000, 2);
        let cut = CutList::new(
            src,
            vec![Segment::new(0, 50), Segment::new(100, 129)],
            vec![],
        )
        .expect("valid");
        let xml = write_fcpxml(&cut, &ExportOptions::default()).expect("xml");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(xml.contains("<!DOCTYPE fcpxml>"));
        assert!(xml.contains("<fcpxml version=\"1.10\">"));
        assert!(xml.contains(r#"src="file:///m/a%20%26%20b.mov""#), "{xml}");
        assert!(xml.contains(r#"name="a &amp; b.mov""#), "{xml}");
        assert!(xml.contains(
            r#"<sequence format="r1" duration="79/25s" tcStart="3600s" tcFormat="NDF" audioLayout="stereo" audioRate="48k">"#
        ), "{xml}");
        assert!(xml.contains(
            r#"<asset-clip ref="r2" offset="3602s" name="a &amp; b.mov" start="4s" duration="29/25s" format="r1" tcFormat="NDF" audioRole="dialogue"/>"#
        ), "{xml}");
    }
}
