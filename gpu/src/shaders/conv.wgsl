// 2-D convolution (one group), NCHW, with the activation that follows it fused in.
// One invocation: four neighbouring output pixels of a row and eight output channels, so each
// input value loaded serves up to 32 multiply-adds and each weight load 4 pixels. Weights are packed
// as vec4 of four output channels per input tap.
struct P {
  n: u32, cin: u32, h: u32, w: u32,
  cout: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, stride: u32, pad_y: u32, pad_x: u32,
  dil: u32, act: u32, alpha: f32, zdiv: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<T>;
// [cout/4][cin][kh][kw] of 4 output channels.
@group(0) @binding(2) var<storage, read> wt: array<vec4<T>>;
// [cout/4] biases, then [cout/4] PReLU slopes.
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;

fn act(v: vec4<f32>, c4: u32, cout4: u32) -> vec4<f32> {
  if (p.act == 1u) { return max(v, vec4<f32>(0.0)); }
  if (p.act == 2u) { return select(v * p.alpha, v, v >= vec4<f32>(0.0)); }
  if (p.act == 3u) { return select(v * bias[cout4 + c4], v, v >= vec4<f32>(0.0)); }
  return v;
}

fn put(n: u32, c4: u32, oy: u32, ox: u32, v: vec4<f32>) {
  if (ox >= p.ow) { return; }
  let oplane = p.oh * p.ow;
  let at = oy * p.ow + ox;
  for (var j = 0u; j < 4u; j++) {
    let co = c4 * 4u + j;
    if (co < p.cout) { y[(n * p.cout + co) * oplane + at] = T(v[j]); }
  }
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let cout4 = (p.cout + 3u) / 4u;
  // zdiv: groups of eight output channels.
  let n = g.z / p.zdiv;
  let ca = (g.z % p.zdiv) * 2u;
  let cb = min(ca + 1u, cout4 - 1u);
  let ox0 = g.x * 4u;
  if (ox0 >= p.ow || g.y >= p.oh || n >= p.n) { return; }
  var a0 = bias[ca];
  var a1 = a0;
  var a2 = a0;
  var a3 = a0;
  var b0 = bias[cb];
  var b1 = b0;
  var b2 = b0;
  var b3 = b0;
  let plane = p.h * p.w;
  let xbase = n * p.cin * plane;
  let y0 = i32(g.y * p.stride) - i32(p.pad_y);
  let x0 = i32(ox0 * p.stride) - i32(p.pad_x);
  // Input positions the four pixels read along the row (≤ 16, checked when the plan is built).
  let span = 3u * p.stride + (p.kw - 1u) * p.dil + 1u;
  var win: array<f32, 16>;
  for (var ci = 0u; ci < p.cin; ci++) {
    let xc = xbase + ci * plane;
    let wa = (ca * p.cin + ci) * p.kh * p.kw;
    let wb = (cb * p.cin + ci) * p.kh * p.kw;
    for (var ky = 0u; ky < p.kh; ky++) {
      let iy = y0 + i32(ky * p.dil);
      if (iy < 0 || iy >= i32(p.h)) { continue; }
      let row = xc + u32(iy) * p.w;
      for (var t = 0u; t < span; t++) {
        let ix = x0 + i32(t);
        var v = 0.0;
        if (ix >= 0 && ix < i32(p.w)) { v = f32(x[row + u32(ix)]); }
        win[t] = v;
      }
      for (var kx = 0u; kx < p.kw; kx++) {
        let k = ky * p.kw + kx;
        let fa = vec4<f32>(wt[wa + k]);
        let fb = vec4<f32>(wt[wb + k]);
        let base = kx * p.dil;
        let v0 = win[base];
        let v1 = win[base + p.stride];
        let v2 = win[base + 2u * p.stride];
        let v3 = win[base + 3u * p.stride];
        a0 += v0 * fa;
        a1 += v1 * fa;
        a2 += v2 * fa;
        a3 += v3 * fa;
        b0 += v0 * fb;
        b1 += v1 * fb;
        b2 += v2 * fb;
        b3 += v3 * fb;
      }
    }
  }
  put(n, ca, g.y, ox0, act(a0, ca, cout4));
  put(n, ca, g.y, ox0 + 1u, act(a1, ca, cout4));
  put(n, ca, g.y, ox0 + 2u, act(a2, ca, cout4));
  put(n, ca, g.y, ox0 + 3u, act(a3, ca, cout4));
  if (cb != ca) {
    put(n, cb, g.y, ox0, act(b0, cb, cout4));
    put(n, cb, g.y, ox0 + 1u, act(b1, cb, cout4));
    put(n, cb, g.y, ox0 + 2u, act(b2, cb, cout4));
    put(n, cb, g.y, ox0 + 3u, act(b3, cb, cout4));
  }
}
