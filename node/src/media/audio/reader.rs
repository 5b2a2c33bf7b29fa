//! Reading a file's audio as blocks of float samples: for the measuring passes (loudness, sync) and
//! for an external recording.

use super::graph::{build_graph, feed, interleaved, open_decoder};
use crate::media::{ffmpeg, input, MediaError, Result};
use ffmpeg::util::frame::Audio as AvAudio;
use std::collections::VecDeque;
use std::path::Path;

/// Pulls decoded, filtered blocks (interleaved f32) from one audio stream of a file.
pub(super) struct Reader {
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
    pub(super) fn open(
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
    pub(super) fn next(&mut self) -> Result<Option<Vec<f32>>> {
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

    pub(super) fn step(&mut self) -> Result<()> {
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

    pub(super) fn receive(&mut self) -> Result<()> {
        while self.dec.receive_frame(&mut self.frame).is_ok() {
            feed(&mut self.graph, &mut self.frame, self.pkt_tb)?;
            self.drain();
        }
        Ok(())
    }

    pub(super) fn drain(&mut self) {
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
pub(super) fn to_format(rate: u32, layout: ffmpeg::ChannelLayout) -> String {
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
