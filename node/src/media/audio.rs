//! Audio for the final mux: copied packet by packet when the container accepts the codec, otherwise
//! decoded, resampled and re-encoded (AAC, or Opus for WebM) through an FFmpeg filter graph that also
//! cuts frames to the encoder's frame size. Audio stages (loudness) run on the float samples between
//! the graph and the encoder.

use super::{ffmpeg, input, MediaError, Result};
use crate::audio::loudness::{self, Limiter, Measurement, Meter};
use ffmpeg::format::sample::Type as SampleType;
use ffmpeg::format::Sample;
use ffmpeg::util::frame::Audio as AvAudio;
use kino_shared::LoudnessParams;
use std::collections::VecDeque;
use std::path::Path;

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

/// A decoder for `stream`, with the packet time base set so frames carry timestamps.
fn open_decoder(stream: &ffmpeg::format::stream::Stream) -> Result<ffmpeg::decoder::Audio> {
    let ctx = ffmpeg::codec::Context::from_parameters(stream.parameters())
        .map_err(MediaError::ff("audio decoder"))?;
    let mut dec = ctx
        .decoder()
        .audio()
        .map_err(MediaError::ff("audio decoder"))?;
    // SAFETY: plain field write; decoders need the packet time base for timestamps.
    unsafe { (*dec.as_mut_ptr()).pkt_timebase = stream.time_base().into() };
    Ok(dec)
}

/// abuffer → `chain` → abuffersink, fed with the decoder's frames (time base 1/rate).
fn build_graph(
    dec: &ffmpeg::decoder::Audio,
    chain: &str,
    frame_size: u32,
) -> Result<ffmpeg::filter::Graph> {
    let in_rate = dec.rate().max(1);
    let in_layout = if dec.channel_layout().is_empty() {
        ffmpeg::ChannelLayout::default(dec.channels() as i32)
    } else {
        dec.channel_layout()
    };
    let args = format!(
        "time_base=1/{in_rate}:sample_rate={in_rate}:sample_fmt={}:channel_layout=0x{:x}",
        dec.format().name(),
        in_layout.bits(),
    );
    let mut graph = ffmpeg::filter::Graph::new();
    let abuffer = ffmpeg::filter::find("abuffer")
        .ok_or_else(|| MediaError::Encode("abuffer filter missing".into()))?;
    let sink = ffmpeg::filter::find("abuffersink")
        .ok_or_else(|| MediaError::Encode("abuffersink filter missing".into()))?;
    graph
        .add(&abuffer, "in", &args)
        .map_err(MediaError::ff("audio filter input"))?;
    graph
        .add(&sink, "out", "")
        .map_err(MediaError::ff("audio filter output"))?;
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(chain))
        .map_err(MediaError::ff("audio filter graph"))?;
    graph
        .validate()
        .map_err(MediaError::ff("audio filter graph"))?;
    if frame_size > 0 {
        if let Some(mut out) = graph.get("out") {
            out.sink().set_frame_size(frame_size);
        }
    }
    Ok(graph)
}

/// Sends a decoded frame (timestamps rescaled to 1/rate) into the graph.
fn feed(
    graph: &mut ffmpeg::filter::Graph,
    frame: &mut AvAudio,
    pkt_tb: ffmpeg::Rational,
) -> Result<()> {
    let rate = frame.rate().max(1) as i32;
    let ts = frame
        .timestamp()
        .map(|t| super::rescale(t, pkt_tb, ffmpeg::Rational(1, rate)));
    frame.set_pts(ts);
    graph
        .get("in")
        .ok_or_else(|| MediaError::Encode("audio graph input missing".into()))?
        .source()
        .add(frame)
        .map_err(MediaError::ff("audio filter"))
}

