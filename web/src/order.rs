//! The order the picture stages run in, as the user arranges it: the node runs `stages` in the
//! order given, so the form's order is the job's. Orders the node refuses (automatic colour after
//! interpolation) are explained beside the list by the node's own check.

use kino_shared::StageSpec;
use std::collections::BTreeMap;
use yew::prelude::*;

/// The stages the user orders, by `kind`, in the default order (denoise first, on the source's
/// noise; interpolation before the upscale, on the smaller frames).
pub const STAGES: [&str; 5] = ["denoise", "color", "sharpen", "interpolate", "scale"];

pub fn default_order() -> Vec<String> {
    STAGES.iter().map(|s| (*s).to_owned()).collect()
}

/// Where `kind` stands in `order` (unknown kinds after every known one, in the default order).
fn rank(order: &[String], kind: &str) -> usize {
    order
        .iter()
        .position(|o| o == kind)
        .unwrap_or_else(|| order.len() + STAGES.iter().position(|s| *s == kind).unwrap_or(0))
}

/// Sorts the ordered stages of `stages` by `order` (others keep their places).
pub fn apply(stages: &mut [StageSpec], order: &[String]) {
    stages.sort_by_key(|s| rank(order, s.name()));
}

/// The order of the ordered stages in `stages`, the rest after them in the default order.
pub fn of_stages(stages: &[StageSpec]) -> Vec<String> {
    let mut out: Vec<String> = stages
        .iter()
        .map(StageSpec::name)
        .filter(|k| STAGES.contains(k))
        .map(str::to_owned)
        .collect();
    for s in STAGES {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// `order` with `kind` moved one place among the `shown` kinds (up: `-1`, down: `1`).
pub fn moved(order: &[String], shown: &[&str], kind: &str, by: isize) -> Vec<String> {
    let mut visible: Vec<String> = order
        .iter()
        .filter(|o| shown.contains(&o.as_str()))
        .cloned()
        .collect();
    if let Some(i) = visible.iter().position(|o| o == kind) {
        let j = i as isize + by;
        if j >= 0 && (j as usize) < visible.len() {
            visible.swap(i, j as usize);
        }
    }
    // The hidden kinds keep their places after the shown ones.
    let rest = order
        .iter()
        .filter(|o| !shown.contains(&o.as_str()))
        .cloned();
    visible.into_iter().chain(rest).collect()
}

fn label(kind: &str) -> &'static str {
    match kind {
        "denoise" => "Denoise",
        "color" => "Colour",
        "sharpen" => "Sharpen",
        "interpolate" => "Frame interpolation",
        _ => "Scale",
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub order: Vec<String>,
    /// The kinds switched on, in no particular order.
    pub on: Vec<&'static str>,
    pub errors: BTreeMap<String, String>,
    pub on_change: Callback<Vec<String>>,
}

/// The enabled stages in run order, each with buttons to move it (keyboard: Tab to a button).
#[function_component(StageOrder)]
pub fn stage_order(p: &Props) -> Html {
    let shown: Vec<&str> = p
        .order
        .iter()
        .map(String::as_str)
        .filter(|k| p.on.contains(k))
        .collect();
    let order_errors: Vec<&String> = STAGES
        .iter()
        .filter_map(|k| p.errors.get(*k))
        .filter(|m| m.contains("before") || m.contains("after"))
        .collect();
    let button = |kind: &str, by: isize, text: &'static str, what: &'static str| {
        let (order, on_change) = (p.order.clone(), p.on_change.clone());
        let shown: Vec<&'static str> = STAGES
            .iter()
            .copied()
            .filter(|k| p.on.contains(k))
            .collect();
        let kind_owned = kind.to_owned();
        let at = shown.iter().position(|k| *k == kind).unwrap_or(0);
        let disabled = (by < 0 && at == 0) || (by > 0 && at + 1 >= shown.len());
        let onclick = Callback::from(move |_: MouseEvent| {
            on_change.emit(moved(&order, &shown, &kind_owned, by))
        });
        html! {
            <button type="button" class="secondary" {onclick} {disabled} id={format!("order-{kind}-{}", if by < 0 { "up" } else { "down" })}
                aria-label={format!("Move {} {what}", label(kind))}>{ text }</button>
        }
    };
    html! {
        <fieldset id="stage-order">
            <legend>{"Order"}</legend>
            if shown.len() < 2 {
                <p class="muted">{"Switch on two stages or more to choose the order they run in."}</p>
            } else {
                <ol class="order" id="order-list">
                    { for shown.iter().map(|k| html! {
                        <li data-kind={k.to_string()}>
                            <span>{ label(k) }</span>
                            { button(k, -1, "↑", "earlier") }
                            { button(k, 1, "↓", "later") }
                        </li>
                    }) }
                </ol>
            }
            { for order_errors.iter().map(|m| html! { <p class="err" role="alert">{ (*m).clone() }</p> }) }
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_shared::{ColorParams, ScaleParams, SharpenParams};

    #[test]
    fn stages_follow_the_order_and_moves_skip_hidden_stages() {
        let mut stages = vec![
            StageSpec::Color(ColorParams::default()),
            StageSpec::Sharpen(SharpenParams::default()),
            StageSpec::Scale(ScaleParams::default()),
        ];
        let order = moved(
            &default_order(),
            &["color", "sharpen", "scale"],
            "scale",
            -1,
        );
        assert_eq!(
            order,
            ["color", "scale", "sharpen", "denoise", "interpolate"]
        );
        apply(&mut stages, &order);
        let names: Vec<&str> = stages.iter().map(StageSpec::name).collect();
        assert_eq!(names, ["color", "scale", "sharpen"]);
        assert_eq!(&of_stages(&stages)[..3], ["color", "scale", "sharpen"]);
        // The first cannot move up.
        assert_eq!(
            moved(&order, &["color", "scale"], "color", -1)[..2],
            ["color", "scale"]
        );
    }
}
