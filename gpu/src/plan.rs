//! From an ONNX graph to GPU operations: weights packed and uploaded once, each activation that
//! follows a convolution fused into it, every tensor numbered with the last operation that reads it.

use crate::device::Precision;
use crate::onnx::{Constant, Graph, Node};
use crate::GpuError;
use std::collections::HashMap;
use wgpu::util::DeviceExt;

/// How a constant operand is spread over a tensor (the shader's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spread {
    /// As many values as the tensor.
    Whole(usize),
    Scalar,
    PerChannel(usize),
}

/// One side of a binary operation.
pub(crate) enum Operand {
    Value(usize),
    Const(wgpu::Buffer, Spread),
}

/// Resize's interpolation (the shader's op codes 1, 2, 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    Nearest = 1,
    Linear = 2,
    Cubic = 5,
}

/// The activation a convolution ends with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Act {
    None,
    Relu,
    Leaky(f32),
    /// Per-channel slopes, stored after the biases.
    PRelu,
}

pub(crate) enum Op {
    Conv {
        x: usize,
        y: usize,
        cin: usize,
        cout: usize,
        k: [usize; 2],
        stride: usize,
        pad: [usize; 2],
        dil: usize,
        act: Act,
        weights: wgpu::Buffer,
        bias: wgpu::Buffer,
    },
    /// Shader ops: 0 add, 1 sub, 2 mul, 3 div, 10 relu, 11 leaky, 12 prelu, 13 sigmoid.
    Eltwise {
        a: Operand,
        b: Option<Operand>,
        y: usize,
        op: u32,
        alpha: f32,
    },
    DepthToSpace {
        x: usize,
        y: usize,
        block: usize,
        dcr: bool,
    },
    Resize {
        x: usize,
        y: usize,
        filter: Filter,
        scale: [f32; 2],
    },
    Concat {
        xs: Vec<usize>,
        y: usize,
    },
}

/// The operations in order and the tensors between them.
pub(crate) struct Plan {
    pub ops: Vec<Op>,
    /// Tensor count; tensor 0 is the graph's input.
    pub values: usize,
    pub output: usize,
    /// For each tensor, the index of the last operation that reads it.
    pub last_use: Vec<usize>,
}

struct Builder<'g> {
    device: &'g wgpu::Device,
    precision: Precision,
    model: &'g str,
    graph: &'g Graph,
    ids: HashMap<String, usize>,
    /// The next tensor number (names may alias one tensor, so not `ids.len()`).
    next: usize,
    /// The last convolution's biases as uploaded (cout/4 × 4, then room for the slopes), for an
    /// activation fused into it.
    conv_bias: Vec<f32>,
    ops: Vec<Op>,
}

