//! Interlaced video (DV, DVD, broadcast captures): the field order from the stream's flags checked
//! against the picture (FFmpeg's `idet`), and deinterlacing with FFmpeg's `bwdif` (motion-adaptive
//! Bob Weaver, the filter FFmpeg users reach for), one progressive frame per interlaced frame or
//! one per field.
//! Encoding interlaced pictures as progressive shows every moving edge combed.

use super::{ffmpeg, MediaError, Result};
use ffmpeg::util::frame::Video as AvFrame;
use std::path::Path;

pub use super::probe::{stream_field_order, FieldOrder};

/// The field order found for a video, with the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interlacing {
    pub order: FieldOrder,
    /// The stream's flags.
    pub flags: Option<FieldOrder>,
    /// `idet`'s multi-frame counts over the frames looked at.
    pub tff: u64,
    pub bff: u64,
    pub progressive: u64,
}

/// Frames `idet` looks at: enough motion for a verdict on real footage, a fraction of a second to
/// decode.
pub const DETECT_FRAMES: usize = 120;

/// Decides the field order of `path`: flags that say progressive are taken as they are (nothing is
/// decoded); otherwise `idet` looks at the first `frames` frames (see [`decide`]).
pub fn detect(path: &Path, frames: usize) -> Result<Interlacing> {
    let mut source = super::decode::FrameSource::open(path, i64::MIN, 2)?;
    let flags = source.field_order;
    if flags == Some(FieldOrder::Progressive) {
        return Ok(Interlacing {
            order: FieldOrder::Progressive,
            flags,
            tff: 0,
            bff: 0,
            progressive: 0,
        });
    }
    let mut graph: Option<VideoGraph> = None;
    let mut last = None;
    let mut n = 0;
    while n < frames {
        let Some((_, frame)) = source.next_frame()? else {
            break;
        };
        n += 1;
        let g = match &mut graph {
            Some(g) => g,
            None => graph.insert(VideoGraph::new(&frame, source.time_base, "idet")?),
        };
        for f in g.push(&frame)? {
            last = Some(f);
        }
    }
    if let Some(g) = &mut graph {
        for f in g.flush()? {
            last = Some(f);
        }
    }
    let count = |key: &str| -> u64 {
        last.as_ref()
            .and_then(|f| {
                f.metadata()
                    .get(key)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            // idet writes its running counts as decimals ("12.00").
            .map_or(0, |v| v.max(0.0).round() as u64)
    };
    let (tff, bff, progressive) = (
        count("lavfi.idet.multiple.tff"),
        count("lavfi.idet.multiple.bff"),
        count("lavfi.idet.multiple.progressive"),
    );
    let order = decide(flags, tff, bff, progressive);
    Ok(Interlacing {
        order,
        flags,
        tff,
        bff,
        progressive,
    })
}

/// The verdict from the flags and `idet`'s counts. Flags that say progressive are believed: `idet`
/// misreads fast synthetic motion (a small 25p test pattern read 98 % top-field-first), and
/// modern encoders flag what they encode. Flags that say interlaced give way to a clear
/// picture (80 % progressive: progressive material flagged interlaced, or the other field
/// order at 60 %). Without flags (MJPEG/DV captures in AVI) the picture decides at 80 %.
fn decide(flags: Option<FieldOrder>, tff: u64, bff: u64, progressive: u64) -> FieldOrder {
    let counted = tff + bff + progressive;
    let (dominant, votes) = if tff >= bff {
        (FieldOrder::TopFirst, tff)
    } else {
        (FieldOrder::BottomFirst, bff)
    };
    let share = |n: u64| {
        if counted >= 8 {
            n as f64 / counted as f64
        } else {
            0.0
        }
    };
    match flags {
        Some(FieldOrder::Progressive) => FieldOrder::Progressive,
        Some(_) if share(progressive) >= 0.8 => FieldOrder::Progressive,
        Some(_) if share(votes) >= 0.6 => dominant,
        Some(order) => order,
        None if share(votes) >= 0.8 => dominant,
        None => FieldOrder::Progressive,
    }
}

/// A one-input, one-output FFmpeg filter graph over decoded video frames.
struct VideoGraph {
    graph: ffmpeg::filter::Graph,
    /// The time base of the frames that come out (bwdif halves it, for fields).
    out_tb: ffmpeg::Rational,
}

impl VideoGraph {
    fn new(first: &AvFrame, time_base: ffmpeg::Rational, spec: &str) -> Result<Self> {
        let fail = |e: ffmpeg::Error| MediaError::Decode(format!("filter '{spec}': {e}"));
        let mut graph = ffmpeg::filter::Graph::new();
        let sar = first.aspect_ratio();
        let (sn, sd) = if sar.numerator() > 0 && sar.denominator() > 0 {
            (sar.numerator(), sar.denominator())
        } else {
            (1, 1)
        };
        let pix: ffmpeg::ffi::AVPixelFormat = first.format().into();
        let args = format!(
            "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={sn}/{sd}",
            first.width(),
            first.height(),
            pix as i32,
            time_base.numerator().max(1),
            time_base.denominator().max(1),
        );
        let buffer = ffmpeg::filter::find("buffer")
            .ok_or_else(|| MediaError::Decode("FFmpeg has no buffer filter".into()))?;
        let sink = ffmpeg::filter::find("buffersink")
            .ok_or_else(|| MediaError::Decode("FFmpeg has no buffersink filter".into()))?;
        graph.add(&buffer, "in", &args).map_err(fail)?;
        graph.add(&sink, "out", "").map_err(fail)?;
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(spec))
            .map_err(fail)?;
        graph.validate().map_err(fail)?;
        let out_tb = graph
            .get("out")
            // SAFETY: the sink context is valid while the graph is.
            .map(|mut s| unsafe { ffmpeg::ffi::av_buffersink_get_time_base(s.as_mut_ptr()) })
            .map(ffmpeg::Rational::from)
            .unwrap_or(time_base);
        Ok(VideoGraph { graph, out_tb })
    }

    fn push(&mut self, frame: &AvFrame) -> Result<Vec<AvFrame>> {
        let mut src = self
            .graph
            .get("in")
            .ok_or_else(|| MediaError::Decode("filter graph lost its input".into()))?;
        src.source()
            .add(frame)
            .map_err(|e| MediaError::Decode(format!("filtering: {e}")))?;
        self.drain()
    }

    fn flush(&mut self) -> Result<Vec<AvFrame>> {
        if let Some(mut src) = self.graph.get("in") {
            src.source()
                .flush()
                .map_err(|e| MediaError::Decode(format!("filtering: {e}")))?;
        }
        self.drain()
    }

    fn drain(&mut self) -> Result<Vec<AvFrame>> {
        let mut out = Vec::new();
        let Some(mut sink) = self.graph.get("out") else {
            return Ok(out);
        };
        loop {
            let mut f = AvFrame::empty();
            match sink.sink().frame(&mut f) {
                Ok(()) => out.push(f),
                Err(ffmpeg::Error::Eof) => break,
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => break,
                Err(e) => return Err(MediaError::Decode(format!("filtering: {e}"))),
            }
        }
        Ok(out)
    }
}

/// How a job deinterlaces: the field order, and whether each field becomes a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deinterlace {
    pub order: FieldOrder,
    /// One frame per field (50i → 50p) rather than one per frame.
    pub per_field: bool,
}

