//! The measuring passes for loudness normalisation: the integrated loudness and true peak of the
//! signal the stages before loudness leave, the gain that reaches the target once the limiter has
//! held the peaks, and the limiter ceiling that keeps the *encoded* sound under the user's ceiling.
//! A codec rebuilds the wave from fewer bits and overshoots the peaks it was given (AAC at 8 kHz by
//! more than a dB), so the last pass encodes the limited signal with the mux's own encoder
//! settings, decodes it and meters it as the user's meter will; while it is over, the limiter's
//! ceiling goes down by the excess.

use super::graph::frame_for;
use super::stages::{build_chain, run_processed, Format, PlannedStage};
use super::{open_encoder, AudioEncoder};
use crate::audio::loudness::{self, Limiter, Measurement, Meter};
use crate::audio::AudioStage;
use crate::media::{ffmpeg, MediaError, Result};
use ffmpeg::format::Sample;
use ffmpeg::util::frame::Audio as AvAudio;
use kino_shared::LoudnessParams;
use std::path::Path;

/// Largest signal (samples) the passes keep in memory instead of decoding (and running the stages
/// before loudness) again for each pass: 128 MB.
pub(super) const PASS_CACHE_SAMPLES: usize = 32 << 20;
/// The limiter starts this far under the user's ceiling (the true-peak limiter holds the
/// ceiling before encoding; this is the first guess at the codec's overshoot).
pub(super) const LIMITER_MARGIN_DB: f64 = 0.3;
/// The encoded peak is held this far under the ceiling (the user's meter and ours differ a little).
const HOLD_DB: f64 = 0.1;
/// Encode-and-measure rounds before giving up on lowering the ceiling.
const CEILING_ROUNDS: usize = 5;

/// How the sound will be encoded (from `choose_format`).
pub(super) struct Encoding {
    pub kind: AudioEncoder,
    pub sample_fmt: Sample,
    pub codec: ffmpeg::Codec,
}

/// What the passes decided.
pub(super) struct LoudnessPlan {
    /// The signal before the stage.
    pub measured: Measurement,
    pub gain_db: f64,
    /// The limiter's ceiling, dBTP, under the user's by the codec's overshoot.
    pub ceiling_db: f64,
    /// The encoded result as the last pass measured it.
    pub encoded: Measurement,
}

/// The signal the stages before loudness produce: kept in memory when small enough, else decoded
/// (and processed) again for each pass.
struct Source<'a> {
    path: &'a Path,
    index: usize,
    fmt: &'a Format,
    cut: &'a str,
    before: &'a [PlannedStage],
    cache: Option<Vec<f32>>,
}

impl Source<'_> {
    fn each(&self, mut f: impl FnMut(&mut [f32]) -> Result<()>) -> Result<()> {
        match &self.cache {
            Some(c) => {
                let mut block = Vec::new();
                for part in c.chunks(4096 * self.fmt.channels) {
                    block.clear();
                    block.extend_from_slice(part);
                    f(&mut block)?;
                }
                Ok(())
            }
            None => run_processed(
                self.path,
                self.index,
                self.fmt,
                self.cut,
                &mut build_chain(self.before, self.fmt)?,
                f,
            ),
        }
    }
}

/// Plans loudness stage `p` of stream `index` of `path`, after the stages `before`, for encoding
/// `enc`.
pub(super) fn plan_loudness(
    path: &Path,
    index: usize,
    fmt: &Format,
    enc: &Encoding,
    cut: &str,
    before: &[PlannedStage],
    p: &LoudnessParams,
) -> Result<LoudnessPlan> {
    let (channels, rate) = (fmt.channels as u32, fmt.rate);
    let mut meter = Meter::new(channels, rate).map_err(MediaError::Decode)?;
    let mut cache: Option<Vec<f32>> = Some(Vec::new());
    let mut chain = build_chain(before, fmt)?;
    let before_delay = chain.delay();
    run_processed(path, index, fmt, cut, &mut chain, |b| {
        if let Some(c) = cache.as_mut() {
            if c.len() + b.len() <= PASS_CACHE_SAMPLES {
                c.extend_from_slice(b);
            } else {
                cache = None;
            }
        }
        meter.add_interleaved(b).map_err(MediaError::Decode)
    })?;
    let measured = meter.finish();
    let source = Source {
        path,
        index,
        fmt,
        cut,
        before,
        cache,
    };
    let mut gain = loudness::gain_db(&measured, p.target_lufs);
    let mut ceiling = p.true_peak_db - LIMITER_MARGIN_DB;
    let mut encoded = measured;
    if !measured.integrated_lufs.is_finite() {
        return Ok(LoudnessPlan {
            measured,
            gain_db: 0.0,
            ceiling_db: ceiling,
            encoded,
        });
    }
    for _ in 0..CEILING_ROUNDS {
        gain = fit_gain(&source, p.target_lufs, gain, ceiling)?;
        encoded = encoded_result(&source, enc, gain, ceiling, before_delay)?;
        let over = encoded.true_peak_db - (p.true_peak_db - HOLD_DB);
        if over <= 0.0 {
            break;
        }
        ceiling -= over + 0.05;
    }
    Ok(LoudnessPlan {
        measured,
        gain_db: gain,
        ceiling_db: ceiling,
        encoded,
    })
}

