//! The batch queue: several files, each with the settings it was queued with, uploaded and
//! rendered one after another (the next upload starts when the last job ends), a row each (upload,
//! job state, ETA). The queue is kept in
//! localStorage: after a reload the rows, their settings and their jobs are back, a started upload
//! resumes (tus), and files not yet sent are listed to be chosen again — a page cannot keep a file.

use crate::app::idempotency_key;
use crate::events::{Action, Jobs};
use crate::net::{self, NetError};
use crate::tus::{self, Status};
use gloo_net::http::Request;
use kino_shared::{JobSpec, JobStatus};

use std::collections::HashMap;
use std::rc::Rc;
use web_sys::{File, HtmlInputElement};
use yew::prelude::*;

/// Where the queue is kept.
const SAVED: &str = "kino.batch";

/// One queued file.
#[derive(Clone, PartialEq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The file's upload key (name, size, date): how a file chosen again is recognised.
    pub key: String,
    pub name: String,
    pub size: f64,
    /// The settings it was queued with (`input` filled in at submission).
    pub spec: JobSpec,
    /// Sent with the job's creation, so a retry after a reload makes no second job.
    pub idempotency: String,
    pub job: Option<String>,
    pub error: Option<String>,
}

pub enum Change {
    Add(Vec<Entry>),
    Submitted(String, String),
    Failed(String, String),
    Remove(String),
}

/// The queue, saved on every change.
#[derive(Default, PartialEq)]
pub struct Queue {
    pub entries: Vec<Entry>,
}

impl Queue {
    fn load() -> Queue {
        let entries = crate::store::get(SAVED)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        Queue { entries }
    }

    /// The first entry still to send.
    #[cfg(test)]
    fn next(&self) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.job.is_none() && e.error.is_none())
    }
}

impl Reducible for Queue {
    type Action = Change;
    fn reduce(self: Rc<Self>, change: Change) -> Rc<Self> {
        let mut entries = self.entries.clone();
        match change {
            Change::Add(new) => {
                for e in new {
                    if !entries.iter().any(|x| x.key == e.key && x.job.is_none()) {
                        entries.push(e);
                    }
                }
            }
            Change::Submitted(key, job) => {
                if let Some(e) = entries.iter_mut().find(|e| e.key == key && e.job.is_none()) {
                    e.job = Some(job);
                }
            }
            Change::Failed(key, error) => {
                if let Some(e) = entries.iter_mut().find(|e| e.key == key && e.job.is_none()) {
                    e.error = Some(error);
                }
            }
            Change::Remove(key) => entries.retain(|e| e.key != key),
        }
        // In the page (unit tests run natively, without a window).
        if cfg!(target_arch = "wasm32") {
            if let Ok(s) = serde_json::to_string(&entries) {
                crate::store::set(SAVED, &s);
            }
        }
        Rc::new(Queue { entries })
    }
}

/// Uploads `file` and creates its job.
async fn submit(file: File, e: Entry, progress: Callback<f64>) -> Result<JobStatus, String> {
    let up = Callback::from(move |s: Status| {
        if let Status::Sending { sent, total, .. } = s {
            progress.emit(sent / total.max(1.0) * 100.0);
        }
    });
    let id = tus::upload(file, up)
        .await
        .map_err(|e| format!("upload failed: {e}"))?;
    let spec = JobSpec {
        input: id,
        ..e.spec
    };
    let body = serde_json::to_string(&spec).map_err(|e| e.to_string())?;
    let req = net::auth(Request::post("/api/jobs"))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &e.idempotency)
        .body(body)
        .map_err(|e| e.to_string())?;
    let resp = req
        .send()
        .await
        .map_err(|_| NetError::Unreachable.to_string())?;
    let resp = net::check(resp)
        .await
        .map_err(|e| format!("the job was refused: {e}"))?;
    resp.json::<JobStatus>().await.map_err(|e| e.to_string())
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The current settings, when valid: what queued files get.
    pub spec: Option<JobSpec>,
    pub jobs: UseReducerHandle<Jobs>,
    pub online: bool,
}

