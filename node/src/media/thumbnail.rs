//! JPEG thumbnails of chosen frames (one per scene): decoded from the keyframe before, scaled with
//! swscale and encoded by FFmpeg's MJPEG encoder (an MJPEG packet is a complete JPEG file).

use super::decode::FrameSource;
use super::{ffmpeg, MediaError, Result};
use ffmpeg::format::Pixel;
use ffmpeg::util::frame::Video as AvFrame;
use std::path::{Path, PathBuf};

/// Writes, for each `(pts, path)`, the first frame at or after `pts` as a JPEG `width` pixels wide
/// (never wider than the source), keeping the display aspect. The file appears whole or not at all.
pub fn write_thumbnails(input: &Path, picks: &[(i64, PathBuf)], width: u32) -> Result<()> {
    for (pts, path) in picks {
        let mut source = FrameSource::open(input, *pts, 1)?;
        let mut chosen = None;
        while let Some((p, f)) = source.next_frame()? {
            let last = p >= *pts;
            chosen = Some(f);
            if last {
                break;
            }
        }
        let frame = chosen.ok_or_else(|| MediaError::Decode("no frame for a thumbnail".into()))?;
        let jpeg = encode_jpeg(&frame, width)?;
        let tmp = path.with_extension("jpg.kino-tmp.0");
        std::fs::write(&tmp, &jpeg).map_err(MediaError::io(tmp.display().to_string()))?;
        std::fs::rename(&tmp, path).map_err(MediaError::io(path.display().to_string()))?;
    }
    Ok(())
}

/// As [`write_thumbnails`], at times in seconds on the stream's clock.
pub fn write_thumbnails_at(input: &Path, picks: &[(f64, PathBuf)], width: u32) -> Result<()> {
    let tb = FrameSource::open(input, i64::MIN, 1)?.time_base;
    let ticks = f64::from(tb.denominator()) / f64::from(tb.numerator().max(1));
    let picks: Vec<(i64, PathBuf)> = picks
        .iter()
        .map(|(t, p)| ((t * ticks).round() as i64, p.clone()))
        .collect();
    write_thumbnails(input, &picks, width)
}

/// JPEGs `height` pixels high (display aspect kept) of the frames shown at each time in `seconds`
/// (from the first frame): a filmstrip for what the browser cannot play.
pub fn jpegs_at(input: &Path, seconds: &[f64], height: u32) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(seconds.len());
    // Times count from the first frame, wherever the stream's clock starts.
    let mut head = FrameSource::open(input, i64::MIN, 1)?;
    let tb = head.time_base;
    let first = head.next_frame()?.map_or(0, |(p, _)| p);
    drop(head);
    let ticks = f64::from(tb.denominator()) / f64::from(tb.numerator().max(1));
    for &t in seconds {
        let start = first + (t * ticks).round() as i64;
        let mut source = FrameSource::open(input, start, 1)?;
        let mut chosen = None;
        while let Some((p, f)) = source.next_frame()? {
            let last = p >= start;
            chosen = Some(f);
            if last {
                break;
            }
        }
        // Past the last frame (a container's duration can run past it): the last one found.
        let Some(frame) = chosen else {
            let last = out
                .last()
                .cloned()
                .ok_or_else(|| MediaError::Decode("no frame for a thumbnail".into()))?;
            out.push(last);
            continue;
        };
        let (sw, sh) = (frame.width().max(1), frame.height().max(1));
        let aspect = frame.aspect_ratio();
        let display = if aspect.numerator() > 0 && aspect.denominator() > 0 {
            f64::from(sw) * f64::from(aspect.numerator()) / f64::from(aspect.denominator())
        } else {
            f64::from(sw)
        };
        let width = (display * f64::from(height) / f64::from(sh)).round() as u32;
        out.push(encode_jpeg(&frame, width)?);
    }
    Ok(out)
}

/// One frame as JPEG bytes.
fn encode_jpeg(frame: &AvFrame, width: u32) -> Result<Vec<u8>> {
    let (sw, sh) = (frame.width().max(1), frame.height().max(1));
    let aspect = frame.aspect_ratio();
    let display_w = if aspect.numerator() > 0 && aspect.denominator() > 0 {
        sw as f64 * aspect.numerator() as f64 / aspect.denominator() as f64
    } else {
        sw as f64
    };
    let tw = (width.min(display_w.round() as u32).max(16) / 2) * 2;
    let th = (((tw as f64 * sh as f64 / display_w).round() as u32).max(2) / 2) * 2;
    let mut scaler = ffmpeg::software::scaling::Context::get(
        frame.format(),
        sw,
        sh,
        Pixel::YUVJ420P,
        tw,
        th,
        ffmpeg::software::scaling::Flags::BICUBIC,
    )
    .map_err(MediaError::ff("thumbnail scaling"))?;
    let mut small = AvFrame::empty();
    scaler
        .run(frame, &mut small)
        .map_err(MediaError::ff("thumbnail scaling"))?;
    small.set_pts(Some(0));

    let codec = ffmpeg::encoder::find(ffmpeg::codec::Id::MJPEG)
        .ok_or_else(|| MediaError::Encode("FFmpeg has no MJPEG encoder".into()))?;
    let mut enc = ffmpeg::codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(MediaError::ff("thumbnail encoder"))?;
    enc.set_width(tw);
    enc.set_height(th);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base(ffmpeg::Rational(1, 25));
    // Fixed quantiser 3 (of 1…31): small files that still show detail.
    enc.set_flags(ffmpeg::codec::Flags::QSCALE);
    enc.set_global_quality(3 * 118);
    let mut enc = enc
        .open_as(codec)
        .map_err(MediaError::ff("thumbnail encoder"))?;
    enc.send_frame(&small)
        .map_err(MediaError::ff("thumbnail encoding"))?;
    enc.send_eof()
        .map_err(MediaError::ff("thumbnail encoding"))?;
    let mut packet = ffmpeg::Packet::empty();
    enc.receive_packet(&mut packet)
        .map_err(MediaError::ff("thumbnail encoding"))?;
    Ok(packet.data().map(<[u8]>::to_vec).unwrap_or_default())
}
