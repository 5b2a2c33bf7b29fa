//! A/B of a finished job while it plays: the result and the local source in one view, cut by a
//! wipe. Both show at the same size (an upscaled result too); the source follows the result's clock
//! by time, mapped through the job's trim and slow motion, nudged by playback rate and re-seeked
//! when it falls too far behind.

use gloo_timers::callback::Interval;
use kino_shared::{JobSpec, KeepRange};
use web_sys::HtmlVideoElement;
use yew::prelude::*;

/// How output time maps to source time.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct OutClock {
    pub keep: Vec<KeepRange>,
    /// Slow-motion stretch (1: none).
    pub stretch: u32,
}

impl OutClock {
    pub fn of(spec: &JobSpec) -> OutClock {
        OutClock {
            keep: spec.keep.clone(),
            stretch: kino_shared::interpolation(&spec.stages).map_or(1, |p| p.stretch()),
        }
    }

    /// The source's time shown at output time `t`.
    pub fn source_time(&self, t: f64) -> f64 {
        let t = t / f64::from(self.stretch.max(1));
        let mut before = 0.0;
        for k in &self.keep {
            let len = k.end.map_or(f64::INFINITY, |e| e - k.start);
            if t < before + len {
                return k.start + (t - before);
            }
            before += len;
        }
        self.keep
            .last()
            .map_or(t, |k| k.end.unwrap_or(k.start + t - before))
    }
}

/// Drift (seconds) past which the source is sought instead of nudged.
const RESEEK: f64 = 0.25;

/// One step of keeping the source on the result's clock.
fn follow(result: &HtmlVideoElement, source: &HtmlVideoElement, clock: &OutClock) {
    // HAVE_METADATA on both.
    if result.ready_state() < 1 || source.ready_state() < 1 || source.seeking() {
        return;
    }
    let target = clock.source_time(result.current_time());
    let drift = source.current_time() - target;
    if result.paused() || result.ended() {
        if !source.paused() {
            let _ = source.pause();
        }
        if drift.abs() > 0.01 {
            source.set_current_time(target);
        }
        return;
    }
    if drift.abs() > RESEEK {
        source.set_current_time(target);
    }
    // Ahead: a little slower; behind: a little faster (at most 10 %).
    let nudge = 1.0 - (drift * 2.0).clamp(-0.1, 0.1);
    let rate = result.playback_rate() / f64::from(clock.stretch.max(1)) * nudge;
    source.set_playback_rate(rate);
    if source.paused() {
        let _ = source.play();
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub job: AttrValue,
    pub result: AttrValue,
    pub source: AttrValue,
    pub clock: OutClock,
}

#[function_component(AbCompare)]
pub fn ab_compare(p: &Props) -> Html {
    let result = use_node_ref();
    let source = use_node_ref();
    let wipe = use_state(|| 50.0f64);
    {
        let (result, source) = (result.clone(), source.clone());
        use_effect_with(p.clock.clone(), move |clock| {
            let clock = clock.clone();
            let every = Interval::new(40, move || {
                if let (Some(r), Some(s)) = (
                    result.cast::<HtmlVideoElement>(),
                    source.cast::<HtmlVideoElement>(),
                ) {
                    follow(&r, &s, &clock);
                }
            });
            move || drop(every)
        });
    }
    let oninput = {
        let wipe = wipe.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                wipe.set(v.clamp(0.0, 100.0));
            }
        })
    };
    let w = *wipe;
    html! {
        <div class="ab" id={format!("ab-{}", p.job)}>
            <div class="ab-view">
                <video ref={result} class="ab-result" src={p.result.clone()} controls=true muted=true playsinline=true preload="auto" />
                <video ref={source} class="ab-source" src={p.source.clone()} muted=true playsinline=true preload="auto"
                    style={format!("clip-path:inset(0 {:.2}% 0 0)", 100.0 - w)} aria-hidden="true" />
                <div class="ab-line" style={format!("left:{w:.2}%")} />
                <span class="tag" style="left:.3rem">{"Source"}</span>
                <span class="tag" style="right:.3rem">{"Result"}</span>
            </div>
            <label class="muted">
                {"Wipe: source on the left, result on the right"}
                <input type="range" class="ab-wipe" min="0" max="100" step="1" value={format!("{w}")} {oninput} />
            </label>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_time_maps_through_the_kept_parts_and_slow_motion() {
        let keep = vec![
            KeepRange {
                start: 1.2,
                end: Some(3.6),
            },
            KeepRange {
                start: 5.0,
                end: None,
            },
        ];
        let c = OutClock { keep, stretch: 1 };
        assert!((c.source_time(0.0) - 1.2).abs() < 1e-9);
        assert!((c.source_time(2.0) - 3.2).abs() < 1e-9);
        assert!((c.source_time(2.5) - 5.1).abs() < 1e-9);
        let slow = OutClock {
            keep: vec![],
            stretch: 4,
        };
        assert!((slow.source_time(2.0) - 0.5).abs() < 1e-9);
    }
}
