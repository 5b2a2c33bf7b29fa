//! Live job state: the node's `ProgressEvent`s from `/api/events` folded into one view per job. The
//! connection is kept up: when the node stops, the page says so and polls its health; when it is
//! back the socket reopens and the snapshots it sends first bring every job up to date.

use futures::StreamExt;
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;
use kino_shared::{ChunkState, JobState, JobStatus, ProgressEvent};
use std::collections::BTreeMap;
use std::rc::Rc;
use yew::prelude::*;

#[derive(Clone, PartialEq, Debug)]
pub struct ChunkView {
    pub state: ChunkState,
    /// Who renders it: the node and worker (`node#worker`, the 3D view's lane), else the
    /// process's lease id (events of an older node).
    pub worker: Option<String>,
    pub frames: u64,
}

/// What the page knows about one job.
#[derive(Clone, PartialEq, Debug)]
pub struct JobView {
    pub id: String,
    pub state: JobState,
    pub frames_done: u64,
    pub frames_total: u64,
    pub chunks_done: u32,
    pub chunks_total: u32,
    /// Chunks analysed of the total, during the analysis pass.
    pub analysed: Option<(u32, u32)>,
    pub fps: Option<f64>,
    pub eta: Option<f64>,
    pub warnings: Vec<String>,
    /// What the node said about how it runs the job (e.g. the GPU).
    pub notes: Vec<String>,
    pub error: Option<String>,
    pub output: Option<String>,
    pub chunks: Vec<ChunkView>,
    pub created_ms: i64,
    pub stages: Vec<&'static str>,
    /// How the output's time maps to the source's (trim, slow motion), for the A/B view.
    pub clock: crate::compare::OutClock,
}

impl JobView {
    fn from_status(s: &JobStatus) -> JobView {
        JobView {
            id: s.id.clone(),
            state: s.state,
            frames_done: s.frames_done,
            frames_total: s.frames_total,
            chunks_done: s.chunks_done,
            chunks_total: s.chunks_total,
            analysed: None,
            fps: None,
            eta: None,
            warnings: vec![],
            notes: vec![],
            error: s.error.clone(),
            output: s.output.clone(),
            chunks: vec![],
            created_ms: s.created_ms,
            stages: stage_names(&s.spec),
            clock: crate::compare::OutClock::of(&s.spec),
        }
    }

    fn empty(id: &str) -> JobView {
        JobView {
            id: id.to_owned(),
            state: JobState::Queued,
            frames_done: 0,
            frames_total: 0,
            chunks_done: 0,
            chunks_total: 0,
            analysed: None,
            fps: None,
            eta: None,
            warnings: vec![],
            notes: vec![],
            error: None,
            output: None,
            chunks: vec![],
            created_ms: js_sys::Date::now() as i64,
            stages: vec![],
            clock: Default::default(),
        }
    }

    /// Progress 0…1 of the whole job.
    pub fn fraction(&self) -> f64 {
        if self.state == JobState::Done {
            1.0
        } else if self.frames_total > 0 {
            (self.frames_done as f64 / self.frames_total as f64).min(1.0)
        } else {
            0.0
        }
    }

    fn chunk(&mut self, i: u32) -> &mut ChunkView {
        let i = i as usize;
        if self.chunks.len() <= i {
            self.chunks.resize(
                i + 1,
                ChunkView {
                    state: ChunkState::Pending,
                    worker: None,
                    frames: 0,
                },
            );
        }
        &mut self.chunks[i]
    }

