//! Audio for the final mux: copied packet by packet when the container accepts the codec, otherwise
//! decoded, resampled and re-encoded (AAC, or Opus for WebM) through an FFmpeg filter graph that also
//! cuts frames to the encoder's frame size. Audio stages (loudness, denoise, sync) run on the float
//! samples between the graph and the encoder; their measuring passes (`plan_stages`, `plan_sync`)
//! decode the input beforehand.

use super::{ffmpeg, MediaError, Result};
use crate::audio::{AudioStage, Chain};
use ffmpeg::format::Sample;
use ffmpeg::util::frame::Audio as AvAudio;
use std::collections::VecDeque;

mod graph;
mod loudness_pass;
mod meter;
mod plan;
mod reader;
mod stages;
mod sync_pass;

pub use graph::AudioCut;
use graph::{build_graph, cut_filters, feed, frame_for, interleaved, open_decoder, stream_start};
pub use meter::{measure_loudness, StreamLoudness};
pub use plan::plan_stages;
pub use reader::{decode_mono, decode_mono_ranges};
pub use stages::{absolute_tracks, check_stages, ExternalTrack, Format, PlannedStage};
use stages::{build_chain, choose_format};
pub use sync_pass::plan_sync;

/// Which audio encoder to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioEncoder {
    Aac,
    Opus,
}

impl AudioEncoder {
    fn name(self) -> &'static str {
        match self {
            AudioEncoder::Aac => "aac",
            AudioEncoder::Opus => "libopus",
        }
    }
}

/// Opens encoder `kind` (`codec`, as `choose_format` found it) for `fmt` at Kino's bit rate; the
/// measuring passes encode with the same settings as the mux so they see the codec's overshoot.
fn open_encoder(
    kind: AudioEncoder,
    fmt: &Format,
    sample_fmt: Sample,
    codec: ffmpeg::Codec,
    global_header: bool,
) -> Result<ffmpeg::codec::encoder::audio::Encoder> {
    let (rate, channels) = (fmt.rate as i32, fmt.channels as i32);
    let mut enc = ffmpeg::codec::Context::new_with_codec(codec)
        .encoder()
        .audio()
        .map_err(MediaError::ff("audio encoder"))?;
    enc.set_rate(rate);
    enc.set_format(sample_fmt);
    enc.set_channel_layout(fmt.layout);
    enc.set_time_base(ffmpeg::Rational(1, rate));
    enc.set_bit_rate(64_000 * channels.min(2) as usize + 32_000 * (channels - 2).max(0) as usize);
    if global_header {
        // SAFETY: plain field write before opening.
        unsafe { (*enc.as_mut_ptr()).flags |= ffmpeg::ffi::AV_CODEC_FLAG_GLOBAL_HEADER as i32 };
    }
    enc.open_as(codec).map_err(|e| {
        MediaError::Encode(format!(
            "opening {} ({rate} Hz, {channels} ch): {e}",
            kind.name()
        ))
    })
}

/// Decodes one input audio stream, runs the planned stages and re-encodes it; packets come out in
/// the encoder's time base.
pub struct AudioTranscoder {
    dec: ffmpeg::decoder::Audio,
    enc: ffmpeg::codec::encoder::audio::Encoder,
    graph: ffmpeg::filter::Graph,
    pkt_tb: ffmpeg::Rational,
    pub enc_tb: ffmpeg::Rational,
    chain: Chain,
    channels: usize,
    frame_size: usize,
    /// Time of the first sample into the stages (1/rate), once seen.
    first_pts: Option<Option<i64>>,
    /// Stage output not yet encoded, interleaved; the stages' delay is dropped from its front.
    fifo: Vec<f32>,
    /// Samples (interleaved) still to drop from the stages' output: their delay's whole frames.
    skip: usize,
    /// Samples (per channel) encoded from the stages' output.
    emitted: i64,
    out: VecDeque<ffmpeg::Packet>,
    flushed: bool,
}

impl AudioTranscoder {
    /// Sets up decoder, filter graph, stages and encoder for `stream`; `global_header` as the muxer
    /// needs. `planned` comes from `plan_stages` (empty: a plain re-encode).
    /// `cut` keeps only its parts of the audio (auto-edit).
    pub fn new(
        stream: &ffmpeg::format::stream::Stream,
        kind: AudioEncoder,
        global_header: bool,
        planned: &[PlannedStage],
        cut: Option<&AudioCut>,
    ) -> Result<Self> {
        let dec = open_decoder(stream)?;
        let denoising = planned
            .iter()
            .any(|s| matches!(s, PlannedStage::Denoise(_)));
        let (fmt, sample_fmt, codec) = choose_format(&dec, kind, denoising)?;
        if !planned.is_empty() && !matches!(sample_fmt, Sample::F32(_)) {
            return Err(MediaError::Encode(format!(
                "{} takes no float samples; cannot apply audio stages",
                kind.name()
            )));
        }
        let enc = open_encoder(kind, &fmt, sample_fmt, codec, global_header)?;
        let frame_size = enc.frame_size();
        let rate = fmt.rate;
        let chain = format!(
            "{}aresample={rate},aformat=sample_fmts={}:sample_rates={rate}:channel_layouts=0x{:x}",
            cut.map(|c| cut_filters(c, stream_start(stream)))
                .unwrap_or_default(),
            sample_fmt.name(),
            fmt.layout.bits()
        );
        let graph = build_graph(&dec, &chain, frame_size)?;
        Ok(AudioTranscoder {
            dec,
            enc,
            graph,
            pkt_tb: stream.time_base(),
            enc_tb: ffmpeg::Rational(1, rate as i32),
            skip: 0,
            chain: build_chain(planned, &fmt)?,
            channels: fmt.channels,
            frame_size: if frame_size > 0 {
                frame_size as usize
            } else {
                1024
            },
            first_pts: None,
            fifo: Vec::new(),
            emitted: 0,
            out: VecDeque::new(),
            flushed: false,
        })
    }

