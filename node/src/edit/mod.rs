//! Auto-edit: which parts of a source to keep (a [`CutList`]), found by [`find_stretches`] from per-frame and
//! per-window measurements, and written for editing tools as CMX 3600 EDL ([`edl`]), FCPXML
//! ([`fcpxml`]) or OpenTimelineIO JSON ([`otio`]) so a person can refine the cut instead of redoing it.
//!
//! # Time
//! A cut list counts whole frames at the source's nominal rate ([`FrameRate`], a rational such as
//! 30000/1001), because every editing format is frame-based and a frame count converts exactly to
//! each format's time (timecode, `N/Ds`, `RationalTime`) where seconds would round differently in each.
//! Frame `i` is the frame presented `i` frame durations after the first one. Stream timestamps map to
//! frames by `round((pts - first_pts) × rate)`: exact for constant-rate video, and for variable-rate
//! video it snaps each timestamp to the nearest nominal frame, so a boundary moves by at most half a
//! frame. Segments are half-open, `[start, end)`.
//!
//! Source timecode is kept apart from frame indices: [`SourceMedia::start_timecode`] is the timecode
//! of frame 0 (as a frame count), and exporters add it where a format speaks in source timecode.

pub mod edl;
pub mod fcpxml;
pub mod measure;
pub mod otio;
pub mod stretches;
pub mod timecode;
pub mod timeline;
pub mod trim;

pub use stretches::{
    find_stretches, AudioLevels, AutoEditParams, Combine, FrameMeasure, LevelMeter, StretchError,
    Stretches,
};

use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// A frame rate as an exact fraction (e.g. 24000/1001 for "23.976"), the way streams declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

impl FrameRate {
    pub const FPS_23_976: FrameRate = FrameRate::new(24000, 1001);
    pub const FPS_24: FrameRate = FrameRate::new(24, 1);
    pub const FPS_25: FrameRate = FrameRate::new(25, 1);
    pub const FPS_29_97: FrameRate = FrameRate::new(30000, 1001);
    pub const FPS_30: FrameRate = FrameRate::new(30, 1);
    pub const FPS_50: FrameRate = FrameRate::new(50, 1);
    pub const FPS_59_94: FrameRate = FrameRate::new(60000, 1001);
    pub const FPS_60: FrameRate = FrameRate::new(60, 1);

    pub const fn new(num: u32, den: u32) -> Self {
        FrameRate { num, den }
    }

    /// Frames per second as a float, for mapping timestamps.
    pub fn fps(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// A usable rate: both terms non-zero and at most 1000 fps.
    pub fn check(self) -> Result<(), EditError> {
        if self.num == 0 || self.den == 0 || self.fps() > 1000.0 {
            return Err(EditError::InvalidRate {
                num: self.num,
                den: self.den,
            });
        }
        Ok(())
    }

    /// Frames per timecode second: the rate itself when whole, 30 for 30000/1001 and so on; `None`
    /// for rates that have no SMPTE timecode (12.5, 14.985…).
    pub fn timecode_base(self) -> Option<u32> {
        if self.num == 0 || self.den == 0 {
            None
        } else if self.num.is_multiple_of(self.den) {
            Some(self.num / self.den)
        } else if self.den == 1001 && self.num.is_multiple_of(1000) {
            Some(self.num / 1000)
        } else {
            None
        }
    }

    /// Drop-frame timecode exists for 29.97 and 59.94 only (SMPTE 12M).
    pub fn supports_drop_frame(self) -> bool {
        self.den == 1001 && (self.num == 30000 || self.num == 60000)
    }

    /// The frame nearest to `seconds` after frame 0 (negative before it).
    pub fn frame_at(self, seconds: f64) -> i64 {
        (seconds * self.fps()).round() as i64
    }

    /// Start time of frame `frame`, in seconds after frame 0.
    pub fn seconds(self, frame: u64) -> f64 {
        frame as f64 * self.den as f64 / self.num as f64
    }
}

/// Audio of the source, which the exported clips carry along with the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipAudio {
    pub sample_rate: u32,
    pub channels: u16,
}

/// The file a cut list edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceMedia {
    /// Where editing tools find the file: an absolute path gives a `file://` URL in FCPXML and OTIO.
    pub path: String,
    pub rate: FrameRate,
    /// Length in frames at `rate`.
    pub duration_frames: u64,
    /// Source timecode of frame 0 as a frame count at `rate` (01:00:00:00 at 25 fps is 90000); 0
    /// when the file carries none.
    #[serde(default)]
    pub start_timecode: u64,
    /// Whether timecode is counted drop-frame (29.97 and 59.94 only).
    #[serde(default)]
    pub drop_frame: bool,
    pub width: u32,
    pub height: u32,
    /// `None` for a file without audio.
    #[serde(default)]
    pub audio: Option<ClipAudio>,
}

