//! Unit tests of the wire types.

use super::*;

#[test]
fn detect_fields_are_checked_by_name() {
    let spec = |stages: serde_json::Value| -> Result<(), SpecError> {
        let s: JobSpec =
            serde_json::from_value(serde_json::json!({"input": "x", "stages": stages}))
                .map_err(|e| SpecError::new("json", e.to_string()))?;
        s.validate()
    };
    assert!(spec(serde_json::json!([{"kind": "detect"}])).is_ok());
    let field = |stages| spec(stages).unwrap_err().field;
    assert_eq!(
        field(serde_json::json!([{"kind": "detect", "every": 0}])),
        "stages.detect.every"
    );
    assert_eq!(
        field(serde_json::json!([{"kind": "detect", "classes": "person+unicorn"}])),
        "stages.detect.classes"
    );
    assert_eq!(
        field(serde_json::json!([{"kind": "detect", "classes": ["car"], "blur": "face"}])),
        "stages.detect.blur"
    );
    assert_eq!(
        field(serde_json::json!([{"kind": "stabilize"}, {"kind": "detect"}])),
        "stages.detect"
    );
    assert_eq!(
        field(serde_json::json!([{"kind": "detect"}, {"kind": "detect"}])),
        "stages.detect"
    );
    let p: DetectParams =
        serde_json::from_value(serde_json::json!({"classes": "person+car", "blur": ["face"]}))
            .unwrap();
    assert_eq!(p.classes, vec!["person", "car"]);
    assert!(p.wants_faces() && p.wants_objects());
    assert_eq!(p.class_mask(), 1 | 1 << 2 | 1 << FACE_CLASS);
    assert_eq!(p.blur_mask(), 1 << FACE_CLASS);
}

#[test]
fn sync_is_refused_with_auto_edit_but_loudness_is_not() {
    let spec = |audio: serde_json::Value| -> Result<(), SpecError> {
        serde_json::from_value::<JobSpec>(serde_json::json!({
            "input": "x", "auto_edit": {}, "audio_stages": audio
        }))
        .map_err(|e| SpecError::new("json", e.to_string()))?
        .validate()
    };
    let e = spec(serde_json::json!([{"kind": "sync", "track": "mic.wav"}])).unwrap_err();
    assert_eq!(e.field, "audio_stages.sync");
    assert!(spec(serde_json::json!([{"kind": "loudness"}])).is_ok());
}

#[test]
fn field_rate_refuses_what_measures_source_frames() {
    let spec = |v: serde_json::Value| -> Result<(), SpecError> {
        serde_json::from_value::<JobSpec>(v)
            .map_err(|e| SpecError::new("json", e.to_string()))?
            .validate()
    };
    let field = serde_json::json!({"kind": "deinterlace", "mode": "field"});
    let e = spec(serde_json::json!({"input": "x", "stages": [field, {"kind": "stabilize"}]}))
        .unwrap_err();
    assert_eq!(e.field, "stages.deinterlace.mode");
    assert!(e.message.contains("stabilize"), "{}", e.message);
    let e =
        spec(serde_json::json!({"input": "x", "stages": [field], "auto_edit": {}})).unwrap_err();
    assert!(e.message.contains("auto_edit"), "{}", e.message);
    // Stages that work frame by frame, and scene detection (a report), are fine.
    spec(
        serde_json::json!({"input": "x", "stages": [field, {"kind": "scale", "factor": 2},
        {"kind": "denoise"}], "scenes": {}}),
    )
    .unwrap();
    // Frame mode combines with everything.
    spec(
        serde_json::json!({"input": "x", "stages": [{"kind": "deinterlace", "mode": "frame"},
        {"kind": "stabilize"}], "auto_edit": {}}),
    )
    .unwrap();
}

