//! Tiled inference: a picture of any size through a network that only ever sees one tile, so the
//! network's memory is set by the tile, not the picture.
//!
//! Tiles (`tile` input pixels square, overlapping by at least `overlap`) are spread evenly over the
//! picture. Each is inferred with `context` more pixels around it (shifted inside the picture at
//! its borders) and only its own area is kept, weighted by a linear ramp across the overlaps and
//! normalised by the weight sum, so seams blend and no tile edge (zero-padded by the network) is
//! used alone. Output rows are handed on as soon as every tile touching them is done; what is held
//! is one strip of `tile × scale` output rows.
//!
//! Memory beyond the input and output pictures: the strip, `4 × tile·s × W·s × 4` bytes (RGB sum and
//! weight, f32), plus one tile in and out (`3·(t+2c)²·(1+s²)·4` bytes) and the network's own
//! activations for one `(t+2c)²` tile.

use super::ModelError;

/// How a picture is cut for inference, in input pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    pub tile: usize,
    pub overlap: usize,
    pub context: usize,
}

impl Tiling {
    /// One tile as large as the picture: plain untiled inference.
    pub fn whole(w: usize, h: usize) -> Tiling {
        Tiling {
            tile: w.max(h).max(1),
            overlap: 0,
            context: 0,
        }
    }

    /// Bytes the tiling itself holds for a `w`-wide picture at `scale` (the strip and one tile in
    /// and out); the network's activations for one tile come on top.
    pub fn working_bytes(&self, w: usize, scale: usize) -> usize {
        let t = self.tile + 2 * self.context;
        4 * self.tile * scale * w * scale * 4 + 3 * t * t * (1 + scale * scale) * 4
    }
}

/// Start of each tile along an axis of `len` pixels: evenly spread, overlapping by ≥ `overlap`.
fn starts(len: usize, tile: usize, overlap: usize) -> Vec<usize> {
    if len <= tile {
        return vec![0];
    }
    let step = tile.saturating_sub(overlap).max(1);
    let n = (len - overlap).div_ceil(step).max(2);
    (0..n)
        .map(|i| ((i * (len - tile)) as f64 / (n - 1) as f64).round() as usize)
        .collect()
}

/// Ramp weights along one axis of a tile's own area (`size` output pixels): rising over `before`
/// and falling over `after` output pixels (0 = a picture border: no ramp). Always > 0.
fn ramp(size: usize, before: usize, after: usize) -> Vec<f32> {
    (0..size)
        .map(|i| {
            let mut w = 1.0f32;
            if before > 0 {
                w = w.min((i as f32 + 0.5) / before as f32);
            }
            if after > 0 {
                w = w.min((size as f32 - i as f32 - 0.5) / after as f32);
            }
            w
        })
        .collect()
}

/// The window inferred for a tile at `start`: `context` more each side, shifted to stay inside.
fn window(start: usize, tile: usize, context: usize, len: usize) -> (usize, usize) {
    let size = (tile + 2 * context).min(len);
    let lo = start.saturating_sub(context).min(len - size);
    (lo, size)
}

