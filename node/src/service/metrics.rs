//! The node's Prometheus metrics: job and chunk counts, throughput, and the resource sampler's
//! latest reading as gauges (machine, process, disk, queue). Served as OpenMetrics to scrapers that
//! ask for it (Prometheus does) and as the classic text format otherwise (`promtool check metrics`,
//! curl).

use crate::store::Store;
use kino_shared::ResourceSample;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartLabel {
    part: String,
}

/// Seconds a chunk spends in one part: 10 ms to about 10 minutes.
fn part_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.5, 12))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CoreLabel {
    core: String,
}

/// A GPU by its NVML index, named by its model.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GpuLabel {
    gpu: String,
    name: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The resource sampler's gauges.
#[derive(Default)]
struct Resources {
    cpu: FloatGauge,
    core: Family<CoreLabel, FloatGauge>,
    memory_used: Gauge,
    memory_total: Gauge,
    disk_free: Gauge,
    disk_total: Gauge,
    process_cpu: FloatGauge,
    process_memory: Gauge,
    queue: Gauge,
    running: Gauge,
    chunks_per_minute: FloatGauge,
    gpu_use: Family<GpuLabel, FloatGauge>,
    gpu_memory_used: Family<GpuLabel, Gauge>,
    gpu_memory_total: Family<GpuLabel, Gauge>,
}

/// Prometheus metrics of the node.
pub struct Metrics {
    registry: Registry,
    jobs: Family<StateLabel, Gauge>,
    pub chunks_done: Counter,
    pub chunks_failed: Counter,
    pub frames: Counter,
    pub upload_bytes: Counter,
    pub errors: Counter,
    pub(super) fps: FloatGauge,
    /// Frames the running jobs have rendered, counted as their progress events report them (not
    /// only when a chunk finishes): the sampler's frames per second.
    pub(super) progress: AtomicU64,
    /// The data folder's uploads and outputs, and what the janitor removed.
    storage: Family<KindLabel, Gauge>,
    freed: Counter,
    /// Seconds the resource sampler spent on its readings (reading, counting the queue, storing).
    pub(super) sampler_seconds: Counter<f64, AtomicU64>,
    /// Seconds per chunk in each part (decode, convert, each stage by name, encode, measure).
    parts: Family<PartLabel, Histogram, fn() -> Histogram>,
    res: Resources,
}