#[test]
fn spec_round_trips_and_defaults() {
    let spec: JobSpec = serde_json::from_str(
        r#"{"input":"a.mp4","stages":[{"kind":"scale","width":1280},{"kind":"color","saturation":1.2}]}"#,
    )
    .unwrap();
    assert_eq!(spec.chunk_seconds, 4.0);
    assert_eq!(spec.output.crf, 20);
    assert_eq!(spec.stages.len(), 2);
    spec.validate().unwrap();
    let back: JobSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn unknown_stage_and_fields_are_rejected() {
    assert!(
        serde_json::from_str::<JobSpec>(r#"{"input":"a","stages":[{"kind":"warp"}]}"#).is_err()
    );
    assert!(serde_json::from_str::<JobSpec>(r#"{"input":"a","colour":1}"#).is_err());
}

#[test]
fn out_of_range_parameters_name_the_field() {
    let mut spec = JobSpec {
        input: "a".into(),
        stages: vec![StageSpec::Scale(ScaleParams {
            width: Some(0),
            ..Default::default()
        })],
        audio_stages: vec![],
        scenes: None,
        auto_edit: None,
        keep: Vec::new(),
        analyse_only: false,
        output: OutputSpec::default(),
        chunk_seconds: 4.0,
    };
    assert_eq!(spec.validate().unwrap_err().field, "stages.scale.width");
    spec.stages = vec![StageSpec::Scale(ScaleParams {
        factor: Some(40.0),
        ..Default::default()
    })];
    assert_eq!(spec.validate().unwrap_err().field, "stages.scale.factor");
    spec.stages = vec![StageSpec::Color(ColorParams {
        contrast: -1.0,
        ..Default::default()
    })];
    assert_eq!(spec.validate().unwrap_err().field, "stages.color.contrast");
    spec.stages = vec![];
    spec.output.preset = "warp9".into();
    assert_eq!(spec.validate().unwrap_err().field, "output.preset");
}

#[test]
fn scale_takes_a_neural_model() {
    let spec: JobSpec = serde_json::from_str(
        r#"{"input":"a.mp4","stages":[{"kind":"scale","factor":4,"model":"quality","blend":0.25}]}"#,
    )
    .unwrap();
    let StageSpec::Scale(p) = &spec.stages[0] else {
        panic!("not scale")
    };
    assert_eq!((p.model, p.blend), (Some(SrModel::Quality), 0.25));
    assert!(spec.validate().is_ok());
    // The classic stage's JSON is unchanged.
    let plain = serde_json::to_string(&ScaleParams::default()).unwrap();
    assert!(
        !plain.contains("model") && !plain.contains("blend"),
        "{plain}"
    );
    let bad = ScaleParams {
        factor: Some(2.0),
        blend: 1.5,
        ..Default::default()
    };
    assert_eq!(bad.validate().unwrap_err().field, "stages.scale.blend");
    let bad: Result<ScaleParams, _> = serde_json::from_str(r#"{"factor":2,"model":"huge"}"#);
    assert!(bad.is_err());
}

#[test]
fn scale_keeps_aspect_and_alignment() {
    let p = ScaleParams {
        width: Some(1280),
        ..Default::default()
    };
    assert_eq!(p.target_size(1920, 1080, 2).unwrap(), (1280, 720));
    let p = ScaleParams {
        factor: Some(0.5),
        ..Default::default()
    };
    assert_eq!(p.target_size(765, 575, 2).unwrap(), (382, 288));
    let p = ScaleParams {
        factor: Some(16.0),
        ..Default::default()
    };
    assert!(p.target_size(1920, 1080, 2).is_err());
}

/// The kinds serde knows, read from its own "expected one of" message for an unknown kind.
fn serde_kinds<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
    let err = serde_json::from_str::<T>(r#"{"kind":"no-such-kind"}"#).unwrap_err();
    let msg = err.to_string();
    let list = msg.split("expected one of ").nth(1).expect("variant list");
    list.split(',')
        .map(|s| {
            s.trim()
                .trim_matches(|c: char| c == '`' || !c.is_ascii())
                .to_owned()
        })
        .map(|s| s.split('`').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn kind_lists_name_every_stage() {
    assert_eq!(serde_kinds::<StageSpec>(), StageSpec::KINDS);
    assert_eq!(serde_kinds::<AudioStageSpec>(), AudioStageSpec::KINDS);
}

#[test]
fn scale_sizes_are_display_sizes_for_anamorphic_input() {
    let cif = Sar::new(128, 117);
    let x2 = ScaleParams {
        factor: Some(2.0),
        ..Default::default()
    };
    // 176x144 at 128:117 shows as 192.6x144; twice that in square pixels.
    assert_eq!(
        x2.target(176, 144, cif, 2).unwrap(),
        (386, 288, Sar::SQUARE)
    );
    let keep = ScaleParams {
        pixels: PixelAspect::Keep,
        ..x2.clone()
    };
    assert_eq!(keep.target(176, 144, cif, 2).unwrap(), (352, 288, cif));
    // HDV: 1440x1080 at 4:3 is 1920x1080 on screen; width=1280 is the display width.
    let hdv = Sar::new(4, 3);
    let w = ScaleParams {
        width: Some(1280),
        ..Default::default()
    };
    assert_eq!(
        w.target(1440, 1080, hdv, 2).unwrap(),
        (1280, 720, Sar::SQUARE)
    );
    let w_keep = ScaleParams {
        pixels: PixelAspect::Keep,
        ..w
    };
    assert_eq!(w_keep.target(1440, 1080, hdv, 2).unwrap(), (960, 720, hdv));
    // Square pixels: unchanged from before.
    assert_eq!(
        x2.target(214, 160, Sar::SQUARE, 2).unwrap(),
        (428, 320, Sar::SQUARE)
    );
    assert_eq!(Sar::new(0, 1), Sar::SQUARE);
    assert_eq!(Sar::new(256, 234), cif);
    assert_eq!(cif.display_size(176, 144), (193, 144));
}

#[test]
fn events_are_tagged() {
    let e = ProgressEvent::ChunkDone {
        job: "j".into(),
        chunk: 3,
        frames: 100,
        timings: Vec::new(),
    };
    let s = serde_json::to_string(&e).unwrap();
    assert!(s.contains(r#""type":"chunk_done""#), "{s}");
}

#[test]
fn webm_needs_a_webm_codec() {
    let mut o = OutputSpec {
        container: Container::Webm,
        ..Default::default()
    };
    assert_eq!(o.validate().unwrap_err().field, "output.container");
    o.codec = VideoCodec::Vp9;
    o.validate().unwrap();
}

#[test]
fn audio_stages_parse_with_defaults_and_are_checked() {
    let spec: JobSpec = serde_json::from_str(
        r#"{"input":"a","audio_stages":[{"kind":"denoise"},{"kind":"sync","track":"t.wav"},{"kind":"loudness"}]}"#,
    )
    .unwrap();
    spec.validate().unwrap();
    assert_eq!(
        spec.audio_stages[0],
        AudioStageSpec::Denoise(AudioDenoiseParams::default())
    );
    let sync = spec.audio_stages[1].sync().unwrap();
    assert_eq!(
        (sync.mode, sync.level, sync.max_offset_seconds),
        (SyncMode::Replace, 0.5, 10.0)
    );
    let field = |json: &str| {
        serde_json::from_str::<JobSpec>(json)
            .unwrap()
            .validate()
            .unwrap_err()
            .field
    };
    assert_eq!(
        field(r#"{"input":"a","audio_stages":[{"kind":"denoise","mix":1.5}]}"#),
        "audio_stages.denoise.mix"
    );
    assert_eq!(
        field(r#"{"input":"a","audio_stages":[{"kind":"sync","track":" "}]}"#),
        "audio_stages.sync.track"
    );
    assert_eq!(
        field(
            r#"{"input":"a","audio_stages":[{"kind":"sync","track":"t","max_offset_seconds":0}]}"#
        ),
        "audio_stages.sync.max_offset_seconds"
    );
    assert_eq!(
        field(
            r#"{"input":"a","audio_stages":[{"kind":"sync","track":"t"},{"kind":"sync","track":"u"}]}"#
        ),
        "audio_stages.sync"
    );
    let spec: JobSpec = serde_json::from_str(
        r#"{"input":"a","audio_stages":[{"kind":"denoise","engine":"deepfilternet","mix":0.9}]}"#,
    )
    .unwrap();
    assert_eq!(
        spec.audio_stages,
        vec![AudioStageSpec::Denoise(AudioDenoiseParams {
            engine: AudioDenoiseEngine::DeepFilterNet,
            mix: 0.9
        })]
    );
    assert_eq!(
        serde_json::to_value(AudioDenoiseEngine::DeepFilterNet).unwrap(),
        "deepfilternet"
    );
    assert!(serde_json::from_str::<JobSpec>(
        r#"{"input":"a","audio_stages":[{"kind":"denoise","engine":"dfn"}]}"#
    )
    .is_err());
}

#[test]
fn target_quality_parses_and_refuses_what_cannot_work() {
    let t: TargetQuality = "ssimulacra2=80".parse().unwrap();
    assert_eq!((t.metric, t.value), (TargetMetric::Ssimulacra2, 80.0));
    assert_eq!(t.crf_range(VideoCodec::H264), (10, 45));
    let err = "vmaf=95".parse::<TargetQuality>().unwrap_err();
    assert!(err.contains("unknown metric 'vmaf'"), "{err}");
    assert!("psnr".parse::<TargetQuality>().is_err());
    let mut o = OutputSpec {
        target_quality: Some("psnr=42".parse().unwrap()),
        ..Default::default()
    };
    o.validate().unwrap();
    o.target_quality = Some("ssimulacra2=120".parse().unwrap());
    assert_eq!(
        o.validate().unwrap_err().field,
        "output.target_quality.value"
    );
    let mut t: TargetQuality = "psnr=40".parse().unwrap();
    t.crf_max = Some(60);
    o.target_quality = Some(t);
    assert_eq!(
        o.validate().unwrap_err().field,
        "output.target_quality.crf_max"
    );
    // Old specs (no field) still read.
    let spec: OutputSpec = serde_json::from_str(r#"{"codec":"h264"}"#).unwrap();
    assert!(spec.target_quality.is_none());
}
