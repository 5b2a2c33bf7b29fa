//! Decoded frames as the kernels take them: YUV4MPEG2 read and written, noise added, global motion
//! and its jitter measured.

use crate::{cache_dir, ffmpeg, s};
use std::path::Path;

/// Width and height from a YUV4MPEG2 header line, if it describes 8-bit 4:2:0 (the only kind the
/// helpers here read; FFmpeg writes `C420jpeg` for yuv420p, and no `C` tag means 4:2:0 too).
fn y4m_420_size(header: &str) -> Option<(usize, usize)> {
    let tag = |p: char| header.split_whitespace().find(|t| t.starts_with(p));
    let num = |p: char| tag(p).and_then(|t| t[1..].parse().ok());
    // The 8-bit 4:2:0 sitings; `C420p10` and the like are deeper.
    let c = tag('C').unwrap_or("C420");
    if !matches!(c, "C420" | "C420jpeg" | "C420mpeg2" | "C420paldv") {
        return None;
    }
    num('W').zip(num('H'))
}

/// Copies a YUV4MPEG2 (`.y4m`, 8-bit) file adding Gaussian noise of standard deviation `sigma` to
/// every sample (Box–Muller over xorshift, seeded: the same call gives the same noise).
pub fn add_noise_y4m(input: &Path, output: &Path, sigma: f64, seed: u64) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, BufWriter, Read, Write};
    let mut r = BufReader::new(std::fs::File::open(input)?);
    let mut w = BufWriter::new(std::fs::File::create(output)?);
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let mut header = String::new();
    r.read_line(&mut header)?;
    let (width, height) = y4m_420_size(&header).ok_or_else(|| bad("not an 8-bit 4:2:0 y4m"))?;
    let frame_len = width * height + 2 * width.div_ceil(2) * height.div_ceil(2);
    w.write_all(header.as_bytes())?;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut buf = vec![0u8; frame_len];
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        if !line.starts_with("FRAME") {
            return Err(bad("expected FRAME"));
        }
        r.read_exact(&mut buf)?;
        for v in buf.iter_mut() {
            let (u1, u2) = (uniform(), uniform());
            let g = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            *v = (*v as f64 + sigma * g).round().clamp(0.0, 255.0) as u8;
        }
        w.write_all(line.as_bytes())?;
        w.write_all(&buf)?;
    }
    w.flush()
}

/// The frames of an 8-bit 4:2:0 YUV4MPEG2 file, as the kernels take them.
pub fn read_y4m(path: &Path) -> Vec<kino_shared::Frame> {
    use kino_shared::{ChromaLayout, ColourInfo, Frame, Samples};
    let data = std::fs::read(path).expect("reading y4m");
    let nl = data.iter().position(|&b| b == b'\n').expect("y4m header");
    let header = String::from_utf8_lossy(&data[..nl]).into_owned();
    let (w, h) = y4m_420_size(&header).expect("an 8-bit 4:2:0 y4m with W and H");
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut frames = Vec::new();
    let mut i = nl + 1;
    while i < data.len() {
        let line_end = i + data[i..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("FRAME line");
        i = line_end + 1;
        // FFmpeg writes JPEG-sited chroma as C420jpeg (also the default) and MPEG-2 as C420mpeg2.
        let colour = ColourInfo {
            chroma_center: !header.contains("C420mpeg2") && !header.contains("C420paldv"),
            ..ColourInfo::default()
        };
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, colour);
        for (k, len) in [w * h, cw * ch, cw * ch].into_iter().enumerate() {
            f.planes[k].samples = Samples::U8(data[i..i + len].to_vec());
            i += len;
        }
        frames.push(f);
    }
    frames
}

/// Writes 8-bit 4:2:0 frames as YUV4MPEG2 at 25 fps.
pub fn write_y4m(path: &Path, frames: &[kino_shared::Frame]) {
    use kino_shared::Samples;
    let f0 = frames.first().expect("at least one frame");
    let mut out = format!(
        "YUV4MPEG2 W{} H{} F25:1 Ip A1:1 C420jpeg\n",
        f0.width, f0.height
    )
    .into_bytes();
    for f in frames {
        out.extend_from_slice(b"FRAME\n");
        for p in &f.planes {
            match &p.samples {
                Samples::U8(d) => out.extend_from_slice(d),
                Samples::U16(_) => panic!("8-bit frames only"),
            }
        }
    }
    std::fs::write(path, out).expect("writing y4m");
}

/// Decoded frames of a video as 8-bit 4:2:0 (through a y4m in the cache).
pub fn decoded_frames(video: &Path) -> Vec<kino_shared::Frame> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let y4m = cache_dir().join(format!("decoded-{}-{n}.y4m", std::process::id()));
    ffmpeg(&["-i", s(video), "-pix_fmt", "yuv420p", s(&y4m)]);
    let frames = read_y4m(&y4m);
    let _ = std::fs::remove_file(&y4m);
    frames
}

/// Frame-to-frame global motion of a video: (dx, dy) in pixels and rotation in degrees, measured
/// with the motion kernel (validated against known synthetic motion in its unit tests).
pub fn video_motion(video: &Path) -> Vec<(f32, f32, f32)> {
    use kino_shared::kernels::motion;
    let frames = decoded_frames(video);
    let lumas: Vec<_> = frames
        .iter()
        .map(|f| motion::analysis_luma(f, 480))
        .collect();
    lumas
        .windows(2)
        .map(|w| {
            let m = motion::estimate(&w[0].0, &w[1].0, w[1].1);
            (m.dx, m.dy, m.angle.to_degrees())
        })
        .collect()
}

/// Root mean square.
pub fn rms(v: impl Iterator<Item = f32>) -> f32 {
    let v: Vec<f32> = v.collect();
    (v.iter().map(|x| x * x).sum::<f32>() / v.len().max(1) as f32).sqrt()
}

/// High-frequency part of frame-to-frame motion (RMS px of what a 9-frame moving average leaves):
/// the shake, without the intended camera movement.
pub fn jitter(m: &[(f32, f32, f32)]) -> f32 {
    let n = m.len();
    rms((0..n).flat_map(|i| {
        let (lo, hi) = (i.saturating_sub(4), (i + 5).min(n));
        let k = (hi - lo) as f32;
        let (ax, ay) = m[lo..hi]
            .iter()
            .fold((0.0, 0.0), |a, v| (a.0 + v.0 / k, a.1 + v.1 / k));
        [m[i].0 - ax, m[i].1 - ay]
    }))
}
