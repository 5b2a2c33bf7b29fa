//! `kino-addnoise IN.y4m OUT.y4m SIGMA [SEED]`: the benchmarks' noisy inputs, made exactly as the
//! tests make them.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: kino-addnoise IN.y4m OUT.y4m SIGMA [SEED]");
        std::process::exit(2);
    }
    let sigma: f64 = match args[3].parse() {
        Ok(s) => s,
        Err(_) => {
            eprintln!("kino-addnoise: SIGMA must be a number, got {}", args[3]);
            std::process::exit(2);
        }
    };
    let seed = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    if let Err(e) = kino_tests::add_noise_y4m(
        std::path::Path::new(&args[1]),
        std::path::Path::new(&args[2]),
        sigma,
        seed,
    ) {
        eprintln!("kino-addnoise: {e}");
        std::process::exit(1);
    }
}
