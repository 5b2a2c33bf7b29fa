//! Audio for the final mux: copied packet by packet when the container accepts the codec, otherwise
//! decoded, resampled and re-encoded (AAC, or Opus for WebM) through an FFmpeg filter graph that also
//! cuts frames to the encoder's frame size. Audio stages (loudness, denoise, sync) run on the float
//! samples between the graph and the encoder; their measuring passes (`plan_stages`, `plan_sync`)
//! decode the input beforehand.

use super::{ffmpeg, input, MediaError, Result};
use crate::audio::denoise;
use crate::audio::loudness::{self, Limiter, Measurement, Meter};
use crate::audio::sync::{self, SampleSource, SyncReport, SyncStage};
use crate::audio::{AudioError, AudioStage, Chain};
use ffmpeg::format::sample::Type as SampleType;
use ffmpeg::format::Sample;
use ffmpeg::util::frame::Audio as AvAudio;
use kino_shared::{AudioDenoiseParams, AudioStageSpec, LoudnessParams, SyncParams};
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

/// Where an audio stream starts, in seconds (0 when it does not say).
fn stream_start(stream: &ffmpeg::format::stream::Stream) -> f64 {
    let start = stream.start_time();
    if start == ffmpeg::ffi::AV_NOPTS_VALUE {
        0.0
    } else {
        super::seconds(start, stream.time_base())
    }
}

/// Auto-edit's cut of the audio: the parts to keep, joined end to end like the kept frames.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AudioCut {
    /// Seconds on the source's container clock; `None` ends are open (the stream's own start or end).
    pub parts: Vec<(Option<f64>, Option<f64>)>,
    /// Where the joined audio starts when the first part's start is cut: the output's first frame
    /// time, in seconds.
    pub output_start: f64,
}

