//! Neural networks from the models folder, run in-process by ONNX Runtime through `ort`.
//!
//! ONNX Runtime is loaded at run time (`libonnxruntime.so` from the PyPI wheel, put in the models
//! folder by `scripts/models.sh`), so the binary builds and runs without it and only the neural
//! stages need it. Every failure names the set-up step that repairs it.

#[cfg(feature = "gpu")]
pub mod gpu;
pub mod interp;
pub mod rgb;
pub mod sr;
pub mod tile;

use ort::session::Session;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use thiserror::Error;

/// What repairs a missing or damaged model folder.
pub const SETUP_HINT: &str = "run `bash scripts/setup.sh` (its models step, scripts/models.sh)";

/// The SHA-256 of every file the set-up puts in the models folder.
const MANIFEST: &str = include_str!("../../../scripts/models/manifest.sha256");

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("model file {} is missing: {SETUP_HINT} to restore it", path.display())]
    Missing { path: PathBuf },
    #[error("model file {} is corrupt ({reason}): {SETUP_HINT} to restore it", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("ONNX Runtime could not be loaded from {} ({reason}): {SETUP_HINT}, or set ORT_DYLIB_PATH", path.display())]
    Runtime { path: PathBuf, reason: String },
    #[error("execution provider {provider} is not available ({reason}); use KINO_EXECUTION_PROVIDER=cpu, or an ONNX Runtime build with it (ORT_DYLIB_PATH)")]
    Provider {
        provider: &'static str,
        reason: String,
    },
    #[error("model {model}: input {got} does not fit ({expected})")]
    InputMismatch {
        model: String,
        expected: String,
        got: String,
    },
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("model {model}: inference failed: {reason}")]
    Inference { model: String, reason: String },
    #[error("model {model} is not {expected} (it has {got})")]
    WrongModel {
        model: String,
        expected: String,
        got: String,
    },
}

/// Where inference runs. CPU by default; `gpu` runs super-resolution on any GPU through wgpu
/// (Vulkan, Metal, DX12; the other networks stay on ONNX Runtime's CPU); CUDA/TensorRT need an
/// ONNX Runtime built with them (the `onnxruntime-gpu` wheel's library through `ORT_DYLIB_PATH`)
/// and a GPU. Asking for one that is not there is an error, never a silent fall back to CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cpu,
    Gpu,
    Cuda,
    TensorRt,
}

impl Provider {
    pub fn parse(s: &str) -> Option<Provider> {
        match s.to_ascii_lowercase().as_str() {
            "" | "cpu" => Some(Provider::Cpu),
            "gpu" => Some(Provider::Gpu),
            "cuda" => Some(Provider::Cuda),
            "tensorrt" | "trt" => Some(Provider::TensorRt),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Gpu => "gpu",
            Provider::Cuda => "cuda",
            Provider::TensorRt => "tensorrt",
        }
    }
}

/// Where models and the runtime are and how to run them, from the environment:
/// `KINO_MODELS_DIR` (else `./models`, else `models/` beside the build's workspace),
/// `ORT_DYLIB_PATH` (else `libonnxruntime.so` in the models folder), `KINO_EXECUTION_PROVIDER`
/// (`cpu`, `gpu`, `cuda`, `tensorrt`).
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub dylib: PathBuf,
    pub provider: Provider,
}

impl Config {
    pub fn from_env() -> Result<Config, ModelError> {
        let dir = match std::env::var_os("KINO_MODELS_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => default_dir(),
        };
        let dylib = match std::env::var_os("ORT_DYLIB_PATH") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => dir.join("libonnxruntime.so"),
        };
        let raw = std::env::var("KINO_EXECUTION_PROVIDER").unwrap_or_default();
        let provider = Provider::parse(&raw).ok_or(ModelError::Provider {
            provider: "unknown",
            reason: format!("KINO_EXECUTION_PROVIDER={raw:?}; expected cpu, gpu, cuda or tensorrt"),
        })?;
        Ok(Config {
            dir,
            dylib,
            provider,
        })
    }
}

/// `./models` when it exists, else the `models/` folder of the workspace the binary was built in
/// (`target/<profile>/kino-node` → `models/`), else `./models`.
fn default_dir() -> PathBuf {
    let here = PathBuf::from("models");
    if here.is_dir() {
        return here;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .take(4)
                .map(|a| a.join("models"))
                .find(|m| m.join("libonnxruntime.so").is_file())
        })
        .unwrap_or(here)
}

