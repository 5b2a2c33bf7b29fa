//! Probing: streams, duration, frame rate (or VFR), size, colour and HDR metadata, and the frame index
//! read from packets without decoding.

use super::{ffmpeg, h264, input, rational_pair, seconds, MediaError, Result};
use ffmpeg::ffi;
use ffmpeg::packet::Ref as _;
use kino_shared::{AudioInfo, ColourTags, HdrInfo, MediaInfo, VideoInfo};
use std::ffi::CStr;
use std::path::Path;

/// One video frame as the container lists it, in presentation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    pub pts: i64,
    pub duration: i64,
    pub key: bool,
    /// A keyframe from which decoding yields every frame at or after its pts (closed GOP).
    pub clean_start: bool,
    /// Byte offset of the frame's packet in the file, and its size (`pos` < 0: not known). A
    /// node without the file fetches a chunk's byte range by these.
    pub pos: i64,
    pub size: u32,
}

/// Every frame of the video stream, sorted by presentation time.
#[derive(Debug, Clone)]
pub struct FrameIndex {
    pub time_base: ffmpeg::Rational,
    pub frames: Vec<FrameEntry>,
}

impl FrameIndex {
    /// End of the last frame (pts + duration).
    pub fn end_pts(&self) -> i64 {
        self.frames.last().map(|f| f.pts + f.duration).unwrap_or(0)
    }
}

/// A probe result: the report for users and the index for planning.
pub struct Probe {
    pub info: MediaInfo,
    pub index: FrameIndex,
}

