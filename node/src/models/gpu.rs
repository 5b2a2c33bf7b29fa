//! Super-resolution on any GPU through wgpu (`KINO_EXECUTION_PROVIDER=gpu`, crate `kino-gpu`):
//! the same ONNX files as ONNX Runtime's, in float (the GPU path has no int8 kernels), on the
//! process's one device shared by every chunk worker. Stored in fp16 where the GPU has it
//! (`KINO_GPU_PRECISION=fp32` for full precision).

use super::{hash_checked, Config, ModelError};
use std::sync::Arc;

/// The float file for `file` (the int8 `fast` ×4 has its float original beside it).
pub fn float_file(file: &str) -> &str {
    match file {
        "realesr-animevideov3-x4-int8.onnx" => "realesr-animevideov3-x4.onnx",
        f => f,
    }
}

/// The process's GPU: an error naming what was found when there is none (software adapters are
/// refused unless `KINO_GPU_ALLOW_SOFTWARE=1`).
pub fn device() -> Result<Arc<kino_gpu::Gpu>, ModelError> {
    kino_gpu::Gpu::shared().map_err(|e| ModelError::Gpu(e.to_string()))
}

/// Loads `file` (its float version) from the models folder onto the GPU.
pub fn load(cfg: &Config, file: &str) -> Result<kino_gpu::Net, ModelError> {
    let path = cfg.dir.join(float_file(file));
    if !path.is_file() {
        return Err(ModelError::Missing { path });
    }
    hash_checked(&path)?;
    let gpu = device()?;
    let precision =
        kino_gpu::Precision::from_env(&gpu).map_err(|e| ModelError::Gpu(e.to_string()))?;
    kino_gpu::Net::load(gpu, &path, precision).map_err(|e| ModelError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })
}