/// Filters that keep the cut's parts of the audio (sample-exact `atrim`) and join them end to end,
/// ahead of the rest of a chain, starting where the kept picture does.
fn cut_filters(cut: &AudioCut, audio_start: f64) -> String {
    let parts = cut.parts.as_slice();
    let trim = |(a, b): &(Option<f64>, Option<f64>)| {
        let mut t = Vec::new();
        if let Some(a) = a {
            t.push(format!("start={a:.6}"));
        }
        if let Some(b) = b {
            t.push(format!("end={b:.6}"));
        }
        format!("atrim={},asetpts=PTS-STARTPTS", t.join(":"))
    };
    // The output starts where the first kept part does on the output's clock: an open start keeps
    // the stream's own start; a cut start moves to the video's first frame time.
    let offset = match parts.first() {
        Some((None, _)) | None => audio_start,
        Some((Some(_), _)) => cut.output_start,
    };
    let shift = format!("asetpts=PTS+{offset:.6}/TB,");
    match parts {
        [] => String::new(),
        [one] => format!("{},{shift}", trim(one)),
        many => {
            let n = many.len();
            let labels: String = (0..n).map(|i| format!("[s{i}]")).collect();
            let mut graph = format!("asplit={n}{labels};");
            for (i, p) in many.iter().enumerate() {
                graph.push_str(&format!("[s{i}]{}[c{i}];", trim(p)));
            }
            let inputs: String = (0..n).map(|i| format!("[c{i}]")).collect();
            graph.push_str(&format!("{inputs}concat=n={n}:v=0:a=1,{shift}"));
            graph
        }
    }
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

/// Pulls decoded, filtered blocks (interleaved f32) from one audio stream of a file.
struct Reader {
    ictx: ffmpeg::format::context::Input,
    dec: ffmpeg::decoder::Audio,
    graph: ffmpeg::filter::Graph,
    index: usize,
    pkt_tb: ffmpeg::Rational,
    channels: usize,
    frame: AvAudio,
    filtered: AvAudio,
    queue: VecDeque<Vec<f32>>,
    finished: bool,
}

impl Reader {
    /// Opens audio stream `index` of `path`; `chain` gives the filter chain after the decoder and
    /// the channel count it outputs (packed float samples).
    fn open(
        path: &Path,
        index: usize,
        chain: impl FnOnce(&ffmpeg::decoder::Audio) -> (String, usize),
    ) -> Result<Self> {
        let ictx = input::open(path)?;
        let stream = ictx
            .stream(index)
            .filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
            .ok_or_else(|| MediaError::Decode(format!("no audio stream {index}")))?;
        let pkt_tb = stream.time_base();
        let dec = open_decoder(&stream)?;
        let (filters, channels) = chain(&dec);
        let graph = build_graph(&dec, &filters, 0)?;
        Ok(Reader {
            ictx,
            dec,
            graph,
            index,
            pkt_tb,
            channels: channels.max(1),
            frame: AvAudio::empty(),
            filtered: AvAudio::empty(),
            queue: VecDeque::new(),
            finished: false,
        })
    }

    /// The next block, `None` at the end.
    fn next(&mut self) -> Result<Option<Vec<f32>>> {
        loop {
            if let Some(b) = self.queue.pop_front() {
                return Ok(Some(b));
            }
            if self.finished {
                return Ok(None);
            }
            self.step()?;
        }
    }

    fn step(&mut self) -> Result<()> {
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(&mut self.ictx) {
            Ok(()) if packet.stream() == self.index => {
                // A damaged packet is skipped; the rest still counts.
                let _ = self.dec.send_packet(&packet);
                self.receive()
            }
            Ok(()) => Ok(()),
            Err(ffmpeg::Error::Eof) => {
                let _ = self.dec.send_eof();
                self.receive()?;
                if let Some(mut i) = self.graph.get("in") {
                    let _ = i.source().flush();
                }
                self.drain();
                self.finished = true;
                Ok(())
            }
            Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => Ok(()),
            Err(e) => Err(MediaError::Decode(format!("audio: {e}"))),
        }
    }

    fn receive(&mut self) -> Result<()> {
        while self.dec.receive_frame(&mut self.frame).is_ok() {
            feed(&mut self.graph, &mut self.frame, self.pkt_tb)?;
            self.drain();
        }
        Ok(())
    }

    fn drain(&mut self) {
        while let Some(mut out) = self.graph.get("out") {
            if out.sink().frame(&mut self.filtered).is_err() {
                break;
            }
            self.queue
                .push_back(interleaved(&self.filtered, self.channels));
        }
    }
}

/// Filters resampling to `rate` with `layout` as packed floats.
fn to_format(rate: u32, layout: ffmpeg::ChannelLayout) -> String {
    format!(
        "aresample={rate},aformat=sample_fmts=flt:sample_rates={rate}:channel_layouts=0x{:x}",
        layout.bits()
    )
}

/// Audio stream `index` of `path` as mono samples at `rate`, whole.
pub fn decode_mono(path: &Path, index: usize, rate: u32) -> Result<Vec<f32>> {
    let mut r = Reader::open(path, index, |_| {
        (to_format(rate, ffmpeg::ChannelLayout::MONO), 1)
    })?;
    let mut out = Vec::new();
    while let Some(b) = r.next()? {
        out.extend_from_slice(&b);
    }
    Ok(out)
}

/// Parts of audio stream `index` of `path` as mono samples at `rate`: for each `(start, len)` (start
/// may be negative), `len` samples, zero outside the stream. Decoding stops after the last part.
pub fn decode_mono_ranges(
    path: &Path,
    index: usize,
    rate: u32,
    ranges: &[(i64, usize)],
) -> Result<Vec<Vec<f32>>> {
    let mut out: Vec<Vec<f32>> = ranges.iter().map(|(_, n)| vec![0f32; *n]).collect();
    let end = ranges.iter().map(|(s, n)| s + *n as i64).max().unwrap_or(0);
    let mut r = Reader::open(path, index, |_| {
        (to_format(rate, ffmpeg::ChannelLayout::MONO), 1)
    })?;
    let mut pos = 0i64;
    while pos < end {
        let Some(b) = r.next()? else { break };
        for ((start, _), dst) in ranges.iter().zip(out.iter_mut()) {
            // Overlap of [pos, pos + b.len()) with [start, start + len).
            let from = pos.max(*start);
            let to = (pos + b.len() as i64).min(start + dst.len() as i64);
            for t in from..to {
                dst[(t - start) as usize] = b[(t - pos) as usize];
            }
        }
        pos += b.len() as i64;
    }
    Ok(out)
}

/// The rate, channels and layout the audio stages and the encoder work in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Format {
    pub rate: u32,
    pub channels: usize,
    layout: ffmpeg::ChannelLayout,
}

