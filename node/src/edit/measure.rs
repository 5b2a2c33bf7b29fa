//! The auto-edit measuring pass over a whole file: every frame's black share and change (decoded
//! in order; the measures are cheap next to decoding) and the first audio stream's level in 10 ms
//! windows, then the cut list.

use super::stretches::{find_stretches, AudioLevels, FrameMeasure, LevelMeter, StretchError};
use super::{AutoEditParams, CutList, EditError, FrameRate, SourceMedia};
use crate::media::convert::ToFrame;
use crate::media::decode::FrameSource;
use crate::media::{ffmpeg, input, probe, MediaError};
use kino_shared::MediaInfo;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AutoEditError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Detect(#[from] StretchError),
    #[error(transparent)]
    Edit(#[from] EditError),
}

/// Audio level windows, seconds (a third of a frame at 30 fps).
const LEVEL_WINDOW: f64 = 0.01;

/// Measures `path` and returns its cut list (what `params` keeps of it).
pub fn cut_list(path: &Path, params: &AutoEditParams) -> Result<CutList, AutoEditError> {
    params.validate().map_err(StretchError::from)?;
    let info = probe::probe(path, false)?.info;
    let frames = measure_frames(path, params.black_pixel_threshold)?;
    cut_list_from(path, &info, &frames, params)
}

/// The cut list of `path` (probed as `info`) from frame measures taken elsewhere (a job's parallel
/// analysis pass): measures its audio levels and decides.
pub fn cut_list_from(
    path: &Path,
    info: &MediaInfo,
    frames: &[FrameMeasure],
    params: &AutoEditParams,
) -> Result<CutList, AutoEditError> {
    params.validate().map_err(StretchError::from)?;
    let audio = match info.audio.first() {
        Some(a) if params.silence => Some(audio_levels(path, a.stream_index)?),
        _ => None,
    };
    let rate = source_media(path, info, 1)?.rate;
    let detection = find_stretches(rate, frames, audio.as_ref(), params)?;
    let source = source_media(path, info, detection.total_frames)?;
    Ok(detection.into_cut_list(source)?)
}

/// What a cut list says about `path` (probed as `info`), `total` frames long at its nominal rate.
pub fn source_media(path: &Path, info: &MediaInfo, total: u64) -> Result<SourceMedia, MediaError> {
    let video = info
        .video
        .as_ref()
        .ok_or_else(|| MediaError::NoVideo(path.display().to_string()))?;
    let [num, den] = video.avg_frame_rate;
    let rate = FrameRate::new(num.max(0) as u32, den.max(0) as u32);
    let mut source = SourceMedia::new(
        path.display().to_string(),
        rate,
        total,
        video.width,
        video.height,
    );
    if let Some(a) = info.audio.first() {
        source = source.with_audio(a.sample_rate, a.channels as u16);
    }
    Ok(source)
}

/// Black share and change of every frame, timestamps in seconds.
fn measure_frames(
    path: &Path,
    black_pixel_threshold: f64,
) -> Result<Vec<FrameMeasure>, MediaError> {
    let mut source = FrameSource::open(path, i64::MIN, 2)?;
    let tb = source.time_base;
    let mut to_frame = ToFrame::default();
    let mut prev = None;
    let mut out = Vec::new();
    while let Some((pts, f)) = source.next_frame()? {
        let frame = to_frame.convert(&f)?;
        let seconds = crate::media::seconds(pts, tb);
        if out.last().is_some_and(|l: &FrameMeasure| seconds <= l.pts) {
            continue; // a repeated or backwards timestamp: the frame is not shown
        }
        out.push(FrameMeasure::measure(
            seconds,
            &frame,
            prev.as_ref(),
            black_pixel_threshold,
        ));
        prev = Some(frame);
    }
    Ok(out)
}

/// RMS level of audio stream `index` in [`LEVEL_WINDOW`] windows, on the container's clock.
pub fn audio_levels(path: &Path, index: usize) -> Result<AudioLevels, MediaError> {
    let mut ictx = input::open(path)?;
    let stream = ictx
        .stream(index)
        .ok_or_else(|| MediaError::Decode(format!("audio stream {index} is missing")))?;
    let tb = stream.time_base();
    let mut dec = ffmpeg::codec::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(MediaError::ff("audio decoder"))?;
    let layout = if dec.channel_layout().is_empty() {
        ffmpeg::ChannelLayout::default(dec.channels() as i32)
    } else {
        dec.channel_layout()
    };
    dec.set_channel_layout(layout);
    let packed = ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Packed);
    let mut resampler = ffmpeg::software::resampling::Context::get(
        dec.format(),
        layout,
        dec.rate(),
        packed,
        layout,
        dec.rate(),
    )
    .map_err(MediaError::ff("audio conversion"))?;
    let channels = dec.channels().max(1) as usize;
    let mut meter: Option<LevelMeter> = None;
    let mut frame = ffmpeg::util::frame::Audio::empty();
    let mut floats = ffmpeg::util::frame::Audio::empty();
    let mut drain = |dec: &mut ffmpeg::decoder::Audio,
                     meter: &mut Option<LevelMeter>|
     -> Result<(), MediaError> {
        while dec.receive_frame(&mut frame).is_ok() {
            let m = meter.get_or_insert_with(|| {
                let start = frame
                    .timestamp()
                    .map(|t| crate::media::seconds(t, tb))
                    .unwrap_or(0.0);
                LevelMeter::new(dec.rate(), channels as u16, start, LEVEL_WINDOW)
            });
            // PCM in AVI (and other containers) decodes without a layout: the resampler was set
            // up with the default one for the channel count, and refuses a frame that differs.
            if frame.channel_layout().is_empty() {
                frame.set_channel_layout(layout);
            }
            resampler
                .run(&frame, &mut floats)
                .map_err(MediaError::ff("audio conversion"))?;
            let n = floats.samples() * channels;
            let bytes = &floats.data(0)[..n * 4];
            let samples: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            m.push_interleaved(&samples);
        }
        Ok(())
    };
    let mut packet = ffmpeg::Packet::empty();
    loop {
        match packet.read(&mut ictx) {
            Ok(()) if packet.stream() == index => {
                // A damaged packet is skipped; the level of its window comes from the rest.
                if dec.send_packet(&packet).is_ok() {
                    drain(&mut dec, &mut meter)?;
                }
            }
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(e) => return Err(MediaError::Truncated(format!("reading audio: {e}"))),
        }
    }
    let _ = dec.send_eof();
    drain(&mut dec, &mut meter)?;
    Ok(meter
        .map(LevelMeter::finish)
        .unwrap_or_else(|| LevelMeter::new(dec.rate().max(1), 1, 0.0, LEVEL_WINDOW).finish()))
}
