//! tus 1.0 upload of the chosen file to the node (`/api/uploads`), in parts. The upload's address is
//! remembered in localStorage under the file's name, size and modification time, so reloading the
//! page (or losing the network) resumes at the offset the node has, not from the start.

use crate::net::{self, NetError};
use base64::Engine;
use gloo_net::http::{Request, Response};
use gloo_timers::future::TimeoutFuture;
use web_sys::File;
use yew::Callback;

/// Bytes per PATCH: small enough that little is sent again after an interruption.
const PART: f64 = 4.0 * 1024.0 * 1024.0;

/// Where the upload's address is remembered.
pub fn key(file: &File) -> String {
    format!(
        "kino.upload.{}.{}.{}",
        file.name(),
        file.size(),
        file.last_modified()
    )
}

fn offset_of(resp: &Response) -> Option<f64> {
    resp.headers()
        .get("Upload-Offset")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|v| v as f64)
}

fn tus(req: gloo_net::http::RequestBuilder) -> gloo_net::http::RequestBuilder {
    req.header("Tus-Resumable", "1.0.0")
}

/// The offset the node has for `url`, `None` when it no longer knows the upload.
async fn head(url: &str) -> Result<Option<f64>, NetError> {
    match net::send(tus(Request::get(url).method(gloo_net::http::Method::HEAD))).await {
        Ok(r) => Ok(offset_of(&r)),
        Err(NetError::Api { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn create(file: &File) -> Result<String, NetError> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let meta = format!(
        "filename {},filetype {}",
        b64(&file.name()),
        b64(&file.type_())
    );
    let resp = net::send(
        tus(Request::post("/api/uploads"))
            .header("Upload-Length", &(file.size() as u64).to_string())
            .header("Upload-Metadata", &meta),
    )
    .await?;
    resp.headers().get("Location").ok_or(NetError::Api {
        status: resp.status(),
        error: kino_shared::ApiError {
            code: kino_shared::ErrorCode::Tus,
            message: "the node created the upload but gave no Location".into(),
            field: None,
        },
    })
}

/// Names of files whose upload stopped before the end (from earlier visits).
pub fn interrupted() -> Vec<String> {
    crate::store::keys("kino.upload.")
        .into_iter()
        .filter(|k| crate::store::get(k).is_some_and(|v| !v.ends_with(" done")))
        .filter_map(|k| {
            let rest = k.strip_prefix("kino.upload.")?;
            let mut it = rest.rsplitn(3, '.');
            let (_modified, _size, name) = (it.next()?, it.next()?, it.next()?);
            Some(name.to_owned())
        })
        .collect()
}

/// What the upload is doing, for the page.
#[derive(Clone, PartialEq)]
pub enum Status {
    Sending {
        sent: f64,
        total: f64,
        resumed: bool,
    },
    Waiting(String),
}

/// Uploads `file` (or finishes an earlier upload of it) and returns the upload id. Network losses
/// are waited out; errors the node reports end the upload.
pub async fn upload(file: File, status: Callback<Status>) -> Result<String, NetError> {
    let total = file.size();
    let key = key(&file);
    let mut delay = 500;
    loop {
        match attempt(&file, &key, total, &status).await {
            Ok(url) => {
                return Ok(url.rsplit('/').next().unwrap_or_default().to_owned());
            }
            Err(NetError::Unreachable) => {
                status.emit(Status::Waiting(
                    "The node cannot be reached; the upload resumes when it is back.".into(),
                ));
                TimeoutFuture::new(delay).await;
                delay = (delay * 2).min(4000);
            }
            Err(e) => return Err(e),
        }
    }
}

/// One pass: find or create the upload, then send what the node lacks.
async fn attempt(
    file: &File,
    key: &str,
    total: f64,
    status: &Callback<Status>,
) -> Result<String, NetError> {
    let mut resumed = false;
    let stored = crate::store::get(key).and_then(|v| v.split(' ').next().map(str::to_owned));
    let (url, mut offset) = match stored {
        Some(url) => match head(&url).await? {
            Some(off) => {
                resumed = off > 0.0;
                (url, off)
            }
            None => {
                crate::store::remove(key);
                (create(file).await?, 0.0)
            }
        },
        None => (create(file).await?, 0.0),
    };
    crate::store::set(key, &url);
    status.emit(Status::Sending {
        sent: offset,
        total,
        resumed,
    });
    while offset < total {
        let end = (offset + PART).min(total);
        let part = file
            .slice_with_f64_and_f64(offset, end)
            .map_err(|_| NetError::Unreachable)?;
        let req = net::auth(tus(Request::patch(&url)))
            .header("Upload-Offset", &(offset as u64).to_string())
            .header("Content-Type", "application/offset+octet-stream");
        let resp = match req.body(part) {
            Ok(r) => r.send().await.map_err(|_| NetError::Unreachable)?,
            Err(_) => return Err(NetError::Unreachable),
        };
        let resp = match net::check(resp).await {
            Ok(r) => r,
            // Someone else moved the offset (another tab, a retried part): ask where it is.
            Err(NetError::Api { status: 409, .. }) => {
                offset = head(&url).await?.unwrap_or(0.0);
                continue;
            }
            Err(e) => return Err(e),
        };
        offset = offset_of(&resp).unwrap_or(end);
        status.emit(Status::Sending {
            sent: offset,
            total,
            resumed,
        });
    }
    // Kept (a second render of the file needs no upload), marked finished for `interrupted`.
    crate::store::set(key, &format!("{url} done"));
    Ok(url)
}