#[function_component(BatchPanel)]
pub fn batch_panel(p: &Props) -> Html {
    let queue = use_reducer(Queue::load);
    // Files chosen in this page, by key (lost on reload).
    let files = use_mut_ref(HashMap::<String, File>::new);
    let files_seen = use_state(|| 0u32);
    let sending = use_state(|| None::<(String, f64)>);
    let busy = use_mut_ref(|| false);

    // One file at a time: the first unsent entry whose file is here.
    {
        let (queue, files, sending, busy, jobs) = (
            queue.clone(),
            files.clone(),
            sending.clone(),
            busy.clone(),
            p.jobs.clone(),
        );
        let online = p.online;
        let events = p.jobs.events;
        use_effect_with(
            (queue.entries.clone(), *files_seen, online, events),
            move |_| {
                // One job of the batch at a time: the next file goes up when the last job has ended
                // (the node's workers all go to it, and a reload finds the rest still to send).
                let rendering = queue
                    .entries
                    .iter()
                    .filter_map(|e| e.job.as_ref())
                    .any(|j| jobs.by_id.get(j).is_some_and(|v| !v.state.is_final()));
                let next = queue
                    .entries
                    .iter()
                    .filter(|e| e.job.is_none() && e.error.is_none())
                    .find(|e| files.borrow().contains_key(&e.key))
                    .cloned();
                let idle = !*busy.borrow();
                if let (Some(e), true, true, false) = (next, idle, online, rendering) {
                    *busy.borrow_mut() = true;
                    let file = files.borrow().get(&e.key).cloned();
                    if let Some(file) = file {
                        let key = e.key.clone();
                        let progress = {
                            let (sending, key) = (sending.clone(), key.clone());
                            Callback::from(move |pct| sending.set(Some((key.clone(), pct))))
                        };
                        wasm_bindgen_futures::spawn_local(async move {
                            let name = e.name.clone();
                            match submit(file, e, progress).await {
                                Ok(job) => {
                                    crate::store::set(&format!("kino.job.{}", job.id), &name);
                                    queue.dispatch(Change::Submitted(key, job.id.clone()));
                                    jobs.dispatch(Action::Created(Box::new(job)));
                                }
                                Err(err) => queue.dispatch(Change::Failed(key, err)),
                            }
                            sending.set(None);
                            *busy.borrow_mut() = false;
                        });
                    }
                }
            },
        );
    }
    let add = {
        let (queue, files, files_seen) = (queue.clone(), files.clone(), files_seen.clone());
        let spec = p.spec.clone();
        Rc::new(move |list: Vec<File>| {
            let mut new = Vec::new();
            for f in list {
                let key = tus::key(&f);
                let waiting = queue
                    .entries
                    .iter()
                    .any(|e| e.key == key && e.job.is_none());
                files.borrow_mut().insert(key.clone(), f.clone());
                // A file chosen again joins its row; a new one is queued with today's settings.
                if !waiting {
                    if let Some(spec) = &spec {
                        new.push(Entry {
                            key,
                            name: f.name(),
                            size: f.size(),
                            spec: spec.clone(),
                            idempotency: idempotency_key(),
                            job: None,
                            error: None,
                        });
                    }
                }
            }
            queue.dispatch(Change::Add(new));
            files_seen.set(files_seen.wrapping_add(1));
        })
    };
    let onpick = {
        let add = add.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let list = input.files();
            let files: Vec<File> = (0..list.as_ref().map_or(0, |l| l.length()))
                .filter_map(|i| list.as_ref()?.get(i))
                .collect();
            input.set_value("");
            add(files);
        })
    };
    let ondrop = {
        let add = add.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            let list = e.data_transfer().and_then(|d| d.files());
            let files: Vec<File> = (0..list.as_ref().map_or(0, |l| l.length()))
                .filter_map(|i| list.as_ref()?.get(i))
                .collect();
            add(files);
        })
    };
    let ondragover = Callback::from(|e: DragEvent| e.prevent_default());
    let here = files.borrow().keys().cloned().collect::<Vec<_>>();
    let missing = queue
        .entries
        .iter()
        .filter(|e| e.job.is_none() && e.error.is_none() && !here.contains(&e.key))
        .count();
    html! {
        <section class="panel" aria-labelledby="batch-h" id="batch">
            <h2 id="batch-h">{"Batch"}</h2>
            <div class="drop" {ondrop} {ondragover}>
                <label for="batch-files">{"Queue several files with the current settings: "}</label>
                <input type="file" id="batch-files" multiple=true accept="video/*,.mkv,.avi,.mts,.m2ts"
                    onchange={onpick} disabled={p.spec.is_none()} />
            </div>
            if p.spec.is_none() {
                <p class="err">{"Fix the settings first: queued files take them."}</p>
            }
            if missing > 0 {
                <p class="warn" id="batch-missing">{ format!("{missing} queued file(s) not sent yet: choose them again (a page cannot keep files over a reload).") }</p>
            }
            if queue.entries.is_empty() {
                <p class="muted">{"Files queued here upload and render one after another; the queue survives a reload."}</p>
            }
            <ul class="jobs batch-rows">
                { for queue.entries.iter().map(|e| row(e, &p.jobs, &sending, here.contains(&e.key), {
                    let queue = queue.clone();
                    let key = e.key.clone();
                    Callback::from(move |_: MouseEvent| queue.dispatch(Change::Remove(key.clone())))
                })) }
            </ul>
        </section>
    }
}

