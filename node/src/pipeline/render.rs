//! Rendering one chunk: seek to its decode start, decode, run the stages, encode the chunk's own
//! frames (with their stream timestamps) into the chunk file.

use crate::edit::timeline::Timeline;
use crate::enhance::interp::Clock;
use crate::enhance::{self as stages, Chain, StageError};
use crate::media::convert::{self, ToFrame};
use crate::media::decode::FrameSource;
use crate::media::encode::{ChunkWriter, VideoTarget};
use crate::media::encode_loss::LossSampler;
use crate::media::hdr::HdrMeta;
use crate::media::interlace::{Deinterlace, Deinterlacer};
use crate::media::spool::Spool;
use crate::media::target::encode_to_target;
use crate::media::{ffmpeg, MediaError};
use crate::pipeline::analyse::Analysis;
use crate::pipeline::plan::ChunkPlan;
use crate::pipeline::resources::Resources;
use ffmpeg::util::frame::Video as AvFrame;
use kino_shared::{ChunkMeasures, JobSpec, PartTime};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkOutcome {
    pub frames: u64,
    /// Frames skipped because their timestamp repeated or went backwards.
    pub dropped: u64,
    /// Frames auto-edit cut out.
    pub cut: u64,
    /// Where the chunk's time went, by part.
    pub timings: Vec<PartTime>,
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
    writer: Option<Sink>,
    held: Option<(i64, AvFrame)>,
    last_step: i64,
    last_pts: Option<i64>,
    outcome: ChunkOutcome,
    lookahead: Option<u32>,
    /// HDR10 metadata of the first decoded frame.
    hdr: Option<HdrMeta>,
    /// Pixel aspect ratio of the frames that reach the encoder.
    sar: kino_shared::Sar,
    timeline: Option<&'a Timeline>,
    clock: Option<Clock>,
    /// Samples what the encoder is given, for its own loss in the report.
    loss: Option<LossSampler>,
    /// Time spent encoding so far (writes, and the CRF search at the end).
    encoding: Duration,
    /// Time the chunk spent before the encoder (decode, convert, each stage), set before `finish`.
    timings: Vec<PartTime>,
}

/// Where a chunk's frames go: straight into its encoder, or (target quality) into a spool for the
/// CRF search, encoded at the end.
enum Sink {
    Encode(ChunkWriter),
    Search(Spool, VideoTarget),
}

impl Sink {
    fn write(&mut self, f: &mut AvFrame, pts: i64, duration: i64) -> Result<(), MediaError> {
        match self {
            Sink::Encode(w) => w.write(f, pts, duration),
            Sink::Search(s, _) => s.push(f, pts, duration),
        }
    }
}

/// What every chunk of a job renders with.
pub struct ChunkJob<'a> {
    pub input: &'a Path,
    pub spec: &'a JobSpec,
    pub res: Resources,
    /// The merged analysis pass, when a stage needs one.
    pub analysis: Option<Arc<Analysis>>,
    /// Auto-edit's cut: which frames stay and their new timestamps.
    pub timeline: Option<Arc<Timeline>>,
    /// Deinterlace the decoded frames (so) before any stage.
    pub deinterlace: Option<Deinterlace>,
    /// Set when `input` is a partial copy of a file another node holds.
    pub guard: Option<crate::media::decode::ByteGuard>,
    /// The output's clock when the job interpolates: frames are timed in its ticks from decoding on.
    pub clock: Option<Clock>,
}

