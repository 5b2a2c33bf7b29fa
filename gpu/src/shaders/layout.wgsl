// Moving values between layouts: DepthToSpace (pixel shuffle), Resize and Concat's channel copy.
// One invocation per output value (per input value for the copy).
struct P {
  len: u32, op: u32, n: u32, c: u32,
  h: u32, w: u32, oh: u32, ow: u32,
  block: u32, offset: u32, total: u32, row: u32,
  sy: f32, sx: f32, _a: u32, _b: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;

fn src(n: u32, c: u32, yy: u32, xx: u32) -> f32 {
  return f32(x[((n * p.c + c) * p.h + yy) * p.w + xx]);
}

// The four cubic weights for taps at −1, 0, 1, 2 from a point `t` (0…1) past the second.
fn keys(t: f32) -> vec4<f32> {
  let a = -0.75;
  let d = vec4<f32>(1.0 + t, t, 1.0 - t, 2.0 - t);
  let near = ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0;
  let far = ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a;
  return select(far, near, d <= vec4<f32>(1.0));
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.row + g.x;
  if (i >= p.len) { return; }
  if (p.op == 3u) {
    // Concat: input [n][c][h·w] into output [n][total][h·w] from channel `offset`.
    let plane = p.h * p.w;
    let n = i / (p.c * plane);
    let rest = i % (p.c * plane);
    y[n * p.total * plane + p.offset * plane + rest] = x[i];
    return;
  }
  // Output [n][c][oh][ow].
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let c = (i / (p.ow * p.oh)) % p.c;
  let n = i / (p.ow * p.oh * p.c);
  if (p.op == 0u || p.op == 4u) {
    // DepthToSpace; input channels = c·block² (CRD: c-major; DCR: offset-major).
    let b = p.block;
    let k = (oy % b) * b + (ox % b);
    var ic = c * b * b + k;
    if (p.op == 4u) { ic = k * p.c + c; }
    y[i] = x[((n * p.c * b * b + ic) * p.h + oy / b) * p.w + ox / b];
  } else if (p.op == 1u) {
    // Resize, nearest: asymmetric coordinates, floor.
    let iy = min(u32(floor(f32(oy) / p.sy)), p.h - 1u);
    let ix = min(u32(floor(f32(ox) / p.sx)), p.w - 1u);
    y[i] = T(src(n, c, iy, ix));
  } else if (p.op == 5u) {
    // Resize, cubic (Keys, a = −0.75): half-pixel coordinates, neighbours clamped to the edge.
    let fy = (f32(oy) + 0.5) / p.sy - 0.5;
    let fx = (f32(ox) + 0.5) / p.sx - 0.5;
    let by = i32(floor(fy));
    let bx = i32(floor(fx));
    let wy = keys(fy - f32(by));
    let wx = keys(fx - f32(bx));
    var acc = 0.0;
    for (var j = 0; j < 4; j++) {
      let yy = u32(clamp(by - 1 + j, 0, i32(p.h) - 1));
      var r = 0.0;
      for (var k = 0; k < 4; k++) {
        let xx = u32(clamp(bx - 1 + k, 0, i32(p.w) - 1));
        r += wx[k] * src(n, c, yy, xx);
      }
      acc += wy[j] * r;
    }
    y[i] = T(acc);
  } else {
    // Resize, linear: half-pixel coordinates, clamped at the edges.
    let fy = clamp((f32(oy) + 0.5) / p.sy - 0.5, 0.0, f32(p.h - 1u));
    let fx = clamp((f32(ox) + 0.5) / p.sx - 0.5, 0.0, f32(p.w - 1u));
    let y0 = u32(floor(fy));
    let x0 = u32(floor(fx));
    let y1 = min(y0 + 1u, p.h - 1u);
    let x1 = min(x0 + 1u, p.w - 1u);
    let ty = fy - f32(y0);
    let tx = fx - f32(x0);
    let top = mix(src(n, c, y0, x0), src(n, c, y0, x1), tx);
    let bot = mix(src(n, c, y1, x0), src(n, c, y1, x1), tx);
    y[i] = T(mix(top, bot, ty));
  }
}
