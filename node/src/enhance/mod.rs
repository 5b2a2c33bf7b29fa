//! Video enhancement stages behind one interface. A stage declares how many frames of context it needs
//! before and after the frame it produces; the pipeline decodes that margin around every chunk and
//! encodes only the chunk's own frames, so seams are invisible.

mod boxes;
mod denoise;
pub mod interp;
pub mod neural;
mod pixel;
mod stabilize;

pub use crate::analysis::Analysis;
use crate::media::hdr::HdrMeta;
use kino_shared::{Frame, Sar, SpecError, SrModel, StageSpec};
use std::collections::VecDeque;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StageError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("stage {stage}: {message}")]
    Failed {
        stage: &'static str,
        message: String,
    },
}

/// Frames of context a stage needs around the frame it produces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Margin {
    pub before: usize,
    pub after: usize,
}

/// What stages may need besides their settings: whole-video analysis and the source's HDR metadata.
#[derive(Clone, Default)]
pub struct Context {
    pub analysis: Option<Arc<Analysis>>,
    pub source_hdr: HdrMeta,
    /// The source's pixel aspect ratio (`scale` sizes are display sizes).
    pub source_sar: Sar,
    /// Threads a stage may use for itself (neural inference); 0 = every core.
    pub threads: usize,
    /// The output's clock, when the job interpolates.
    pub clock: Option<interp::Clock>,
}

pub trait Stage: Send {
    fn name(&self) -> &'static str;
    fn margin(&self) -> Margin {
        Margin::default()
    }
    /// The HDR metadata the output carries, given the input's.
    fn output_hdr(&self, input: HdrMeta) -> HdrMeta {
        input
    }
    /// The pixel aspect ratio the output has, given the input's (only `scale` changes it).
    fn output_sar(&self, input: Sar) -> Sar {
        input
    }
    /// Produces the frame at `window[current]` (presentation time `pts`), given its neighbours
    /// (clamped at the stream's ends).
    fn process(&mut self, window: &[&Frame], current: usize, pts: i64)
        -> Result<Frame, StageError>;
    /// Whether the stage changes the frame rate (its outputs are not its inputs one for one).
    fn retimes(&self) -> bool {
        false
    }
    /// The frames (with their timestamps) that stand for the time from `window[current]` at `pts`
    /// until the next frame at `next` (`None` at the end of the stream): the frame itself, unless
    /// the stage changes the frame rate.
    fn produce(
        &mut self,
        window: &[&Frame],
        current: usize,
        pts: i64,
        _next: Option<i64>,
    ) -> Result<Vec<Timed>, StageError> {
        Ok(vec![(pts, self.process(window, current, pts)?)])
    }
}

/// Builds the stages of a job spec, in order.
pub fn build(specs: &[StageSpec], ctx: &Context) -> Result<Vec<Box<dyn Stage>>, StageError> {
    let mut hdr = ctx.source_hdr;
    let mut sar = ctx.source_sar;
    let mut out: Vec<Box<dyn Stage>> = Vec::with_capacity(specs.len());
    for s in specs {
        let stage: Box<dyn Stage> = match s {
            StageSpec::Scale(p) => match p.model {
                Some(SrModel::Auto) => {
                    return Err(StageError::Failed {
                        stage: "scale",
                        message:
                            "model=auto must be decided from the input before stages are built"
                                .into(),
                    })
                }
                Some(m) => Box::new(neural::NeuralScale::new(p.clone(), m, ctx.threads, sar)),
                None => Box::new(pixel::Scale::new(p.clone(), sar)),
            },
            StageSpec::Color(p) => Box::new(pixel::Color::new(*p, ctx.analysis.clone())?),
            StageSpec::Denoise(p) => Box::new(denoise::Denoise::new(*p)),
            StageSpec::Sharpen(p) => Box::new(pixel::Sharpen(*p)),
            StageSpec::Hdr(p) => Box::new(pixel::Hdr::new(*p, hdr)),
            StageSpec::Stabilize(p) => {
                Box::new(stabilize::Stabilize::new(*p, ctx.analysis.clone())?)
            }
            StageSpec::Detect(p) => {
                Box::new(boxes::DetectBoxes::new(p.clone(), ctx.analysis.clone())?)
            }
            // Runs on the decoded fields before any stage (see `media::interlace`).
            StageSpec::Deinterlace(_) => continue,
            StageSpec::Interpolate(p) => {
                let clock = ctx.clock.ok_or(StageError::Failed {
                    stage: "interpolate",
                    message: "the output clock was not planned".into(),
                })?;
                let cuts = scene_bounds(ctx.analysis.as_deref(), &clock);
                Box::new(interp::Interpolate::new(*p, clock, cuts, ctx.threads))
            }
        };
        hdr = stage.output_hdr(hdr);
        sar = stage.output_sar(sar);
        out.push(stage);
    }
    Ok(out)
}

