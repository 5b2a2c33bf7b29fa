//! One resource sampler per node: every few seconds it reads the machine (CPU per core, memory, the
//! data folder's disk), the node's process and its throughput, stores the reading (the dashboard's
//! history, and in a farm what every node sees of the others) and updates the `/metrics` gauges.

use super::Service;
use kino_shared::{GpuReading, ResourceSample};
use nvml_wrapper::Nvml;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use sysinfo::{Disks, Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Reads the machine and the node's process (CPU figures are over the time since the last read).
pub struct Sampler {
    sys: System,
    disks: Disks,
    pid: Option<Pid>,
    data_dir: std::path::PathBuf,
    /// NVIDIA's management library, loaded at start where the driver installed it.
    nvml: Option<Nvml>,
}

impl Sampler {
    pub fn new(data_dir: &Path) -> Result<Sampler, sysinfo::Error> {
        let mut s = Sampler {
            sys: System::new()?,
            disks: Disks::new_with_refreshed_list()?,
            pid: sysinfo::get_current_pid().ok(),
            data_dir: data_dir
                .canonicalize()
                .unwrap_or_else(|_| data_dir.to_owned()),
            nvml: match Nvml::init() {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::debug!("no NVIDIA GPU readings: {e}");
                    None
                }
            },
        };
        // The first CPU read only starts the interval.
        s.sys.refresh_cpu_usage();
        s.refresh_process();
        Ok(s)
    }

    fn refresh_process(&mut self) {
        if let Some(pid) = self.pid {
            self.sys.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing().with_cpu().with_memory(),
            );
        }
    }

    /// The machine and the process now (the node's queue and throughput are the caller's).
    pub fn read(&mut self) -> ResourceSample {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        self.refresh_process();
        self.disks.refresh(true);
        let cores: Vec<f64> = self
            .sys
            .cpus()
            .iter()
            .map(|c| f64::from(c.usage()) / 100.0)
            .collect();
        let process = self.pid.and_then(|p| self.sys.process(p));
        // The disk whose mount point is the longest prefix of the data folder.
        let disk = self
            .disks
            .iter()
            .filter(|d| self.data_dir.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len());
        ResourceSample {
            at_ms: crate::store::now_ms(),
            cpu: f64::from(self.sys.global_cpu_usage()) / 100.0,
            cores,
            memory_used_bytes: self.sys.used_memory(),
            memory_total_bytes: self.sys.total_memory(),
            disk_free_bytes: disk.map_or(0, |d| d.available_space()),
            disk_total_bytes: disk.map_or(0, |d| d.total_space()),
            process_cpu_cores: process.map_or(0.0, |p| f64::from(p.cpu_usage()) / 100.0),
            process_memory_bytes: process.map_or(0, |p| p.memory()),
            gpus: self.nvml.as_ref().map_or_else(Vec::new, gpus),
            ..Default::default()
        }
    }
}

/// Each NVIDIA GPU's use and memory; a GPU NVML cannot read (lost, or reset) is left out.
fn gpus(nvml: &Nvml) -> Vec<GpuReading> {
    let count = nvml.device_count().unwrap_or(0);
    (0..count)
        .filter_map(|i| {
            let d = nvml.device_by_index(i).ok()?;
            let memory = d.memory_info().ok()?;
            Some(GpuReading {
                name: d.name().unwrap_or_else(|_| format!("GPU {i}")),
                utilization: d
                    .utilization_rates()
                    .map_or(0.0, |u| f64::from(u.gpu) / 100.0),
                memory_used_bytes: memory.used,
                memory_total_bytes: memory.total,
            })
        })
        .collect()
}

/// Frames the node's running jobs have rendered so far (see `Metrics::progress`).
fn progress(svc: &Service) -> u64 {
    svc.metrics.progress.load(Ordering::Relaxed)
}

impl Service {
    /// Samples every `sample_ms` (of the service's config) until the node stops; a reading the
    /// store refuses is a warning.
    pub(super) fn spawn_sampler(self: Arc<Self>) {
        let every = Duration::from_millis(self.config.sample_ms.max(200));
        let data_dir = self.config.data_dir.clone();
        tokio::spawn(async move {
            let mut sampler =
                match tokio::task::spawn_blocking(move || Sampler::new(&data_dir)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return tracing::warn!("no resource readings: {e}"),
                    Err(e) => return tracing::warn!("no resource readings: {e}"),
                };
            let (mut frames, mut chunks) = (progress(&self), self.metrics.chunks_done.get());
            let mut last = Instant::now();
            loop {
                tokio::time::sleep(every).await;
                let began = Instant::now();
                let (s, back) = match tokio::task::spawn_blocking(move || {
                    let s = sampler.read();
                    (s, sampler)
                })
                .await
                {
                    Ok(r) => r,
                    Err(e) => return tracing::warn!("resource sampler: {e}"),
                };
                sampler = back;
                let mut s = s;
                let secs = last.elapsed().as_secs_f64().max(1e-3);
                last = Instant::now();
                let (f, c) = (progress(&self), self.metrics.chunks_done.get());
                s.frames_per_second = f.saturating_sub(frames) as f64 / secs;
                s.chunks_per_minute = c.saturating_sub(chunks) as f64 * 60.0 / secs;
                (frames, chunks) = (f, c);
                s.node = self.config.node.clone();
                s.running_chunks = (self.config.chunk_slots.max(1)
                    - self
                        .slots
                        .available_permits()
                        .min(self.config.chunk_slots.max(1)))
                    as u64;
                s.queue_depth = self.store.pending_chunks().await.unwrap_or(0);
                self.metrics.observe(&s);
                if let Err(e) = self.store.save_sample(&s).await {
                    tracing::warn!("resource sample not stored: {e}");
                }
                self.metrics
                    .sampler_seconds
                    .inc_by(began.elapsed().as_secs_f64());
            }
        });
    }
}
