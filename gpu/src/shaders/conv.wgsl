// 2-D convolution (one group), NCHW, with the activation that follows it fused in.
// One invocation: one output pixel, four output channels (weights packed as vec4 per input tap).
struct P {
  n: u32, cin: u32, h: u32, w: u32,
  cout: u32, oh: u32, ow: u32, kh: u32,
  kw: u32, stride: u32, pad_y: u32, pad_x: u32,
  dil: u32, act: u32, alpha: f32, zdiv: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// [cout/4][cin][kh][kw] of 4 output channels.
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
// [cout/4] biases, then [cout/4] PReLU slopes.
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let cout4 = (p.cout + 3u) / 4u;
  let n = g.z / cout4;
  let c4 = g.z % cout4;
  if (g.x >= p.ow || g.y >= p.oh || n >= p.n) { return; }
  var acc = bias[c4];
  let plane = p.h * p.w;
  let xbase = n * p.cin * plane;
  let y0 = i32(g.y * p.stride) - i32(p.pad_y);
  let x0 = i32(g.x * p.stride) - i32(p.pad_x);
  for (var ci = 0u; ci < p.cin; ci++) {
    let xc = xbase + ci * plane;
    let wc = (c4 * p.cin + ci) * p.kh * p.kw;
    for (var ky = 0u; ky < p.kh; ky++) {
      let iy = y0 + i32(ky * p.dil);
      if (iy < 0 || iy >= i32(p.h)) { continue; }
      let row = xc + u32(iy) * p.w;
      for (var kx = 0u; kx < p.kw; kx++) {
        let ix = x0 + i32(kx * p.dil);
        if (ix < 0 || ix >= i32(p.w)) { continue; }
        acc += x[row + u32(ix)] * wt[wc + ky * p.kw + kx];
      }
    }
  }
  if (p.act == 1u) {
    acc = max(acc, vec4<f32>(0.0));
  } else if (p.act == 2u) {
    acc = select(acc * p.alpha, acc, acc >= vec4<f32>(0.0));
  } else if (p.act == 3u) {
    acc = select(acc * bias[cout4 + c4], acc, acc >= vec4<f32>(0.0));
  }
  let oplane = p.oh * p.ow;
  let at = g.y * p.ow + g.x;
  for (var j = 0u; j < 4u; j++) {
    let co = c4 * 4u + j;
    if (co < p.cout) { y[(n * p.cout + co) * oplane + at] = acc[j]; }
  }
}
