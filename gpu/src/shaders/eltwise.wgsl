// Element-wise operations on NCHW tensors: a binary operation with ONNX broadcasting of a scalar
// or a per-channel operand, and the activations.
struct P {
  len: u32, op: u32, amode: u32, bmode: u32,
  plane: u32, ch: u32, alpha: f32, row: u32,
}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;

// Mode 0: the whole tensor; 1: one value; 2: one value per channel.
fn at(mode: u32, i: u32) -> u32 {
  if (mode == 1u) { return 0u; }
  if (mode == 2u) { return (i / p.plane) % p.ch; }
  return i;
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.y * p.row + g.x;
  if (i >= p.len) { return; }
  let u = f32(a[at(p.amode, i)]);
  let v = f32(b[at(p.bmode, i)]);
  var r = 0.0;
  switch p.op {
    case 0u: { r = u + v; }
    case 1u: { r = u - v; }
    case 2u: { r = u * v; }
    case 3u: { r = u / v; }
    case 10u: { r = max(u, 0.0); }
    case 11u: { r = select(u * p.alpha, u, u >= 0.0); }
    case 12u: { r = select(u * v, u, u >= 0.0); }
    case 13u: { r = 1.0 / (1.0 + exp(-u)); }
    default: { r = u; }
  }
  y[i] = T(r);
}