/// The analysis a stage cannot work without (the job runs the pass whenever such a stage is in it).
fn required(
    analysis: Option<Arc<Analysis>>,
    stage: &'static str,
) -> Result<Arc<Analysis>, StageError> {
    analysis.ok_or(StageError::Failed {
        stage,
        message: "needs the analysis pass".into(),
    })
}

/// Timestamps (output ticks) of the frames that start a scene, or start or end a gradual
/// transition, from the analysis' scene pass.
fn scene_bounds(analysis: Option<&Analysis>, clock: &interp::Clock) -> Vec<i64> {
    let Some(a) = analysis else {
        return Vec::new();
    };
    a.transitions
        .iter()
        .flat_map(|t| [t.span.0, t.frame, t.span.1 + 1])
        .filter_map(|i| a.pts.get(i))
        .map(|&p| clock.ticks(p))
        .collect()
}

/// The context stages need around each chunk, from the spec alone (before anything is decoded).
pub fn spec_margin(specs: &[StageSpec]) -> Margin {
    specs.iter().fold(Margin::default(), |m, s| {
        let r = match s {
            StageSpec::Denoise(p) => p.temporal_radius as usize,
            StageSpec::Scale(p) if p.model.is_some() => neural::STEADY_RADIUS,
            _ => 0,
        };
        // Interpolation looks one frame ahead only.
        let after = usize::from(matches!(s, StageSpec::Interpolate(_)));
        Margin {
            before: m.before + r,
            after: m.after + r + after,
        }
    })
}

/// The pixel aspect ratio the output of `stages` has.
pub fn output_sar(stages: &[Box<dyn Stage>], input: Sar) -> Sar {
    stages.iter().fold(input, |s, st| st.output_sar(s))
}

/// The HDR metadata the output of `stages` carries.
pub fn output_hdr(stages: &[Box<dyn Stage>], input: HdrMeta) -> HdrMeta {
    stages.iter().fold(input, |h, s| s.output_hdr(h))
}

/// A frame with its presentation timestamp.
pub type Timed = (i64, Frame);

struct Slot {
    stage: Box<dyn Stage>,
    inputs: VecDeque<Timed>,
    /// Index in `inputs` of the next frame to produce.
    next: usize,
    /// Frames outside the kept range that later stages read as context (in this slot's frames).
    need: Margin,
    /// Inputs seen so far at or past the end of the kept range.
    past_end: usize,
    /// Time spent in the stage's `produce`.
    spent: std::time::Duration,
}

/// Runs frames through the stages in order, holding only each stage's margin in memory.
///
/// With a kept range (a chunk's `[start, end)`), a stage produces only the frames inside it and
/// the context later stages read around it: the frames decoded as margin for the first stage
/// are not all run through every stage (a neural network on them costs as much as on a kept
/// frame).
pub struct Chain {
    slots: Vec<Slot>,
    range: Option<(i64, i64)>,
}

