//! A network on the GPU: loaded once from its ONNX file, run on batches of NCHW float images.
//! Each run uploads its input once, records every layer into one command buffer and reads the
//! result back once; tensors share buffers once their last reader has been recorded.

use crate::device::{Gpu, Precision};
use crate::plan::{self, Act, Op, Operand, Plan, Spread};
use crate::{onnx, GpuError};
use std::path::Path;
use std::sync::Arc;
use wgpu::util::DeviceExt;

pub struct Net {
    pub name: String,
    pub precision: Precision,
    gpu: Arc<Gpu>,
    plan: Plan,
}

impl Net {
    /// Loads an ONNX file onto `gpu`, stored in `precision`.
    pub fn load(gpu: Arc<Gpu>, path: &Path, precision: Precision) -> Result<Net, GpuError> {
        let bytes =
            std::fs::read(path).map_err(|e| GpuError::Model(format!("{}: {e}", path.display())))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("model")
            .to_owned();
        Net::from_bytes(gpu, &name, &bytes, precision)
    }

    pub fn from_bytes(
        gpu: Arc<Gpu>,
        name: &str,
        bytes: &[u8],
        precision: Precision,
    ) -> Result<Net, GpuError> {
        if gpu.pipelines(precision).is_none() {
            return Err(GpuError::Open {
                adapter: gpu.adapter.clone(),
                reason: format!("it has no {} shaders", precision.name()),
            });
        }
        let graph = onnx::parse(bytes)?;
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let plan = plan::build(&gpu.device, precision, name, &graph)?;
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Model(format!("{name}: {e}")));
        }
        Ok(Net {
            name: name.to_owned(),
            precision,
            gpu,
            plan,
        })
    }

    /// The adapter it runs on.
    pub fn adapter(&self) -> &str {
        &self.gpu.adapter
    }

    /// Runs the network on `input` of NCHW `shape`; returns the output and its shape.
    pub fn run(
        &self,
        input: &[f32],
        shape: [usize; 4],
    ) -> Result<(Vec<f32>, [usize; 4]), GpuError> {
        if input.len() != shape.iter().product::<usize>() || input.is_empty() {
            return Err(GpuError::Input {
                model: self.name.clone(),
                expected: format!("{} values for {shape:?}", shape.iter().product::<usize>()),
                got: format!("{} values", input.len()),
            });
        }
        let shapes = self.shapes(shape)?;
        let (slots, slot_of) = self.assign(&shapes)?;
        let _lease = self.gpu.lease(slots.iter().sum::<u64>())?;
        let device = &self.gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let buffers: Vec<wgpu::Buffer> = slots
            .iter()
            .map(|&size| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tensor"),
                    size,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_DST
                        | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let buf = |v: usize| &buffers[slot_of[v]];
        self.gpu
            .queue
            .write_buffer(buf(0), 0, &plan::stored(input, self.precision));
        let out_shape = shapes[self.plan.output];
        let out_len = out_shape.iter().product::<usize>();
        let out_bytes = self.bytes(out_len);
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: out_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for op in &self.plan.ops {
                self.record(&mut pass, op, &shapes, &buf);
            }
        }
        encoder.copy_buffer_to_buffer(buf(self.plan.output), 0, &staging, 0, out_bytes);
        self.gpu.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Run(e.to_string()))?;
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Run(e.to_string()));
        }
        if let Some(e) = self.gpu.take_errors().first() {
            return Err(GpuError::Run(e.clone()));
        }
        rx.recv()
            .map_err(|e| GpuError::Run(e.to_string()))?
            .map_err(|e| GpuError::Run(e.to_string()))?;
        let out = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| GpuError::Run(e.to_string()))?;
            match self.precision {
                Precision::F32 => bytemuck::cast_slice::<u8, f32>(&view)[..out_len].to_vec(),
                Precision::F16 => bytemuck::cast_slice::<u8, half::f16>(&view)[..out_len]
                    .iter()
                    .map(|v| v.to_f32())
                    .collect(),
            }
        };
        staging.unmap();
        Ok((out, out_shape))
    }

    fn pipelines(&self) -> &crate::device::Pipelines {
        // Checked when the network was loaded.
        self.gpu
            .pipelines(self.precision)
            .unwrap_or_else(|| unreachable!("no {} shaders", self.precision.name()))
    }

    /// Bytes of a buffer of `len` values (whole 4-byte words).
    fn bytes(&self, len: usize) -> u64 {
        (len * self.precision.bytes()).next_multiple_of(4) as u64
    }

    /// Every tensor's shape for an input of `input` shape.
    fn shapes(&self, input: [usize; 4]) -> Result<Vec<[usize; 4]>, GpuError> {
        let mut s = vec![[0usize; 4]; self.plan.values];
        s[0] = input;
        let bad = |what: String| GpuError::Input {
            model: self.name.clone(),
            expected: what,
            got: format!("{input:?}"),
        };
        for op in &self.plan.ops {
            let y = match op {
                Op::Conv {
                    x,
                    cin,
                    cout,
                    k,
                    stride,
                    pad,
                    dil,
                    ..
                } => {
                    let [n, c, h, w] = s[*x];
                    if c != *cin {
                        return Err(bad(format!("{cin} channels into a convolution")));
                    }
                    let out = |len: usize, k: usize, pad: usize| {
                        (len + 2 * pad)
                            .checked_sub(dil * (k - 1) + 1)
                            .map(|v| v / stride + 1)
                    };
                    match (out(h, k[0], pad[0]), out(w, k[1], pad[1])) {
                        (Some(oh), Some(ow)) => [n, *cout, oh, ow],
                        _ => return Err(bad("a picture larger than the kernel".into())),
                    }
                }
                Op::Eltwise { a, b, .. } => {
                    let pick = |o: &Operand| match o {
                        Operand::Value(v) => Some(s[*v]),
                        Operand::Const(..) => None,
                    };
                    let shape = pick(a)
                        .or(b.as_ref().and_then(pick))
                        .ok_or_else(|| bad("an operation on two constants".into()))?;
                    for o in [Some(a), b.as_ref()].into_iter().flatten() {
                        let fits = match o {
                            Operand::Value(v) => s[*v] == shape,
                            Operand::Const(_, Spread::PerChannel(c)) => *c == shape[1],
                            Operand::Const(_, Spread::Whole(count)) => {
                                *count == shape.iter().product::<usize>()
                            }
                            Operand::Const(_, Spread::Scalar) => true,
                        };
                        if !fits {
                            return Err(bad(format!("operands that broadcast over {shape:?}")));
                        }
                    }
                    shape
                }
                Op::DepthToSpace { x, block, .. } => {
                    let [n, c, h, w] = s[*x];
                    if c % (block * block) != 0 {
                        return Err(bad("channels a multiple of the block squared".into()));
                    }
                    [n, c / (block * block), h * block, w * block]
                }
                Op::Resize { x, scale, .. } => {
                    let [n, c, h, w] = s[*x];
                    // ONNX: floor(size × scale).
                    [
                        n,
                        c,
                        (h as f32 * scale[0]) as usize,
                        (w as f32 * scale[1]) as usize,
                    ]
                }
                Op::Concat { xs, .. } => {
                    let first = s[xs[0]];
                    if xs.iter().any(|&x| {
                        let t = s[x];
                        (t[0], t[2], t[3]) != (first[0], first[2], first[3])
                    }) {
                        return Err(bad("concatenated tensors of one size".into()));
                    }
                    [
                        first[0],
                        xs.iter().map(|&x| s[x][1]).sum(),
                        first[2],
                        first[3],
                    ]
                }
            };
            if y.contains(&0) {
                return Err(bad(
                    "a picture that stays non-empty through the network".into()
                ));
            }
            s[plan::writes(op)] = y;
        }
        Ok(s)
    }

    /// Buffers for the tensors: a tensor takes a free buffer (the smallest that fits) once the
    /// last reader of the tensor there has been recorded. Returns the buffer sizes and each
    /// tensor's buffer.
    fn assign(&self, shapes: &[[usize; 4]]) -> Result<(Vec<u64>, Vec<usize>), GpuError> {
        let bytes = |v: usize| self.bytes(shapes[v].iter().product::<usize>());
        let mut sizes: Vec<u64> = Vec::new();
        let mut slot_of = vec![usize::MAX; self.plan.values];
        let mut free: Vec<usize> = Vec::new();
        let take =
            |v: usize, sizes: &mut Vec<u64>, free: &mut Vec<usize>| -> Result<usize, GpuError> {
                let need = bytes(v);
                if need > self.gpu.max_buffer {
                    return Err(GpuError::TooLarge {
                        model: self.name.clone(),
                        bytes: need,
                        limit: self.gpu.max_buffer,
                    });
                }
                let best = free
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| sizes[s] >= need)
                    .min_by_key(|(_, &s)| sizes[s])
                    .map(|(i, _)| i);
                Ok(match best {
                    Some(i) => free.swap_remove(i),
                    None => {
                        sizes.push(need);
                        sizes.len() - 1
                    }
                })
            };
        slot_of[0] = take(0, &mut sizes, &mut free)?;
        for (i, op) in self.plan.ops.iter().enumerate() {
            let y = plan::writes(op);
            // An op never writes into a buffer it reads (the buffers are freed after it).
            slot_of[y] = take(y, &mut sizes, &mut free)?;
            for x in plan::reads(op) {
                if self.plan.last_use[x] == i && !free.contains(&slot_of[x]) {
                    free.push(slot_of[x]);
                }
            }
        }
        Ok((sizes, slot_of))
    }

    fn record<'a>(
        &'a self,
        pass: &mut wgpu::ComputePass<'_>,
        op: &'a Op,
        shapes: &[[usize; 4]],
        buf: &dyn Fn(usize) -> &'a wgpu::Buffer,
    ) {
        let p = self.pipelines();
        let u = |v: usize| v as u32;
        match op {
            Op::Conv {
                x,
                y,
                cin,
                cout,
                k,
                stride,
                pad,
                dil,
                act,
                weights,
                bias,
            } => {
                let [n, _, h, w] = shapes[*x];
                let [_, _, oh, ow] = shapes[*y];
                // Invocations of eight output channels (the shader's zdiv).
                let pairs = cout.div_ceil(4).div_ceil(2);
                let (code, alpha) = match act {
                    Act::None => (0, 0.0f32),
                    Act::Relu => (1, 0.0),
                    Act::Leaky(a) => (2, *a),
                    Act::PRelu => (3, 0.0),
                };
                let params = [
                    u(n),
                    u(*cin),
                    u(h),
                    u(w),
                    u(*cout),
                    u(oh),
                    u(ow),
                    u(k[0]),
                    u(k[1]),
                    u(*stride),
                    u(pad[0]),
                    u(pad[1]),
                    u(*dil),
                    code,
                    alpha.to_bits(),
                    u(pairs),
                ];
                let bufs = [(1, buf(*x)), (2, weights), (3, bias), (4, buf(*y))];
                let groups = [
                    u(ow.div_ceil(4).div_ceil(8)),
                    u(oh.div_ceil(8)),
                    u(n * pairs),
                ];
                self.dispatch(pass, &p.conv, &params, &bufs, groups);
            }
            Op::Eltwise { a, b, y, op, alpha } => {
                let shape = shapes[*y];
                let len = shape.iter().product::<usize>();
                let (gx, gy, row) = spread_1d(len);
                let mode = |o: &Operand| match o {
                    Operand::Value(_) | Operand::Const(_, Spread::Whole(_)) => 0,
                    Operand::Const(_, Spread::Scalar) => 1,
                    Operand::Const(_, Spread::PerChannel(_)) => 2,
                };
                let pick = |o: &'a Operand| -> &'a wgpu::Buffer {
                    match o {
                        Operand::Value(v) => buf(*v),
                        Operand::Const(c, _) => c,
                    }
                };
                // A unary operation binds its input twice.
                let bo = b.as_ref().unwrap_or(a);
                let params = [
                    u(len),
                    *op,
                    mode(a),
                    mode(bo),
                    u(shape[2] * shape[3]),
                    u(shape[1]),
                    alpha.to_bits(),
                    row,
                ];
                let bufs = [(1, pick(a)), (2, pick(bo)), (4, buf(*y))];
                self.dispatch(pass, &p.eltwise, &params, &bufs, [gx, gy, 1]);
            }
            Op::DepthToSpace { x, y, block, dcr } => {
                let code = if *dcr { 4 } else { 0 };
                self.reshape(
                    pass,
                    code,
                    [shapes[*x], shapes[*y]],
                    *block,
                    [1.0; 2],
                    [buf(*x), buf(*y)],
                );
            }
            Op::Resize {
                x,
                y,
                filter,
                scale,
            } => {
                let code = *filter as u32;
                self.reshape(
                    pass,
                    code,
                    [shapes[*x], shapes[*y]],
                    1,
                    *scale,
                    [buf(*x), buf(*y)],
                );
            }
            Op::Concat { xs, y } => {
                let total = shapes[*y][1];
                let mut offset = 0;
                for &x in xs {
                    let [n, c, h, w] = shapes[x];
                    let len = n * c * h * w;
                    let (gx, gy, row) = spread_1d(len);
                    let params = [
                        u(len),
                        3,
                        u(n),
                        u(c),
                        u(h),
                        u(w),
                        0,
                        0,
                        1,
                        u(offset),
                        u(total),
                        row,
                        0,
                        0,
                        0,
                        0,
                    ];
                    let bufs = [(1, buf(x)), (4, buf(*y))];
                    self.dispatch(pass, &p.layout, &params, &bufs, [gx, gy, 1]);
                    offset += c;
                }
            }
        }
    }

    /// DepthToSpace (`op` 0 CRD, 4 DCR) or Resize (1 nearest, 2 linear) from `shapes[0]` to
    /// `shapes[1]`.
    fn reshape(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        op: u32,
        shapes: [[usize; 4]; 2],
        block: usize,
        scale: [f32; 2],
        bufs: [&wgpu::Buffer; 2],
    ) {
        let u = |v: usize| v as u32;
        let [_, _, h, w] = shapes[0];
        let [n, c, oh, ow] = shapes[1];
        let len = n * c * oh * ow;
        let (gx, gy, row) = spread_1d(len);
        let params = [
            u(len),
            op,
            u(n),
            u(c),
            u(h),
            u(w),
            u(oh),
            u(ow),
            u(block),
            0,
            0,
            row,
            scale[0].to_bits(),
            scale[1].to_bits(),
            0,
            0,
        ];
        let bufs = [(1, bufs[0]), (4, bufs[1])];
        self.dispatch(pass, &self.pipelines().layout, &params, &bufs, [gx, gy, 1]);
    }

    /// One dispatch of `pipeline` with `params` as its uniform (binding 0) and `bufs` at their
    /// bindings.
    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        pipeline: &wgpu::ComputePipeline,
        params: &[u32],
        bufs: &[(u32, &wgpu::Buffer)],
        groups: [u32; 3],
    ) {
        let device = &self.gpu.device;
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: bytemuck::cast_slice(params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        entries.extend(bufs.iter().map(|(binding, b)| wgpu::BindGroupEntry {
            binding: *binding,
            resource: b.as_entire_binding(),
        }));
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }
}

/// Workgroups of 256 for `len` values, spread over y beyond the 65 535 a dimension allows:
/// (x groups, y groups, values per y row).
fn spread_1d(len: usize) -> (u32, u32, u32) {
    let groups = len.div_ceil(256).max(1);
    let gx = groups.min(65_535);
    (gx as u32, groups.div_ceil(gx) as u32, (gx * 256) as u32)
}
