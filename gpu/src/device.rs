//! Choosing and opening the GPU: one device per process, shared by every chunk worker, with a
//! bound on the memory their runs hold at once.

use crate::GpuError;
use std::sync::{Arc, Condvar, Mutex};

/// Which adapters may be used. A software adapter (lavapipe, WARP) is refused unless allowed:
/// a "GPU" render on it is a CPU render many times slower than ONNX Runtime's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuChoice {
    pub allow_software: bool,
}

impl GpuChoice {
    /// From the environment: `KINO_GPU_ALLOW_SOFTWARE=1` (the tests, on lavapipe).
    pub fn from_env() -> GpuChoice {
        GpuChoice {
            allow_software: std::env::var("KINO_GPU_ALLOW_SOFTWARE").is_ok_and(|v| v == "1"),
        }
    }
}

/// The compiled shaders, for one storage precision.
pub(crate) struct Pipelines {
    pub conv: wgpu::ComputePipeline,
    pub eltwise: wgpu::ComputePipeline,
    pub layout: wgpu::ComputePipeline,
}

/// How tensors and weights are stored on the GPU (arithmetic is f32 either way): fp16 halves
/// the memory and its traffic for ~3 decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
}

impl Precision {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "fp32",
            Precision::F16 => "fp16",
        }
    }

    /// `KINO_GPU_PRECISION` (`fp16`, `fp32`); unset: fp16 where `gpu` has it, as ncnn and Video2X
    /// do. Asking for fp16 on a GPU without it is an error.
    pub fn from_env(gpu: &Gpu) -> Result<Precision, GpuError> {
        let raw = std::env::var("KINO_GPU_PRECISION").unwrap_or_default();
        match raw.to_ascii_lowercase().as_str() {
            "" if gpu.has_f16() => Ok(Precision::F16),
            "" | "fp32" | "f32" => Ok(Precision::F32),
            "fp16" | "f16" if gpu.has_f16() => Ok(Precision::F16),
            "fp16" | "f16" => Err(GpuError::Open {
                adapter: gpu.adapter.clone(),
                reason: "KINO_GPU_PRECISION=fp16 but it has no 16-bit shader arithmetic".into(),
            }),
            _ => Err(GpuError::Model(format!(
                "KINO_GPU_PRECISION={raw:?}; expected fp16 or fp32"
            ))),
        }
    }
}

impl Pipelines {
    fn compile(device: &wgpu::Device, precision: Precision) -> Pipelines {
        let head = match precision {
            Precision::F32 => "alias T = f32;\n",
            Precision::F16 => "enable f16;\nalias T = f16;\n",
        };
        let make = |name: &str, body: &str| pipeline(device, name, &format!("{head}{body}"));
        Pipelines {
            conv: make("conv", include_str!("shaders/conv.wgsl")),
            eltwise: make("eltwise", include_str!("shaders/eltwise.wgsl")),
            layout: make("layout", include_str!("shaders/layout.wgsl")),
        }
    }
}

/// An open GPU.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// "NVIDIA H200 (Vulkan)": named in the job's events.
    pub adapter: String,
    pub software: bool,
    pipelines: Pipelines,
    /// The fp16 shaders, where the adapter has 16-bit storage and arithmetic.
    pipelines_f16: Option<Pipelines>,
    /// Largest storage buffer one tensor may take.
    pub max_buffer: u64,
    budget: Budget,
    /// Validation errors wgpu reports outside a scope (instead of its default panic).
    errors: Arc<Mutex<Vec<String>>>,
}

/// Default bound on the GPU memory all runs hold at once (`KINO_GPU_MEMORY_MB`).
pub const DEFAULT_MEMORY_MB: u64 = 2048;

impl Gpu {
    /// The process's GPU, opened at the first call with the environment's choice (a failed open is
    /// retried at the next call).
    pub fn shared() -> Result<Arc<Gpu>, GpuError> {
        static SHARED: Mutex<Option<Arc<Gpu>>> = Mutex::new(None);
        let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = slot.as_ref() {
            return Ok(g.clone());
        }
        let g = Arc::new(Gpu::open(GpuChoice::from_env())?);
        *slot = Some(g.clone());
        Ok(g)
    }

    /// Opens the best adapter `choice` allows: a discrete GPU, else an integrated one, else
    /// (allowed) a software one. Vulkan, Metal and DX12 only.
    pub fn open(choice: GpuChoice) -> Result<Gpu, GpuError> {
        pollster::block_on(Gpu::open_async(choice))
    }

