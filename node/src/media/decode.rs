//! Decoded video frames of one input, from the keyframe at or before a timestamp, with the stream's
//! own timestamps. Damaged packets are concealed or skipped by the decoder; a truncated file ends
//! the stream with an error that says so.

use super::{ffmpeg, h264, input, MediaError};
use ffmpeg::util::frame::Video as AvFrame;
use std::path::Path;

/// Whether bytes `start..end` of the input are really there (a partial local copy of a file
/// another node holds): packets outside are not decoded from zeros but reported missing.
pub type ByteGuard = std::sync::Arc<dyn Fn(u64, u64) -> bool + Send + Sync>;

pub struct FrameSource {
    ictx: ffmpeg::format::context::Input,
    dec: ffmpeg::decoder::Video,
    vindex: usize,
    pub time_base: ffmpeg::Rational,
    pub avg_frame_rate: ffmpeg::Rational,
    /// The pixel aspect ratio frames are shown with (the container's, else the bitstream's).
    pub sar: kino_shared::Sar,
    /// The field order the stream's flags state (`None`: they do not say).
    pub field_order: Option<super::probe::FieldOrder>,
    packet: ffmpeg::Packet,
    eof: bool,
    done: bool,
    /// SEI to put in front of the first packet sent (same packet, so timestamps stay paired).
    prime: Option<Vec<u8>>,
    /// When set, frames no other frame refers to are skipped except in these pts ranges.
    nonref: Option<NonRef>,
    guard: Option<ByteGuard>,
}

/// Skipping of non-reference frames (see [`FrameSource::skip_nonref`]).
struct NonRef {
    /// Inclusive pts ranges whose frames are decoded all the same.
    keep: Vec<(i64, i64)>,
    /// Pts of every packet of the stream read so far (`None`: a packet had none).
    seen: Option<Vec<i64>>,
}

impl FrameSource {
    /// Opens the best video stream of `path`, positioned at the keyframe at or before `from_pts`
    /// (`i64::MIN` for the start), decoding with up to `threads` frame threads.
    pub fn open(path: &Path, from_pts: i64, threads: usize) -> Result<FrameSource, MediaError> {
        Self::open_with(path, from_pts, threads, false)
    }

    /// As [`FrameSource::open`]; `coarse` skips the codec's deblocking filter (a quarter faster
    /// for H.264; block edges differ by a few levels), for measurements on coarse grids only.
    pub fn open_with(
        path: &Path,
        from_pts: i64,
        threads: usize,
        coarse: bool,
    ) -> Result<FrameSource, MediaError> {
        let mut ictx = input::open(path)?;
        let (vindex, tb, avg, params, sar, field_order) = {
            let s = ictx
                .streams()
                .best(ffmpeg::media::Type::Video)
                .ok_or_else(|| MediaError::NoVideo(path.display().to_string()))?;
            let avg = super::probe::frame_rate(&s);
            (
                s.index(),
                s.time_base(),
                avg,
                s.parameters(),
                super::probe::stream_sar(&s),
                super::probe::stream_field_order(&s),
            )
        };
        let codec_id = params.id();
        let mut ctx = ffmpeg::codec::Context::from_parameters(params)
            .map_err(MediaError::ff("video decoder"))?;
        ctx.set_threading(ffmpeg::threading::Config {
            kind: ffmpeg::threading::Type::Frame,
            count: threads.clamp(1, 4),
            ..Default::default()
        });
        // SAFETY: plain field writes before opening. Cropping must be exact: by default FFmpeg
        // keeps the data pointers aligned and leaves up to 64 bytes of the left crop in the frame
        // (a 214-pixel-wide picture cropped from 224 came out 220 wide). Flags are OR-ed in.
        unsafe {
            (*ctx.as_mut_ptr()).pkt_timebase = tb.into();
            (*ctx.as_mut_ptr()).flags |= ffmpeg::ffi::AV_CODEC_FLAG_UNALIGNED as i32;
            if coarse {
                (*ctx.as_mut_ptr()).skip_loop_filter = ffmpeg::ffi::AVDiscard::AVDISCARD_ALL;
            }
        }
        let dec = ctx
            .decoder()
            .video()
            .map_err(|e| MediaError::Decode(format!("opening the video decoder: {e}")))?;
        // A decoder that starts past the first keyframe of an H.264 stream first reads the SEI
        // of the stream's first access unit (see `h264`).
        let mut prime = None;
        if from_pts != i64::MIN && codec_id == ffmpeg::codec::Id::H264 {
            let nal_length = ictx
                .stream(vindex)
                .and_then(|s| h264::nal_length_size(&h264::extradata(&s)));
            let mut packet = ffmpeg::Packet::empty();
            while packet.read(&mut ictx).is_ok() {
                if packet.stream() == vindex {
                    prime = packet.data().and_then(|d| h264::sei_only(d, nal_length));
                    break;
                }
            }
        }
        if from_pts != i64::MIN {
            // SAFETY: the context is valid; seeks to the keyframe at or before `from_pts`.
            let r = unsafe {
                ffmpeg::ffi::avformat_seek_file(
                    ictx.as_mut_ptr(),
                    vindex as i32,
                    i64::MIN,
                    from_pts,
                    from_pts,
                    0,
                )
            };
            if r < 0 {
                // Not seekable by timestamp: decode from the start instead (slower, same frames).
                ictx = input::open(path)?;
            }
        }
        Ok(FrameSource {
            ictx,
            dec,
            vindex,
            time_base: tb,
            avg_frame_rate: avg,
            sar,
            field_order,
            packet: ffmpeg::Packet::empty(),
            eof: false,
            done: false,
            prime,
            nonref: None,
            guard: None,
        })
    }

