//! Telling the user a job ended while they looked elsewhere: a browser notification (when they
//! allowed it) and a count in the tab's title until the page is looked at again.

use crate::events::JobView;
use kino_shared::JobState;
use std::collections::HashMap;
use wasm_bindgen::JsValue;

/// The tab's title when nothing is waiting to be seen.
pub const TITLE: &str = "Kino — video enhancement";

/// Jobs that ended since the last look: each job's last seen state, to spot the moment it ends.
/// Jobs already ended when the page first sees them are not news.
#[derive(Default)]
pub struct Watch {
    last: HashMap<String, JobState>,
    pub unseen: u32,
}

impl Watch {
    /// The jobs that have just ended (id, state), given every job's state now.
    pub fn ended<'a>(
        &mut self,
        jobs: impl IntoIterator<Item = (&'a str, JobState)>,
    ) -> Vec<(String, JobState)> {
        let mut out = Vec::new();
        for (id, state) in jobs {
            let before = self.last.insert(id.to_owned(), state);
            if state.is_final() && before.is_some_and(|b| !b.is_final()) {
                out.push((id.to_owned(), state));
            }
        }
        self.unseen += out.len() as u32;
        out
    }
}

/// Asks for permission to notify (browsers allow the question only during a click).
pub fn ask_permission() {
    if web_sys::Notification::permission() == web_sys::NotificationPermission::Default {
        let _ = web_sys::Notification::request_permission();
    }
}

/// A notification for a job that ended (if allowed) and the count in the title (if the page is
/// not being looked at).
pub fn announce(watch: &mut Watch, job: &JobView, name: Option<String>) {
    let what =
        name.unwrap_or_else(|| format!("Job {}", job.id.chars().take(8).collect::<String>()));
    let (title, body) = match job.state {
        JobState::Done => (
            format!("{what} is ready"),
            "The render finished.".to_owned(),
        ),
        JobState::Failed => (
            format!("{what} failed"),
            job.error.clone().unwrap_or_default(),
        ),
        _ => (format!("{what} was cancelled"), String::new()),
    };
    if web_sys::Notification::permission() == web_sys::NotificationPermission::Granted {
        let opts = web_sys::NotificationOptions::new();
        opts.set_body(&body);
        opts.set_tag(&job.id);
        let _ = web_sys::Notification::new_with_options(&title, &opts);
    }
    if looked_at() {
        watch.unseen = 0;
    }
    show_count(watch.unseen);
}

/// Whether the page is visible and focused.
pub fn looked_at() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| !d.hidden() && d.has_focus().unwrap_or(false))
}

/// "(2) Kino — …" while `n` endings wait to be seen.
pub fn show_count(n: u32) {
    if let Some(d) = web_sys::window().and_then(|w| w.document()) {
        d.set_title(&match n {
            0 => TITLE.to_owned(),
            n => format!("({n}) {TITLE}"),
        });
        let _ = js_sys::Reflect::set(&d, &JsValue::from_str("kinoUnseen"), &JsValue::from(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jobs_seen_running_are_news_when_they_end() {
        let mut w = Watch::default();
        let ended = w.ended([("a", JobState::Done), ("b", JobState::Rendering)]);
        assert!(ended.is_empty(), "already done when first seen");
        let ended = w.ended([
            ("a", JobState::Done),
            ("b", JobState::Failed),
            ("c", JobState::Queued),
        ]);
        assert_eq!(ended, [("b".to_owned(), JobState::Failed)]);
        assert!(w.ended([("b", JobState::Failed)]).is_empty(), "told once");
        assert_eq!(w.unseen, 1);
    }
}