    fn apply(&mut self, ev: &ProgressEvent) {
        match ev {
            ProgressEvent::Snapshot { status, chunks, .. } => {
                let warnings = std::mem::take(&mut self.warnings);
                let notes = std::mem::take(&mut self.notes);
                *self = JobView::from_status(status);
                self.warnings = warnings;
                self.notes = notes;
                self.chunks = chunks
                    .iter()
                    .map(|c| ChunkView {
                        state: c.state,
                        worker: c.lane.clone().or_else(|| c.worker.clone()),
                        frames: c.frames,
                    })
                    .collect();
            }
            ProgressEvent::JobState { state, .. } => self.state = *state,
            ProgressEvent::Planned { chunks, frames, .. } => {
                self.chunks_total = *chunks;
                self.frames_total = *frames;
                self.chunk(chunks.saturating_sub(1));
            }
            ProgressEvent::ChunkClaimed {
                chunk,
                worker,
                lane,
                ..
            } => {
                let c = self.chunk(*chunk);
                c.state = ChunkState::Running;
                c.worker = Some(lane.clone().unwrap_or_else(|| worker.clone()));
            }
            ProgressEvent::ChunkDone { chunk, frames, .. } => {
                let c = self.chunk(*chunk);
                if c.state != ChunkState::Done {
                    c.state = ChunkState::Done;
                    c.frames = *frames;
                    self.chunks_done += 1;
                }
            }
            ProgressEvent::Analysed { done, total, .. } => self.analysed = Some((*done, *total)),
            ProgressEvent::ChunkFailed { chunk, error, .. } => {
                self.chunk(*chunk).state = ChunkState::Failed;
                self.warnings.push(format!("chunk {chunk}: {error}"));
            }
            ProgressEvent::Frames {
                frames_done,
                frames_total,
                fps,
                eta_seconds,
                ..
            } => {
                self.frames_done = *frames_done;
                self.frames_total = *frames_total;
                self.fps = Some(*fps);
                self.eta = *eta_seconds;
            }
            ProgressEvent::Warning { message, .. } => self.warnings.push(message.clone()),
            ProgressEvent::Note { message, .. } => {
                if !self.notes.contains(message) {
                    self.notes.push(message.clone());
                }
            }
            ProgressEvent::Done { output, .. } => {
                self.state = JobState::Done;
                // An analysis-only job ends without an output.
                self.output = (!output.is_empty()).then(|| output.clone());
                self.frames_done = self.frames_total;
                self.eta = Some(0.0);
            }
            ProgressEvent::Failed { error, .. } => {
                self.state = JobState::Failed;
                self.error = Some(error.clone());
            }
        }
    }
}

pub enum Action {
    Event(ProgressEvent),
    /// A job this page just created (before its first event arrives).
    Created(Box<JobStatus>),
}

/// Every known job, newest first when listed.
#[derive(Default, PartialEq)]
pub struct Jobs {
    pub by_id: BTreeMap<String, JobView>,
    /// Events seen, so views that draw from them know when to redraw.
    pub events: u64,
}

impl Jobs {
    pub fn newest_first(&self) -> Vec<&JobView> {
        let mut v: Vec<&JobView> = self.by_id.values().collect();
        v.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
        v
    }
}

impl Reducible for Jobs {
    type Action = Action;
    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = Jobs {
            by_id: self.by_id.clone(),
            events: self.events + 1,
        };
        match action {
            Action::Event(ev) => next
                .by_id
                .entry(ev.job().to_owned())
                .or_insert_with(|| JobView::empty(ev.job()))
                .apply(&ev),
            Action::Created(status) => {
                // Its first events may have come before the answer: keep them, add the spec.
                let view = next
                    .by_id
                    .entry(status.id.clone())
                    .or_insert_with(|| JobView::from_status(&status));
                view.stages = stage_names(&status.spec);
                view.clock = crate::compare::OutClock::of(&status.spec);
                view.created_ms = status.created_ms;
            }
        }
        Rc::new(next)
    }
}

/// Keeps the event socket open for as long as the page lives; `online` says whether the node answers.
pub fn connect(jobs: Callback<Action>, online: Callback<bool>) {
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            if !crate::net::healthy().await {
                online.emit(false);
                TimeoutFuture::new(1500).await;
                continue;
            }
            online.emit(true);
            if let Ok(mut ws) = WebSocket::open(&crate::net::ws_url("/api/events")) {
                while let Some(msg) = ws.next().await {
                    match msg {
                        Ok(Message::Text(text)) => {
                            if let Ok(ev) = serde_json::from_str::<ProgressEvent>(&text) {
                                jobs.emit(Action::Event(ev));
                            }
                        }
                        Ok(Message::Bytes(_)) => {}
                        Err(_) => break,
                    }
                }
            }
            TimeoutFuture::new(500).await;
        }
    });
}

/// What a job does, in order, for its card: the video stages, then scene detection and auto-edit.
fn stage_names(spec: &kino_shared::JobSpec) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = spec.stages.iter().map(|st| st.name()).collect();
    if spec.scenes.is_some() {
        names.push("scenes");
    }
    if spec.auto_edit.is_some() {
        names.push("auto-edit");
    }
    names
}

#[cfg(test)]
mod tests {
    use super::stage_names;

    #[test]
    fn the_card_names_scenes_and_auto_edit_too() {
        let spec: kino_shared::JobSpec = serde_json::from_str(
            r#"{"input":"u","stages":[{"kind":"color"}],"scenes":{},"auto_edit":{}}"#,
        )
        .unwrap();
        assert_eq!(stage_names(&spec), ["color", "scenes", "auto-edit"]);
        assert_eq!(crate::jobs::chunks(1u32), "chunk");
        assert_eq!(crate::jobs::chunks(2u32), "chunks");
    }
}