fn name_of(ptr: *const std::os::raw::c_char) -> String {
    if ptr.is_null() {
        "unknown".into()
    } else {
        // SAFETY: FFmpeg returns static NUL-terminated names.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

/// Probes `path`. With `with_index` every packet is read (no decoding) to build the frame index and to
/// detect truncation; without it only headers are read and the index is empty.
pub fn probe(path: &Path, with_index: bool) -> Result<Probe> {
    let mut ictx = input::open(path)?;
    let shown = path.display().to_string();
    let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let vstream = ictx
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| MediaError::NoVideo(shown.clone()))?;
    let vindex = vstream.index();
    let params = vstream.parameters();
    if params.id() == ffmpeg::codec::Id::None {
        // SAFETY: parameters pointer is valid for the stream's lifetime.
        let tag = unsafe { (*params.as_ptr()).codec_tag };
        let fourcc: String = tag
            .to_le_bytes()
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect();
        return Err(MediaError::UnsupportedCodec(format!(
            "unknown codec tag '{fourcc}'"
        )));
    }
    if ffmpeg::decoder::find(params.id()).is_none() {
        return Err(MediaError::UnsupportedCodec(format!("{:?}", params.id())));
    }
    let tb = vstream.time_base();
    let avg = frame_rate(&vstream);
    let sar = stream_sar(&vstream);
    let header_frames = vstream.frames();
    let start_time = vstream.start_time();
    let ctx = ffmpeg::codec::Context::from_parameters(params)
        .map_err(MediaError::ff("reading video parameters"))?;
    let dec = ctx
        .decoder()
        .video()
        .map_err(MediaError::ff("reading video parameters"))?;
    let (width, height) = (dec.width(), dec.height());
    if width == 0 || height == 0 {
        return Err(MediaError::Truncated(format!(
            "{shown}: video frame size is unknown"
        )));
    }
    let pix = dec.format();
    // SAFETY: the decoder context is valid; we read plain fields.
    let (matrix, transfer, primaries, range) = unsafe {
        let c = dec.as_ptr();
        (
            name_of(ffi::av_color_space_name((*c).colorspace)),
            name_of(ffi::av_color_transfer_name((*c).color_trc)),
            name_of(ffi::av_color_primaries_name((*c).color_primaries)),
            name_of(ffi::av_color_range_name((*c).color_range)),
        )
    };
    let bit_depth = pixel_depth(pix);
    let codec_name = format!("{:?}", vstream.parameters().id()).to_lowercase();
    let (rotation, mastering, cll) = side_data(&vstream);
    let hdr_kind = match transfer.as_str() {
        "smpte2084" => "pq",
        "arib-std-b67" => "hlg",
        _ => "sdr",
    };
    let mut audio = Vec::new();
    for s in ictx
        .streams()
        .filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
    {
        let p = s.parameters();
        // SAFETY: parameters pointer valid while the stream is.
        let (rate, channels) = unsafe {
            (
                (*p.as_ptr()).sample_rate as u32,
                (*p.as_ptr()).ch_layout.nb_channels as u32,
            )
        };
        let d = s.duration();
        audio.push(AudioInfo {
            stream_index: s.index(),
            codec: format!("{:?}", p.id()).to_lowercase(),
            sample_rate: rate,
            channels,
            duration_seconds: (d > 0).then(|| seconds(d, s.time_base())),
            language: s.metadata().get("language").map(str::to_owned),
        });
    }
    let format = ictx.format().name().to_owned();
    let container_duration = (ictx.duration() > 0).then(|| ictx.duration() as f64 / 1e6);
    let bit_rate = (ictx.bit_rate() > 0).then(|| ictx.bit_rate() as u64);

    let index = if with_index {
        let index = read_index(&mut ictx, vindex, tb, &shown)?;
        if format.contains("mp4")
            && header_frames > 0
            && (index.frames.len() as i64) < header_frames
        {
            return Err(MediaError::Truncated(format!(
                "{shown}: only {} of {header_frames} video frames are present",
                index.frames.len()
            )));
        }
        if index.frames.is_empty() {
            return Err(MediaError::Truncated(format!(
                "{shown}: the video stream has no frames"
            )));
        }
        index
    } else {
        FrameIndex {
            time_base: tb,
            frames: Vec::new(),
        }
    };

    let frames = index.frames.len() as u64;
    let (fps, vfr, duration, start) = if frames > 0 {
        let deltas: Vec<i64> = index
            .frames
            .windows(2)
            .map(|w| w[1].pts - w[0].pts)
            .collect();
        let vfr = is_variable(&deltas);
        let first = index.frames[0].pts;
        let dur = seconds(index.end_pts() - first, tb);
        let fps = if dur > 0.0 { frames as f64 / dur } else { 0.0 };
        (fps, vfr, dur, seconds(first, tb))
    } else {
        let fps = if avg.denominator() != 0 {
            f64::from(avg)
        } else {
            0.0
        };
        let start = if start_time != ffi::AV_NOPTS_VALUE {
            seconds(start_time, tb)
        } else {
            0.0
        };
        (fps, false, container_duration.unwrap_or(0.0), start)
    };
    let keyframes = index.frames.iter().filter(|f| f.key).count() as u64;
    let video = VideoInfo {
        stream_index: vindex,
        codec: codec_name,
        width,
        height,
        sample_aspect_ratio: [sar.num, sar.den],
        pixel_format: format!("{pix:?}").to_lowercase(),
        bit_depth,
        time_base: rational_pair(tb),
        avg_frame_rate: rational_pair(avg),
        fps,
        variable_frame_rate: vfr,
        frames,
        keyframes,
        duration_seconds: duration,
        start_seconds: start,
        rotation_degrees: rotation,
        colour: ColourTags {
            matrix,
            transfer,
            primaries,
            range,
        },
        hdr: HdrInfo {
            kind: hdr_kind.into(),
            mastering_display: mastering,
            content_light_level: cll,
        },
    };
    Ok(Probe {
        info: MediaInfo {
            format,
            duration_seconds: container_duration,
            size_bytes,
            bit_rate,
            video: Some(video),
            audio,
        },
        index,
    })
}

/// Frame durations vary by more than rounding (two ticks or 10 %).
fn is_variable(deltas: &[i64]) -> bool {
    let (Some(min), Some(max)) = (deltas.iter().min(), deltas.iter().max()) else {
        return false;
    };
    let mut sorted = deltas.to_vec();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    max - min > 2.max(median / 10)
}

/// The pixel aspect ratio a stream is shown with: the container's when it sets one (as FFmpeg's
/// `av_guess_sample_aspect_ratio` prefers), else the codec's (filled in from the bitstream when
/// the input was opened), else square.
pub fn stream_sar(stream: &ffmpeg::format::stream::Stream) -> kino_shared::Sar {
    // SAFETY: plain field reads of a valid stream and its codec parameters.
    let (st, par) = unsafe {
        let s = stream.as_ptr();
        (
            (*s).sample_aspect_ratio,
            (*(*s).codecpar).sample_aspect_ratio,
        )
    };
    if st.num > 0 && st.den > 0 {
        kino_shared::Sar::new(st.num as i64, st.den as i64)
    } else {
        kino_shared::Sar::new(par.num as i64, par.den as i64)
    }
}

/// Which field of an interlaced frame is shown first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldOrder {
    Progressive,
    TopFirst,
    BottomFirst,
}

