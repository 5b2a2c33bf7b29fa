//! `kino-motion VIDEO…`: frame-to-frame motion of each video (RMS translation and rotation, and
//! jitter), the stabilisation benchmark's measure, computed as the tests compute it.

fn main() {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: kino-motion VIDEO…");
        std::process::exit(2);
    }
    for p in paths {
        let path = std::path::Path::new(&p);
        if !path.is_file() {
            eprintln!("kino-motion: {p}: not found");
            std::process::exit(1);
        }
        let m = kino_tests::video_motion(path);
        let t = kino_tests::rms(m.iter().flat_map(|v| [v.0, v.1]));
        let r = kino_tests::rms(m.iter().map(|v| v.2));
        let j = kino_tests::jitter(&m);
        println!("{p}\ttranslation_rms_px={t:.3}\trotation_rms_deg={r:.4}\tjitter_px={j:.3}");
    }
}
