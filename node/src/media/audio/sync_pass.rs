//! The measuring pass of audio sync: where an external recording sits against the video's sound.

use super::reader::{decode_mono, decode_mono_ranges};
use super::stages::audio_stream_of_track;
use crate::audio::sync::{self, SyncReport};
use crate::audio::AudioError;
use crate::media::Result;
use kino_shared::SyncParams;
use std::path::Path;

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
