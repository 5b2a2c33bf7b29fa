//! A job's input on another node (a farm without shared storage): the chunk's byte ranges are
//! fetched by HTTP Range into a sparse local copy that FFmpeg opens as a local file, and each
//! rendered chunk is sent back with its SHA-256, to a lease-named file (so a retried or late send
//! never replaces the chunk the job uses).

use super::context::{blocking, JobError};
use super::input_layout::InputLayout;
use crate::media::sparse::{SparseCopy, BLOCK};
use crate::store::ChunkPlan;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Header carrying a chunk file's SHA-256 (hex) on `PUT`: the receiver checks it before keeping it.
pub const SHA256_HEADER: &str = "x-kino-sha256";
/// What a chunk's render measured of its encode (JSON `ChunkMeasures`: the target-quality outcome,
/// the encoder's loss), sent with the chunk so the node that assembles has it for the report.
pub const MEASURES_HEADER: &str = "x-kino-measures";

/// Bytes fetched at least when a decoder reaches a missing packet (more than the packet, so a
/// chunk that runs past its planned range is not decoded again for each packet).
const REACH: u64 = 4 << 20;

/// How this node reaches the others: HTTP with the farm's token. Made once per node: the client
/// keeps its connections and the system's root certificates.
#[derive(Clone)]
pub struct PeerLink {
    client: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for PeerLink {
    /// Never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

impl PeerLink {
    pub fn new(token: Option<String>) -> Result<PeerLink, JobError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| JobError::Internal(format!("HTTP client: {e}")))?;
        Ok(PeerLink { client, token })
    }

    fn authorised(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }
}

/// One job's input as a node without its file sees it.
pub struct RemoteInput {
    link: PeerLink,
    /// The base URL of a node that has the file (`https://main:8080`).
    base: String,
    job: String,
    layout: InputLayout,
    copy: Arc<SparseCopy>,
}

/// Why a request to `url` failed, for the job's log (never with the token).
fn peer_error(url: &str, e: impl std::fmt::Display) -> JobError {
    JobError::Peer(format!("the node holding the input ({url}): {e}"))
}

impl RemoteInput {
    /// The input of `job` (laid out as `layout`) from the node at `base`, copied into `cache`.
    pub fn open(
        link: PeerLink,
        base: &str,
        job: &str,
        layout: InputLayout,
        cache: &Path,
    ) -> Result<RemoteInput, JobError> {
        let copy = SparseCopy::open(&cache.join(job).join("input"), layout.size)
            .map_err(|e| JobError::Internal(format!("local copy of the input: {e}")))?;
        Ok(RemoteInput {
            link,
            base: base.trim_end_matches('/').to_owned(),
            job: job.to_owned(),
            layout,
            copy: Arc::new(copy),
        })
    }

    pub fn path(&self) -> &Path {
        self.copy.path()
    }

    pub fn layout(&self) -> &InputLayout {
        &self.layout
    }

    pub fn guard(&self) -> crate::media::decode::ByteGuard {
        self.copy.guard()
    }

    /// Fetches what decoding `chunk` reads and is not here yet.
    pub async fn prepare(&self, chunk: &ChunkPlan) -> Result<(), JobError> {
        for (start, end) in self.layout.ranges(chunk) {
            self.fetch(start, end).await?;
        }
        Ok(())
    }

    /// Fetches the bytes a decoder found missing at `start..end`, and some after them; the whole
    /// file when `whole`.
    pub async fn fetch_missing(&self, start: u64, end: u64, whole: bool) -> Result<(), JobError> {
        match whole {
            true => self.fetch(0, self.copy.size()).await,
            false => self.fetch(start, end.max(start + REACH)).await,
        }
    }

    /// Fetches the missing blocks of `start..end`, one Range request per run of them.
    pub async fn fetch(&self, start: u64, end: u64) -> Result<(), JobError> {
        let url = format!("{}/api/farm/jobs/{}/input", self.base, self.job);
        for (s, e) in self.copy.missing(start, end) {
            let r = self
                .link
                .authorised(self.link.client.get(&url))
                .header(reqwest::header::RANGE, format!("bytes={s}-{}", e - 1))
                .send()
                .await
                .map_err(|err| peer_error(&url, err))?;
            if r.status() != reqwest::StatusCode::PARTIAL_CONTENT {
                return Err(peer_error(
                    &url,
                    format!("answered {} to a range", r.status()),
                ));
            }
            // Written a block at a time, not per network read (a few kB each).
            let (mut at, mut buf) = (s, Vec::with_capacity(BLOCK as usize));
            let mut body = r.bytes_stream();
            loop {
                let piece = body.next().await.transpose();
                let piece = piece.map_err(|err| peer_error(&url, err))?;
                if let Some(p) = &piece {
                    if at + (buf.len() + p.len()) as u64 > e {
                        return Err(peer_error(&url, "sent more than the range asked"));
                    }
                    buf.extend_from_slice(p);
                }
                if buf.len() as u64 >= BLOCK || (piece.is_none() && !buf.is_empty()) {
                    let (copy, offset, data) = (self.copy.clone(), at, std::mem::take(&mut buf));
                    at += data.len() as u64;
                    blocking(move || copy.write(offset, &data))
                        .await?
                        .map_err(|err| {
                            JobError::Internal(format!("local copy of the input: {err}"))
                        })?;
                }
                if piece.is_none() {
                    break;
                }
            }
            if at != e {
                return Err(peer_error(
                    &url,
                    format!("sent {} of {} bytes", at - s, e - s),
                ));
            }
            let copy = self.copy.clone();
            blocking(move || copy.mark(s, e))
                .await?
                .map_err(|err| JobError::Internal(format!("local copy of the input: {err}")))?;
        }
        Ok(())
    }

    /// Sends chunk `index`'s file rendered under lease `lease_no` to the node with the folder.
    pub async fn send(&self, index: u32, lease_no: u64, file: &Path) -> Result<(), JobError> {
        let url = format!(
            "{}/api/farm/jobs/{}/chunks/{index}/{lease_no}",
            self.base, self.job
        );
        let path = file.to_owned();
        let hash = blocking(move || -> std::io::Result<String> {
            let mut f = std::fs::File::open(&path)?;
            let mut h = Sha256::new();
            std::io::copy(&mut f, &mut h)?;
            Ok(hex::encode(h.finalize()))
        })
        .await?
        .map_err(|e| JobError::Internal(format!("reading chunk {index}: {e}")))?;
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| JobError::Internal(format!("reading chunk {index}: {e}")))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
        let mut put = self
            .link
            .authorised(self.link.client.put(&url))
            .header(SHA256_HEADER, hash);
        if let Ok(m) = std::fs::read_to_string(super::render::measures_file(file)) {
            put = put.header(MEASURES_HEADER, m.trim());
        }
        let r = put
            .body(body)
            .send()
            .await
            .map_err(|e| peer_error(&url, e))?;
        if !r.status().is_success() {
            let status = r.status();
            let said = r.text().await.unwrap_or_default();
            return Err(peer_error(
                &url,
                format!("refused chunk {index}: {status} {said}"),
            ));
        }
        Ok(())
    }
}
