//! Video encoding: encoder selection and options per codec, and the chunk writer that encodes frames
//! with their original timestamps into a chunk file.

use super::convert::{unjpeg, Converter};
use super::{ffmpeg, MediaError, Result};
use ffmpeg::format::Pixel;
use ffmpeg::util::frame::Video as AvFrame;
use kino_shared::{ColourInfo, OutputSpec, VideoCodec};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The FFmpeg encoder name for a codec.
pub fn encoder_name(codec: VideoCodec) -> &'static str {
    match codec {
        VideoCodec::H264 => "libx264",
        VideoCodec::H265 => "libx265",
        VideoCodec::Av1 => "libsvtav1",
        VideoCodec::Vp9 => "libvpx-vp9",
    }
}

/// Encoders an operator turned off on this node (`KINO_DISABLED_ENCODERS=libsvtav1,libx265`), e.g.
/// one that misbehaves on its hardware; jobs needing them are refused as if the build lacked them.
pub const DISABLED_ENCODERS_ENV: &str = "KINO_DISABLED_ENCODERS";

/// Finds the encoder or says which one is missing.
pub fn find_encoder(codec: VideoCodec) -> Result<ffmpeg::Codec> {
    super::init();
    let name = encoder_name(codec);
    let disabled = std::env::var(DISABLED_ENCODERS_ENV).unwrap_or_default();
    if disabled.split(',').any(|d| d.trim() == name) {
        return Err(MediaError::EncoderMissing(format!(
            "{name} is turned off on this node ({DISABLED_ENCODERS_ENV})"
        )));
    }
    ffmpeg::encoder::find_by_name(name)
        .ok_or_else(|| MediaError::EncoderMissing(format!("{name} is not in this FFmpeg build")))
}

/// Encoder options for a spec; presets are mapped for the encoders that number theirs.
/// With target quality every chunk has its own CRF, and x264/x265 put the initial QP (which follows
/// the CRF) in the picture parameter set; the joined file carries the first chunk's in its header,
/// so each chunk repeats its own in-band at every keyframe or the others decode with the wrong
/// quantiser (a washed-out picture).
const REPEAT_HEADERS: &str = "repeat-headers=1";

fn options(
    spec: &OutputSpec,
    lookahead: Option<u32>,
    hdr: &super::hdr::HdrMeta,
) -> ffmpeg::Dictionary<'static> {
    let mut d = ffmpeg::Dictionary::new();
    let rank = kino_shared::PRESETS
        .iter()
        .position(|p| *p == spec.preset)
        .unwrap_or(5) as i32;
    d.set("crf", &spec.crf.to_string());
    match spec.codec {
        VideoCodec::H264 => {
            d.set("preset", &spec.preset);
            if let Some(l) = lookahead {
                d.set("rc-lookahead", &l.to_string());
            }
            let mut params = Vec::new();
            if !hdr.is_empty() {
                params.push(hdr.encoder_params(false));
            }
            if spec.target_quality.is_some() {
                params.push(REPEAT_HEADERS.into());
            }
            if !params.is_empty() {
                d.set("x264-params", &params.join(":"));
            }
        }
        VideoCodec::H265 => {
            d.set("preset", &spec.preset);
            let mut params = "log-level=error".to_owned();
            if let Some(l) = lookahead {
                params.push_str(&format!(":rc-lookahead={l}"));
            }
            if !hdr.is_empty() {
                params.push(':');
                params.push_str(&hdr.encoder_params(true));
            }
            if spec.target_quality.is_some() {
                params.push(':');
                params.push_str(REPEAT_HEADERS);
            }
            d.set("x265-params", &params);
        }
        VideoCodec::Av1 => d.set("preset", &(12 - rank).clamp(0, 12).to_string()),
        VideoCodec::Vp9 => {
            d.set("b", "0");
            d.set("deadline", "good");
            d.set("row-mt", "1");
            d.set("cpu-used", &(5 - rank / 2).clamp(0, 5).to_string());
        }
    }
    d
}