/// One file's row: its upload, then its job's state and ETA.
fn row(
    e: &Entry,
    jobs: &Jobs,
    sending: &Option<(String, f64)>,
    here: bool,
    remove: Callback<MouseEvent>,
) -> Html {
    let view = e.job.as_ref().and_then(|j| jobs.by_id.get(j));
    let (state, pct, note) = match (&e.job, view, &e.error, sending) {
        (_, _, Some(err), _) => ("failed".to_owned(), 0.0, err.clone()),
        (Some(_), Some(j), _, _) => {
            let eta = j
                .eta
                .filter(|_| !j.state.is_final())
                .map(|s| format!(" · ETA {s:.0} s"))
                .unwrap_or_default();
            (
                j.state.as_str().to_owned(),
                (j.fraction() * 100.0).floor(),
                format!("{:.0}%{eta}", (j.fraction() * 100.0).floor()),
            )
        }
        (Some(_), None, _, _) => ("submitted".into(), 0.0, String::new()),
        (None, _, _, Some((k, p))) if *k == e.key => {
            ("uploading".into(), *p, format!("uploading {p:.0}%"))
        }
        (None, _, _, _) if here => ("waiting".into(), 0.0, "waiting for its turn".into()),
        (None, _, _, _) => ("needs the file".into(), 0.0, "choose it again".into()),
    };
    html! {
        <li class="job" data-key={e.key.clone()} data-state={state.clone()} data-job={e.job.clone().unwrap_or_default()}>
            <div class="row" style="justify-content:space-between">
                <strong>{ e.name.clone() }<span class="muted">{ format!(" · {}", crate::media::human_size(e.size)) }</span></strong>
                <span class="state">{ state.clone() }</span>
            </div>
            <div class="bar" role="progressbar" aria-label={format!("{} progress", e.name)} aria-valuemin="0"
                aria-valuemax="100" aria-valuenow={pct.to_string()}>
                <span style={format!("width:{pct}%")} />
            </div>
            <div class="row">
                <span class="muted">{ note }</span>
                if e.job.is_none() {
                    <button type="button" class="secondary" onclick={remove} aria-label={format!("Remove {} from the queue", e.name)}>{"Remove"}</button>
                }
            </div>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, job: Option<&str>) -> Entry {
        Entry {
            key: key.into(),
            name: key.into(),
            size: 1.0,
            spec: serde_json::from_str(r#"{"input":""}"#).unwrap(),
            idempotency: "k".into(),
            job: job.map(str::to_owned),
            error: None,
        }
    }

    #[test]
    fn the_queue_goes_in_order_and_a_file_is_queued_once() {
        let q = Rc::new(Queue {
            entries: vec![entry("a", Some("j1")), entry("b", None)],
        });
        assert_eq!(q.next().map(|e| e.key.as_str()), Some("b"));
        let q = q.reduce(Change::Add(vec![entry("b", None), entry("c", None)]));
        assert_eq!(q.entries.len(), 3);
        let q = q.reduce(Change::Submitted("b".into(), "j2".into()));
        assert_eq!(q.next().map(|e| e.key.as_str()), Some("c"));
        let q = q.reduce(Change::Failed("c".into(), "refused".into()));
        assert!(q.next().is_none());
    }
}