impl Builder<'_> {
    fn unsupported(&self, n: &Node, detail: impl Into<String>) -> GpuError {
        GpuError::Unsupported {
            model: self.model.to_owned(),
            op: n.op.clone(),
            node: n.name.clone(),
            detail: detail.into(),
        }
    }

    fn value(&self, n: &Node, name: &str) -> Result<usize, GpuError> {
        self.ids.get(name).copied().ok_or_else(|| {
            self.unsupported(n, format!("input {name} is neither computed nor a weight"))
        })
    }

    fn new_value(&mut self, name: &str) -> usize {
        let id = self.next;
        self.next += 1;
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn constant(&self, name: &str) -> Option<&Constant> {
        self.graph.constants.get(name)
    }

    /// A weight tensor in the network's precision.
    fn upload(&self, label: &str, values: &[f32]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &stored(values, self.precision),
                usage: wgpu::BufferUsages::STORAGE,
            })
    }

    fn operand(&self, n: &Node, name: &str) -> Result<Operand, GpuError> {
        if let Some(c) = self.constant(name) {
            let spread = spread(&c.dims).ok_or_else(|| {
                self.unsupported(n, format!("constant {name} of shape {:?}", c.dims))
            })?;
            return Ok(Operand::Const(self.upload(name, &c.values), spread));
        }
        Ok(Operand::Value(self.value(n, name)?))
    }

    fn conv(&mut self, n: &Node) -> Result<Op, GpuError> {
        let x = self.value(n, &n.inputs[0])?;
        let w = n
            .inputs
            .get(1)
            .and_then(|w| self.constant(w))
            .ok_or_else(|| self.unsupported(n, "weights that are not a constant"))?;
        if w.dims.len() != 4 || n.int("group", 1) != 1 {
            return Err(self.unsupported(n, "only 2-D convolutions of one group"));
        }
        let (cout, cin, kh, kw) = (w.dims[0], w.dims[1], w.dims[2], w.dims[3]);
        let ints = |name: &str, default: usize| -> Vec<usize> {
            n.ints(name)
                .map(|v| v.iter().map(|&i| i.max(0) as usize).collect())
                .unwrap_or_else(|| vec![default; 4])
        };
        let (strides, dils, pads) = (ints("strides", 1), ints("dilations", 1), ints("pads", 0));
        if strides.len() < 2 || dils.len() < 2 || pads.len() != 4 {
            return Err(self.unsupported(n, "strides, dilations or pads not given for 2 axes"));
        }
        if strides[0] != strides[1] || dils[0] != dils[1] {
            return Err(self.unsupported(n, "unequal strides or dilations"));
        }
        if kh == 0 || kw == 0 || strides[0] == 0 || dils[0] == 0 || strides[0] > 16 {
            return Err(self.unsupported(
                n,
                "an empty kernel, or a stride or dilation of 0 or over 16",
            ));
        }
        // The shader reads four outputs' inputs along a row into 16 registers.
        if 3 * strides[0] + (kw.max(1) - 1) * dils[0] + 1 > 16 {
            return Err(self.unsupported(n, "a kernel this wide at this stride and dilation"));
        }
        if pads[0] != pads[2] || pads[1] != pads[3] || n.text("auto_pad", "NOTSET") != "NOTSET" {
            return Err(self.unsupported(n, "asymmetric or automatic padding"));
        }
        let cout4 = cout.div_ceil(4);
        // [cout/4][cin][kh][kw][4]: one vec4 load per tap for four output channels.
        let mut packed = vec![0f32; cout4 * cin * kh * kw * 4];
        for co in 0..cout {
            for ci in 0..cin {
                for t in 0..kh * kw {
                    packed[(((co / 4) * cin + ci) * kh * kw + t) * 4 + co % 4] =
                        w.values[(co * cin + ci) * kh * kw + t];
                }
            }
        }
        let mut bias = vec![0f32; cout4 * 8];
        if let Some(b) = n.inputs.get(2).filter(|b| !b.is_empty()) {
            let b = self
                .constant(b)
                .filter(|c| c.values.len() == cout)
                .ok_or_else(|| {
                    self.unsupported(n, "a bias that is not a constant of cout values")
                })?;
            bias[..cout].copy_from_slice(&b.values);
        }
        let y = self.new_value(&n.outputs[0]);
        let op = Op::Conv {
            x,
            y,
            cin,
            cout,
            k: [kh, kw],
            stride: strides[0],
            pad: [pads[0], pads[1]],
            dil: dils[0],
            act: Act::None,
            weights: self.upload(&format!("{}.w", n.name), &packed),
            // Biases (and slopes) stay f32 in either precision.
            bias: upload_f32(self.device, "conv.bias", &bias),
        };
        self.conv_bias = bias;
        Ok(op)
    }

    /// Fuses activation node `n` into the convolution just built when it reads that
    /// convolution's output and nothing else does; true when fused.
    fn fuse(&mut self, n: &Node, uses: &HashMap<&str, usize>) -> Result<bool, GpuError> {
        let Some(Op::Conv {
            y, cout, act, bias, ..
        }) = self.ops.last_mut()
        else {
            return Ok(false);
        };
        // Once only, and only when nothing else reads the tensor under any of its names.
        let input = &n.inputs[0];
        let readers: usize = self
            .ids
            .iter()
            .filter(|(_, &v)| v == *y)
            .map(|(name, _)| uses.get(name.as_str()).copied().unwrap_or(0))
            .sum();
        if *act != Act::None || self.ids.get(input) != Some(y) || readers != 1 {
            return Ok(false);
        }
        let (new_act, slopes) = match n.op.as_str() {
            "Relu" => (Act::Relu, None),
            "LeakyRelu" => (Act::Leaky(n.float("alpha", 0.01)), None),
            "PRelu" => {
                let Some(s) = n.inputs.get(1).and_then(|s| self.graph.constants.get(s)) else {
                    return Ok(false);
                };
                let slopes: Vec<f32> = match s.values.len() {
                    1 => vec![s.values[0]; *cout],
                    c if c == *cout => s.values.clone(),
                    _ => return Ok(false),
                };
                (Act::PRelu, Some(slopes))
            }
            _ => return Ok(false),
        };
        if let Some(slopes) = slopes {
            let at = cout.div_ceil(4) * 4;
            self.conv_bias[at..at + *cout].copy_from_slice(&slopes);
            *bias = upload_f32(self.device, "conv.bias+slopes", &self.conv_bias);
        }
        *act = new_act;
        // The activation's output is the convolution's tensor under a second name.
        let id = *y;
        self.ids.insert(n.outputs[0].clone(), id);
        Ok(true)
    }

    fn node(&mut self, n: &Node, uses: &HashMap<&str, usize>) -> Result<(), GpuError> {
        if n.inputs.is_empty() || n.outputs.len() != 1 {
            return Err(self.unsupported(n, "not one output"));
        }
        let op = match n.op.as_str() {
            "Conv" => self.conv(n)?,
            "Relu" | "LeakyRelu" | "PRelu" | "Sigmoid" => {
                if self.fuse(n, uses)? {
                    return Ok(());
                }
                let a = Operand::Value(self.value(n, &n.inputs[0])?);
                let (op, b) = match n.op.as_str() {
                    "Relu" => (10, None),
                    "LeakyRelu" => (11, None),
                    "PRelu" => {
                        let slope = n
                            .inputs
                            .get(1)
                            .ok_or_else(|| self.unsupported(n, "no slope"))?;
                        (12, Some(self.operand(n, slope)?))
                    }
                    _ => (13, None),
                };
                Op::Eltwise {
                    a,
                    b,
                    y: self.new_value(&n.outputs[0]),
                    op,
                    alpha: n.float("alpha", 0.01),
                }
            }
            "Add" | "Sub" | "Mul" | "Div" | "Sum" => {
                let code = match n.op.as_str() {
                    "Add" | "Sum" => 0,
                    "Sub" => 1,
                    "Mul" => 2,
                    _ => 3,
                };
                // Sum of k tensors: k − 1 additions.
                let mut acc = self.operand(n, &n.inputs[0])?;
                for (i, name) in n.inputs.iter().enumerate().skip(1) {
                    let b = self.operand(n, name)?;
                    let out = if i + 1 == n.inputs.len() {
                        n.outputs[0].clone()
                    } else {
                        format!("{}#{i}", n.outputs[0])
                    };
                    let y = self.new_value(&out);
                    self.ops.push(Op::Eltwise {
                        a: acc,
                        b: Some(b),
                        y,
                        op: code,
                        alpha: 0.0,
                    });
                    acc = Operand::Value(y);
                }
                return match n.inputs.len() {
                    1 => Err(self.unsupported(n, "a single input")),
                    _ => Ok(()),
                };
            }
            "DepthToSpace" => {
                let mode = n.text("mode", "DCR");
                Op::DepthToSpace {
                    x: self.value(n, &n.inputs[0])?,
                    y: self.new_value(&n.outputs[0]),
                    block: n.int("blocksize", 0).max(1) as usize,
                    dcr: mode != "CRD",
                }
            }
            "Resize" | "Upsample" => self.resize(n)?,
            "Concat" => {
                if n.int("axis", 0) != 1 {
                    return Err(self.unsupported(n, "concatenation other than by channel"));
                }
                let xs = n
                    .inputs
                    .iter()
                    .map(|i| self.value(n, i))
                    .collect::<Result<Vec<_>, _>>()?;
                Op::Concat {
                    xs,
                    y: self.new_value(&n.outputs[0]),
                }
            }
            "Identity" => {
                let x = self.value(n, &n.inputs[0])?;
                self.ids.insert(n.outputs[0].clone(), x);
                return Ok(());
            }
            _ => return Err(self.unsupported(n, "no shader for it")),
        };
        self.ops.push(op);
        Ok(())
    }

    fn resize(&mut self, n: &Node) -> Result<Op, GpuError> {
        let mode = n.text("mode", "nearest");
        // Upsample has no coordinate attributes: asymmetric, floor (as ONNX Runtime runs it).
        let (coords, nearest) = match n.op.as_str() {
            "Upsample" => ("asymmetric".to_owned(), "floor".to_owned()),
            _ => (
                n.text("coordinate_transformation_mode", "half_pixel"),
                n.text("nearest_mode", "round_prefer_floor"),
            ),
        };
        let kind = match (mode.as_str(), coords.as_str()) {
            ("nearest", "asymmetric") if nearest == "floor" => Filter::Nearest,
            ("linear", "half_pixel") => Filter::Linear,
            ("cubic", "half_pixel")
                if n.float("cubic_coeff_a", -0.75) == -0.75 && n.int("exclude_outside", 0) == 0 =>
            {
                Filter::Cubic
            }
            _ => return Err(self.unsupported(n, format!("mode {mode} with {coords} coordinates"))),
        };
        // Scales: Resize's third input (Upsample's second).
        let at = if n.op == "Upsample" { 1 } else { 2 };
        let scales = n
            .inputs
            .get(at)
            .and_then(|s| self.constant(s))
            .filter(|c| c.values.len() == 4 && c.values[0] == 1.0 && c.values[1] == 1.0)
            .map(|c| [c.values[2], c.values[3]])
            .ok_or_else(|| self.unsupported(n, "scales that are not constant 1, 1, sy, sx"))?;
        Ok(Op::Resize {
            x: self.value(n, &n.inputs[0])?,
            y: self.new_value(&n.outputs[0]),
            filter: kind,
            scale: scales,
        })
    }
}

