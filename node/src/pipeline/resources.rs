//! How a job uses the machine: chunk workers, encoder threads and look-ahead, fitted into memory.

use kino_shared::JobSpec;

/// How a job uses the machine: chunk workers, encoder threads each, and the encoder look-ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    pub workers: usize,
    pub threads: usize,
    /// Cap on x264/x265 `rc-lookahead` when frames are large (memory), `None` for the preset's own.
    pub lookahead: Option<u32>,
}

/// Fits chunk workers into `memory_bytes` for `w`×`h` output. An x264/x265 instance holds about
/// 2.5 frame-sizes per frame of look-ahead, B-frames and threads (measured: 2.0 GiB at 4K with
/// look-ahead 40 and 2 threads); when one worker does not fit, the look-ahead is shortened.
pub fn plan_resources(
    w: u32,
    h: u32,
    cores: usize,
    memory_bytes: u64,
    max_workers: Option<usize>,
) -> Resources {
    const BASE: f64 = 150.0 * 1024.0 * 1024.0;
    const DEFAULT_LOOKAHEAD: f64 = 40.0;
    let cores = cores.max(1);
    let frame = w as f64 * h as f64 * 1.5 * 2.5;
    let per_worker =
        |threads: usize, lookahead: f64| BASE + frame * (lookahead + 15.0 + 4.0 * threads as f64);
    let top = max_workers
        .unwrap_or(cores)
        .clamp(1, cores.max(max_workers.unwrap_or(1)));
    for workers in (1..=top).rev() {
        let threads = (cores / workers).max(1);
        if workers as f64 * per_worker(threads, DEFAULT_LOOKAHEAD) <= memory_bytes as f64 {
            return Resources {
                workers,
                threads,
                lookahead: None,
            };
        }
    }
    let threads = cores.min(2);
    let room = (memory_bytes as f64 - BASE) / frame - 15.0 - 4.0 * threads as f64;
    Resources {
        workers: 1,
        threads,
        lookahead: Some(room.clamp(8.0, DEFAULT_LOOKAHEAD) as u32),
    }
}

/// Output size after the stages (the encoder's frames), for resource planning.
pub fn output_size(spec: &JobSpec, w: u32, h: u32) -> (u32, u32) {
    spec.stages.iter().fold((w, h), |(w, h), s| match s {
        kino_shared::StageSpec::Scale(p) => p.target_size(w, h, 2).unwrap_or((w, h)),
        _ => (w, h),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn workers_fill_the_cores_when_memory_allows() {
        let r = plan_resources(1920, 1080, 8, 16 * GIB, None);
        assert_eq!((r.workers, r.threads, r.lookahead), (8, 1, None));
        let r = plan_resources(1920, 1080, 8, 16 * GIB, Some(2));
        assert_eq!((r.workers, r.threads), (2, 4));
    }

    #[test]
    fn large_frames_in_little_memory_get_fewer_workers_then_a_shorter_look_ahead() {
        let r = plan_resources(3840, 2160, 8, 3 * GIB, None);
        assert!(r.workers < 8 && r.workers >= 1, "{r:?}");
        let r = plan_resources(7680, 4320, 8, GIB, None);
        assert_eq!(r.workers, 1);
        assert!(r.lookahead.is_some_and(|l| (8..40).contains(&l)), "{r:?}");
    }

    #[test]
    fn output_size_follows_scale_stages() {
        let spec: JobSpec =
            serde_json::from_str(r#"{"input":"x","stages":[{"kind":"scale","factor":2}]}"#)
                .unwrap();
        assert_eq!(output_size(&spec, 640, 360), (1280, 720));
    }
}
