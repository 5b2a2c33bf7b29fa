//! Metering a file's sound as a loudness meter does (the quality report's audio figures): each
//! audio stream at its own rate and layout, so the true peak is the one the file holds.

use super::reader::{to_format, Reader};
use crate::audio::loudness::{Measurement, Meter};
use crate::media::{ffmpeg, input, MediaError, Result};
use std::path::Path;

/// One measured audio stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamLoudness {
    pub index: usize,
    pub rate: u32,
    pub channels: usize,
    pub measured: Measurement,
}

/// Integrated loudness, loudness range and true peak of every audio stream of `path`.
pub fn measure_loudness(path: &Path) -> Result<Vec<StreamLoudness>> {
    let streams: Vec<usize> = input::open(path)?
        .streams()
        .filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
        .map(|s| s.index())
        .collect();
    let mut out = Vec::with_capacity(streams.len());
    for index in streams {
        let (mut rate, mut channels) = (0, 0);
        let mut reader = Reader::open(path, index, |dec| {
            rate = dec.rate().max(1);
            channels = (dec.channels() as usize).clamp(1, 8);
            let layout = ffmpeg::ChannelLayout::default(channels as i32);
            (to_format(rate, layout), channels)
        })?;
        let mut meter = Meter::new(channels as u32, rate).map_err(MediaError::Decode)?;
        while let Some(b) = reader.next()? {
            meter.add_interleaved(&b).map_err(MediaError::Decode)?;
        }
        out.push(StreamLoudness {
            index,
            rate,
            channels,
            measured: meter.finish(),
        });
    }
    Ok(out)
}
