//! kino-shared must build for the browser: checked with a real wasm32 build in its own target folder.

#[test]
fn shared_crate_builds_for_wasm32() {
    let root = kino_tests::root();
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "-q",
            "-p",
            "kino-shared",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(root.join("target").join("wasm-check"))
        .current_dir(&root)
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "wasm32 build of kino-shared failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