/// Biases and slopes: f32 in either precision.
fn upload_f32(device: &wgpu::Device, label: &str, values: &[f32]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::cast_slice(values),
        usage: wgpu::BufferUsages::STORAGE,
    })
}

/// How a constant of `dims` spreads over an NCHW tensor, if it does in a way the shader knows.
fn spread(dims: &[usize]) -> Option<Spread> {
    let count: usize = dims.iter().product();
    if count == 1 {
        return Some(Spread::Scalar);
    }
    // [C,1,1] or [1,C,1,1]: per channel ([C] would broadcast along the width).
    let tail_ones = match dims.len() {
        3 => dims[1] == 1 && dims[2] == 1,
        4 => dims[0] == 1 && dims[2] == 1 && dims[3] == 1,
        _ => false,
    };
    if tail_ones {
        return Some(Spread::PerChannel(count));
    }
    (dims.len() == 4 && dims[0] == 1).then_some(Spread::Whole(count))
}

/// `values` as the GPU stores them: f32 or f16 bytes, padded to a whole number of 4-byte words
/// (and never empty: storage bindings may not be).
pub(crate) fn stored(values: &[f32], precision: Precision) -> Vec<u8> {
    let mut bytes: Vec<u8> = match precision {
        Precision::F32 => bytemuck::cast_slice(values).to_vec(),
        Precision::F16 => values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect(),
    };
    bytes.resize(bytes.len().next_multiple_of(4).max(4), 0);
    bytes
}