/// Renders `chunk` of the job's input into `out` (an MP4 chunk file). `on_frame` is called per
/// encoded frame.
pub fn render_chunk(
    job: &ChunkJob<'_>,
    chunk: &ChunkPlan,
    out: &Path,
    on_frame: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<ChunkOutcome, RenderError> {
    let (input_path, spec, res, analysis) = (job.input, job.spec, job.res, &job.analysis);
    let threads = res.threads;
    let mut source = FrameSource::open(input_path, chunk.decode_from_pts, threads)?;
    if let Some(g) = &job.guard {
        source.set_guard(g.clone());
    }
    let (stream_tb, avg, source_sar) = (source.time_base, source.avg_frame_rate, source.sar);
    // Frames are timed on the deinterlacer's clock from here on (the stream's, or half its ticks
    // when each field becomes a frame), and so are the chunk's bounds.
    let (tb, chunk, avg) = match job.deinterlace {
        Some(d) => (
            d.time_base(stream_tb),
            &ChunkPlan {
                start_pts: d.pts(chunk.start_pts),
                end_pts: d.pts(chunk.end_pts),
                ..chunk.clone()
            },
            avg * ffmpeg::Rational::new(d.rate_factor() as i32, 1),
        ),
        None => (stream_tb, chunk, avg),
    };
    // Interpolation times frames on the output's clock, and so the chunk's bounds.
    let clock = job.clock;
    let (tb, chunk, avg) = match clock {
        Some(c) => (
            ffmpeg::Rational::new(c.time_base[0], c.time_base[1]),
            &ChunkPlan {
                start_pts: c.ticks(chunk.start_pts),
                end_pts: c.ticks(chunk.end_pts),
                ..chunk.clone()
            },
            ffmpeg::Rational::new(c.frame_rate[0], c.frame_rate[1]),
        ),
        None => (tb, chunk, avg),
    };
    let mut margin = stages::spec_margin(&spec.stages);
    // Stages that work on frames (deinterlacing happens before them, on the decoded fields).
    let no_stages = spec
        .stages
        .iter()
        .all(|s| matches!(s, kino_shared::StageSpec::Deinterlace(_)));
    // The deinterlacer holds one frame back: decode one more past the end to get the last one out
    // with its neighbour, as an unchunked render has it.
    let mut deinterlacer = job.deinterlace.map(|d| Deinterlacer::new(d, stream_tb));
    margin.after += usize::from(deinterlacer.is_some());
    let frame_rate = (avg.numerator() > 0 && avg.denominator() > 0).then_some(avg);
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
        sar: source_sar,
        timeline: job.timeline.as_deref(),
        clock,
        loss: None,
        encoding: Duration::ZERO,
        timings: Vec::new(),
    };
    // Built at the first frame, when the source's HDR metadata is known.
    let mut chain: Option<Chain> = None;
    let mut to_frame = ToFrame::default();
    let (mut decoding, mut converting) = (Duration::ZERO, Duration::ZERO);

    // Sends a stage input (or, without stages, an output) onwards.
    let mut handle = |pts: i64,
                      frame: AvFrame,
                      chain: &mut Option<Chain>,
                      pending: &mut Pending<'_>|
     -> Result<(), RenderError> {
        if no_stages {
            return pending.push(pts, frame);
        }
        let chain = match chain {
            Some(c) => c,
            None => {
                let ctx = stages::Context {
                    analysis: analysis.clone(),
                    source_hdr: HdrMeta::from_frame(&frame),
                    source_sar,
                    threads: res.threads,
                    clock,
                };
                let list = stages::build(&spec.stages, &ctx)?;
                pending.hdr = Some(stages::output_hdr(&list, ctx.source_hdr));
                pending.sar = stages::output_sar(&list, source_sar);
                chain.insert(Chain::keeping(list, chunk.start_pts, chunk.end_pts))
            }
        };
        let started = Instant::now();
        let frame = to_frame.convert(&frame)?;
        converting += started.elapsed();
        for (p, f) in chain.push((pts, frame))? {
            let started = Instant::now();
            let f = convert::from_frame(&f);
            converting += started.elapsed();
            pending.push(p, f)?;
        }
        Ok(())
    };

    let mut frames = Frames {
        source: &mut source,
        deinterlacer: deinterlacer.as_mut(),
        queue: Default::default(),
        done: false,
    };
    loop {
        let asked = Instant::now();
        let Some((pts, f)) = frames.next()? else {
            break;
        };
        decoding += asked.elapsed();
        let pts = clock.map_or(pts, |c| c.ticks(pts));
        if cancel.load(Ordering::Relaxed) {
            return Err(RenderError::Cancelled);
        }
        if pending.hdr.is_none() && no_stages {
            pending.hdr = Some(HdrMeta::from_frame(&f));
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
                handle(p, b, &mut chain, &mut pending)?;
            }
        }
        if pts >= chunk.end_pts {
            if after_end >= margin.after {
                break;
            }
            after_end += 1;
        }
        handle(pts, f, &mut chain, &mut pending)?;
    }
    if let Some(chain) = chain.as_mut() {
        for (p, f) in chain.finish()? {
            pending.push(p, convert::from_frame(&f))?;
        }
    }
    pending.timings = vec![part("decode", decoding), part("convert", converting)];
    if let Some(chain) = &chain {
        pending
            .timings
            .extend(chain.timings().into_iter().map(|(n, d)| part(n, d)));
    }
    pending.finish()
}

/// Decoded frames in presentation order, deinterlaced when the job deinterlaces.
struct Frames<'a> {
    source: &'a mut FrameSource,
    deinterlacer: Option<&'a mut Deinterlacer>,
    queue: std::collections::VecDeque<(i64, AvFrame)>,
    done: bool,
}