/// Upscales a `w`×`h` picture by `scale` through `infer`, tile by tile.
///
/// - `fill(x, y, tw, th, buf)` puts the input rectangle in `buf` as planar RGB (3·th·tw, 0…1).
/// - `infer(input, th, tw)` returns planar RGB of (th·scale)×(tw·scale).
/// - `emit(y, rows, data)` receives finished output rows `y..y+rows` in order, interleaved RGB
///   (rows·W·scale·3), not clamped.
pub fn upscale(
    w: usize,
    h: usize,
    scale: usize,
    tiling: Tiling,
    mut fill: impl FnMut(usize, usize, usize, usize, &mut Vec<f32>),
    mut infer: impl FnMut(Vec<f32>, usize, usize) -> Result<Vec<f32>, ModelError>,
    mut emit: impl FnMut(usize, usize, &[f32]) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    let tile = tiling.tile.max(1);
    let overlap = tiling.overlap.min(tile / 2);
    let (xs, ys) = (starts(w, tile, overlap), starts(h, tile, overlap));
    let (tw, th) = (tile.min(w), tile.min(h));
    let ow = w * scale;
    // Strip of output rows base.. (interleaved RGB sums and weights).
    let mut base = 0usize;
    let mut acc: Vec<f32> = Vec::new();
    let mut wsum: Vec<f32> = Vec::new();
    let mut input = Vec::new();
    for (ry, &y0) in ys.iter().enumerate() {
        let top = if ry > 0 { ys[ry - 1] + th - y0 } else { 0 };
        let bottom = ys.get(ry + 1).map_or(0, |&n| y0 + th - n);
        let wy = ramp(th * scale, top * scale, bottom * scale);
        let end = (y0 + th) * scale;
        let rows_needed = end - base;
        acc.resize(rows_needed * ow * 3, 0.0);
        wsum.resize(rows_needed * ow, 0.0);
        let (wy0, wh) = window(y0, th, tiling.context, h);
        for (rx, &x0) in xs.iter().enumerate() {
            let left = if rx > 0 { xs[rx - 1] + tw - x0 } else { 0 };
            let right = xs.get(rx + 1).map_or(0, |&n| x0 + tw - n);
            let wx = ramp(tw * scale, left * scale, right * scale);
            let (wx0, ww) = window(x0, tw, tiling.context, w);
            input.clear();
            fill(wx0, wy0, ww, wh, &mut input);
            let out = infer(std::mem::take(&mut input), wh, ww)?;
            let (sw, sh) = (ww * scale, wh * scale);
            if out.len() != 3 * sw * sh {
                return Err(ModelError::InputMismatch {
                    model: "tile".into(),
                    expected: format!("{}x{} output for a {ww}x{wh} tile", sw, sh),
                    got: format!("{} values", out.len()),
                });
            }
            let plane = sw * sh;
            // This tile's own area inside the inferred window, in output pixels.
            let (dx, dy) = ((x0 - wx0) * scale, (y0 - wy0) * scale);
            for (j, &wyj) in wy.iter().enumerate() {
                let oy = y0 * scale + j - base;
                let src_row = (dy + j) * sw + dx;
                let row = oy * ow + x0 * scale;
                for (i, &wxi) in wx.iter().enumerate() {
                    let wgt = wxi * wyj;
                    let s = src_row + i;
                    let d = row + i;
                    wsum[d] += wgt;
                    let a = &mut acc[d * 3..d * 3 + 3];
                    a[0] += wgt * out[s];
                    a[1] += wgt * out[plane + s];
                    a[2] += wgt * out[2 * plane + s];
                }
            }
        }
        // Rows no later tile row touches are final.
        let done = ys.get(ry + 1).map_or(h * scale, |&n| n * scale);
        let rows = done - base;
        for (i, &ws) in wsum[..rows * ow].iter().enumerate() {
            let inv = 1.0 / ws;
            acc[i * 3..i * 3 + 3].iter_mut().for_each(|v| *v *= inv);
        }
        emit(base, rows, &acc[..rows * ow * 3])?;
        acc.drain(..rows * ow * 3);
        wsum.drain(..rows * ow);
        base = done;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in network whose output depends on context (a 3×3 mean, zero-padded like a conv),
    /// upscaled by nearest neighbour.
    fn blur_up(input: &[f32], h: usize, w: usize, s: usize) -> Vec<f32> {
        let mut out = vec![0.0; 3 * h * w * s * s];
        for c in 0..3 {
            for y in 0..h * s {
                for x in 0..w * s {
                    let (sy, sx) = ((y / s) as isize, (x / s) as isize);
                    let mut sum = 0.0;
                    for dy in -1..=1 {
                        for dx in -1..=1 {
                            let (yy, xx) = (sy + dy, sx + dx);
                            if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                                sum += input[c * h * w + yy as usize * w + xx as usize];
                            }
                        }
                    }
                    out[c * h * w * s * s + y * w * s + x] = sum / 9.0;
                }
            }
        }
        out
    }

    fn picture(w: usize, h: usize) -> Vec<f32> {
        (0..3 * w * h)
            .map(|i| ((i * 7919) % 251) as f32 / 250.0)
            .collect()
    }

    fn run(w: usize, h: usize, s: usize, tiling: Tiling) -> (Vec<f32>, Vec<usize>) {
        let pic = picture(w, h);
        let mut out = vec![f32::NAN; w * s * h * s * 3];
        let mut firsts = Vec::new();
        upscale(
            w,
            h,
            s,
            tiling,
            |x, y, tw, th, buf| {
                for c in 0..3 {
                    for j in 0..th {
                        let r = c * w * h + (y + j) * w + x;
                        buf.extend_from_slice(&pic[r..r + tw]);
                    }
                }
            },
            |input, th, tw| Ok(blur_up(&input, th, tw, s)),
            |y, rows, data| {
                firsts.push(y);
                out[y * w * s * 3..(y + rows) * w * s * 3].copy_from_slice(data);
                Ok(())
            },
        )
        .unwrap();
        (out, firsts)
    }

    #[test]
    fn tiles_cover_the_picture_evenly() {
        assert_eq!(starts(100, 128, 16), vec![0]);
        let s = starts(300, 128, 16);
        assert_eq!((s[0], *s.last().unwrap()), (0, 172));
        assert!(s.windows(2).all(|p| p[0] + 128 >= p[1] + 16));
    }

    #[test]
    fn tiled_equals_untiled_where_context_covers_the_network() {
        let (w, h, s) = (70, 45, 2);
        let (whole, _) = run(w, h, s, Tiling::whole(w, h));
        // A 3×3 network needs one pixel of context: with it, tiles are exact.
        let (tiled, rows) = run(
            w,
            h,
            s,
            Tiling {
                tile: 16,
                overlap: 4,
                context: 1,
            },
        );
        assert!(rows.len() > 2, "rows came in strips: {rows:?}");
        let max = whole
            .iter()
            .zip(&tiled)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-5, "max difference {max}");
        // Without context the zero padding shows at tile edges: the blend only softens it.
        let (bare, _) = run(
            w,
            h,
            s,
            Tiling {
                tile: 16,
                overlap: 4,
                context: 0,
            },
        );
        assert!(bare.iter().zip(&whole).any(|(a, b)| (a - b).abs() > 1e-3));
    }
}