    async fn open_async(choice: GpuChoice) -> Result<Gpu, GpuError> {
        let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let adapters = instance.enumerate_adapters(backends).await;
        let rank = |t: wgpu::DeviceType| match t {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let seen: Vec<String> = adapters.iter().map(|a| describe(&a.get_info())).collect();
        let Some(adapter) = adapters
            .into_iter()
            .filter(|a| choice.allow_software || a.get_info().device_type != wgpu::DeviceType::Cpu)
            .min_by_key(|a| rank(a.get_info().device_type))
        else {
            return Err(GpuError::NoDevice(if seen.is_empty() {
                "no Vulkan, Metal or DX12 adapter found (is the GPU driver installed?); \
                 use KINO_EXECUTION_PROVIDER=cpu"
                    .into()
            } else {
                format!(
                    "only software adapters found ({}); use KINO_EXECUTION_PROVIDER=cpu",
                    seen.join(", ")
                )
            }));
        };
        let info = adapter.get_info();
        let name = describe(&info);
        let limits = adapter.limits();
        let mut required = wgpu::Limits::downlevel_defaults();
        required.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size;
        required.max_buffer_size = limits.max_buffer_size;
        required.max_storage_buffers_per_shader_stage = 4;
        let f16 = adapter.features().contains(wgpu::Features::SHADER_F16);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("kino"),
                required_features: match f16 {
                    true => wgpu::Features::SHADER_F16,
                    false => wgpu::Features::empty(),
                },
                required_limits: required,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Open {
                adapter: name.clone(),
                reason: e.to_string(),
            })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        {
            let errors = errors.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(e.to_string());
            }));
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipelines = Pipelines::compile(&device, Precision::F32);
        let pipelines_f16 = f16.then(|| Pipelines::compile(&device, Precision::F16));
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Open {
                adapter: name,
                reason: format!("shaders: {e}"),
            });
        }
        let max_buffer = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let memory_mb = std::env::var("KINO_GPU_MEMORY_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&v| v > 0)
            .unwrap_or(DEFAULT_MEMORY_MB);
        Ok(Gpu {
            device,
            queue,
            adapter: name,
            software: info.device_type == wgpu::DeviceType::Cpu,
            pipelines,
            pipelines_f16,
            max_buffer,
            budget: Budget::new(memory_mb << 20),
            errors,
        })
    }

    /// Whether fp16 storage is available.
    pub fn has_f16(&self) -> bool {
        self.pipelines_f16.is_some()
    }

    /// The shaders for `precision` (fp16 only where [`Gpu::has_f16`]).
    pub(crate) fn pipelines(&self, precision: Precision) -> Option<&Pipelines> {
        match precision {
            Precision::F32 => Some(&self.pipelines),
            Precision::F16 => self.pipelines_f16.as_ref(),
        }
    }

    /// Bytes all runs may hold at once.
    pub fn memory_bound(&self) -> u64 {
        self.budget.cap
    }

    /// Holds `bytes` of the memory bound until the lease is dropped (waits for other runs).
    pub(crate) fn lease(&self, bytes: u64) -> Result<Lease<'_>, GpuError> {
        self.budget.take(bytes)?;
        Ok(Lease { gpu: self, bytes })
    }

    /// Errors wgpu reported outside a scope since the last call.
    pub(crate) fn take_errors(&self) -> Vec<String> {
        std::mem::take(&mut *self.errors.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// "name (Vulkan, software)".
fn describe(info: &wgpu::AdapterInfo) -> String {
    let soft = match info.device_type {
        wgpu::DeviceType::Cpu => ", software",
        _ => "",
    };
    format!("{} ({:?}{soft})", info.name, info.backend)
}

fn pipeline(device: &wgpu::Device, name: &str, source: &str) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(name),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// The GPU memory bound shared by the chunk workers' runs.
struct Budget {
    cap: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Budget {
    fn new(cap: u64) -> Budget {
        Budget {
            cap,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn take(&self, bytes: u64) -> Result<(), GpuError> {
        if bytes > self.cap {
            return Err(GpuError::Run(format!(
                "one run needs {} MB of GPU memory, more than the bound of {} MB \
                 (KINO_GPU_MEMORY_MB): use smaller tiles",
                bytes >> 20,
                self.cap >> 20
            )));
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        while *used + bytes > self.cap {
            used = self.freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += bytes;
        Ok(())
    }

    fn give(&self, bytes: u64) {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(bytes);
        self.freed.notify_all();
    }
}

/// Memory held of the bound for one run.
pub(crate) struct Lease<'a> {
    gpu: &'a Gpu,
    bytes: u64,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.gpu.budget.give(self.bytes);
    }
}