impl Chain {
    /// A chain that produces every frame it is given.
    pub fn new(stages: Vec<Box<dyn Stage>>) -> Self {
        // Summed from the last stage back. A stage that changes the frame rate turns later
        // stages' margins (in its output frames) into an unknown count of its input frames:
        // those ahead of it keep every frame.
        let mut need = Margin::default();
        let mut needs = vec![Margin::default(); stages.len()];
        for (i, s) in stages.iter().enumerate().rev() {
            needs[i] = need;
            let m = s.margin();
            need = if s.retimes() && need != Margin::default() {
                Margin {
                    before: usize::MAX,
                    after: usize::MAX,
                }
            } else {
                Margin {
                    before: need.before.saturating_add(m.before),
                    after: need.after.saturating_add(m.after),
                }
            };
        }
        let slots = stages
            .into_iter()
            .zip(needs)
            .map(|(stage, need)| Slot {
                stage,
                inputs: VecDeque::new(),
                next: 0,
                need,
                past_end: 0,
                spent: std::time::Duration::ZERO,
            })
            .collect();
        Chain { slots, range: None }
    }

    /// A chain whose output is only the frames with `start <= pts < end`.
    pub fn keeping(stages: Vec<Box<dyn Stage>>, start: i64, end: i64) -> Self {
        Chain {
            range: Some((start, end)),
            ..Chain::new(stages)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Time each stage has spent producing frames so far, in order.
    pub fn timings(&self) -> Vec<(&'static str, std::time::Duration)> {
        self.slots
            .iter()
            .map(|s| (s.stage.name(), s.spent))
            .collect()
    }

    /// Feeds one frame; returns the frames that came out of the last stage.
    pub fn push(&mut self, frame: Timed) -> Result<Vec<Timed>, StageError> {
        self.run(0, vec![frame], false)
    }

    /// Ends the stream: every held frame is produced (windows clamp at the end).
    pub fn finish(&mut self) -> Result<Vec<Timed>, StageError> {
        self.run(0, Vec::new(), true)
    }

    fn run(
        &mut self,
        from: usize,
        mut frames: Vec<Timed>,
        eos: bool,
    ) -> Result<Vec<Timed>, StageError> {
        let range = self.range;
        for i in from..self.slots.len() {
            let slot = &mut self.slots[i];
            slot.inputs.extend(frames.drain(..));
            let m = slot.stage.margin();
            let mut out = Vec::new();
            while slot.next < slot.inputs.len() && (eos || slot.next + m.after < slot.inputs.len())
            {
                let pts = slot.inputs[slot.next].0;
                let wanted = match range {
                    None => true,
                    Some((start, _)) if pts < start => {
                        // Whether a later stage reads it depends on how many frames lie between
                        // it and the range: wait for the range's first frame.
                        let first = slot.inputs.iter().position(|(p, _)| *p >= start);
                        match first {
                            Some(f) => f - slot.next <= slot.need.before,
                            None if eos => false,
                            None => break,
                        }
                    }
                    Some((_, end)) if pts >= end => {
                        slot.past_end += 1;
                        slot.past_end <= slot.need.after
                    }
                    Some(_) => true,
                };
                if wanted {
                    let lo = slot.next.saturating_sub(m.before);
                    let hi = (slot.next + m.after + 1).min(slot.inputs.len());
                    let window: Vec<&Frame> = slot.inputs.range(lo..hi).map(|(_, f)| f).collect();
                    let next = slot.inputs.get(slot.next + 1).map(|(p, _)| *p);
                    let started = std::time::Instant::now();
                    out.extend(slot.stage.produce(&window, slot.next - lo, pts, next)?);
                    slot.spent += started.elapsed();
                }
                slot.next += 1;
                // Forget frames no later output can need.
                while slot.next > m.before {
                    slot.inputs.pop_front();
                    slot.next -= 1;
                }
            }
            frames = out;
        }
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_shared::{ChromaLayout, ColourInfo, Samples};

    /// A temporal test stage: averages luma over its window.
    struct Mean(usize);
    impl Stage for Mean {
        fn name(&self) -> &'static str {
            "mean"
        }
        fn margin(&self) -> Margin {
            Margin {
                before: self.0,
                after: self.0,
            }
        }
        fn process(
            &mut self,
            window: &[&Frame],
            current: usize,
            _: i64,
        ) -> Result<Frame, StageError> {
            let mut f = window[current].clone();
            let sum: u32 = window
                .iter()
                .map(|w| match &w.planes[0].samples {
                    Samples::U8(d) => d[0] as u32,
                    _ => 0,
                })
                .sum();
            if let Samples::U8(d) = &mut f.planes[0].samples {
                d[0] = (sum / window.len() as u32) as u8;
            }
            Ok(f)
        }
    }

    fn frame(v: u8) -> Frame {
        let mut f = Frame::new(2, 2, ChromaLayout::Gray, 8, ColourInfo::default());
        f.planes[0].samples = Samples::U8(vec![v; 4]);
        f
    }

    #[test]
    fn temporal_chain_emits_every_frame_in_order_with_context() {
        let mut chain = Chain::new(vec![Box::new(Mean(1)), Box::new(Mean(2))]);
        let mut out = Vec::new();
        for i in 0..10u8 {
            out.extend(chain.push((i as i64, frame(i * 10))).unwrap());
        }
        out.extend(chain.finish().unwrap());
        let pts: Vec<i64> = out.iter().map(|(p, _)| *p).collect();
        assert_eq!(pts, (0..10).collect::<Vec<_>>());
        // Middle frames of a linear ramp are unchanged by symmetric means.
        let Samples::U8(d) = &out[5].1.planes[0].samples else {
            panic!()
        };
        assert_eq!(d[0], 50);
    }

    /// Counts the frames it produces.
    struct Counted(Mean, std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Stage for Counted {
        fn name(&self) -> &'static str {
            "counted"
        }
        fn margin(&self) -> Margin {
            self.0.margin()
        }
        fn process(&mut self, w: &[&Frame], c: usize, p: i64) -> Result<Frame, StageError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.process(w, c, p)
        }
    }

    fn run(chain: &mut Chain, frames: std::ops::Range<u8>) -> Vec<(i64, u8)> {
        let mut out = Vec::new();
        for i in frames {
            out.extend(chain.push((i as i64, frame(i * 10 + i % 3))).unwrap());
        }
        out.extend(chain.finish().unwrap());
        out.into_iter()
            .map(|(p, f)| match &f.planes[0].samples {
                Samples::U8(d) => (p, d[0]),
                _ => (p, 0),
            })
            .collect()
    }

    #[test]
    fn a_kept_range_runs_stages_only_on_the_frames_later_stages_read() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let counts = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
        let stages = || -> Vec<Box<dyn Stage>> {
            vec![
                Box::new(Counted(Mean(2), counts[0].clone())),
                Box::new(Counted(Mean(1), counts[1].clone())),
            ]
        };
        let all = run(&mut Chain::new(stages()), 0..20);
        let (first, last) = (
            counts[0].swap(0, Ordering::Relaxed),
            counts[1].swap(0, Ordering::Relaxed),
        );
        assert_eq!((first, last), (20, 20));
        // A chunk [8, 12) decoded with the chain's whole margin (3 before, 3 after).
        let kept = run(&mut Chain::keeping(stages(), 8, 12), 5..15);
        let expected: Vec<(i64, u8)> = all
            .iter()
            .filter(|(p, _)| (8..12).contains(p))
            .copied()
            .collect();
        let got: Vec<(i64, u8)> = kept
            .iter()
            .filter(|(p, _)| (8..12).contains(p))
            .copied()
            .collect();
        assert_eq!(got, expected);
        assert_eq!(kept.len(), 4, "frames outside the range are not produced");
        // The first stage makes the range and the last stage's one frame either side; the last
        // stage only the range.
        assert_eq!(counts[0].load(Ordering::Relaxed), 6);
        assert_eq!(counts[1].load(Ordering::Relaxed), 4);
    }
}