/// The pixel format the encoder takes for `wanted`: itself if supported, else the closest 4:2:0.
pub fn encoder_pixel(codec: &ffmpeg::Codec, wanted: Pixel) -> Pixel {
    let wanted = unjpeg(wanted).unwrap_or(wanted);
    let formats: Vec<Pixel> = codec
        .video()
        .ok()
        .and_then(|v| v.formats())
        .map(|f| f.collect())
        .unwrap_or_default();
    if formats.is_empty() || formats.contains(&wanted) {
        return wanted;
    }
    let deep = super::probe::pixel_depth(wanted) > 8;
    if deep && formats.contains(&Pixel::YUV420P10LE) {
        Pixel::YUV420P10LE
    } else {
        Pixel::YUV420P
    }
}

/// What the chunk writer needs to set up its encoder.
#[derive(Debug, Clone)]
pub struct VideoTarget {
    pub width: u32,
    pub height: u32,
    /// Pixel format of the frames that will be written.
    pub pixel: Pixel,
    pub colour: ColourInfo,
    pub time_base: ffmpeg::Rational,
    pub frame_rate: Option<ffmpeg::Rational>,
    pub threads: usize,
    /// Cap on the x264/x265 look-ahead (memory), `None` for the preset's.
    pub lookahead: Option<u32>,
    /// HDR10 static metadata to write into the bitstream.
    pub hdr: super::hdr::HdrMeta,
    /// Pixel aspect ratio, written into the bitstream (VUI) and the container.
    pub sar: kino_shared::Sar,
}

/// Encodes frames into one chunk file (MP4, video only) keeping each frame's pts and duration.
pub struct ChunkWriter {
    octx: ffmpeg::format::context::Output,
    enc: ffmpeg::codec::encoder::video::Encoder,
    conv: Option<Converter>,
    enc_pixel: Pixel,
    enc_tb: ffmpeg::Rational,
    ost_tb: ffmpeg::Rational,
    durations: HashMap<i64, i64>,
    path: PathBuf,
    packets: u64,
}