impl Deinterlace {
    /// Output frames per source frame.
    pub fn rate_factor(&self) -> u64 {
        if self.per_field {
            2
        } else {
            1
        }
    }

    /// The time base the deinterlaced frames are stamped in: per field it is half the stream's, so
    /// a field's moment (half a frame after its frame's) is exact whatever the stream's ticks (1/25
    /// in DV AVI, 1001-tick frames at 1/30000). A stream timestamp `p` is `2p` there.
    pub fn time_base(&self, stream: ffmpeg::Rational) -> ffmpeg::Rational {
        if self.per_field {
            stream * ffmpeg::Rational::new(1, 2)
        } else {
            stream
        }
    }

    /// A stream timestamp on the deinterlaced frames' clock (`i64::MAX`, no end, stays).
    pub fn pts(&self, stream_pts: i64) -> i64 {
        match stream_pts {
            i64::MAX | i64::MIN => stream_pts,
            p => p.saturating_mul(self.rate_factor() as i64),
        }
    }
}

/// Deinterlaces decoded frames in stream order with `bwdif`: one progressive frame per interlaced
/// frame at the first field's moment, or one per field; every frame is treated as interlaced in
/// the plan's order. The filter holds one frame (it needs the next one), so output lags input by a
/// frame until [`Deinterlacer::flush`]. Timestamps are on [`Deinterlace::time_base`].
pub struct Deinterlacer {
    plan: Deinterlace,
    time_base: ffmpeg::Rational,
    graph: Option<VideoGraph>,
}