impl SourceMedia {
    /// A source without audio or timecode; NTSC rates count drop-frame, as cameras default to.
    pub fn new(
        path: impl Into<String>,
        rate: FrameRate,
        duration_frames: u64,
        width: u32,
        height: u32,
    ) -> Self {
        SourceMedia {
            path: path.into(),
            rate,
            duration_frames,
            start_timecode: 0,
            drop_frame: rate.supports_drop_frame(),
            width,
            height,
            audio: None,
        }
    }

    pub fn with_audio(mut self, sample_rate: u32, channels: u16) -> Self {
        self.audio = Some(ClipAudio {
            sample_rate,
            channels,
        });
        self
    }

    /// Sets the start timecode from its text (`HH:MM:SS:FF`, or `;` before the frames for
    /// drop-frame, as FFmpeg's `timecode` tag writes it); the separator decides `drop_frame`.
    pub fn with_start_timecode(mut self, tc: &str) -> Result<Self, EditError> {
        let (frame, drop) = timecode::parse(tc, self.rate)?;
        self.start_timecode = frame;
        self.drop_frame = drop;
        Ok(self)
    }

    pub fn has_audio(&self) -> bool {
        self.audio.is_some()
    }

    /// The file name, which names the clips in every format.
    pub fn clip_name(&self) -> &str {
        Path::new(&self.path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.path)
    }

    /// The file name without its extension, the default title of an exported timeline.
    pub fn stem(&self) -> &str {
        Path::new(&self.path)
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.path)
    }
}

/// A run of frames `[start, end)` at the source rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub start: u64,
    pub end: u64,
}

impl Segment {
    pub fn new(start: u64, end: u64) -> Self {
        Segment { start, end }
    }
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Why a part was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CutReason {
    Black,
    Frozen,
    Silence,
    /// Outside the job's kept ranges (in/out points).
    Trimmed,
}

/// A removed part and the detections that removed it, for the job report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    #[serde(flatten)]
    pub segment: Segment,
    pub reasons: Vec<CutReason>,
}

/// The edit: a source and the parts of it to keep, in order, with what was removed and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CutList {
    pub source: SourceMedia,
    pub kept: Vec<Segment>,
    #[serde(default)]
    pub removed: Vec<Removed>,
}

impl CutList {
    /// A checked cut list (see [`CutList::validate`]).
    pub fn new(
        source: SourceMedia,
        kept: Vec<Segment>,
        removed: Vec<Removed>,
    ) -> Result<Self, EditError> {
        let list = CutList {
            source,
            kept,
            removed,
        };
        list.validate()?;
        Ok(list)
    }

    /// The rate is usable, drop-frame only where it exists, and kept and removed parts are each in
    /// order, non-empty, inside the source and clear of each other. An empty `kept` is valid (all
    /// was cut) but cannot be exported.
    pub fn validate(&self) -> Result<(), EditError> {
        let src = &self.source;
        src.rate.check()?;
        if src.drop_frame && !src.rate.supports_drop_frame() {
            return Err(EditError::DropFrameRate {
                num: src.rate.num,
                den: src.rate.den,
            });
        }
        if src.duration_frames == 0 {
            return Err(EditError::EmptySource);
        }
        check_segments("kept", self.kept.iter().copied(), src.duration_frames)?;
        check_segments(
            "removed",
            self.removed.iter().map(|r| r.segment),
            src.duration_frames,
        )?;
        for (index, r) in self.removed.iter().enumerate() {
            let s = r.segment;
            if self.kept.iter().any(|k| k.start < s.end && s.start < k.end) {
                return Err(EditError::Segment {
                    list: "removed",
                    index,
                    start: s.start,
                    end: s.end,
                    problem: "overlaps a kept segment",
                });
            }
        }
        Ok(())
    }

    /// Frames in the edited result.
    pub fn kept_frames(&self) -> u64 {
        self.kept.iter().map(Segment::len).sum()
    }

    /// Frames cut away (by detection; parts neither kept nor listed as removed are not counted).
    pub fn removed_frames(&self) -> u64 {
        self.removed.iter().map(|r| r.segment.len()).sum()
    }

