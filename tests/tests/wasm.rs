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

/// Loads the wasm module given as the first argument, stubs whatever it imports, and prints the
/// total digest then one line per kernel (`index digest`), digests as unsigned decimal.
const NODE_DIGEST_SCRIPT: &str = r#"
const fs = require("fs");
const module = new WebAssembly.Module(fs.readFileSync(process.argv[1]));
const imports = {};
for (const imp of WebAssembly.Module.imports(module)) {
  imports[imp.module] = imports[imp.module] || {};
  imports[imp.module][imp.name] = () => { throw new Error("unexpected import " + imp.module + "." + imp.name); };
}
WebAssembly.instantiate(module, imports).then((instance) => {
  const e = instance.exports;
  const u64 = (v) => BigInt.asUintN(64, v).toString();
  const lines = ["total " + u64(e.kernels_digest())];
  for (let i = 0; i < e.kernel_count(); i++) lines.push(i + " " + u64(e.kernel_digest(i)));
  console.log(lines.join("\n"));
});
"#;

/// Every kernel gives the same bits natively and in WebAssembly: kino-wasm-digest runs them all on
/// fixed synthetic frames and hashes the output, built for wasm32 (run by Node.js) and natively.
#[test]
fn kernels_give_identical_output_natively_and_in_wasm() {
    let root = kino_tests::root();
    let target_dir = root.join("target").join("wasm-check");
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "-q",
            "--release",
            "-p",
            "kino-wasm-digest",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(&root)
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "wasm32 build of kino-wasm-digest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = target_dir
        .join("wasm32-unknown-unknown")
        .join("release")
        .join("kino_wasm_digest.wasm");
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(NODE_DIGEST_SCRIPT)
        .arg(&wasm)
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed on {}: {stdout}{}",
        wasm.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut wasm_total = None;
    let mut wasm_kernels = Vec::new();
    for line in stdout.lines() {
        let (key, value) = line.split_once(' ').expect("`key digest` lines from node");
        let value: u64 = value.parse().expect("a u64 digest from node");
        match key {
            "total" => wasm_total = Some(value),
            _ => wasm_kernels.push(value),
        }
    }
    let names = kino_wasm_digest::KERNELS;
    let native: Vec<u64> = (0..names.len() as u32)
        .map(|i| kino_wasm_digest::kernel_digest(i))
        .collect();
    assert_eq!(
        wasm_kernels.len(),
        names.len(),
        "node printed {} kernel digests: {stdout}",
        wasm_kernels.len()
    );
    let differing: Vec<String> = names
        .iter()
        .zip(native.iter().zip(&wasm_kernels))
        .filter(|(_, (n, w))| n != w)
        .map(|(name, (n, w))| format!("{name}: native {n:016x}, wasm32 {w:016x}"))
        .collect();
    assert!(
        differing.is_empty(),
        "kernels whose output differs between native and wasm32:\n  {}",
        differing.join("\n  ")
    );
    let total = kino_wasm_digest::kernels_digest();
    assert_eq!(
        wasm_total,
        Some(total),
        "total digest differs: native {total:016x}, wasm32 {wasm_total:x?}"
    );
    println!(
        "native and wasm32 agree on all {} kernels: digest {total:016x}",
        names.len()
    );
}