    /// Checks every video packet against `guard` before it is decoded (see [`ByteGuard`]). The
    /// header, and the packet [`FrameSource::open`] primes H.264 with, must already be there.
    pub fn set_guard(&mut self, guard: ByteGuard) {
        self.guard = Some(guard);
    }

    /// The current packet's bytes, if a guard says they are not all there.
    fn missing(&self) -> Option<MediaError> {
        let guard = self.guard.as_ref()?;
        let (pos, size) = (self.packet.position(), self.packet.size() as u64);
        // No offset to check by: only the whole file will do.
        let (start, end) = match pos {
            p if p < 0 => (0, u64::MAX),
            p => (p as u64, p as u64 + size),
        };
        (!guard(start, end)).then_some(MediaError::Incomplete { start, end })
    }

    /// Skips the frames that no other frame refers to (H.264/HEVC B-frames that are not
    /// references: often half the frames, and the decoder's cheapest way to go faster), except
    /// those whose pts lies in one of `keep` (inclusive). Every packet's pts is recorded, so the
    /// caller knows which frames it did not get ([`FrameSource::packet_pts`]). The choice is made
    /// packet by packet, so it is exact only with one decoding thread unless `keep` is empty.
    pub fn skip_nonref(&mut self, keep: Vec<(i64, i64)>) {
        self.nonref = Some(NonRef {
            keep,
            seen: Some(Vec::new()),
        });
    }

    /// With [`FrameSource::skip_nonref`]: the pts of every packet read so far, in file order;
    /// `None` when a packet had no pts (frames cannot then be told apart).
    pub fn packet_pts(&self) -> Option<&[i64]> {
        self.nonref.as_ref().and_then(|n| n.seen.as_deref())
    }

    /// Reads (without decoding) up to `n` more packets of the stream, recording their pts: the
    /// frames shown before the last one returned can come later in the file (B-frames).
    pub fn read_ahead(&mut self, n: usize) {
        let mut left = n;
        while left > 0 && !self.eof {
            match self.packet.read(&mut self.ictx) {
                Ok(()) if self.packet.stream() == self.vindex => {
                    self.record_packet();
                    left -= 1;
                }
                Ok(()) => {}
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => {}
                Err(_) => self.eof = true,
            }
        }
    }

    /// Records the current packet's pts and sets whether the decoder skips it.
    fn record_packet(&mut self) {
        let Some(n) = self.nonref.as_mut() else {
            return;
        };
        let pts = self.packet.pts();
        match (pts, n.seen.as_mut()) {
            (Some(p), Some(seen)) => seen.push(p),
            _ => n.seen = None,
        }
        let keep = pts.is_some_and(|p| n.keep.iter().any(|&(a, b)| p >= a && p <= b));
        // SAFETY: a plain field write between packets; the decoder reads it for the next packet.
        unsafe {
            (*self.dec.as_mut_ptr()).skip_frame = if keep {
                ffmpeg::ffi::AVDiscard::AVDISCARD_DEFAULT
            } else {
                ffmpeg::ffi::AVDiscard::AVDISCARD_NONREF
            };
        }
    }

    /// The next decoded frame with its pts, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<(i64, AvFrame)>, MediaError> {
        let mut frame = AvFrame::empty();
        while !self.done {
            match self.dec.receive_frame(&mut frame) {
                Ok(()) => {
                    if let Some(pts) = frame.timestamp() {
                        return Ok(Some((pts, frame)));
                    }
                    continue;
                }
                Err(ffmpeg::Error::Eof) => {
                    self.done = true;
                    break;
                }
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => {
                    if self.eof {
                        self.done = true;
                        break;
                    }
                }
                Err(ffmpeg::Error::InvalidData) => continue,
                Err(e) => return Err(MediaError::Decode(e.to_string())),
            }
            // The decoder wants input: feed it the next packet of our stream.
            loop {
                match self.packet.read(&mut self.ictx) {
                    Ok(()) => {
                        if self.packet.stream() != self.vindex {
                            continue;
                        }
                        if let Some(e) = self.missing() {
                            return Err(e);
                        }
                        self.record_packet();
                        let sent = match self.prime.take() {
                            Some(mut data) => {
                                data.extend_from_slice(self.packet.data().unwrap_or_default());
                                let mut p = ffmpeg::Packet::copy(&data);
                                p.set_pts(self.packet.pts());
                                p.set_dts(self.packet.dts());
                                p.set_duration(self.packet.duration());
                                p.set_flags(self.packet.flags());
                                self.dec.send_packet(&p)
                            }
                            None => self.dec.send_packet(&self.packet),
                        };
                        match sent {
                            Ok(()) => {}
                            // A damaged packet: the decoder conceals or skips it.
                            Err(ffmpeg::Error::InvalidData) => {}
                            Err(e) => return Err(MediaError::Decode(e.to_string())),
                        }
                    }
                    Err(ffmpeg::Error::Eof) => {
                        self.eof = true;
                        let _ = self.dec.send_eof();
                    }
                    Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => continue,
                    Err(e) => return Err(MediaError::Truncated(format!("reading packets: {e}"))),
                }
                break;
            }
        }
        Ok(None)
    }
}
