//! Rendering one chunk: seek to its decode start, decode, run the stages, encode the chunk's own
//! frames (with their stream timestamps) into the chunk file.

use crate::enhance::{self as stages, Chain, StageError};
use crate::media::convert::{self, Converter};
use crate::media::encode::{ChunkWriter, VideoTarget};
use crate::media::{ffmpeg, input, MediaError};
use crate::pipeline::job::Resources;
use crate::pipeline::plan::ChunkPlan;
use ffmpeg::util::frame::Video as AvFrame;
use kino_shared::JobSpec;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RenderError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("cancelled")]
    Cancelled,
}

/// What rendering a chunk produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    pub frames: u64,
    /// Frames skipped because their timestamp repeated or went backwards.
    pub dropped: u64,
}

/// Frames waiting for the encoder: each is written once the next one's pts gives its duration.
/// Holds what the chunk's encoder needs, so it can be created from the first frame.
struct Pending<'a> {
    chunk: &'a ChunkPlan,
    spec: &'a JobSpec,
    out: &'a Path,
    on_frame: &'a (dyn Fn(u64) + Sync),
    time_base: ffmpeg::Rational,
    frame_rate: Option<ffmpeg::Rational>,
    threads: usize,
    writer: Option<ChunkWriter>,
    held: Option<(i64, AvFrame)>,
    last_step: i64,
    last_pts: Option<i64>,
    outcome: ChunkOutcome,
    lookahead: Option<u32>,
    /// HDR10 metadata of the first decoded frame.
    hdr: Option<crate::media::hdr::HdrMeta>,
}

/// Renders `chunk` of `input` into `out` (an MP4 chunk file). `on_frame` is called per encoded frame.
pub fn render_chunk(
    input_path: &Path,
    chunk: &ChunkPlan,
    spec: &JobSpec,
    res: Resources,
    out: &Path,
    on_frame: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<ChunkOutcome, RenderError> {
    let threads = res.threads;
    let mut ictx = input::open(input_path)?;
    let (vindex, tb, avg, params) = {
        let s = ictx
            .streams()
            .best(ffmpeg::media::Type::Video)
            .ok_or_else(|| MediaError::NoVideo(input_path.display().to_string()))?;
        (s.index(), s.time_base(), s.avg_frame_rate(), s.parameters())
    };
    let mut ctx =
        ffmpeg::codec::Context::from_parameters(params).map_err(MediaError::ff("video decoder"))?;
    ctx.set_threading(ffmpeg::threading::Config {
        kind: ffmpeg::threading::Type::Frame,
        count: threads.clamp(1, 4),
        ..Default::default()
    });
    // SAFETY: plain field write before opening.
    unsafe { (*ctx.as_mut_ptr()).pkt_timebase = tb.into() };
    let mut dec = ctx
        .decoder()
        .video()
        .map_err(|e| MediaError::Decode(format!("opening the video decoder: {e}")))?;

    if chunk.decode_from_pts != i64::MIN {
        // SAFETY: the context is valid; seeks to the keyframe at or before the decode start.
        let r = unsafe {
            ffmpeg::ffi::avformat_seek_file(
                ictx.as_mut_ptr(),
                vindex as i32,
                i64::MIN,
                chunk.decode_from_pts,
                chunk.decode_from_pts,
                0,
            )
        };
        if r < 0 {
            // Not seekable by timestamp: decode from the start instead (slower, same frames).
            ictx = input::open(input_path)?;
        }
    }

    let stage_list = stages::build(&spec.stages)?;
    let margin = stages::total_margin(&stage_list);
    let mut chain = Chain::new(stage_list);
    let frame_rate = (avg.numerator() > 0 && avg.denominator() > 0).then_some(avg);
    let mut conv: Option<Converter> = None;
    let mut before: std::collections::VecDeque<(i64, AvFrame)> = Default::default();
    let mut started = false;
    let mut after_end = 0usize;
    let mut pending = Pending {
        chunk,
        spec,
        out,
        on_frame,
        time_base: tb,
        frame_rate,
        threads,
        writer: None,
        held: None,
        last_step: 0,
        last_pts: None,
        outcome: ChunkOutcome::default(),
        lookahead: res.lookahead,
        hdr: None,
    };

    // Sends a stage input (or, without stages, an output) onwards.
    let handle = |pts: i64,
                  frame: AvFrame,
                  chain: &mut Chain,
                  conv: &mut Option<Converter>,
                  pending: &mut Pending<'_>|
     -> Result<(), RenderError> {
        if chain.is_empty() {
            return pending.push(pts, frame);
        }
        let frame = if convert::layout_of(frame.format()).is_some() {
            frame
        } else {
            let c = match conv {
                Some(c) => c,
                None => conv.insert(Converter::new(
                    frame.format(),
                    convert::nearest_supported(frame.format()),
                    frame.width(),
                    frame.height(),
                )?),
            };
            c.run(&frame)?
        };
        for (p, f) in chain.push((pts, convert::to_frame(&frame)?))? {
            if p >= chunk.start_pts && p < chunk.end_pts {
                pending.push(p, convert::from_frame(&f))?;
            }
        }
        Ok(())
    };

    let mut packet = ffmpeg::Packet::empty();
    let mut frame = AvFrame::empty();
    let mut eof = false;
    'read: loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(RenderError::Cancelled);
        }
        if !eof {
            match packet.read(&mut ictx) {
                Ok(()) => {
                    if packet.stream() != vindex {
                        continue;
                    }
                    match dec.send_packet(&packet) {
                        Ok(()) => {}
                        // A damaged packet: the decoder conceals or skips it.
                        Err(ffmpeg::Error::InvalidData) => {}
                        Err(e) => return Err(MediaError::Decode(e.to_string()).into()),
                    }
                }
                Err(ffmpeg::Error::Eof) => {
                    eof = true;
                    let _ = dec.send_eof();
                }
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => continue,
                Err(e) => return Err(MediaError::Truncated(format!("reading packets: {e}")).into()),
            }
        }
        loop {
            match dec.receive_frame(&mut frame) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => break 'read,
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => {
                    if eof {
                        break 'read;
                    }
                    break;
                }
                Err(ffmpeg::Error::InvalidData) => continue,
                Err(e) => return Err(MediaError::Decode(e.to_string()).into()),
            }
            let Some(pts) = frame.timestamp() else {
                continue;
            };
            let f = std::mem::replace(&mut frame, AvFrame::empty());
            if pending.hdr.is_none() {
                pending.hdr = Some(crate::media::hdr::HdrMeta::from_frame(&f));
            }
            if pts < chunk.start_pts {
                if margin.before > 0 {
                    before.push_back((pts, f));
                    if before.len() > margin.before {
                        before.pop_front();
                    }
                }
                continue;
            }
            if !started {
                started = true;
                for (p, b) in before.drain(..) {
                    handle(p, b, &mut chain, &mut conv, &mut pending)?;
                }
            }
            if pts >= chunk.end_pts {
                if after_end >= margin.after {
                    break 'read;
                }
                after_end += 1;
            }
            handle(pts, f, &mut chain, &mut conv, &mut pending)?;
        }
    }
    for (p, f) in chain.finish()? {
        if p >= chunk.start_pts && p < chunk.end_pts {
            pending.push(p, convert::from_frame(&f))?;
        }
    }
    pending.finish()
}