impl FieldOrder {
    pub fn name(self) -> &'static str {
        match self {
            FieldOrder::Progressive => "progressive",
            FieldOrder::TopFirst => "top field first",
            FieldOrder::BottomFirst => "bottom field first",
        }
    }
}

/// What the stream's codec parameters say, `None` when they do not say.
pub fn stream_field_order(stream: &ffmpeg::format::stream::Stream) -> Option<FieldOrder> {
    use ffmpeg::ffi::AVFieldOrder as F;
    // SAFETY: plain field read of valid codec parameters.
    let order = unsafe { (*(*stream.as_ptr()).codecpar).field_order };
    match order {
        F::AV_FIELD_PROGRESSIVE => Some(FieldOrder::Progressive),
        // Display order: TT and BT show the top field first.
        F::AV_FIELD_TT | F::AV_FIELD_BT => Some(FieldOrder::TopFirst),
        F::AV_FIELD_BB | F::AV_FIELD_TB => Some(FieldOrder::BottomFirst),
        _ => None,
    }
}

/// The stream's frame rate: the average the demuxer measured, else the nominal one (`r_frame_rate`;
/// Ogg/Theora and some raw streams give only that). Zero when neither is known.
pub fn frame_rate(stream: &ffmpeg::format::stream::Stream) -> ffmpeg::Rational {
    let valid = |r: ffmpeg::Rational| r.numerator() > 0 && r.denominator() > 0;
    let avg = stream.avg_frame_rate();
    if valid(avg) {
        return avg;
    }
    let nominal = stream.rate();
    if valid(nominal) {
        nominal
    } else {
        ffmpeg::Rational::new(0, 1)
    }
}

/// Bits per component of a pixel format.
pub fn pixel_depth(pix: ffmpeg::format::Pixel) -> u8 {
    // SAFETY: av_pix_fmt_desc_get returns a static descriptor or null.
    unsafe {
        let d = ffi::av_pix_fmt_desc_get(pix.into());
        if d.is_null() {
            8
        } else {
            (*d).comp[0].depth as u8
        }
    }
}

fn side_data(stream: &ffmpeg::format::stream::Stream) -> (f64, bool, Option<[u32; 2]>) {
    let mut rotation = 0.0;
    let mut mastering = false;
    let mut cll = None;
    // SAFETY: stream side data entries are valid for the stream's lifetime; sizes are checked.
    unsafe {
        let st = stream.as_ptr();
        for i in 0..(*st).nb_side_data as isize {
            let sd = &*(*st).side_data.offset(i);
            match sd.type_ {
                ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX if sd.size >= 36 => {
                    let r = ffi::av_display_rotation_get(sd.data as *const i32);
                    if r.is_finite() {
                        rotation = if r == 0.0 { 0.0 } else { r };
                    }
                }
                ffi::AVPacketSideDataType::AV_PKT_DATA_MASTERING_DISPLAY_METADATA => {
                    mastering = true
                }
                ffi::AVPacketSideDataType::AV_PKT_DATA_CONTENT_LIGHT_LEVEL if sd.size >= 8 => {
                    // AVContentLightMetadata: { unsigned MaxCLL; unsigned MaxFALL; }
                    let c = sd.data as *const u32;
                    cll = Some([c.read_unaligned(), c.add(1).read_unaligned()]);
                }
                _ => {}
            }
        }
    }
    (rotation, mastering, cll)
}

const AV_PKT_FLAG_DISCARD: i32 = 0x0004;

