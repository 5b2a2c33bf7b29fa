//! The settings form's parsing: defaults, presets, and errors by field.

use super::*;

#[test]
fn defaults_parse_to_one_colour_stage() {
    let spec = Form::default().parse().expect("valid defaults");
    assert_eq!(spec.stages.len(), 1);
    assert_eq!(spec.stages[0].name(), "color");
    assert_eq!(spec.output.crf, 20);
    assert!(spec.audio_stages.is_empty() && spec.scenes.is_none() && spec.auto_edit.is_none());
}

#[test]
fn neural_model_and_whole_video_options_reach_the_job() {
    let f = Form {
        scale: true,
        model: "fast".into(),
        blend: "0.25".into(),
        scenes: true,
        auto_edit: true,
        loudness: "-23".into(),
        speech_denoise: true,
        speech_engine: "deepfilternet".into(),
        ..Form::default()
    };
    let spec = f.parse().expect("valid");
    let Some(StageSpec::Scale(p)) = spec.stages.last() else {
        panic!("no scale stage: {:?}", spec.stages);
    };
    assert_eq!((p.model, p.blend), (Some(SrModel::Fast), 0.25));
    assert!(!kino_shared::preview::is_per_frame(&spec.stages[1]));
    assert!(spec.scenes.is_some() && spec.auto_edit.is_some());
    let names: Vec<_> = spec.audio_stages.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["denoise", "loudness"]);
    assert_eq!(
        spec.audio_stages[1].loudness().map(|l| l.target_lufs),
        Some(-23.0)
    );
    assert!(matches!(
        &spec.audio_stages[0],
        AudioStageSpec::Denoise(d) if d.engine == AudioDenoiseEngine::DeepFilterNet
    ));
    let private = Form {
        blur_faces: true,
        ..Form::default()
    }
    .parse()
    .expect("valid");
    let Some(StageSpec::Detect(d)) = private.stages.first() else {
        panic!("detect first: {:?}", private.stages);
    };
    assert!(d.faces && d.blur == ["face"] && !d.draw);
    let bad = Form {
        blend: "2".into(),
        ..f
    };
    assert!(bad
        .parse()
        .expect_err("blend > 1")
        .contains_key("scale.blend"));
}

#[test]
fn bad_values_are_explained_by_field() {
    let f = Form {
        contrast: "9".into(),
        saturation: "lots".into(),
        sharpen: true,
        radius: "0".into(),
        crf: "20.5".into(),
        ..Form::default()
    };
    let errs = f.parse().expect_err("invalid");
    assert!(
        errs["color.saturation"].contains("not a number"),
        "{errs:?}"
    );
    // The node's own check reports the first bad field of a stage.
    assert!(errs.contains_key("color.contrast") || errs.contains_key("color.saturation"));
    assert!(
        errs["sharpen.radius"].contains("between 0.3 and 5"),
        "{errs:?}"
    );
    assert!(errs["output.crf"].contains("whole"), "{errs:?}");
}

#[test]
fn every_preset_is_valid() {
    for p in kino_shared::builtin_presets() {
        let form = Form::preset(&p.name);
        assert!(form.parse().is_ok(), "{}", p.name);
        // The form shows every setting of a built-in preset: it renders exactly them.
        assert!(form.shows(&p.settings), "{}", p.name);
    }
    // As the editor showed them before they moved to the shared crate.
    let vivid = Form::preset("Vivid");
    assert_eq!(
        (
            vivid.contrast.as_str(),
            vivid.saturation.as_str(),
            vivid.vibrance.as_str()
        ),
        ("1.15", "1.4", "0.3")
    );
    let up = Form::preset("Upscale ×2");
    assert!(up.scale && up.sharpen && !up.color && up.factor == "2" && up.amount == "0.6");
    let f = Form {
        scale: true,
        width: "1280".into(),
        ..Form::default()
    };
    let errs = f.parse().expect_err("factor and width together");
    assert!(errs.contains_key("scale"), "{errs:?}");
}

#[test]
fn interpolation_reaches_the_job_before_the_upscale() {
    let f = Form {
        interpolate: true,
        interp_fps: "59.94".into(),
        scale: true,
        ..Form::default()
    };
    let spec = f.parse().expect("valid");
    let names: Vec<&str> = spec.stages.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["color", "interpolate", "scale"]);
    let slow = Form {
        interpolate: true,
        interp_mode: "slowmo".into(),
        interp_factor: "17".into(),
        ..Form::default()
    };
    let errs = slow.parse().expect_err("factor 17");
    assert!(errs.contains_key("interpolate.factor"), "{errs:?}");
    let fast = Form {
        interpolate: true,
        interp_fps: "0".into(),
        ..Form::default()
    };
    assert!(fast
        .parse()
        .expect_err("fps 0")
        .contains_key("interpolate.fps"));
}

#[test]
fn interpolation_choices_at_cuts_and_for_slow_motion_sound_reach_the_job() {
    let interp = |f: Form| match f
        .parse()
        .expect("valid")
        .stages
        .into_iter()
        .find(|s| s.name() == "interpolate")
    {
        Some(StageSpec::Interpolate(p)) => p,
        other => panic!("{other:?}"),
    };
    let p = interp(Form {
        interpolate: true,
        interp_mode: "slowmo".into(),
        interp_factor: "4".into(),
        interp_at_cut: "blend".into(),
        interp_audio: "drop".into(),
        ..Form::default()
    });
    assert_eq!(
        (p.factor, p.at_cut, p.audio),
        (Some(4), AtCut::Blend, SlowmoAudio::Drop)
    );
    let p = interp(Form {
        interpolate: true,
        interp_mode: "slowmo".into(),
        ..Form::default()
    });
    assert_eq!((p.at_cut, p.audio), (AtCut::Repeat, SlowmoAudio::Stretch));
}

#[test]
fn the_chosen_order_is_the_jobs_and_a_refused_one_is_explained() {
    let f = Form {
        sharpen: true,
        scale: true,
        order: crate::order::moved(
            &crate::order::default_order(),
            &["color", "sharpen", "scale"],
            "scale",
            -1,
        ),
        ..Form::default()
    };
    let spec = f.parse().expect("valid");
    let names: Vec<_> = spec.stages.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["color", "scale", "sharpen"]);
    // Automatic colour reads the source's analysis: not after interpolation.
    let f = Form {
        auto_white_balance: true,
        interpolate: true,
        order: vec!["interpolate".into(), "color".into()],
        ..Form::default()
    };
    let errs = f.parse().expect_err("refused");
    assert!(
        errs.get("color")
            .is_some_and(|m| m.contains("before interpolate")),
        "{errs:?}"
    );
}