impl Pending<'_> {
    fn push(&mut self, pts: i64, frame: AvFrame) -> Result<(), RenderError> {
        if pts < self.chunk.start_pts || pts >= self.chunk.end_pts {
            return Ok(());
        }
        if self.last_pts.is_some_and(|l| pts <= l) {
            self.outcome.dropped += 1;
            return Ok(());
        }
        self.last_pts = Some(pts);
        if self.writer.is_none() {
            let colour = convert::colour_of(&frame);
            let target = VideoTarget {
                width: frame.width(),
                height: frame.height(),
                pixel: frame.format(),
                colour,
                time_base: self.time_base,
                frame_rate: self.frame_rate,
                threads: self.threads,
                lookahead: self.lookahead,
                hdr: self.hdr.unwrap_or_default(),
            };
            self.writer = Some(ChunkWriter::create(self.out, &self.spec.output, &target)?);
        }
        if let Some((p, mut f)) = self.held.take() {
            self.last_step = pts - p;
            if let Some(w) = self.writer.as_mut() {
                w.write(&mut f, p, pts - p)?;
            }
            self.outcome.frames += 1;
            (self.on_frame)(1);
        }
        self.held = Some((pts, frame));
        Ok(())
    }

    fn finish(mut self) -> Result<ChunkOutcome, RenderError> {
        if let Some((p, mut f)) = self.held.take() {
            let d = if self.chunk.end_pts != i64::MAX {
                self.chunk.end_pts - p
            } else {
                // SAFETY: plain field read; pkt_duration is in the stream time base.
                let pd = unsafe { (*f.as_ptr()).pkt_duration };
                if pd > 0 {
                    pd
                } else {
                    self.last_step.max(1)
                }
            };
            if let Some(w) = self.writer.as_mut() {
                w.write(&mut f, p, d)?;
            }
            self.outcome.frames += 1;
            (self.on_frame)(1);
        }
        match self.writer.take() {
            Some(w) => {
                w.finish()?;
                Ok(self.outcome)
            }
            None => {
                Err(MediaError::Decode("no frame of this chunk could be decoded".into()).into())
            }
        }
    }
}