/// An audio stage with what its measuring pass found.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedStage {
    Loudness {
        params: LoudnessParams,
        gain_db: f64,
    },
    Denoise(AudioDenoiseParams),
    Sync {
        params: SyncParams,
        /// Offset found by `plan_sync`, seconds (see `audio::sync` for the sign).
        offset_seconds: f64,
    },
}

/// The encoder `kind` for `dec`'s audio: the rate (48 kHz when a stage needs it, else the input's
/// when the encoder takes it), the layout, the sample format.
fn choose_format(
    dec: &ffmpeg::decoder::Audio,
    kind: AudioEncoder,
    needs_48k: bool,
) -> Result<(Format, Sample, ffmpeg::Codec)> {
    let codec = ffmpeg::encoder::find_by_name(kind.name()).ok_or_else(|| {
        MediaError::EncoderMissing(format!("{} is not in this FFmpeg build", kind.name()))
    })?;
    let audio_caps = codec.audio().map_err(MediaError::ff("audio encoder"))?;
    let in_rate = if needs_48k {
        denoise::RATE
    } else {
        dec.rate().max(1)
    };
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
    if needs_48k && rate != 48_000 {
        return Err(MediaError::Encode(format!(
            "{} cannot encode 48 kHz audio, which audio denoising needs",
            kind.name()
        )));
    }
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
    let channels = dec.channels().clamp(1, 8) as i32;
    Ok((
        Format {
            rate: rate as u32,
            channels: channels as usize,
            layout: ffmpeg::ChannelLayout::default(channels),
        },
        sample_fmt,
        codec,
    ))
}

fn needs_48k(stages: &[AudioStageSpec]) -> bool {
    stages
        .iter()
        .any(|s| matches!(s, AudioStageSpec::Denoise(_)))
}

/// The external recording of a sync stage, decoded to the processing format.
pub struct ExternalTrack {
    reader: Reader,
    path: String,
    pending: Vec<f32>,
    at: usize,
}