impl Metrics {
    pub(super) fn new() -> Self {
        let mut registry = Registry::with_prefix("kino");
        let m = Metrics {
            registry: Registry::default(),
            jobs: Family::default(),
            chunks_done: Counter::default(),
            chunks_failed: Counter::default(),
            frames: Counter::default(),
            upload_bytes: Counter::default(),
            errors: Counter::default(),
            fps: Gauge::default(),
            progress: AtomicU64::new(0),
            storage: Family::default(),
            freed: Counter::default(),
            sampler_seconds: Counter::default(),
            parts: Family::new_with_constructor(part_histogram),
            res: Resources::default(),
        };
        let r = &mut registry;
        r.register("jobs", "Jobs by state", m.jobs.clone());
        r.register("chunks_done", "Chunks rendered", m.chunks_done.clone());
        r.register(
            "chunks_failed",
            "Chunk attempts that failed",
            m.chunks_failed.clone(),
        );
        r.register("frames_rendered", "Frames rendered", m.frames.clone());
        r.register(
            "upload_bytes",
            "Bytes received by uploads",
            m.upload_bytes.clone(),
        );
        r.register("errors", "Failed jobs and server errors", m.errors.clone());
        r.register(
            "render_fps",
            "Frames per second of the running jobs",
            m.fps.clone(),
        );
        r.register_with_unit(
            "chunk_part",
            "Time a chunk rendered here spent in each part of its work",
            Unit::Seconds,
            m.parts.clone(),
        );
        r.register_with_unit(
            "storage",
            "Uploads and outputs in the data folder, by kind",
            Unit::Bytes,
            m.storage.clone(),
        );
        r.register_with_unit(
            "janitor_freed",
            "Bytes the janitor removed (uploads and outputs past the retention)",
            Unit::Bytes,
            m.freed.clone(),
        );
        r.register_with_unit(
            "sampler",
            "Wall time of the resource sampler's rounds (reading, counting the queue, storing): an upper bound on its CPU cost",
            Unit::Seconds,
            m.sampler_seconds.clone(),
        );
        let res = &m.res;
        let ratio = |r: &mut Registry, name: &str, help: &str, g: &FloatGauge| {
            r.register_with_unit(name, help, Unit::Other("ratio".into()), g.clone())
        };
        ratio(r, "node_cpu_usage", "CPU use of the machine, 0-1", &res.cpu);
        r.register_with_unit(
            "node_core_usage",
            "CPU use of each core, 0-1",
            Unit::Other("ratio".into()),
            res.core.clone(),
        );
        let bytes = |r: &mut Registry, name: &str, help: &str, g: &Gauge| {
            r.register_with_unit(name, help, Unit::Bytes, g.clone())
        };
        bytes(
            r,
            "node_memory_used",
            "Memory in use on the machine",
            &res.memory_used,
        );
        bytes(
            r,
            "node_memory_total",
            "Memory of the machine",
            &res.memory_total,
        );
        bytes(
            r,
            "data_disk_free",
            "Free space on the data folder's disk",
            &res.disk_free,
        );
        bytes(
            r,
            "data_disk_total",
            "Size of the data folder's disk",
            &res.disk_total,
        );
        bytes(
            r,
            "process_resident_memory",
            "Resident memory of the node's process",
            &res.process_memory,
        );
        r.register(
            "process_cpu_cores",
            "CPU cores the node's process keeps busy",
            res.process_cpu.clone(),
        );
        r.register(
            "queue_chunks",
            "Chunks waiting to be rendered, all jobs",
            res.queue.clone(),
        );
        r.register(
            "running_chunks",
            "Chunks rendering on this node",
            res.running.clone(),
        );
        r.register(
            "chunks_per_minute",
            "Chunks this node finished per minute, over the last reading",
            res.chunks_per_minute.clone(),
        );
        r.register_with_unit(
            "gpu_usage",
            "Share of time each NVIDIA GPU ran kernels, 0-1 (absent without NVML)",
            Unit::Other("ratio".into()),
            res.gpu_use.clone(),
        );
        r.register_with_unit(
            "gpu_memory_used",
            "Memory in use on each NVIDIA GPU",
            Unit::Bytes,
            res.gpu_memory_used.clone(),
        );
        r.register_with_unit(
            "gpu_memory_total",
            "Memory of each NVIDIA GPU",
            Unit::Bytes,
            res.gpu_memory_total.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts a rendered chunk's time by part in the stage-timing histograms.
    pub fn observe_chunk(&self, timings: &[kino_shared::PartTime]) {
        for t in timings {
            self.parts
                .get_or_create(&PartLabel {
                    part: t.part.clone(),
                })
                .observe(t.seconds);
        }
    }

    /// Sets the storage gauges from the janitor's measure and counts what it removed.
    pub fn observe_storage(
        &self,
        uploads: u64,
        outputs: u64,
        removed: &[kino_shared::RemovedFile],
    ) {
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for (kind, bytes) in [("uploads", uploads), ("outputs", outputs)] {
            self.storage
                .get_or_create(&KindLabel { kind: kind.into() })
                .set(int(bytes));
        }
        self.freed.inc_by(removed.iter().map(|r| r.bytes).sum());
    }

    /// Sets the resource gauges from the sampler's reading.
    pub fn observe(&self, s: &ResourceSample) {
        let r = &self.res;
        r.cpu.set(s.cpu);
        for (i, c) in s.cores.iter().enumerate() {
            r.core
                .get_or_create(&CoreLabel {
                    core: i.to_string(),
                })
                .set(*c);
        }
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        r.memory_used.set(int(s.memory_used_bytes));
        r.memory_total.set(int(s.memory_total_bytes));
        r.disk_free.set(int(s.disk_free_bytes));
        r.disk_total.set(int(s.disk_total_bytes));
        r.process_cpu.set(s.process_cpu_cores);
        r.process_memory.set(int(s.process_memory_bytes));
        r.queue.set(int(s.queue_depth));
        r.running.set(int(s.running_chunks));
        r.chunks_per_minute.set(s.chunks_per_minute);
        for (i, g) in s.gpus.iter().enumerate() {
            let gpu = GpuLabel {
                gpu: i.to_string(),
                name: g.name.clone(),
            };
            r.gpu_use.get_or_create(&gpu).set(g.utilization);
            r.gpu_memory_used
                .get_or_create(&gpu)
                .set(int(g.memory_used_bytes));
            r.gpu_memory_total
                .get_or_create(&gpu)
                .set(int(g.memory_total_bytes));
        }
    }

    /// The OpenMetrics exposition, with job counts read from the store.
    pub async fn render(&self, store: &Store) -> String {
        if let Ok(counts) = store.job_counts().await {
            for s in [
                "queued",
                "analysing",
                "rendering",
                "assembling",
                "done",
                "failed",
                "cancelled",
            ] {
                let n = counts
                    .iter()
                    .find(|(st, _)| st == s)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                self.jobs
                    .get_or_create(&StateLabel { state: s.into() })
                    .set(n);
            }
        }
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The classic Prometheus text format (0.0.4) of an OpenMetrics exposition: a counter's family
/// takes its samples' `_total` name, and there is no `# EOF`.
pub fn text_format(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for l in openmetrics.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.insert(name.to_owned());
            }
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for l in openmetrics.lines() {
        if l == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE ", "# UNIT "].iter().find_map(|p| {
            let rest = l.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{p}{name}_total {tail}"))
        });
        match renamed {
            // Units are OpenMetrics only.
            _ if l.starts_with("# UNIT ") => {}
            Some(r) => out.push_str(&r),
            None => out.push_str(l),
        }
        if !l.starts_with("# UNIT ") {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_their_samples_name_in_the_text_format() {
        let om = "# HELP kino_frames Frames.\n# TYPE kino_frames counter\nkino_frames_total 3\n\
                  # HELP kino_disk_free_bytes Free.\n# TYPE kino_disk_free_bytes gauge\n\
                  # UNIT kino_disk_free_bytes bytes\nkino_disk_free_bytes 9\n# EOF\n";
        assert_eq!(
            text_format(om),
            "# HELP kino_frames_total Frames.\n# TYPE kino_frames_total counter\nkino_frames_total 3\n\
             # HELP kino_disk_free_bytes Free.\n# TYPE kino_disk_free_bytes gauge\nkino_disk_free_bytes 9\n"
        );
    }
}