/// The gain, from `gain`, that brings the limited signal to `target` (limiting lowers loudness a
/// little, so each pass corrects by what it still misses; heavy limiting needs a few).
fn fit_gain(source: &Source, target: f64, mut gain: f64, ceiling: f64) -> Result<f64> {
    let fmt = source.fmt;
    for _ in 0..4 {
        let mut limited = Meter::new(fmt.channels as u32, fmt.rate).map_err(MediaError::Decode)?;
        let mut limiter = Limiter::standard(fmt.channels, fmt.rate, gain, ceiling);
        run_limited(source, &mut limiter, |b| {
            limited.add_interleaved(b).map_err(MediaError::Decode)
        })?;
        let miss = target - limited.finish().integrated_lufs;
        if !miss.is_finite() || miss.abs() < 0.1 {
            break;
        }
        gain += miss.clamp(-6.0, 6.0);
    }
    Ok(gain)
}

/// Runs `limiter` over the source, aligned (its delay taken off the front and flushed at the end).
fn run_limited(
    source: &Source,
    limiter: &mut Limiter,
    mut each: impl FnMut(&[f32]) -> Result<()>,
) -> Result<()> {
    let ch = source.fmt.channels;
    let mut skip = limiter.delay() * ch;
    let mut take = |b: &mut [f32], limiter: &mut Limiter| -> Result<()> {
        limiter.process(b);
        let drop = skip.min(b.len());
        skip -= drop;
        each(&b[drop..])
    };
    source.each(|b| take(b, limiter))?;
    let mut tail = vec![0f32; limiter.delay() * ch];
    take(&mut tail, limiter)
}

/// Loudness and true peak of the source limited at `gain`/`ceiling`, encoded and decoded again.
/// The remainder of the stages' delay (those before, `before_delay`, and the limiter's) over whole
/// encoder frames goes first as silence, as the mux puts it before time 0, so the encoder's frames
/// fall where they will in the file.
fn encoded_result(
    source: &Source,
    enc: &Encoding,
    gain: f64,
    ceiling: f64,
    before_delay: usize,
) -> Result<Measurement> {
    let fmt = source.fmt;
    let mut codec = RoundTrip::new(fmt, enc)?;
    let mut limiter = Limiter::standard(fmt.channels, fmt.rate, gain, ceiling);
    let lead = (before_delay + limiter.delay()) % codec.frame_size;
    codec.add(&vec![0f32; lead * fmt.channels])?;
    run_limited(source, &mut limiter, |b| codec.add(b))?;
    codec.finish()
}

/// An encoder and a decoder back to back, metering what comes out.
struct RoundTrip {
    enc: ffmpeg::codec::encoder::audio::Encoder,
    dec: ffmpeg::decoder::Audio,
    meter: Meter,
    channels: usize,
    frame_size: usize,
    fifo: Vec<f32>,
    pts: i64,
}

impl RoundTrip {
    fn new(fmt: &Format, e: &Encoding) -> Result<RoundTrip> {
        let enc = open_encoder(e.kind, fmt, e.sample_fmt, e.codec, false)?;
        let dec = ffmpeg::codec::Context::from_parameters(ffmpeg::codec::Parameters::from(&enc))
            .map_err(MediaError::ff("audio decoder"))?
            .decoder()
            .audio()
            .map_err(MediaError::ff("audio decoder"))?;
        let frame_size = if enc.frame_size() > 0 {
            enc.frame_size() as usize
        } else {
            1024
        };
        Ok(RoundTrip {
            meter: Meter::new(fmt.channels as u32, dec.rate().max(1))
                .map_err(MediaError::Decode)?,
            enc,
            dec,
            channels: fmt.channels,
            frame_size,
            fifo: Vec::new(),
            pts: 0,
        })
    }

    fn add(&mut self, samples: &[f32]) -> Result<()> {
        self.fifo.extend_from_slice(samples);
        let whole = self.frame_size * self.channels;
        let mut at = 0;
        while self.fifo.len() - at >= whole {
            self.encode(at, self.frame_size)?;
            at += whole;
        }
        self.fifo.drain(..at);
        Ok(())
    }

    fn encode(&mut self, at: usize, n: usize) -> Result<()> {
        let mut f = frame_for(
            &self.enc,
            self.channels,
            &self.fifo[at..at + n * self.channels],
        );
        f.set_pts(Some(self.pts));
        self.pts += n as i64;
        self.enc
            .send_frame(&f)
            .map_err(|e| MediaError::Encode(format!("audio: {e}")))?;
        self.drain_encoder()
    }

    fn drain_encoder(&mut self) -> Result<()> {
        let mut pkt = ffmpeg::Packet::empty();
        while self.enc.receive_packet(&mut pkt).is_ok() {
            match self.dec.send_packet(&pkt) {
                Ok(()) | Err(ffmpeg::Error::InvalidData) => {}
                Err(e) => return Err(MediaError::Decode(format!("audio check: {e}"))),
            }
            self.drain_decoder()?;
        }
        Ok(())
    }

    fn drain_decoder(&mut self) -> Result<()> {
        let mut frame = AvAudio::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            if !matches!(frame.format(), Sample::F32(_)) {
                return Err(MediaError::Decode(format!(
                    "audio check: the decoder gives {:?} samples, not float",
                    frame.format()
                )));
            }
            let samples = super::graph::interleaved(&frame, self.channels);
            self.meter
                .add_interleaved(&samples)
                .map_err(MediaError::Decode)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Measurement> {
        let rest = self.fifo.len() / self.channels;
        if rest > 0 {
            self.encode(0, rest)?;
        }
        let _ = self.enc.send_eof();
        self.drain_encoder()?;
        let _ = self.dec.send_eof();
        self.drain_decoder()?;
        Ok(self.meter.finish())
    }
}
