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

/// The frames an encoder preset holds besides its look-ahead: reference frames and B-frames
/// (x264's preset table; x265's and the mapped AV1/VP9 presets hold no more). An unknown name
/// counts as `medium`.
fn preset_frames(preset: &str) -> (f64, f64) {
    // (look-ahead, references + B-frames)
    match preset {
        "ultrafast" => (0.0, 1.0),
        "superfast" => (0.0, 4.0),
        "veryfast" => (10.0, 4.0),
        "faster" => (20.0, 5.0),
        "fast" => (30.0, 5.0),
        "slow" => (50.0, 8.0),
        "slower" => (60.0, 11.0),
        "veryslow" => (60.0, 24.0),
        "placebo" => (60.0, 32.0),
        _ => (40.0, 6.0),
    }
}

/// Fits chunk workers into `memory_bytes` for `w`×`h` output encoded with `preset`. An x264/x265
/// instance holds about 2.5 frame-sizes per frame of look-ahead, references, B-frames and threads
/// (measured: 2.0 GiB at 4K with `medium`'s look-ahead 40 and 2 threads; at `ultrafast`, with
/// neither look-ahead nor B-frames, 170 MiB a worker); when one worker does not fit, the
/// look-ahead is shortened.
pub fn plan_resources(
    w: u32,
    h: u32,
    preset: &str,
    cores: usize,
    memory_bytes: u64,
    max_workers: Option<usize>,
) -> Resources {
    const BASE: f64 = 150.0 * 1024.0 * 1024.0;
    let (preset_lookahead, held) = preset_frames(preset);
    let cores = cores.max(1);
    let frame = w as f64 * h as f64 * 1.5 * 2.5;
    let per_worker = |threads: usize, lookahead: f64| {
        BASE + frame * (lookahead + held + 9.0 + 4.0 * threads as f64)
    };
    let top = max_workers
        .unwrap_or(cores)
        .clamp(1, cores.max(max_workers.unwrap_or(1)));
    for workers in (1..=top).rev() {
        let threads = (cores / workers).max(1);
        if workers as f64 * per_worker(threads, preset_lookahead) <= memory_bytes as f64 {
            return Resources {
                workers,
                threads,
                lookahead: None,
            };
        }
    }
    let threads = cores.min(2);
    let room = (memory_bytes as f64 - BASE) / frame - held - 9.0 - 4.0 * threads as f64;
    Resources {
        workers: 1,
        threads,
        lookahead: (preset_lookahead > 8.0).then(|| room.clamp(8.0, preset_lookahead) as u32),
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
        let r = plan_resources(1920, 1080, "medium", 8, 16 * GIB, None);
        assert_eq!((r.workers, r.threads, r.lookahead), (8, 1, None));
        let r = plan_resources(1920, 1080, "medium", 8, 16 * GIB, Some(2));
        assert_eq!((r.workers, r.threads), (2, 4));
    }

    #[test]
    fn large_frames_in_little_memory_get_fewer_workers_then_a_shorter_look_ahead() {
        let r = plan_resources(3840, 2160, "medium", 8, 3 * GIB, None);
        assert!(r.workers < 8 && r.workers >= 1, "{r:?}");
        let r = plan_resources(7680, 4320, "medium", 8, GIB, None);
        assert_eq!(r.workers, 1);
        assert!(r.lookahead.is_some_and(|l| (8..40).contains(&l)), "{r:?}");
    }

    #[test]
    fn fast_presets_hold_fewer_frames_so_more_workers_fit() {
        // The CLI's default budget: a 4K output at medium fits one worker, at ultrafast two.
        let budget = 1350 << 20;
        assert_eq!(
            plan_resources(3840, 2160, "medium", 2, budget, None).workers,
            1
        );
        let r = plan_resources(3840, 2160, "ultrafast", 2, budget, None);
        assert_eq!((r.workers, r.lookahead), (2, None));
    }

    #[test]
    fn output_size_follows_scale_stages() {
        let spec: JobSpec =
            serde_json::from_str(r#"{"input":"x","stages":[{"kind":"scale","factor":2}]}"#)
                .unwrap();
        assert_eq!(output_size(&spec, 640, 360), (1280, 720));
    }
}