impl Deinterlacer {
    /// `time_base` is the decoded frames' (the stream's).
    pub fn new(plan: Deinterlace, time_base: ffmpeg::Rational) -> Self {
        Deinterlacer {
            plan,
            time_base,
            graph: None,
        }
    }

    pub fn push(&mut self, frame: &AvFrame) -> Result<Vec<(i64, AvFrame)>> {
        let graph = match &mut self.graph {
            Some(g) => g,
            None => {
                let parity = match self.plan.order {
                    FieldOrder::BottomFirst => "bff",
                    _ => "tff",
                };
                let mode = if self.plan.per_field {
                    "send_field"
                } else {
                    "send_frame"
                };
                let spec = format!("bwdif=mode={mode}:parity={parity}:deint=all");
                self.graph
                    .insert(VideoGraph::new(frame, self.time_base, &spec)?)
            }
        };
        let out = graph.push(frame)?;
        let out_tb = graph.out_tb;
        Ok(self.timed(out, out_tb))
    }

    pub fn flush(&mut self) -> Result<Vec<(i64, AvFrame)>> {
        match &mut self.graph {
            Some(g) => {
                let (out, out_tb) = (g.flush()?, g.out_tb);
                Ok(self.timed(out, out_tb))
            }
            None => Ok(Vec::new()),
        }
    }

    /// Frames with their timestamps on the plan's time base, marked progressive.
    fn timed(&self, frames: Vec<AvFrame>, out_tb: ffmpeg::Rational) -> Vec<(i64, AvFrame)> {
        use ffmpeg::Rescale;
        let tb = self.plan.time_base(self.time_base);
        frames
            .into_iter()
            .filter_map(|mut f| {
                let pts = f.pts()?.rescale(out_tb, tb);
                f.set_pts(Some(pts));
                // SAFETY: plain field writes of a frame we own.
                unsafe {
                    (*f.as_mut_ptr()).interlaced_frame = 0;
                    (*f.as_mut_ptr()).top_field_first = 0;
                }
                Some((pts, f))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_overrules_the_flags_only_when_it_is_clear() {
        use FieldOrder::*;
        // Unflagged interlaced pictures are found.
        assert_eq!(decide(None, 2, 95, 3), BottomFirst);
        // Flagged progressive video that fools idet stays progressive.
        assert_eq!(decide(Some(Progressive), 49, 1, 0), Progressive);
        assert_eq!(decide(None, 79, 22, 19), Progressive);
        // Flags that say interlaced hold unless the picture clearly disagrees.
        assert_eq!(decide(Some(BottomFirst), 0, 0, 0), BottomFirst);
        assert_eq!(decide(Some(TopFirst), 1, 1, 98), Progressive);
        assert_eq!(decide(Some(TopFirst), 5, 90, 5), BottomFirst);
        // Nothing to go on: progressive.
        assert_eq!(decide(None, 1, 0, 2), Progressive);
    }
}