/// Builds the plan of `graph` (one image input, one output) on `device`.
pub(crate) fn build(
    device: &wgpu::Device,
    precision: Precision,
    model: &str,
    graph: &Graph,
) -> Result<Plan, GpuError> {
    let (Some(input), Some(output), 1, 1) = (
        graph.inputs.first(),
        graph.outputs.first(),
        graph.inputs.len(),
        graph.outputs.len(),
    ) else {
        return Err(GpuError::Model(format!(
            "{model}: not one input and one output ({:?} → {:?})",
            graph.inputs, graph.outputs
        )));
    };
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for n in &graph.nodes {
        for i in &n.inputs {
            *uses.entry(i.as_str()).or_default() += 1;
        }
    }
    *uses.entry(output.as_str()).or_default() += 1;
    let mut b = Builder {
        device,
        precision,
        model,
        graph,
        ids: HashMap::from([(input.clone(), 0)]),
        next: 1,
        conv_bias: Vec::new(),
        ops: Vec::new(),
    };
    for n in &graph.nodes {
        b.node(n, &uses)?;
    }
    let output = *b.ids.get(output).ok_or_else(|| {
        GpuError::Model(format!("{model}: the output {output} is never computed"))
    })?;
    let values = b.next;
    let mut last_use = vec![0; values];
    for (i, op) in b.ops.iter().enumerate() {
        for x in reads(op) {
            last_use[x] = i;
        }
    }
    // The output lives to the end.
    last_use[output] = usize::MAX;
    Ok(Plan {
        ops: b.ops,
        values,
        output,
        last_use,
    })
}

/// The tensors an operation reads.
pub(crate) fn reads(op: &Op) -> Vec<usize> {
    let value = |o: &Operand| match o {
        Operand::Value(v) => Some(*v),
        Operand::Const(..) => None,
    };
    match op {
        Op::Conv { x, .. } | Op::DepthToSpace { x, .. } | Op::Resize { x, .. } => vec![*x],
        Op::Eltwise { a, b, .. } => value(a)
            .into_iter()
            .chain(b.as_ref().and_then(value))
            .collect(),
        Op::Concat { xs, .. } => xs.clone(),
    }
}

/// The tensor an operation writes.
pub(crate) fn writes(op: &Op) -> usize {
    match op {
        Op::Conv { y, .. }
        | Op::Eltwise { y, .. }
        | Op::DepthToSpace { y, .. }
        | Op::Resize { y, .. }
        | Op::Concat { y, .. } => *y,
    }
}