    /// Checks shared by the exporters: a valid list with something to export.
    fn check_exportable(&self) -> Result<(), EditError> {
        self.validate()?;
        if self.kept.is_empty() {
            return Err(EditError::NothingKept);
        }
        Ok(())
    }
}

fn check_segments(
    list: &'static str,
    segments: impl Iterator<Item = Segment>,
    duration: u64,
) -> Result<(), EditError> {
    let mut prev_end = 0;
    for (index, s) in segments.enumerate() {
        let problem = if s.is_empty() {
            Some("is empty")
        } else if s.end > duration {
            Some("ends after the source")
        } else if s.start < prev_end {
            Some("starts before the previous one ends")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(EditError::Segment {
                list,
                index,
                start: s.start,
                end: s.end,
                problem,
            });
        }
        prev_end = s.end;
    }
    Ok(())
}

/// What every exporter needs besides the cut list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOptions {
    /// Name of the timeline (EDL `TITLE`, FCPXML project, OTIO timeline); the source's file stem
    /// when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// Timecode the edited timeline starts at, as a frame count at the source rate; 01:00:00:00
    /// (the broadcast convention editing tools expect) when absent.
    #[serde(default)]
    pub record_start: Option<u64>,
    /// EDL reel name, 1–8 letters, digits or `_`; `AX` (an auxiliary source, linked by clip name)
    /// when absent.
    #[serde(default)]
    pub reel: Option<String>,
}

impl ExportOptions {
    fn title<'a>(&'a self, cut: &'a CutList) -> &'a str {
        self.title.as_deref().unwrap_or_else(|| cut.source.stem())
    }

    /// First record frame: the option, else 01:00:00:00 where the rate has timecode, else 0.
    fn record_start(&self, src: &SourceMedia) -> u64 {
        self.record_start.unwrap_or_else(|| {
            let sep = if src.drop_frame { ';' } else { ':' };
            timecode::parse(&format!("01:00:00{sep}00"), src.rate)
                .map(|(f, _)| f)
                .unwrap_or(0)
        })
    }
}

/// The formats a cut list can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// CMX 3600 edit decision list (`.edl`): every NLE reads it; one source, cuts only.
    Edl,
    /// Final Cut Pro XML 1.10 (`.fcpxml`): Final Cut Pro, DaVinci Resolve.
    Fcpxml,
    /// OpenTimelineIO JSON (`.otio`): Resolve, Premiere (via plug-in), Kdenlive, and OTIO tools.
    Otio,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] =
        [ExportFormat::Edl, ExportFormat::Fcpxml, ExportFormat::Otio];

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Edl => "edl",
            ExportFormat::Fcpxml => "fcpxml",
            ExportFormat::Otio => "otio",
        }
    }

    /// The format a file name asks for, by extension (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        ExportFormat::ALL.into_iter().find(|f| f.extension() == ext)
    }

    /// The cut list in this format.
    pub fn write(self, cut: &CutList, opts: &ExportOptions) -> Result<String, EditError> {
        match self {
            ExportFormat::Edl => edl::write_edl(cut, opts),
            ExportFormat::Fcpxml => fcpxml::write_fcpxml(cut, opts),
            ExportFormat::Otio => otio::write_otio(cut, opts),
        }
    }
}