impl Frames<'_> {
    fn next(&mut self) -> Result<Option<(i64, AvFrame)>, MediaError> {
        while self.queue.is_empty() && !self.done {
            match (self.source.next_frame()?, self.deinterlacer.as_mut()) {
                (Some(f), None) => return Ok(Some(f)),
                (Some((_, f)), Some(d)) => self.queue.extend(d.push(&f)?),
                (None, Some(d)) => {
                    self.done = true;
                    self.queue.extend(d.flush()?);
                }
                (None, None) => self.done = true,
            }
        }
        Ok(self.queue.pop_front())
    }
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
        if self.timeline.is_some_and(|t| !t.keeps(pts)) {
            self.outcome.cut += 1;
            (self.on_frame)(1);
            return Ok(());
        }
        // On the output's clock from here on (the source's when nothing is cut or retimed).
        let pts = self.out_pts(pts);
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
                sar: self.sar,
            };
            if self.spec.output.quality {
                self.loss = Some(LossSampler::new(
                    target.width,
                    target.height,
                    self.time_base,
                ));
            }
            self.writer = Some(match self.spec.output.target_quality {
                Some(_) => Sink::Search(Spool::create(&self.out.with_extension("spool"))?, target),
                None => Sink::Encode(ChunkWriter::create(self.out, &self.spec.output, &target)?),
            });
        }
        if let Some((p, mut f)) = self.held.take() {
            self.last_step = pts - p;
            self.hand(&mut f, p, pts - p)?;
            self.outcome.frames += 1;
            (self.on_frame)(1);
        }
        self.held = Some((pts, frame));
        Ok(())
    }

    /// Gives a frame to the chunk's sink (and a look to the loss sampler).
    fn hand(&mut self, f: &mut AvFrame, pts: i64, duration: i64) -> Result<(), MediaError> {
        if let Some(s) = self.loss.as_mut() {
            if let Err(e) = s.offer(f, pts) {
                tracing::warn!("encoder loss not sampled: {e}");
                self.loss = None;
            }
        }
        let started = Instant::now();
        let written = match self.writer.as_mut() {
            Some(w) => w.write(f, pts, duration),
            None => Ok(()),
        };
        self.encoding += started.elapsed();
        written
    }

    /// A timestamp of the chunk on the output's clock: moved by auto-edit's cut, or spread out by
    /// slow motion.
    fn out_pts(&self, pts: i64) -> i64 {
        match (self.timeline, self.clock) {
            (Some(t), _) => t.out_pts(pts),
            (None, Some(c)) => c.stretched(pts),
            (None, None) => pts,
        }
    }

    fn finish(mut self) -> Result<ChunkOutcome, RenderError> {
        if let Some((p, mut f)) = self.held.take() {
            let d = if self.chunk.end_pts != i64::MAX {
                // Up to the next chunk's first frame: on a grid, the first grid point after the
                // boundary (assembly joins chunks end to end).
                let next = self
                    .clock
                    .map_or(self.chunk.end_pts, |c| c.at_or_after(self.chunk.end_pts));
                self.out_pts(next) - p
            } else if let Some(c) = self.clock {
                c.step * c.stretch
            } else {
                // SAFETY: plain field read; pkt_duration is in the stream time base.
                let pd = unsafe { (*f.as_ptr()).pkt_duration };
                if pd > 0 {
                    pd
                } else {
                    self.last_step.max(1)
                }
            };
            self.hand(&mut f, p, d)?;
            self.outcome.frames += 1;
            (self.on_frame)(1);
        }
        let mut measures = ChunkMeasures {
            index: self.chunk.index,
            ..Default::default()
        };
        let started = Instant::now();
        match self.writer.take() {
            Some(Sink::Encode(w)) => {
                w.finish()?;
            }
            Some(Sink::Search(mut spool, target)) => {
                spool.close()?;
                if let Some(tq) = &self.spec.output.target_quality {
                    measures.target = Some(encode_to_target(
                        &spool,
                        self.out,
                        &self
                            .out
                            .with_file_name(format!("chunk-{:05}.probes.json", self.chunk.index)),
                        &self.spec.output,
                        &target,
                        tq,
                        self.chunk.index,
                    )?);
                }
            }
            None => {
                return Err(
                    MediaError::Decode("no frame of this chunk could be decoded".into()).into(),
                )
            }
        }
        self.encoding += started.elapsed();
        measures.timings = std::mem::take(&mut self.timings);
        measures.timings.push(part("encode", self.encoding));
        if let Some(s) = self.loss.take() {
            // A measurement that fails costs the report a figure, never the chunk.
            match s.measure(self.out) {
                Ok((frames, seconds)) => {
                    measures.encoder = frames;
                    measures.encoder_seconds = seconds;
                    measures.timings.push(PartTime {
                        part: "measure".into(),
                        seconds,
                    });
                }
                Err(e) => tracing::warn!("encoder loss not measured: {e}"),
            }
        }
        save_measures(self.out, &measures)?;
        self.outcome.timings = measures.timings;
        Ok(self.outcome)
    }
}

fn part(name: &str, spent: Duration) -> PartTime {
    PartTime {
        part: name.to_owned(),
        seconds: spent.as_secs_f64(),
    }
}

/// What the chunk written to `out` measured of its encode, beside it (assembly gathers them into
/// the report).
pub fn measures_file(out: &Path) -> std::path::PathBuf {
    out.with_extension("measures.json")
}

fn save_measures(out: &Path, found: &ChunkMeasures) -> Result<(), MediaError> {
    let file = measures_file(out);
    let text = serde_json::to_vec(found).map_err(|e| MediaError::Encode(e.to_string()))?;
    std::fs::write(&file, text).map_err(|e| MediaError::Output {
        path: file.display().to_string(),
        reason: e.to_string(),
    })
}