impl ExternalTrack {
    pub fn open(path: &Path, fmt: &Format) -> Result<Self, AudioError> {
        let shown = path.display().to_string();
        let index = audio_stream_of_track(path)?;
        let reader = Reader::open(path, index, |_| {
            (to_format(fmt.rate, fmt.layout), fmt.channels)
        })
        .map_err(|e| AudioError::TrackUnreadable {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Ok(ExternalTrack {
            reader,
            path: shown,
            pending: Vec::new(),
            at: 0,
        })
    }
}

impl SampleSource for ExternalTrack {
    fn read(&mut self, out: &mut [f32]) -> Result<usize, AudioError> {
        if self.at >= self.pending.len() {
            match self.reader.next() {
                Ok(Some(b)) => {
                    self.pending = b;
                    self.at = 0;
                }
                Ok(None) => return Ok(0),
                Err(e) => {
                    return Err(AudioError::TrackUnreadable {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        let n = out.len().min(self.pending.len() - self.at);
        out[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The audio stream of an external recording (the best one when it has several).
fn audio_stream_of_track(path: &Path) -> Result<usize, AudioError> {
    let shown = path.display().to_string();
    let ictx = input::open(path).map_err(|e| AudioError::TrackUnreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let index = ictx
        .streams()
        .best(ffmpeg::media::Type::Audio)
        .map(|s| s.index())
        .ok_or(AudioError::TrackHasNoAudio(shown))?;
    Ok(index)
}

/// Checks before any rendering that the audio stages can run: a sync stage's recording exists and
/// has an audio stream, and the video has audio to align it with.
pub fn check_stages(stages: &[AudioStageSpec], input_has_audio: bool) -> Result<()> {
    for p in stages.iter().filter_map(AudioStageSpec::sync) {
        audio_stream_of_track(Path::new(&p.track))?;
        if !input_has_audio {
            return Err(AudioError::NoReferenceAudio.into());
        }
    }
    Ok(())
}

/// Makes the recordings of sync stages absolute paths (the CLI takes them relative to the working
/// folder; the job may run elsewhere).
pub fn absolute_tracks(stages: &mut [AudioStageSpec]) -> Result<()> {
    for stage in stages {
        if let AudioStageSpec::Sync(p) = stage {
            let abs = std::path::absolute(&p.track).map_err(MediaError::io(&p.track))?;
            p.track = abs.display().to_string();
        }
    }
    Ok(())
}

/// The stages of `planned`, ready to run in `fmt`.
fn build_chain(planned: &[PlannedStage], fmt: &Format) -> Result<Chain> {
    let mut chain = Chain::new();
    for stage in planned {
        let before = chain.delay();
        match stage {
            PlannedStage::Loudness { params, gain_db } => chain.push(Box::new(Limiter::new(
                fmt.channels,
                *gain_db,
                params.true_peak_db - LIMITER_MARGIN_DB,
                fmt.rate as usize / 200,
                fmt.rate as usize / 20,
            ))),
            PlannedStage::Denoise(p) => chain.push(crate::audio::dfn::denoiser(p, fmt.channels)),
            PlannedStage::Sync {
                params,
                offset_seconds,
            } => {
                let track = ExternalTrack::open(Path::new(&params.track), fmt)?;
                let offset = (offset_seconds * fmt.rate as f64).round() as i64;
                chain.push(Box::new(SyncStage::new(
                    track,
                    fmt.channels,
                    offset,
                    before,
                    params.mode,
                    params.level,
                )));
            }
        }
    }
    Ok(chain)
}

/// Decodes stream `index` of `path` into `fmt`, runs `chain` and hands the result to `each` in
/// blocks, aligned with the input (the chain's delay taken off the front and flushed at the end).
fn run_processed(
    path: &Path,
    index: usize,
    fmt: &Format,
    cut: &str,
    chain: &mut Chain,
    mut each: impl FnMut(&mut [f32]) -> Result<()>,
) -> Result<()> {
    let mut r = Reader::open(path, index, |_| {
        (
            format!("{cut}{}", to_format(fmt.rate, fmt.layout)),
            fmt.channels,
        )
    })?;
    let delay = chain.delay();
    let mut skip = delay * fmt.channels;
    let mut handle = |b: &mut Vec<f32>| -> Result<()> {
        chain.process(b)?;
        let drop = skip.min(b.len());
        skip -= drop;
        if drop < b.len() {
            each(&mut b[drop..])?;
        }
        Ok(())
    };
    while let Some(mut b) = r.next()? {
        handle(&mut b)?;
    }
    let mut left = delay;
    while left > 0 {
        let n = left.min(4096);
        handle(&mut vec![0f32; n * fmt.channels])?;
        left -= n;
    }
    Ok(())
}

/// Plans the audio stages of stream `index` of `path` for encoder `kind`: the loudness gain is
/// measured on the signal as the stages before loudness leave it (denoised, synchronised), so the
/// target is met on what is heard. `sync_offset` is what `plan_sync` found. Returns the planned
/// stages and a line per measurement for the job's log. With auto-edit's `cut`, loudness is
/// measured on the kept audio only, as it will be heard.
pub fn plan_stages(
    path: &Path,
    index: usize,
    kind: AudioEncoder,
    stages: &[AudioStageSpec],
    sync_offset: Option<f64>,
    cut: Option<&AudioCut>,
) -> Result<(Vec<PlannedStage>, Vec<String>)> {
    let (fmt, cut) = {
        let ictx = input::open(path)?;
        let s = ictx
            .stream(index)
            .ok_or_else(|| MediaError::Decode(format!("no audio stream {index}")))?;
        let dec = open_decoder(&s)?;
        (
            choose_format(&dec, kind, needs_48k(stages))?.0,
            cut.map(|c| cut_filters(c, stream_start(&s)))
                .unwrap_or_default(),
        )
    };
    let mut planned = Vec::with_capacity(stages.len());
    let mut notes = Vec::new();
    for stage in stages {
        let p = match stage {
            AudioStageSpec::Denoise(p) => {
                let (p, note) = crate::audio::dfn::resolve(p);
                notes.extend(note);
                PlannedStage::Denoise(p)
            }
            AudioStageSpec::Sync(p) => PlannedStage::Sync {
                params: p.clone(),
                offset_seconds: sync_offset
                    .ok_or_else(|| MediaError::Decode("audio sync was not measured".into()))?,
            },
            AudioStageSpec::Loudness(p) => {
                let (m, gain) = plan_loudness(path, index, &fmt, &cut, &planned, p)?;
                notes.push(format!(
                    "audio stream {index}: measured {:.1} LUFS, {:.1} dBTP{}; gain {gain:+.1} dB to {:.1} LUFS under {:.1} dBTP",
                    m.integrated_lufs,
                    m.true_peak_db,
                    if planned.is_empty() { "" } else { " after the stages before loudness" },
                    p.target_lufs,
                    p.true_peak_db
                ));
                PlannedStage::Loudness {
                    params: *p,
                    gain_db: gain,
                }
            }
        };
        planned.push(p);
    }
    Ok((planned, notes))
}

/// Largest signal (samples) the loudness passes keep in memory instead of decoding (and running the
/// stages before loudness) again for each pass: 128 MB.
const PASS_CACHE_SAMPLES: usize = 32 << 20;

/// The measuring passes for loudness normalisation: the integrated loudness and true peak of the
/// signal the stages `before` produce, then the gain that reaches `p.target_lufs` once the limiter
/// has held the peaks (limiting lowers loudness a little, so the gain is corrected by more passes).
fn plan_loudness(
    path: &Path,
    index: usize,
    fmt: &Format,
    cut: &str,
    before: &[PlannedStage],
    p: &LoudnessParams,
) -> Result<(Measurement, f64)> {
    let (channels, rate) = (fmt.channels as u32, fmt.rate);
    let mut meter = Meter::new(channels, rate).map_err(MediaError::Decode)?;
    let mut cache: Option<Vec<f32>> = Some(Vec::new());
    run_processed(path, index, fmt, cut, &mut build_chain(before, fmt)?, |b| {
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
    let mut gain = loudness::gain_db(&measured, p.target_lufs);
    // Each pass runs the limiter at the current gain and corrects by what it still misses; heavy
    // limiting (quiet speech with full-scale peaks pushed to -14 LUFS) needs a few.
    for _ in 0..4 {
        if !measured.integrated_lufs.is_finite() {
            break;
        }
        let mut limited = Meter::new(channels, rate).map_err(MediaError::Decode)?;
        let mut limiter = Limiter::new(
            fmt.channels,
            gain,
            p.true_peak_db - LIMITER_MARGIN_DB,
            rate as usize / 200,
            rate as usize / 20,
        );
        let mut pass = |b: &mut [f32]| -> Result<()> {
            limiter.process(b);
            limited.add_interleaved(b).map_err(MediaError::Decode)
        };
        match &cache {
            Some(c) => {
                let mut block = Vec::new();
                for part in c.chunks(4096 * fmt.channels) {
                    block.clear();
                    block.extend_from_slice(part);
                    pass(&mut block)?;
                }
            }
            None => run_processed(path, index, fmt, cut, &mut build_chain(before, fmt)?, pass)?,
        }
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

/// Finds the offset (and drift) of the external recording `p.track` against audio stream `index`
/// of `video`: a coarse GCC-PHAT search over ±`max_offset_seconds` at 8 kHz in a window near the
/// start and one near the end, each refined at 48 kHz.
pub fn plan_sync(video: &Path, index: usize, p: &SyncParams) -> Result<SyncReport> {
    let started = std::time::Instant::now();
    let track = Path::new(&p.track);
    let track_index = audio_stream_of_track(track)?;
    let cr = sync::COARSE_RATE;
    let v = decode_mono(video, index, cr)?;
    let e = decode_mono(track, track_index, cr).map_err(|err| AudioError::TrackUnreadable {
        path: p.track.clone(),
        reason: err.to_string(),
    })?;
    if sync::is_silent(&v) {
        return Err(AudioError::Silent("video's audio").into());
    }
    if sync::is_silent(&e) {
        return Err(AudioError::Silent("external recording").into());
    }
    let e_seconds = e.len() as f64 / cr as f64;
    if e_seconds < sync::MIN_SECONDS {
        return Err(AudioError::TooShort {
            what: "external recording",
            seconds: e_seconds,
            min: sync::MIN_SECONDS,
        }
        .into());
    }
    let windows = sync::windows(&v, cr)?;
    let max_lag = (p.max_offset_seconds * cr as f64).ceil() as usize;
    let coarse: Vec<(std::ops::Range<usize>, sync::Match)> = windows
        .into_iter()
        .filter_map(|w| sync::coarse_offset(&v, &e, &w, max_lag, cr).map(|m| (w, m)))
        .collect();
    if coarse.is_empty() {
        return Err(
            AudioError::Silent("external recording, where it could overlap the video,").into(),
        );
    }
    // Refine each window at the fine rate around its coarse offset, in a few short windows.
    let fr = sync::FINE_RATE;
    let k = fr as f64 / cr as f64;
    let margin = sync::fine_margin(fr);
    let mut v_ranges = Vec::new();
    let mut e_ranges = Vec::new();
    let mut owners = Vec::new();
    for (i, (w, m)) in coarse.iter().enumerate() {
        let off = (m.lag * k).round() as i64;
        for (start, len) in sync::fine_windows(w, cr, fr) {
            v_ranges.push((start, len));
            e_ranges.push((start + off - margin as i64, len + 2 * margin));
            owners.push((i, off));
        }
    }
    let vf = decode_mono_ranges(video, index, fr, &v_ranges)?;
    let ef = decode_mono_ranges(track, track_index, fr, &e_ranges)?;
    // Quiet stretches say little: each coarse window keeps the fine windows with at least a tenth
    // of the energy of its loudest one.
    let energy = |x: &[f32]| x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
    let loudest: Vec<f64> = (0..coarse.len())
        .map(|i| {
            owners
                .iter()
                .zip(&vf)
                .filter(|((o, _), _)| *o == i)
                .map(|(_, x)| energy(x))
                .fold(0.0, f64::max)
        })
        .collect();
    let mut results = Vec::new();
    for ((((i, off), x), y), (start, len)) in owners.iter().zip(&vf).zip(&ef).zip(&v_ranges) {
        if energy(x) < 0.1 * loudest[*i] {
            continue;
        }
        let Some(c) = sync::fine_correction(x, y, margin) else {
            continue;
        };
        results.push(sync::WindowResult {
            at_seconds: (*start as f64 + *len as f64 / 2.0) / fr as f64,
            offset_ms: (*off as f64 + c) / fr as f64 * 1000.0,
            peak_ratio: coarse[*i].1.peak_ratio,
        });
    }
    if results.is_empty() {
        // Every fine window was silent in the recording: keep the coarse answers.
        results = coarse
            .iter()
            .map(|(w, m)| sync::WindowResult {
                at_seconds: (w.start + w.end) as f64 / 2.0 / cr as f64,
                offset_ms: m.lag / cr as f64 * 1000.0,
                peak_ratio: m.peak_ratio,
            })
            .collect();
    }
    let video_seconds = v.len() as f64 / cr as f64;
    let summary = sync::summarise(&results, video_seconds / 2.0);
    Ok(SyncReport {
        track: p.track.clone(),
        mode: p.mode,
        offset_ms: summary.offset_ms,
        confidence: summary.confidence,
        low_confidence: summary.confidence < sync::LOW_CONFIDENCE,
        drift_ms: summary.drift.map(|d| d.0),
        drift_ppm: summary.drift.map(|d| d.1),
        drift_over_video_ms: summary.drift.map(|d| d.1 * 1e-6 * video_seconds * 1000.0),
        windows: results,
        video_audio_seconds: video_seconds,
        track_seconds: e_seconds,
        max_offset_seconds: p.max_offset_seconds,
        rate: fr,
        measure_seconds: started.elapsed().as_secs_f64(),
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
        let (rate, channels) = (fmt.rate as i32, fmt.channels as i32);
        let mut enc = ffmpeg::codec::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(MediaError::ff("audio encoder"))?;
        enc.set_rate(rate);
        enc.set_format(sample_fmt);
        enc.set_channel_layout(fmt.layout);
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
            enc_tb: ffmpeg::Rational(1, rate),
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
            let mut f = AvAudio::new(self.enc.format(), n, self.enc.channel_layout());
            f.set_rate(self.enc.rate());
            write_interleaved(
                &mut f,
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
