//! OpenTimelineIO JSON (`.otio`): a `Timeline.1` whose `Stack.1` holds a video `Track.1` and, when
//! the source has audio, an audio one, each with one `Clip.2` per kept segment. Times are
//! `RationalTime.1` values counted in frames at the source rate, the form OTIO itself uses, so they
//! are exact; the rate is written as `num / den` in full double precision (29.97002997002997), the
//! value OTIO's timecode functions recognise as NTSC.

use super::{media_url, CutList, EditError, ExportOptions, Segment};
use serde_json::{json, Value};

/// The cut list as OpenTimelineIO JSON.
pub fn write_otio(cut: &CutList, opts: &ExportOptions) -> Result<String, EditError> {
    cut.check_exportable()?;
    let src = &cut.source;
    let rate = src.rate.fps();
    let rt = |frames: u64| json!({"OTIO_SCHEMA": "RationalTime.1", "rate": rate, "value": frames as f64});
    let range = |start: u64, duration: u64| json!({"OTIO_SCHEMA": "TimeRange.1", "start_time": rt(start), "duration": rt(duration)});
    let reference = json!({
        "OTIO_SCHEMA": "ExternalReference.1",
        "metadata": {},
        "name": src.clip_name(),
        "available_range": range(src.start_timecode, src.duration_frames),
        "available_image_bounds": null,
        "target_url": media_url(&src.path),
    });
    let clip = |seg: &Segment| {
        json!({
            "OTIO_SCHEMA": "Clip.2",
            "metadata": {},
            "name": src.clip_name(),
            "source_range": range(src.start_timecode + seg.start, seg.len()),
            "effects": [],
            "markers": [],
            "enabled": true,
            "color": null,
            "media_references": {"DEFAULT_MEDIA": reference.clone()},
            "active_media_reference_key": "DEFAULT_MEDIA",
        })
    };
    let track = |name: &str, kind: &str| {
        json!({
            "OTIO_SCHEMA": "Track.1",
            "metadata": {},
            "name": name,
            "source_range": null,
            "effects": [],
            "markers": [],
            "enabled": true,
            "color": null,
            "children": cut.kept.iter().map(clip).collect::<Vec<Value>>(),
            "kind": kind,
        })
    };
    let mut tracks = vec![track("V1", "Video")];
    if src.has_audio() {
        tracks.push(track("A1", "Audio"));
    }
    let timeline = json!({
        "OTIO_SCHEMA": "Timeline.1",
        "metadata": {},
        "name": opts.title(cut),
        "global_start_time": rt(opts.record_start(src)),
        "tracks": {
            "OTIO_SCHEMA": "Stack.1",
            "metadata": {},
            "name": "tracks",
            "source_range": null,
            "effects": [],
            "markers": [],
            "enabled": true,
            "color": null,
            "children": tracks,
        },
    });
    Ok(serde_json::to_string_pretty(&timeline)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::{FrameRate, SourceMedia};

    #[test]
    fn clips_carry_frame_counts_at_the_exact_rate() {
        let src = SourceMedia::new("clip.mp4", FrameRate::FPS_29_97, 900, 1280, 720);
        let cut = CutList::new(src, vec![Segment::new(10, 40)], vec![]).expect("valid");
        let text = write_otio(&cut, &ExportOptions::default()).expect("otio");
        let v: Value = serde_json::from_str(&text).expect("json");
        let tracks = &v["tracks"]["children"];
        assert_eq!(tracks.as_array().map(Vec::len), Some(1), "no audio track");
        let clip = &tracks[0]["children"][0];
        assert_eq!(clip["OTIO_SCHEMA"], "Clip.2");
        let r = &clip["source_range"];
        assert_eq!(r["start_time"]["value"], 10.0);
        assert_eq!(r["duration"]["value"], 30.0);
        assert_eq!(r["duration"]["rate"], 30000.0 / 1001.0);
        assert_eq!(v["global_start_time"]["value"], 107_892.0);
        assert_eq!(
            clip["media_references"]["DEFAULT_MEDIA"]["target_url"],
            "clip.mp4"
        );
    }
}
