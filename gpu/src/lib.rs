//! Kino's neural networks on a GPU through wgpu: Vulkan (NVIDIA, AMD, Intel, Mesa's software
//! lavapipe in the tests), Metal and DX12. The same ONNX files ONNX Runtime runs on the CPU are read
//! at run time and executed by a few compute shaders, one per layer type these networks use
//! (convolution with its activation, element-wise arithmetic, pixel shuffle, resize, concat), the
//! way ncnn runs them over Vulkan.

pub mod device;
pub mod net;
pub mod onnx;
mod plan;

pub use device::{Gpu, GpuChoice, Precision};
pub use net::Net;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum GpuError {
    /// No usable adapter: the message names what was found.
    #[error("no GPU for KINO_EXECUTION_PROVIDER=gpu: {0}")]
    NoDevice(String),
    #[error("the GPU ({adapter}) could not be opened: {reason}")]
    Open { adapter: String, reason: String },
    #[error("model: {0}")]
    Model(String),
    #[error("model {model}: operator {op} ({node}) is not supported on the GPU path: {detail}")]
    Unsupported {
        model: String,
        op: String,
        node: String,
        detail: String,
    },
    #[error("model {model}: input {got} does not fit ({expected})")]
    Input {
        model: String,
        expected: String,
        got: String,
    },
    #[error("model {model}: a {bytes}-byte tensor exceeds this GPU's {limit}-byte buffer limit: use smaller tiles")]
    TooLarge {
        model: String,
        bytes: u64,
        limit: u64,
    },
    #[error("GPU run failed: {0}")]
    Run(String),
}
