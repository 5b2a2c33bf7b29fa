//! Dark/light theme: follows the system until the user picks one, which is remembered.

use yew::prelude::*;

const KEY: &str = "kino.theme";

/// Applies a choice ("system", "light" or "dark") to the document and remembers it.
fn apply(choice: &str) {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    else {
        return;
    };
    match choice {
        "light" | "dark" => {
            let _ = root.set_attribute("data-theme", choice);
            crate::store::set(KEY, choice);
        }
        _ => {
            let _ = root.remove_attribute("data-theme");
            crate::store::remove(KEY);
        }
    }
}

/// The theme picker.
#[function_component(ThemePicker)]
pub fn theme_picker() -> Html {
    let choice = use_state(|| crate::store::get(KEY).unwrap_or_else(|| "system".into()));
    let onchange = {
        let choice = choice.clone();
        Callback::from(move |e: Event| {
            let v = e
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            apply(&v);
            choice.set(v);
        })
    };
    html! {
        <label class="row">{"Theme "}
            <select id="theme" {onchange} style="width:auto">
                { for ["system", "light", "dark"].iter().map(|v| html! {
                    <option value={*v} selected={*choice == *v}>{ *v }</option>
                }) }
            </select>
        </label>
    }
}