/// Loads ONNX Runtime once per process (a failed load is retried on the next call).
fn environment(cfg: &Config) -> Result<&'static ort::environment::Environment, ModelError> {
    static ENV: OnceLock<ort::environment::Environment> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    if let Some(env) = ENV.get() {
        return Ok(env);
    }
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(env) = ENV.get() {
        return Ok(env);
    }
    if !cfg.dylib.is_file() {
        return Err(ModelError::Runtime {
            path: cfg.dylib.clone(),
            reason: "file not found".into(),
        });
    }
    let runtime_err = |reason: String| ModelError::Runtime {
        path: cfg.dylib.clone(),
        reason,
    };
    let env = ort::init_from(&cfg.dylib)
        .map_err(|e| runtime_err(e.to_string()))?
        .with_name("kino")
        .build()
        .map_err(|e| runtime_err(e.to_string()))?;
    Ok(ENV.get_or_init(|| env))
}

/// Files already hashed by this process (path → size and mtime then), so a chunk worker does not
/// hash a 67 MB model again for every chunk.
fn hash_checked(path: &Path) -> Result<(), ModelError> {
    static SEEN: OnceLock<Mutex<HashMap<PathBuf, (u64, std::time::SystemTime)>>> = OnceLock::new();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(expected) = MANIFEST.lines().find_map(|l| {
        let (hash, file) = l.split_once("  ")?;
        (file.trim() == name).then_some(hash.trim())
    }) else {
        // Not one of the shipped files (a user's own model): ONNX Runtime's parse is the check.
        return Ok(());
    };
    let meta = std::fs::metadata(path).map_err(|_| ModelError::Missing {
        path: path.to_owned(),
    })?;
    let stamp = (meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
    let seen = SEEN.get_or_init(Default::default);
    if seen.lock().unwrap_or_else(|e| e.into_inner()).get(path) == Some(&stamp) {
        return Ok(());
    }
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path).map_err(|e| ModelError::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let mut h = Sha256::new();
    std::io::copy(&mut file, &mut h).map_err(|e| ModelError::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let got = hex::encode(h.finalize());
    if got != expected {
        return Err(ModelError::Corrupt {
            path: path.to_owned(),
            reason: format!("SHA-256 {got}, the set-up's manifest says {expected}"),
        });
    }
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_owned(), stamp);
    Ok(())
}

/// Checks that `file` is in the models folder with its manifest hash (for the GPU path, which
/// reads the file itself and needs no ONNX Runtime).
pub fn check_file(cfg: &Config, file: &str) -> Result<(), ModelError> {
    let path = cfg.dir.join(file);
    if !path.is_file() {
        return Err(ModelError::Missing { path });
    }
    hash_checked(&path)
}

/// Checks that `file` is in the models folder with its manifest hash and that ONNX Runtime loads,
/// without building a session (cheap enough to run before every job).
pub fn check(cfg: &Config, file: &str) -> Result<(), ModelError> {
    let path = cfg.dir.join(file);
    if !path.is_file() {
        return Err(ModelError::Missing { path });
    }
    hash_checked(&path)?;
    environment(cfg).map(|_| ())
}

/// A session for `file` from the models folder (hash-checked when it is one the set-up ships), for
/// networks with their own interface (see `audio::dfn`); `threads` = 0 uses every core.
pub fn load_session(cfg: &Config, file: &str, threads: usize) -> Result<Session, ModelError> {
    Ok(Model::load_any(cfg, file, threads)?.session)
}

/// A network's outputs: each one's shape and values, in output order.
pub type Outputs = Vec<(Vec<usize>, Vec<f32>)>;

/// One loaded network with its session.
pub struct Model {
    pub name: String,
    session: Session,
}

impl Model {
    /// Loads `file` from the models folder (hash-checked when it is one the set-up ships).
    pub fn load(cfg: &Config, file: &str, threads: usize) -> Result<Model, ModelError> {
        let path = cfg.dir.join(file);
        if !path.is_file() {
            return Err(ModelError::Missing { path });
        }
        hash_checked(&path)?;
        Model::from_file(cfg, &path, threads)
    }

    /// Loads any ONNX file; `threads` = 0 lets ONNX Runtime use every core.
    pub fn from_file(cfg: &Config, path: &Path, threads: usize) -> Result<Model, ModelError> {
        let model = Model::open_any(cfg, path, threads)?;
        model.check_image_interface()?;
        Ok(model)
    }

    /// Loads `file` from the models folder (hash-checked when the set-up ships it) whatever its
    /// inputs and outputs; the caller checks them (detectors have several outputs).
    pub fn load_any(cfg: &Config, file: &str, threads: usize) -> Result<Model, ModelError> {
        let path = cfg.dir.join(file);
        if !path.is_file() {
            return Err(ModelError::Missing { path });
        }
        hash_checked(&path)?;
        Model::open_any(cfg, &path, threads)
    }

    /// Loads any ONNX file without checking its interface.
    pub fn open_any(cfg: &Config, path: &Path, threads: usize) -> Result<Model, ModelError> {
        let env = environment(cfg)?;
        let corrupt = |reason: String| ModelError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let mut builder = Session::builder(env).map_err(|e| corrupt(e.to_string()))?;
        if threads > 0 {
            builder = builder
                .with_intra_threads(threads)
                .map_err(|e| corrupt(e.to_string()))?;
        }
        // Chunk workers run side by side: idle inference threads must not spin on the cores.
        builder = builder
            .with_intra_op_spinning(false)
            .map_err(|e| corrupt(e.to_string()))?;
        builder = match cfg.provider {
            // `gpu` is wgpu's (super-resolution, see `sr`): ONNX Runtime stays on the CPU.
            Provider::Cpu | Provider::Gpu => builder,
            Provider::Cuda => builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| ModelError::Provider {
                    provider: "cuda",
                    reason: e.to_string(),
                })?,
            Provider::TensorRt => builder
                .with_execution_providers([
                    ort::ep::TensorRT::default().build().error_on_failure(),
                    ort::ep::CUDA::default().build(),
                ])
                .map_err(|e| ModelError::Provider {
                    provider: "tensorrt",
                    reason: e.to_string(),
                })?,
        };
        if !path.is_file() {
            return Err(ModelError::Missing {
                path: path.to_owned(),
            });
        }
        let session = builder
            .commit_from_file(path)
            .map_err(|e| corrupt(e.to_string()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("model")
            .to_owned();
        Ok(Model { name, session })
    }

    /// Names of the outputs, in order.
    pub fn output_names(&self) -> Vec<String> {
        self.session
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect()
    }

    /// Names of the inputs, in order.
    pub fn input_names(&self) -> Vec<String> {
        self.session
            .inputs()
            .iter()
            .map(|i| i.name().to_owned())
            .collect()
    }

    /// Runs the network on one float tensor per input, in input order, each (shape, values);
    /// returns every output as (shape, values).
    pub fn run_inputs(
        &mut self,
        inputs: Vec<(Vec<usize>, Vec<f32>)>,
    ) -> Result<Outputs, ModelError> {
        let fail = |e: ort::Error| ModelError::Inference {
            model: self.name.clone(),
            reason: e.to_string(),
        };
        let count = self.session.inputs().len();
        if inputs.len() != count
            || inputs
                .iter()
                .any(|(s, v)| s.iter().product::<usize>() != v.len())
        {
            return Err(ModelError::InputMismatch {
                model: self.name.clone(),
                expected: format!("{count} tensors"),
                got: format!("{:?}", inputs.iter().map(|(s, _)| s).collect::<Vec<_>>()),
            });
        }
        let mut values = Vec::with_capacity(inputs.len());
        for (shape, data) in inputs {
            let tensor = ort::value::Tensor::from_array((shape, data)).map_err(fail)?;
            values.push(ort::session::SessionInputValue::from(tensor.into_dyn()));
        }
        let outputs = self.session.run(values.as_slice()).map_err(fail)?;
        let mut out = Vec::with_capacity(outputs.len());
        for (_, value) in outputs.iter() {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(fail)?;
            out.push((
                shape.iter().map(|&d| d.max(0) as usize).collect(),
                data.to_vec(),
            ));
        }
        Ok(out)
    }

    /// Shape of the (first) input; negative where a dimension is free. `None` when the model has
    /// no float tensor input.
    pub fn input_shape(&self) -> Option<Vec<i64>> {
        let ins = self.session.inputs();
        let ty = ins.first()?.dtype();
        matches!(
            ty.tensor_type(),
            Some(ort::value::TensorElementType::Float32)
        )
        .then(|| ty.tensor_shape().map(|s| s.to_vec()))
        .flatten()
    }

    /// Runs the network on one float tensor of `shape` (checked against the model's fixed
    /// dimensions); returns every output as (shape, values), in output order.
    pub fn run_all(&mut self, input: Vec<f32>, shape: &[usize]) -> Result<Outputs, ModelError> {
        let expected = self.input_shape().unwrap_or_default();
        let fits = expected.len() == shape.len()
            && expected
                .iter()
                .zip(shape)
                .all(|(&e, &g)| e < 0 || e as usize == g);
        if !fits || input.len() != shape.iter().product::<usize>() {
            return Err(ModelError::InputMismatch {
                model: self.name.clone(),
                expected: format!("a tensor {expected:?} (-1: any size)"),
                got: format!("{shape:?} with {} values", input.len()),
            });
        }
        let fail = |e: ort::Error| ModelError::Inference {
            model: self.name.clone(),
            reason: e.to_string(),
        };
        let tensor = ort::value::Tensor::from_array((shape.to_vec(), input)).map_err(fail)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(fail)?;
        let mut out = Vec::with_capacity(outputs.len());
        for (_, value) in outputs.iter() {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(fail)?;
            out.push((
                shape.iter().map(|&d| d.max(0) as usize).collect(),
                data.to_vec(),
            ));
        }
        Ok(out)
    }

    /// Kino's image networks take one float tensor [1, 3, H, W] and give one back.
    fn check_image_interface(&self) -> Result<(), ModelError> {
        let (ins, outs) = (self.session.inputs(), self.session.outputs());
        let mismatch = |got: String| ModelError::InputMismatch {
            model: self.name.clone(),
            expected: "one float32 input [1, 3, H, W] and one output".into(),
            got,
        };
        if ins.len() != 1 || outs.len() != 1 {
            return Err(mismatch(format!(
                "{} inputs and {} outputs",
                ins.len(),
                outs.len()
            )));
        }
        let ty = ins[0].dtype();
        match ty.tensor_shape() {
            Some(shape)
                if shape.len() == 4
                    && matches!(
                        ty.tensor_type(),
                        Some(ort::value::TensorElementType::Float32)
                    )
                    && (shape[1] == 3 || shape[1] < 0) =>
            {
                Ok(())
            }
            _ => Err(mismatch(format!("input {ty}"))),
        }
    }

    /// Fixed input height and width the network was exported with, if any.
    pub fn fixed_size(&self) -> Option<(usize, usize)> {
        let shape = self.session.inputs()[0].dtype().tensor_shape()?.to_vec();
        (shape.len() == 4 && shape[2] > 0 && shape[3] > 0)
            .then(|| (shape[2] as usize, shape[3] as usize))
    }

    /// Runs the network on a planar RGB tensor [1, 3, h, w]; returns the output and its [1, 3, H, W] shape.
    pub fn run(
        &mut self,
        input: Vec<f32>,
        h: usize,
        w: usize,
    ) -> Result<(Vec<f32>, [usize; 4]), ModelError> {
        if let Some((fh, fw)) = self.fixed_size() {
            if (fh, fw) != (h, w) {
                return Err(ModelError::InputMismatch {
                    model: self.name.clone(),
                    expected: format!("{fw}x{fh} pixels"),
                    got: format!("{w}x{h}"),
                });
            }
        }
        let fail = |e: ort::Error| ModelError::Inference {
            model: self.name.clone(),
            reason: e.to_string(),
        };
        let tensor = ort::value::Tensor::from_array(([1usize, 3, h, w], input)).map_err(fail)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(fail)?;
        let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
        let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
        if dims.len() != 4 || dims[0] != 1 || dims[1] != 3 {
            return Err(ModelError::InputMismatch {
                model: self.name.clone(),
                expected: "an image output [1, 3, H, W]".into(),
                got: format!("output {dims:?}"),
            });
        }
        Ok((data.to_vec(), [dims[0], dims[1], dims[2], dims[3]]))
    }
}