/// Reads every packet of stream `vindex` (no decoding) into a presentation-ordered frame index.
fn read_index(
    ictx: &mut ffmpeg::format::context::Input,
    vindex: usize,
    tb: ffmpeg::Rational,
    shown: &str,
) -> Result<FrameIndex> {
    struct Raw {
        pts: i64,
        duration: i64,
        key: bool,
        /// For H.264: the keyframe is an IDR picture (nothing after it refers to frames before).
        idr: bool,
        /// For H.264: the packet carries parameter sets (SPS/PPS) in band.
        params: bool,
        pos: i64,
        size: u32,
    }
    // An H.264 I-frame that is not IDR may be followed by frames that refer back past it (the
    // container still marks it a sync sample): decoding from it shows grey until the references
    // recover. Only IDR pictures are clean starts there.
    let h264 = {
        let stream = ictx.stream(vindex);
        stream.as_ref().map(|s| s.parameters().id()) == Some(ffmpeg::codec::Id::H264)
    };
    let nal_length = ictx
        .stream(vindex)
        .and_then(|s| h264::nal_length_size(&h264::extradata(&s)));
    let mut raw: Vec<Raw> = Vec::new();
    // Keyframes (by position in `raw`) whose GOP has leading frames shown before them.
    let mut open_gop: Vec<usize> = Vec::new();
    let mut last_key: Option<(usize, i64)> = None;
    let mut invalid = 0usize;
    let mut inband_params = false;
    let mut packet = ffmpeg::Packet::empty();
    loop {
        match packet.read(ictx) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => continue,
            Err(ffmpeg::Error::InvalidData) if invalid < 16 => {
                invalid += 1;
                continue;
            }
            Err(e) => {
                return Err(MediaError::Truncated(format!(
                    "{shown}: reading packets failed after {} frames: {e}",
                    raw.len()
                )))
            }
        }
        if packet.stream() != vindex {
            continue;
        }
        // SAFETY: plain field read of a valid packet.
        let flags = unsafe { (*packet.as_ptr()).flags };
        if flags & AV_PKT_FLAG_DISCARD != 0 {
            continue;
        }
        let Some(pts) = packet.pts().or(packet.dts()) else {
            continue;
        };
        let key = packet.is_key();
        let nals = if h264 && key {
            packet
                .data()
                .map(|d| h264::nal_types(d, nal_length))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let idr = !h264 || nals.contains(&h264::NAL_IDR);
        let params = nals.contains(&h264::NAL_SPS) || nals.contains(&h264::NAL_PPS);
        if h264 && !key {
            // Parameter sets are rare outside keyframes; look for them only while none was seen.
            if !inband_params {
                inband_params = packet.data().is_some_and(|d| {
                    h264::nal_types(d, nal_length)
                        .iter()
                        .any(|&t| t == h264::NAL_SPS || t == h264::NAL_PPS)
                });
            }
        }
        // In band even in the first packet: the decoder then uses those, not the container's.
        inband_params |= params;
        if key {
            last_key = Some((raw.len(), pts));
        } else if let Some((k, kpts)) = last_key {
            if pts < kpts && open_gop.last() != Some(&k) {
                open_gop.push(k);
            }
        }
        raw.push(Raw {
            pts,
            duration: packet.duration(),
            key,
            idr,
            params,
            pos: packet.position() as i64,
            size: packet.size() as u32,
        });
    }
    let mut frames: Vec<FrameEntry> = raw
        .iter()
        .enumerate()
        .map(|(i, r)| FrameEntry {
            pts: r.pts,
            duration: r.duration,
            key: r.key,
            // Parameter sets that change in band: a keyframe without its own may be decoded with
            // the wrong ones (grey, broken frames), so only keyframes carrying them are clean.
            clean_start: r.key
                && r.idr
                && !open_gop.contains(&i)
                && (i == 0 || !inband_params || r.params),
            pos: r.pos,
            size: r.size,
        })
        .collect();
    frames.sort_by_key(|f| f.pts);
    frames.dedup_by_key(|f| f.pts);
    // Durations from the timeline itself; the last frame keeps its packet duration (or the median step).
    let mut steps: Vec<i64> = frames.windows(2).map(|w| w[1].pts - w[0].pts).collect();
    for (f, d) in frames.iter_mut().zip(steps.iter()) {
        f.duration = *d;
    }
    if let Some(last) = frames.last_mut() {
        if last.duration <= 0 {
            steps.sort_unstable();
            last.duration = steps.get(steps.len() / 2).copied().unwrap_or(1).max(1);
        }
    }
    Ok(FrameIndex {
        time_base: tb,
        frames,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn vfr_detection_tolerates_rounding() {
        assert!(!super::is_variable(&[33, 34, 33, 33, 34]));
        assert!(!super::is_variable(&[1001; 10]));
        assert!(super::is_variable(&[40, 40, 80, 40, 120]));
    }
}
