//! Audio stages before the mux: the processing format, checking a job's stages, and the measuring
//! passes that decide what each stage does (a loudness gain, a sync offset) before anything is
//! encoded.

use super::reader::{to_format, Reader};
use super::AudioEncoder;
use crate::audio::denoise;
use crate::audio::loudness::Limiter;
use crate::audio::sync::{SampleSource, SyncStage};
use crate::audio::{AudioError, AudioStage, Chain};
use crate::media::{ffmpeg, input, MediaError, Result};
use ffmpeg::format::sample::Type as SampleType;
use ffmpeg::format::Sample;
use kino_shared::{AudioDenoiseParams, AudioStageSpec, LoudnessParams, SyncParams};
use std::path::Path;

/// The rate, channels and layout the audio stages and the encoder work in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Format {
    pub rate: u32,
    pub channels: usize,
    pub(super) layout: ffmpeg::ChannelLayout,
}

/// An audio stage with what its measuring pass found.
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedStage {
    Loudness {
        params: LoudnessParams,
        gain_db: f64,
        /// The limiter's ceiling, dBTP: under the user's by the codec's measured overshoot.
        ceiling_db: f64,
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
pub(super) fn choose_format(
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

pub(super) fn needs_48k(stages: &[AudioStageSpec]) -> bool {
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
pub(super) fn audio_stream_of_track(path: &Path) -> Result<usize, AudioError> {
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
pub(super) fn build_chain(planned: &[PlannedStage], fmt: &Format) -> Result<Chain> {
    let mut chain = Chain::new();
    for stage in planned {
        let before = chain.delay();
        match stage {
            PlannedStage::Loudness {
                gain_db,
                ceiling_db,
                ..
            } => chain.push(Box::new(Limiter::standard(
                fmt.channels,
                fmt.rate,
                *gain_db,
                *ceiling_db,
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
pub(super) fn run_processed(
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