impl ChunkWriter {
    pub fn create(path: &Path, spec: &OutputSpec, target: &VideoTarget) -> Result<Self> {
        let codec = find_encoder(spec.codec)?;
        let shown = path.display().to_string();
        let (mut octx, global_header) = super::create_output(path, "mp4")?;
        let enc_pixel = encoder_pixel(&codec, target.pixel);
        let mut ctx = ffmpeg::codec::Context::new_with_codec(codec);
        ctx.set_threading(ffmpeg::threading::Config {
            kind: ffmpeg::threading::Type::Frame,
            count: target.threads.max(1),
            ..Default::default()
        });
        let mut enc = ctx
            .encoder()
            .video()
            .map_err(MediaError::ff("creating the video encoder"))?;
        enc.set_width(target.width);
        enc.set_height(target.height);
        enc.set_format(enc_pixel);
        enc.set_time_base(target.time_base);
        enc.set_frame_rate(target.frame_rate);
        let sar = ffmpeg::Rational::new(target.sar.num as i32, target.sar.den as i32);
        enc.set_aspect_ratio(sar);
        // SAFETY: plain field writes before the encoder is opened. Flags are OR-ed in: replacing them
        // would turn x264's closed GOP into an open one.
        unsafe {
            let c = enc.as_mut_ptr();
            if global_header {
                (*c).flags |= ffmpeg::ffi::AV_CODEC_FLAG_GLOBAL_HEADER as i32;
            }
            (*c).color_range = if target.colour.full_range {
                ffmpeg::ffi::AVColorRange::AVCOL_RANGE_JPEG
            } else {
                ffmpeg::ffi::AVColorRange::AVCOL_RANGE_MPEG
            };
            (*c).colorspace =
                std::mem::transmute::<u32, ffmpeg::ffi::AVColorSpace>(target.colour.matrix as u32);
            (*c).color_trc = std::mem::transmute::<u32, ffmpeg::ffi::AVColorTransferCharacteristic>(
                target.colour.transfer as u32,
            );
            (*c).color_primaries = std::mem::transmute::<u32, ffmpeg::ffi::AVColorPrimaries>(
                target.colour.primaries as u32,
            );
            if target.colour.chroma_center {
                (*c).chroma_sample_location = ffmpeg::ffi::AVChromaLocation::AVCHROMA_LOC_CENTER;
            }
        }
        let enc = enc
            .open_as_with(codec, options(spec, target.lookahead, &target.hdr))
            .map_err(|e| MediaError::Encode(format!("opening {}: {e}", codec.name())))?;
        {
            let mut ost = octx
                .add_stream(codec)
                .map_err(MediaError::ff("adding the chunk stream"))?;
            ost.set_parameters(&enc);
            ost.set_time_base(target.time_base);
            // SAFETY: codecpar is valid; a zero tag lets the muxer choose. The stream's own SAR is
            // what MP4 (`pasp`) and Matroska (display size) muxers write.
            unsafe {
                (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0;
                (*ost.as_mut_ptr()).sample_aspect_ratio = sar.into();
            }
        }
        // The chunk's start is kept in its edit list in the movie's timescale (1/1000 s by
        // default): in the stream's own, so a chunk starting between two milliseconds does not
        // move (by up to half a millisecond) when the chunks are joined.
        let mut header = ffmpeg::Dictionary::new();
        if target.time_base.numerator() == 1 && target.time_base.denominator() > 0 {
            header.set(
                "movie_timescale",
                &target.time_base.denominator().to_string(),
            );
        }
        octx.write_header_with(header)
            .map_err(|e| MediaError::Output {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        let ost_tb = octx
            .stream(0)
            .map(|s| s.time_base())
            .unwrap_or(target.time_base);
        let conv = if enc_pixel != unjpeg(target.pixel).unwrap_or(target.pixel) {
            Some(Converter::new(
                target.pixel,
                enc_pixel,
                target.width,
                target.height,
            )?)
        } else {
            None
        };
        Ok(ChunkWriter {
            octx,
            enc,
            conv,
            enc_pixel,
            enc_tb: target.time_base,
            ost_tb,
            durations: HashMap::new(),
            path: path.to_owned(),
            packets: 0,
        })
    }

    /// Encodes one frame shown at `pts` for `duration` (both in the input stream's time base).
    pub fn write(&mut self, frame: &mut AvFrame, pts: i64, duration: i64) -> Result<()> {
        if let Some(p) = unjpeg(frame.format()) {
            frame.set_format(p);
        }
        let mut converted;
        let f: &mut AvFrame = match &mut self.conv {
            Some(c) => {
                converted = c.run(frame)?;
                &mut converted
            }
            None => frame,
        };
        debug_assert_eq!(f.format(), self.enc_pixel);
        f.set_pts(Some(pts));
        // The encoder chooses frame types; the decoder's would force I-frames where the input had them.
        f.set_kind(ffmpeg::picture::Type::None);
        self.durations.insert(pts, duration);
        self.enc
            .send_frame(f)
            .map_err(|e| MediaError::Encode(e.to_string()))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<()> {
        let mut pkt = ffmpeg::Packet::empty();
        loop {
            match self.enc.receive_packet(&mut pkt) {
                Ok(()) => {
                    if let Some(p) = pkt.pts() {
                        if let Some(d) = self.durations.remove(&p) {
                            pkt.set_duration(d);
                        }
                    }
                    pkt.set_stream(0);
                    pkt.rescale_ts(self.enc_tb, self.ost_tb);
                    pkt.write_interleaved(&mut self.octx)
                        .map_err(|e| MediaError::Output {
                            path: self.path.display().to_string(),
                            reason: e.to_string(),
                        })?;
                    self.packets += 1;
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => return Ok(()),
                Err(e) => return Err(MediaError::Encode(e.to_string())),
            }
        }
    }

    /// Flushes the encoder and finishes the file; returns the number of packets written.
    pub fn finish(mut self) -> Result<u64> {
        self.enc
            .send_eof()
            .map_err(|e| MediaError::Encode(e.to_string()))?;
        self.drain()?;
        self.octx.write_trailer().map_err(|e| MediaError::Output {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(self.packets)
    }
}