/// Why a cut list could not be built or written.
#[derive(Debug, Error)]
pub enum EditError {
    #[error("frame rate {num}/{den} is not usable")]
    InvalidRate { num: u32, den: u32 },
    #[error("{num}/{den} fps has no SMPTE timecode (needs a whole or NTSC x/1001 rate)")]
    NoTimecode { num: u32, den: u32 },
    #[error("drop-frame timecode exists only at 29.97 and 59.94 fps, not {num}/{den}")]
    DropFrameRate { num: u32, den: u32 },
    #[error("timecode {0:?} is not valid HH:MM:SS:FF at this rate")]
    BadTimecode(String),
    #[error("frame {0} is past 24 hours of timecode")]
    TimecodeOverflow(u64),
    #[error("the source has no frames")]
    EmptySource,
    #[error("{list} segment {index} ({start}..{end}) {problem}")]
    Segment {
        list: &'static str,
        index: usize,
        start: u64,
        end: u64,
        problem: &'static str,
    },
    #[error("nothing is kept: every part of the source was cut")]
    NothingKept,
    #[error("the EDL would need {0} events; CMX 3600 numbers at most 999")]
    TooManyEvents(usize),
    #[error("reel name {0:?}: use 1 to 8 letters, digits or _")]
    BadReel(String),
    #[error("writing XML: {0}")]
    Xml(#[from] std::io::Error),
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// `path` as a URL: absolute paths become `file://` URLs, relative ones stay relative; bytes outside
/// the unreserved set and `/` are percent-encoded so spaces and non-ASCII names survive.
pub(crate) fn media_url(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    if Path::new(path).is_absolute() {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceMedia {
        SourceMedia::new("/media/take 1.mov", FrameRate::FPS_25, 100, 1920, 1080)
    }

    #[test]
    fn rates_have_the_right_timecode_base() {
        assert_eq!(FrameRate::FPS_23_976.timecode_base(), Some(24));
        assert_eq!(FrameRate::FPS_29_97.timecode_base(), Some(30));
        assert_eq!(FrameRate::FPS_59_94.timecode_base(), Some(60));
        assert_eq!(FrameRate::new(50, 2).timecode_base(), Some(25));
        assert_eq!(FrameRate::new(25, 2).timecode_base(), None);
        assert!(FrameRate::FPS_29_97.supports_drop_frame());
        assert!(!FrameRate::FPS_23_976.supports_drop_frame());
        assert_eq!(FrameRate::FPS_29_97.frame_at(1001.0 / 30000.0 * 7.0), 7);
    }

    #[test]
    fn validation_names_the_bad_segment() {
        let ok = CutList::new(
            source(),
            vec![Segment::new(0, 10), Segment::new(20, 100)],
            vec![Removed {
                segment: Segment::new(10, 20),
                reasons: vec![CutReason::Silence],
            }],
        )
        .expect("valid");
        assert_eq!(ok.kept_frames(), 90);
        assert_eq!(ok.removed_frames(), 10);

        let cases = [
            (vec![Segment::new(0, 0)], "is empty"),
            (vec![Segment::new(0, 101)], "ends after the source"),
            (
                vec![Segment::new(0, 10), Segment::new(5, 20)],
                "starts before",
            ),
        ];
        for (kept, want) in cases {
            let err = CutList::new(source(), kept, vec![]).unwrap_err();
            assert!(err.to_string().contains(want), "{err}");
        }
        let overlap = CutList::new(
            source(),
            vec![Segment::new(0, 10)],
            vec![Removed {
                segment: Segment::new(5, 20),
                reasons: vec![],
            }],
        );
        assert!(matches!(
            overlap,
            Err(EditError::Segment {
                list: "removed",
                ..
            })
        ));
        let mut df = source();
        df.drop_frame = true;
        assert!(matches!(
            CutList::new(df, vec![], vec![]),
            Err(EditError::DropFrameRate { .. })
        ));
    }

    #[test]
    fn serialises_for_the_report() {
        let list = CutList::new(
            source().with_audio(48000, 2),
            vec![Segment::new(0, 10)],
            vec![Removed {
                segment: Segment::new(10, 100),
                reasons: vec![CutReason::Black, CutReason::Silence],
            }],
        )
        .expect("valid");
        let v = serde_json::to_value(&list).expect("json");
        assert_eq!(v["source"]["rate"]["num"], 25);
        assert_eq!(v["removed"][0]["start"], 10);
        assert_eq!(v["removed"][0]["reasons"][1], "silence");
        let back: CutList = serde_json::from_value(v).expect("back");
        assert_eq!(back, list);
    }

    #[test]
    fn urls_and_names() {
        assert_eq!(media_url("/media/take 1.mov"), "file:///media/take%201.mov");
        assert_eq!(media_url("clips/é.mp4"), "clips/%C3%A9.mp4");
        assert_eq!(source().clip_name(), "take 1.mov");
        assert_eq!(source().stem(), "take 1");
        assert_eq!(
            ExportFormat::from_path(Path::new("a/b.FCPXML")),
            Some(ExportFormat::Fcpxml)
        );
    }

    #[test]
    fn default_record_start_is_one_hour() {
        let cut = CutList::new(source(), vec![Segment::new(0, 1)], vec![]).expect("valid");
        assert_eq!(ExportOptions::default().record_start(&cut.source), 90_000);
        let mut ntsc = SourceMedia::new("a.mp4", FrameRate::FPS_29_97, 10, 640, 480);
        assert_eq!(ExportOptions::default().record_start(&ntsc), 107_892);
        ntsc.drop_frame = false;
        assert_eq!(ExportOptions::default().record_start(&ntsc), 108_000);
    }
}