    /// The stream parameters for the output stream.
    pub fn encoder(&self) -> &ffmpeg::codec::encoder::audio::Encoder {
        &self.enc
    }

    /// Feeds one input packet (in the input stream's time base).
    pub fn push(&mut self, pkt: &ffmpeg::Packet) -> Result<()> {
        match self.dec.send_packet(pkt) {
            Ok(()) | Err(ffmpeg::Error::InvalidData) => {}
            Err(e) => return Err(MediaError::Decode(format!("audio: {e}"))),
        }
        self.pull_decoded()
    }

    fn pull_decoded(&mut self) -> Result<()> {
        let mut frame = AvAudio::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            feed(&mut self.graph, &mut frame, self.pkt_tb)?;
            self.pull_filtered()?;
        }
        Ok(())
    }

    fn pull_filtered(&mut self) -> Result<()> {
        loop {
            let mut filtered = AvAudio::empty();
            let got = self
                .graph
                .get("out")
                .ok_or_else(|| MediaError::Encode("audio graph output missing".into()))?
                .sink()
                .frame(&mut filtered);
            if got.is_err() {
                return Ok(());
            }
            if !self.chain.is_empty() {
                if self.first_pts.is_none() {
                    // Whole frames of the delay are dropped; the rest (less than a frame) is
                    // encoded before time 0, so the encoder's frames fall where they would if
                    // nothing were dropped (at 64 kb/s AAC's overshoot depends on it).
                    let delay = self.chain.delay();
                    let lead = delay % self.frame_size;
                    self.first_pts = Some(filtered.pts().map(|t| t - lead as i64));
                    self.skip = (delay - lead) * self.channels;
                }
                let mut samples = interleaved(&filtered, self.channels);
                self.chain.process(&mut samples)?;
                self.staged(&samples, false)?;
                continue;
            }
            self.encode(&filtered)?;
        }
    }

    /// Takes the stages' output: the whole frames of their delay are dropped from the front
    /// (however long: a DeepFilterNet block is seconds), the rest goes to the encoder in whole
    /// frames (all but the last, at `last`), timed from the first input sample so the sound stays
    /// in sync.
    fn staged(&mut self, samples: &[f32], last: bool) -> Result<()> {
        let drop = self.skip.min(samples.len());
        self.skip -= drop;
        self.fifo.extend_from_slice(&samples[drop..]);
        let whole = self.frame_size * self.channels;
        let mut at = 0;
        while self.fifo.len() - at >= whole || (last && at < self.fifo.len()) {
            let n = (self.fifo.len() - at).min(whole) / self.channels;
            let mut f = frame_for(
                &self.enc,
                self.channels,
                &self.fifo[at..at + n * self.channels],
            );
            f.set_pts(self.first_pts.flatten().map(|t| t + self.emitted));
            self.emitted += n as i64;
            at += n * self.channels;
            self.encode(&f)?;
        }
        self.fifo.drain(..at);
        Ok(())
    }

    fn encode(&mut self, frame: &AvAudio) -> Result<()> {
        self.enc
            .send_frame(frame)
            .map_err(|e| MediaError::Encode(format!("audio: {e}")))?;
        self.pull_packets()
    }

    fn pull_packets(&mut self) -> Result<()> {
        loop {
            let mut pkt = ffmpeg::Packet::empty();
            match self.enc.receive_packet(&mut pkt) {
                Ok(()) => self.out.push_back(pkt),
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => return Ok(()),
                Err(e) => return Err(MediaError::Encode(format!("audio: {e}"))),
            }
        }
    }

    /// Flushes decoder, filters, the stages' delay and the encoder at the end of the input.
    pub fn finish(&mut self) -> Result<()> {
        if self.flushed {
            return Ok(());
        }
        self.flushed = true;
        let _ = self.dec.send_eof();
        self.pull_decoded()?;
        if let Some(mut input) = self.graph.get("in") {
            let _ = input.source().flush();
        }
        self.pull_filtered()?;
        // Push the samples still inside the stages out with silence behind them.
        if self.first_pts.is_some() {
            let mut left = self.chain.delay();
            while left > 0 {
                let n = left.min(self.frame_size);
                let mut samples = vec![0f32; n * self.channels];
                self.chain.process(&mut samples)?;
                left -= n;
                self.staged(&samples, left == 0)?;
            }
            self.staged(&[], true)?;
        }
        let _ = self.enc.send_eof();
        self.pull_packets()
    }

    /// The next encoded packet, if one is ready.
    pub fn pop(&mut self) -> Option<ffmpeg::Packet> {
        self.out.pop_front()
    }
}
