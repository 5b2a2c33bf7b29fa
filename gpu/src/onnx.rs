//! Reading an ONNX file: the protobuf messages Kino needs (the graph's nodes and its float weights),
//! declared for `prost` with ONNX's own field numbers (onnx/onnx.proto3); the rest is skipped.

use crate::GpuError;
use prost::Message;
use std::collections::HashMap;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, tag = "2")]
    f: f32,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(bytes = "vec", tag = "4")]
    s: Vec<u8>,
    #[prost(float, repeated, tag = "7")]
    floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    ints: Vec<i64>,
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

/// ONNX's element type number for 32-bit floats.
const FLOAT: i32 = 1;

/// A constant tensor: its shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

/// One attribute's value, as the operators here use them.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Text(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
}

/// One node of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub op: String,
    /// Input names; "" where an optional input is left out.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: HashMap<String, Attr>,
}

impl Node {
    pub fn int(&self, name: &str, default: i64) -> i64 {
        match self.attrs.get(name) {
            Some(Attr::Int(v)) => *v,
            _ => default,
        }
    }
    pub fn float(&self, name: &str, default: f32) -> f32 {
        match self.attrs.get(name) {
            Some(Attr::Float(v)) => *v,
            _ => default,
        }
    }
    pub fn text(&self, name: &str, default: &str) -> String {
        match self.attrs.get(name) {
            Some(Attr::Text(v)) => v.clone(),
            _ => default.to_owned(),
        }
    }
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.attrs.get(name) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }
}

/// A model's graph: nodes in the file's (topological) order, constant weights by name, and the
/// graph's inputs (those not given as weights) and outputs.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub constants: HashMap<String, Constant>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Parses an ONNX file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Graph, GpuError> {
    let model = ModelProto::decode(bytes).map_err(|e| GpuError::Model(format!("not ONNX: {e}")))?;
    let graph = model
        .graph
        .ok_or_else(|| GpuError::Model("the file has no graph".into()))?;
    let mut constants = HashMap::new();
    for t in graph.initializer {
        let values = if t.data_type != FLOAT {
            return Err(GpuError::Model(format!(
                "weight {} is of ONNX type {}, not float32 (a quantised model: use its float file)",
                t.name, t.data_type
            )));
        } else if !t.raw_data.is_empty() {
            if t.raw_data.len() % 4 != 0 {
                return Err(GpuError::Model(format!("weight {} is truncated", t.name)));
            }
            t.raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            t.float_data
        };
        let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
        if dims.iter().product::<usize>() != values.len() {
            return Err(GpuError::Model(format!(
                "weight {} has {} values for dims {dims:?}",
                t.name,
                values.len()
            )));
        }
        constants.insert(t.name, Constant { dims, values });
    }
    let nodes = graph
        .node
        .into_iter()
        .map(|n| Node {
            name: n.name,
            op: n.op_type,
            inputs: n.input,
            outputs: n.output,
            attrs: n
                .attribute
                .into_iter()
                .map(|a| {
                    // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7.
                    let v = match a.r#type {
                        1 => Attr::Float(a.f),
                        3 => Attr::Text(String::from_utf8_lossy(&a.s).into_owned()),
                        6 => Attr::Floats(a.floats),
                        7 => Attr::Ints(a.ints),
                        2 => Attr::Int(a.i),
                        // Old files leave the type out: the field that is set says it.
                        _ if !a.ints.is_empty() => Attr::Ints(a.ints),
                        _ if !a.floats.is_empty() => Attr::Floats(a.floats),
                        _ if !a.s.is_empty() => {
                            Attr::Text(String::from_utf8_lossy(&a.s).into_owned())
                        }
                        _ if a.f != 0.0 => Attr::Float(a.f),
                        _ => Attr::Int(a.i),
                    };
                    (a.name, v)
                })
                .collect(),
        })
        .collect();
    let inputs = graph
        .input
        .into_iter()
        .map(|v| v.name)
        .filter(|n| !constants.contains_key(n))
        .collect();
    let outputs = graph.output.into_iter().map(|v| v.name).collect();
    Ok(Graph {
        nodes,
        constants,
        inputs,
        outputs,
    })
}
