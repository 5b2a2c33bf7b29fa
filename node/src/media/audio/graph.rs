//! The FFmpeg side of audio: opening a stream's decoder, the filter graph that resamples (and cuts,
//! for auto-edit) into the format the stages and encoder take, and moving samples in and out of
//! FFmpeg frames.

use crate::media::{ffmpeg, MediaError, Result};
use ffmpeg::util::frame::Audio as AvAudio;
/// A decoder for `stream`, with the packet time base set so frames carry timestamps.
pub(super) fn open_decoder(
    stream: &ffmpeg::format::stream::Stream,
) -> Result<ffmpeg::decoder::Audio> {
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
pub(super) fn build_graph(
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
pub(super) fn stream_start(stream: &ffmpeg::format::stream::Stream) -> f64 {
    let start = stream.start_time();
    if start == ffmpeg::ffi::AV_NOPTS_VALUE {
        0.0
    } else {
        crate::media::seconds(start, stream.time_base())
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
    /// Slow motion: the audio is played this many times slower, its pitch kept (1: as it is).
    pub slower: u32,
}

impl AudioCut {
    /// The whole audio, `slower` times slower (slow motion with the sound stretched).
    pub fn slowed(slower: u32) -> AudioCut {
        AudioCut {
            parts: vec![(None, None)],
            output_start: 0.0,
            slower,
        }
    }
}

/// `atempo` filters that slow audio `slower` times (each takes 0.5…2, so factors chain).
fn tempo_filters(slower: u32) -> String {
    let mut left = 1.0 / slower.max(1) as f64;
    let mut out = String::new();
    while left < 0.5 - 1e-9 {
        out.push_str("atempo=0.5,");
        left /= 0.5;
    }
    if (left - 1.0).abs() > 1e-9 {
        out.push_str(&format!("atempo={left:.6},"));
    }
    out
}

/// Filters that keep the cut's parts of the audio (sample-exact `atrim`) and join them end to end,
/// ahead of the rest of a chain, starting where the kept picture does.
pub(super) fn cut_filters(cut: &AudioCut, audio_start: f64) -> String {
    let parts = cut.parts.as_slice();
    let trim = |(a, b): &(Option<f64>, Option<f64>)| {
        let mut t = Vec::new();
        if let Some(a) = a {
            t.push(format!("start={a:.6}"));
        }
        if let Some(b) = b {
            t.push(format!("end={b:.6}"));
        }
        if t.is_empty() {
            return "asetpts=PTS-STARTPTS".to_owned();
        }
        format!("atrim={},asetpts=PTS-STARTPTS", t.join(":"))
    };
    // The output starts where the first kept part does on the output's clock: an open start keeps
    // the stream's own start; a cut start moves to the video's first frame time.
    let offset = match parts.first() {
        Some((None, _)) | None => audio_start,
        Some((Some(_), _)) => cut.output_start,
    };
    let shift = format!("{}asetpts=PTS+{offset:.6}/TB,", tempo_filters(cut.slower));
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
pub(super) fn feed(
    graph: &mut ffmpeg::filter::Graph,
    frame: &mut AvAudio,
    pkt_tb: ffmpeg::Rational,
) -> Result<()> {
    let rate = frame.rate().max(1) as i32;
    let ts = frame
        .timestamp()
        .map(|t| crate::media::rescale(t, pkt_tb, ffmpeg::Rational(1, rate)));
    frame.set_pts(ts);
    graph
        .get("in")
        .ok_or_else(|| MediaError::Encode("audio graph input missing".into()))?
        .source()
        .add(frame)
        .map_err(MediaError::ff("audio filter"))
}

/// Interleaved f32 samples of a float frame (planar or packed).
pub(super) fn interleaved(frame: &AvAudio, channels: usize) -> Vec<f32> {
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

pub(super) fn write_interleaved(frame: &mut AvAudio, channels: usize, samples: &[f32]) {
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

/// An encoder-ready frame of `enc`'s format holding interleaved `samples`.
pub(super) fn frame_for(
    enc: &ffmpeg::codec::encoder::audio::Encoder,
    channels: usize,
    samples: &[f32],
) -> AvAudio {
    let mut f = AvAudio::new(
        enc.format(),
        samples.len() / channels.max(1),
        enc.channel_layout(),
    );
    f.set_rate(enc.rate());
    write_interleaved(&mut f, channels, samples);
    f
}
