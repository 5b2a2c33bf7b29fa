//! What the node reads from a file before it is uploaded: its first and last bytes (phone files keep
//! their index at the end) go to `POST /api/probe`. A file that is no video is refused at once, and
//! one the browser cannot play still shows its duration, size and codec.

use crate::net::{self, NetError};
use gloo_net::http::Request;
use kino_shared::{ErrorCode, MediaInfo};
use web_sys::{Blob, File};

/// What is known of the chosen file from the node.
#[derive(Clone, PartialEq)]
pub enum Probed {
    /// Not asked yet, under way, or the node could not say (unreachable, busy).
    Unknown,
    Info(Box<MediaInfo>),
    /// The node cannot read it as a video: why, naming the file.
    NotVideo(String),
}

/// Head and tail sizes tried in turn: a small look first, then a large one for an index bigger than
/// the first window (hours of video) before the file is called no video.
const WINDOWS: [(f64, f64); 2] = [(1.0 * MIB, 3.0 * MIB), (8.0 * MIB, 8.0 * MIB)];
const MIB: f64 = 1024.0 * 1024.0;

/// Asks the node what `file` is.
pub async fn probe(file: &File) -> Probed {
    let size = file.size();
    for (i, (head, tail)) in WINDOWS.into_iter().enumerate() {
        let last = i + 1 == WINDOWS.len() || size <= head + tail;
        match ask(file, size, head, tail).await {
            Ok(info) => return Probed::Info(Box::new(info)),
            Err(NetError::Api { error, .. }) if error.code == ErrorCode::BadMedia => {
                if last {
                    return Probed::NotVideo(error.message);
                }
            }
            Err(_) => return Probed::Unknown,
        }
    }
    Probed::Unknown
}

async fn ask(file: &File, size: f64, head: f64, tail: f64) -> Result<MediaInfo, NetError> {
    let (head, tail) = if size <= head + tail {
        (size, 0.0)
    } else {
        (head, tail)
    };
    let parts = js_sys::Array::new();
    parts.push(slice(file, 0.0, head)?.as_ref());
    if tail > 0.0 {
        parts.push(slice(file, size - tail, size)?.as_ref());
    }
    let body = Blob::new_with_blob_sequence(&parts).map_err(|_| NetError::Unreachable)?;
    let name: String = js_sys::encode_uri_component(&file.name()).into();
    let url = format!("/api/probe?size={size}&head={head}&name={name}");
    let req = net::auth(Request::post(&url))
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .map_err(|_| NetError::Unreachable)?;
    let resp = req.send().await.map_err(|_| NetError::Unreachable)?;
    let resp = net::check(resp).await?;
    resp.json::<MediaInfo>()
        .await
        .map_err(|_| NetError::Unreachable)
}

fn slice(file: &File, start: f64, end: f64) -> Result<Blob, NetError> {
    file.slice_with_f64_and_f64(start, end)
        .map_err(|_| NetError::Unreachable)
}
