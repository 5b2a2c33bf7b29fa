//! Audio for the final mux: copied packet by packet when the container accepts the codec, otherwise
//! decoded, resampled and re-encoded (AAC, or Opus for WebM) through an FFmpeg filter graph that also
//! cuts frames to the encoder's frame size.

use super::{ffmpeg, MediaError, Result};
use ffmpeg::util::frame::Audio as AvAudio;
use std::collections::VecDeque;

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

/// Decodes one input audio stream and re-encodes it; packets come out in the encoder's time base.
pub struct AudioTranscoder {
    dec: ffmpeg::decoder::Audio,
    enc: ffmpeg::codec::encoder::audio::Encoder,
    graph: ffmpeg::filter::Graph,
    in_tb: ffmpeg::Rational,
    pub enc_tb: ffmpeg::Rational,
    out: VecDeque<ffmpeg::Packet>,
    flushed: bool,
}

impl AudioTranscoder {
    /// Sets up decoder, filter graph and encoder for `stream`; `global_header` as the muxer needs.
    pub fn new(
        stream: &ffmpeg::format::stream::Stream,
        kind: AudioEncoder,
        global_header: bool,
    ) -> Result<Self> {
        let ctx = ffmpeg::codec::Context::from_parameters(stream.parameters())
            .map_err(MediaError::ff("audio decoder"))?;
        let mut dec = ctx
            .decoder()
            .audio()
            .map_err(MediaError::ff("audio decoder"))?;
        // SAFETY: plain field write; decoders need the packet time base for timestamps.
        unsafe { (*dec.as_mut_ptr()).pkt_timebase = stream.time_base().into() };
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
        let sample_fmt =
            audio_caps
                .formats()
                .and_then(|mut f| f.next())
                .unwrap_or(ffmpeg::format::Sample::F32(
                    ffmpeg::format::sample::Type::Planar,
                ));
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

        let mut graph = ffmpeg::filter::Graph::new();
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
        let spec = format!(
            "aresample={rate},aformat=sample_fmts={}:sample_rates={rate}:channel_layouts=0x{:x}",
            sample_fmt.name(),
            layout.bits()
        );
        graph
            .output("in", 0)
            .and_then(|p| p.input("out", 0))
            .and_then(|p| p.parse(&spec))
            .map_err(MediaError::ff("audio filter graph"))?;
        graph
            .validate()
            .map_err(MediaError::ff("audio filter graph"))?;
        if frame_size > 0 {
            if let Some(mut out) = graph.get("out") {
                out.sink().set_frame_size(frame_size);
            }
        }
        Ok(AudioTranscoder {
            dec,
            enc,
            graph,
            in_tb: ffmpeg::Rational(1, in_rate as i32),
            enc_tb: ffmpeg::Rational(1, rate),
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
            let ts = frame
                .timestamp()
                .map(|t| super::rescale(t, self.dec.time_base_or(self.in_tb), self.in_tb));
            frame.set_pts(ts);
            self.graph
                .get("in")
                .ok_or_else(|| MediaError::Encode("audio graph input missing".into()))?
                .source()
                .add(&frame)
                .map_err(MediaError::ff("audio filter"))?;
            self.pull_filtered()?;
        }
        Ok(())
    }

    fn pull_filtered(&mut self) -> Result<()> {
        let mut filtered = AvAudio::empty();
        loop {
            let got = self
                .graph
                .get("out")
                .ok_or_else(|| MediaError::Encode("audio graph output missing".into()))?
                .sink()
                .frame(&mut filtered);
            if got.is_err() {
                return Ok(());
            }
            self.enc
                .send_frame(&filtered)
                .map_err(|e| MediaError::Encode(format!("audio: {e}")))?;
            self.pull_packets()?;
        }
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

    /// Flushes decoder, filters and encoder at the end of the input.
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
        let _ = self.enc.send_eof();
        self.pull_packets()
    }

    /// The next encoded packet, if one is ready.
    pub fn pop(&mut self) -> Option<ffmpeg::Packet> {
        self.out.pop_front()
    }
}

trait TimeBaseOr {
    fn time_base_or(&self, fallback: ffmpeg::Rational) -> ffmpeg::Rational;
}

impl TimeBaseOr for ffmpeg::decoder::Audio {
    fn time_base_or(&self, fallback: ffmpeg::Rational) -> ffmpeg::Rational {
        // SAFETY: plain field read.
        let tb: ffmpeg::Rational = unsafe { (*self.as_ptr()).pkt_timebase }.into();
        if tb.numerator() > 0 && tb.denominator() > 0 {
            tb
        } else {
            fallback
        }
    }
}
