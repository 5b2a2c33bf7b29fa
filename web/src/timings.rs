//! Where a finished job's time went (the report's `timings` section): its phases in words, and the
//! chunks' worker time by part (decode, each stage, encode, …) as one stacked bar.

use kino_shared::{JobTimings, PartTime};
use yew::prelude::*;

/// `1.2 s`, `3 min 4 s`.
fn seconds(s: f64) -> String {
    if s >= 60.0 {
        format!("{:.0} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// Each part's share of `parts`' total, in percent (all zero when nothing was timed).
pub fn shares(parts: &[PartTime]) -> Vec<f64> {
    let total: f64 = parts.iter().map(|p| p.seconds.max(0.0)).sum();
    parts
        .iter()
        .map(|p| {
            if total > 0.0 {
                p.seconds.max(0.0) / total * 100.0
            } else {
                0.0
            }
        })
        .collect()
}

pub fn timings_bar(t: &JobTimings) -> Html {
    let phases: Vec<String> = t
        .phases
        .iter()
        .map(|p| format!("{} {}", p.part, seconds(p.seconds)))
        .collect();
    let share = shares(&t.chunk_parts);
    let label: Vec<String> = t
        .chunk_parts
        .iter()
        .zip(&share)
        .map(|(p, s)| format!("{} {} ({s:.0} %)", p.part, seconds(p.seconds)))
        .collect();
    html! {
        <div class="timings">
            <p class="muted" style="margin:.3rem 0">{ format!("Time: {}", phases.join(" · ")) }</p>
            if !t.chunk_parts.is_empty() {
                <div class="stack" role="img" aria-label={format!("Chunk work by part: {}", label.join(", "))}>
                    { for t.chunk_parts.iter().zip(&share).enumerate().map(|(i, (p, s))| html! {
                        <span class={format!("part s{}", i.min(5))} data-part={p.part.clone()}
                            data-seconds={p.seconds.to_string()} style={format!("width:{s:.2}%")}
                            title={format!("{} {}", p.part, seconds(p.seconds))} />
                    }) }
                </div>
                <p class="legend muted" aria-hidden="true" style="margin:.2rem 0 0">
                    { for t.chunk_parts.iter().zip(&label).enumerate().map(|(i, (_, l))| html! {
                        <span><i class={format!("s{}", i.min(5))} />{ l.clone() }{" "}</span>
                    }) }
                </p>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole() {
        let p = |s: f64| PartTime {
            part: "x".into(),
            seconds: s,
        };
        assert_eq!(shares(&[p(1.0), p(3.0)]), [25.0, 75.0]);
        assert_eq!(shares(&[p(0.0)]), [0.0]);
        assert_eq!(seconds(75.0), "1 min 15 s");
    }
}