/// Interleaved f32 samples of a float frame (planar or packed).
fn interleaved(frame: &AvAudio, channels: usize) -> Vec<f32> {
    let n = frame.samples();
    if frame.is_planar() {
        let planes: Vec<&[f32]> = (0..channels).map(|c| &frame.plane::<f32>(c)[..n]).collect();
        (0..n)
            .flat_map(|i| planes.iter().map(move |p| p[i]))
            .collect()
    } else {
        let bytes = &frame.data(0)[..n * channels * 4];
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

fn write_interleaved(frame: &mut AvAudio, channels: usize, samples: &[f32]) {
    let n = frame.samples();
    if frame.is_planar() {
        for c in 0..channels {
            let plane = &mut frame.plane_mut::<f32>(c)[..n];
            for (i, s) in plane.iter_mut().enumerate() {
                *s = samples[i * channels + c];
            }
        }
    } else {
        let bytes = &mut frame.data_mut(0)[..n * channels * 4];
        for (dst, s) in bytes.chunks_exact_mut(4).zip(samples) {
            dst.copy_from_slice(&s.to_ne_bytes());
        }
    }
}

/// Decodes audio stream `index` of `path` and hands its samples, interleaved f32 at the stream's own
/// rate, to `each` block by block. Returns (channels, rate).
fn scan(
    path: &Path,
    index: usize,
    mut each: impl FnMut(&mut Vec<f32>) -> Result<()>,
) -> Result<(usize, u32)> {
    let mut ictx = input::open(path)?;
    let stream = ictx
        .stream(index)
        .ok_or_else(|| MediaError::Decode(format!("no audio stream {index}")))?;
    let pkt_tb = stream.time_base();
    let mut dec = open_decoder(&stream)?;
    let (channels, rate) = (dec.channels().max(1) as usize, dec.rate().max(1));
    let mut graph = build_graph(&dec, "aformat=sample_fmts=flt", 0)?;
    let mut frame = AvAudio::empty();
    let mut filtered = AvAudio::empty();
    let mut drain = |graph: &mut ffmpeg::filter::Graph| -> Result<()> {
        while let Some(mut out) = graph.get("out") {
            if out.sink().frame(&mut filtered).is_err() {
                break;
            }
            each(&mut interleaved(&filtered, channels))?;
        }
        Ok(())
    };
    let mut packet = ffmpeg::Packet::empty();
    let mut eof = false;
    while !eof {
        match packet.read(&mut ictx) {
            Ok(()) if packet.stream() == index => {
                // A damaged packet is skipped; the rest still counts.
                let _ = dec.send_packet(&packet);
            }
            Ok(()) => continue,
            Err(ffmpeg::Error::Eof) => {
                eof = true;
                let _ = dec.send_eof();
            }
            Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => continue,
            Err(e) => return Err(MediaError::Decode(format!("audio: {e}"))),
        }
        while dec.receive_frame(&mut frame).is_ok() {
            feed(&mut graph, &mut frame, pkt_tb)?;
            drain(&mut graph)?;
        }
    }
    if let Some(mut i) = graph.get("in") {
        let _ = i.source().flush();
    }
    drain(&mut graph)?;
    Ok((channels, rate))
}

/// The measuring passes for loudness normalisation of audio stream `index` of `path`: the input's
/// integrated loudness and true peak, then the gain that reaches `p.target_lufs` once the limiter
/// has held the peaks (limiting lowers loudness a little, so the gain is corrected by a second pass).
pub fn plan_loudness(path: &Path, index: usize, p: &LoudnessParams) -> Result<(Measurement, f64)> {
    let (channels, rate) = {
        let ictx = input::open(path)?;
        let s = ictx
            .stream(index)
            .ok_or_else(|| MediaError::Decode(format!("no audio stream {index}")))?;
        let dec = open_decoder(&s)?;
        (dec.channels().max(1) as u32, dec.rate().max(1))
    };
    let mut meter = Meter::new(channels, rate).map_err(MediaError::Decode)?;
    scan(path, index, |b| {
        meter.add_interleaved(b).map_err(MediaError::Decode)
    })?;
    let measured = meter.finish();
    let mut gain = loudness::gain_db(&measured, p.target_lufs);
    // Each pass runs the limiter at the current gain and corrects by what it still misses; heavy
    // limiting (quiet speech with full-scale peaks pushed to -14 LUFS) needs a few.
    for _ in 0..4 {
        if !measured.integrated_lufs.is_finite() {
            break;
        }
        let mut limited = Meter::new(channels, rate).map_err(MediaError::Decode)?;
        let mut limiter = Limiter::new(
            channels as usize,
            gain,
            p.true_peak_db - LIMITER_MARGIN_DB,
            rate as usize / 200,
            rate as usize / 20,
        );
        scan(path, index, |b| {
            limiter.process(b);
            limited.add_interleaved(b).map_err(MediaError::Decode)
        })?;
        let miss = p.target_lufs - limited.finish().integrated_lufs;
        if !miss.is_finite() || miss.abs() < 0.1 {
            break;
        }
        gain += miss.clamp(-6.0, 6.0);
    }
    Ok((measured, gain))
}

/// Peaks are held this far under the ceiling: room for inter-sample peaks and codec overshoot.
const LIMITER_MARGIN_DB: f64 = 1.0;

/// Loudness processing for the transcoder.
struct Processing {
    limiter: Limiter,
    channels: usize,
    frame_size: usize,
    next_pts: Option<i64>,
}

/// Decodes one input audio stream and re-encodes it; packets come out in the encoder's time base.
pub struct AudioTranscoder {
    dec: ffmpeg::decoder::Audio,
    enc: ffmpeg::codec::encoder::audio::Encoder,
    graph: ffmpeg::filter::Graph,
    pkt_tb: ffmpeg::Rational,
    pub enc_tb: ffmpeg::Rational,
    processing: Option<Processing>,
    out: VecDeque<ffmpeg::Packet>,
    flushed: bool,
}

impl AudioTranscoder {
    /// Sets up decoder, filter graph and encoder for `stream`; `global_header` as the muxer needs.
    /// With `loudness` (parameters and the gain from `plan_loudness`) the samples are normalised.
    pub fn new(
        stream: &ffmpeg::format::stream::Stream,
        kind: AudioEncoder,
        global_header: bool,
        loudness: Option<(LoudnessParams, f64)>,
    ) -> Result<Self> {
        let dec = open_decoder(stream)?;
        let codec = ffmpeg::encoder::find_by_name(kind.name()).ok_or_else(|| {
            MediaError::EncoderMissing(format!("{} is not in this FFmpeg build", kind.name()))
        })?;
        let audio_caps = codec.audio().map_err(MediaError::ff("audio encoder"))?;
        let in_rate = dec.rate().max(1);
        let rates: Vec<i32> = audio_caps.rates().map(|r| r.collect()).unwrap_or_default();
        let rate = if kind == AudioEncoder::Opus {
            48_000
        } else if rates.is_empty() || rates.contains(&(in_rate as i32)) {
            in_rate as i32
        } else {
            // The smallest supported rate at or above the input's (AAC has no 11.024 kHz, say).
            rates
                .iter()
                .copied()
                .filter(|&r| r >= in_rate as i32)
                .min()
                .unwrap_or(48_000)
        };
        let formats: Vec<Sample> = audio_caps
            .formats()
            .map(|f| f.collect())
            .unwrap_or_default();
        // Float samples when the encoder takes them (stages work on floats).
        let sample_fmt = [
            Sample::F32(SampleType::Planar),
            Sample::F32(SampleType::Packed),
        ]
        .into_iter()
        .find(|f| formats.contains(f))
        .or_else(|| formats.first().copied())
        .unwrap_or(Sample::F32(SampleType::Planar));
        if loudness.is_some() && !matches!(sample_fmt, Sample::F32(_)) {
            return Err(MediaError::Encode(format!(
                "{} takes no float samples; cannot apply audio stages",
                kind.name()
            )));
        }
        let channels = dec.channels().clamp(1, 8) as i32;
        let layout = ffmpeg::ChannelLayout::default(channels);
        let mut enc = ffmpeg::codec::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(MediaError::ff("audio encoder"))?;
        enc.set_rate(rate);
        enc.set_format(sample_fmt);
        enc.set_channel_layout(layout);
        enc.set_time_base(ffmpeg::Rational(1, rate));
        enc.set_bit_rate(
            64_000 * channels.min(2) as usize + 32_000 * (channels - 2).max(0) as usize,
        );
        if global_header {
            // SAFETY: plain field write before opening.
            unsafe { (*enc.as_mut_ptr()).flags |= ffmpeg::ffi::AV_CODEC_FLAG_GLOBAL_HEADER as i32 };
        }
        let enc = enc.open_as(codec).map_err(|e| {
            MediaError::Encode(format!(
                "opening {} ({rate} Hz, {channels} ch): {e}",
                kind.name()
            ))
        })?;
        let frame_size = enc.frame_size();
        let chain = format!(
            "aresample={rate},aformat=sample_fmts={}:sample_rates={rate}:channel_layouts=0x{:x}",
            sample_fmt.name(),
            layout.bits()
        );
        let graph = build_graph(&dec, &chain, frame_size)?;
        let processing = loudness.map(|(p, gain)| Processing {
            limiter: Limiter::new(
                channels as usize,
                gain,
                p.true_peak_db - LIMITER_MARGIN_DB,
                rate as usize / 200,
                rate as usize / 20,
            ),
            channels: channels as usize,
            frame_size: if frame_size > 0 {
                frame_size as usize
            } else {
                1024
            },
            next_pts: None,
        });
        Ok(AudioTranscoder {
            dec,
            enc,
            graph,
            pkt_tb: stream.time_base(),
            enc_tb: ffmpeg::Rational(1, rate),
            processing,
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
            if let Some(p) = self.processing.as_mut() {
                let mut samples = interleaved(&filtered, p.channels);
                p.limiter.process(&mut samples);
                write_interleaved(&mut filtered, p.channels, &samples);
                // The limiter delays by its look-ahead: shift timestamps back to stay in sync.
                let pts = filtered.pts().map(|t| t - p.limiter.delay() as i64);
                filtered.set_pts(pts);
                p.next_pts = pts.map(|t| t + filtered.samples() as i64);
            }
            self.encode(&filtered)?;
        }
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

    /// Flushes decoder, filters, the limiter's look-ahead and the encoder at the end of the input.
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
        if let Some(p) = self.processing.as_mut() {
            // Push the samples still in the look-ahead out with silence behind them.
            let mut left = p.limiter.delay();
            let mut tail = Vec::new();
            while left > 0 {
                let n = p.frame_size;
                let mut samples = vec![0f32; n * p.channels];
                p.limiter.process(&mut samples);
                let mut f = AvAudio::new(self.enc.format(), n, self.enc.channel_layout());
                f.set_rate(self.enc.rate());
                write_interleaved(&mut f, p.channels, &samples);
                f.set_pts(p.next_pts);
                p.next_pts = p.next_pts.map(|t| t + n as i64);
                tail.push(f);
                left = left.saturating_sub(n);
            }
            for f in tail {
                self.encode(&f)?;
            }
        }
        let _ = self.enc.send_eof();
        self.pull_packets()
    }

    /// The next encoded packet, if one is ready.
    pub fn pop(&mut self) -> Option<ffmpeg::Packet> {
        self.out.pop_front()
    }
}
