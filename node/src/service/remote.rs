//! Where a farm job's input is, for this node: in the data folder it shares with the node that
//! accepted the job (the whole job can run here), on another node (chunks render from a local copy
//! of their byte ranges, fetched over HTTP), or not within reach yet (the job waits).

use super::Service;
use crate::pipeline::input_layout::InputLayout;
use crate::pipeline::remote::{PeerLink, RemoteInput};
use crate::pipeline::remote_job::remote_dir;
use kino_shared::JobState;
use std::path::Path;

/// How a farm node reaches the inputs other nodes hold.
#[derive(Debug, Clone)]
pub struct FarmLink {
    /// The id of this node's data folder (`storage-id` in it): nodes sharing the folder share it.
    pub storage: String,
    /// The node to fetch inputs from and send chunks to (`--coordinator`); otherwise the URL a
    /// live node with the job's folder advertises.
    pub coordinator: Option<String>,
    /// The HTTP client, with the bearer token the serving nodes want.
    pub peer: PeerLink,
}

/// Where a job's input is for this node.
pub enum Input {
    Here,
    There(Box<RemoteInput>),
    /// Not yet (the job is being planned or analysed where its input is), or no node with the
    /// input answers: the reason.
    Wait(String),
}

/// The id of the data folder at `dir`, made on first use. Nodes that mount the same folder read
/// the same id, so they know they see the same files.
pub fn storage_id(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("storage-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_owned());
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let tmp = dir.join(format!("storage-id.{id}.part"));
    std::fs::write(&tmp, &id)?;
    // Two nodes starting at once on a new shared folder: the first name in place wins.
    match std::fs::hard_link(&tmp, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    let _ = std::fs::remove_file(&tmp);
    Ok(std::fs::read_to_string(&path)?.trim().to_owned())
}

impl Service {
    /// Where job `id`'s input is for this node (always here when not in a farm).
    pub(super) async fn where_input(&self, id: &str) -> Input {
        let Some(link) = &self.config.farm_link else {
            return Input::Here;
        };
        let layout = match self.store.section::<InputLayout>(id).await {
            Ok(l) => l,
            Err(e) => return Input::Wait(e.to_string()),
        };
        let layout = match layout {
            Some(l) if l.storage == link.storage => return Input::Here,
            Some(l) => l,
            // Not planned yet: the node that sees the input plans it (and records its folder).
            None => {
                return match self.store.job_input_output(id).await {
                    Ok((input, _)) if self.in_my_folder(&input) => Input::Here,
                    Ok(_) => Input::Wait("planned where its input is".into()),
                    Err(e) => Input::Wait(e.to_string()),
                }
            }
        };
        match self.store.job_state(id).await {
            Ok(JobState::Rendering) => {}
            Ok(state) => return Input::Wait(format!("{} where its input is", state.as_str())),
            Err(e) => return Input::Wait(e.to_string()),
        }
        let base = match &link.coordinator {
            Some(url) => url.clone(),
            None => match self.url_of(&layout.storage).await {
                Some(url) => url,
                None => return Input::Wait("no live node with its input serves HTTP".into()),
            },
        };
        let cache = remote_dir(&self.config.data_dir);
        match RemoteInput::open(link.peer.clone(), &base, id, layout, &cache) {
            Ok(input) => Input::There(Box::new(input)),
            Err(e) => Input::Wait(e.to_string()),
        }
    }

    /// Whether `path` is a file in this node's data folder (the same path on another machine, or
    /// another node's folder that happens to be reachable here, is not).
    pub fn in_my_folder(&self, path: &str) -> bool {
        let path = Path::new(path);
        path.starts_with(&self.config.data_dir) && path.is_file()
    }

    /// Where job `id`'s files are when they are not in this node's folder: the URL of a live node
    /// that has them.
    pub async fn home_of(&self, id: &str) -> Option<String> {
        let link = self.config.farm_link.as_ref()?;
        let layout = self.store.section::<InputLayout>(id).await.ok()??;
        if layout.storage == link.storage {
            return None;
        }
        self.url_of(&layout.storage).await
    }

    /// The URL a live node with data folder `storage` serves on.
    async fn url_of(&self, storage: &str) -> Option<String> {
        let alive_ms = 3 * self.config.lease_ms;
        let nodes = self.store.nodes().await.ok()?;
        nodes
            .into_iter()
            .filter(|n| n.silent_ms < alive_ms && n.info["storage"] == storage)
            .find_map(|n| n.info["url"].as_str().map(str::to_owned))
    }

    /// Removes the local copies of inputs of jobs that have ended (`unfinished`: those that have not).
    pub(super) fn forget_copies(&self, unfinished: &[String]) {
        if self.config.farm_link.is_none() {
            return;
        }
        let dir = remote_dir(&self.config.data_dir);
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !unfinished.contains(&name) && !self.is_running(&name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
