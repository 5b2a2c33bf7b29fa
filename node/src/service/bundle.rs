//! Job bundles: an ended job's record (spec, state, chunks, report sections) and optionally its
//! output, written as a tar archive (`bundle.json` first), and read back on any node as a new job
//! with that history. Reading trusts nothing: the manifest's format, version and spec are checked,
//! entry names are never used as paths, and the output must match its size and SHA-256.

use super::jobs::ServiceError;
use super::Service;
use crate::pipeline::input_layout::InputLayout;
use crate::store::ReportSection;
use kino_shared::{
    BundleFile, FileError, JobBundle, JobState, JobStatus, BUNDLE_FORMAT, BUNDLE_MANIFEST,
    BUNDLE_VERSION,
};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The most a manifest may weigh (a long job's quality curve and tracks fit many times over).
const MANIFEST_MAX: u64 = 256 << 20;

#[derive(Debug, Error)]
pub enum BundleError {
    /// The manifest's format or version, or its job, is refused.
    #[error("{}", .0.error.message)]
    Refused(FileError),
    /// The archive is not a whole, consistent bundle.
    #[error("the bundle is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for BundleError {
    fn from(e: crate::store::StoreError) -> Self {
        BundleError::Service(e.into())
    }
}

/// Job `id`'s bundle, and the output file to carry when `with_output` (and it is there).
pub async fn bundle_of(
    svc: &Service,
    id: &str,
    with_output: bool,
) -> Result<(JobBundle, Option<PathBuf>), BundleError> {
    let job = svc.store.job(id).await?;
    if !matches!(
        job.state,
        JobState::Done | JobState::Failed | JobState::Cancelled
    ) {
        return Err(ServiceError::Conflict {
            code: kino_shared::ErrorCode::NotReady,
            message: format!(
                "job is {}: a bundle is made of an ended job",
                job.state.as_str()
            ),
        }
        .into());
    }
    let chunks = svc.store.chunk_statuses(id).await?;
    let sections = (svc.store.report_sections(id).await?)
        .into_iter()
        // Where the input's bytes lie on this node: meaningless elsewhere.
        .filter(|(name, _)| name != InputLayout::NAME)
        .collect();
    let (_, out) = svc.store.job_input_output(id).await?;
    let out = PathBuf::from(out);
    let carried = (with_output && job.state == JobState::Done && out.is_file()).then_some(out);
    let output = match &carried {
        Some(path) => {
            let path = path.clone();
            let (bytes, sha256) = tokio::task::spawn_blocking(move || hash_file(&path))
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))??;
            let ext = carried
                .as_deref()
                .and_then(|p| p.extension())
                .and_then(|e| e.to_str())
                .unwrap_or("mp4");
            Some(BundleFile {
                name: format!("output.{ext}"),
                bytes,
                sha256,
                download_name: None,
            })
        }
        None => None,
    };
    let bundle = JobBundle {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        exported_ms: crate::store::now_ms(),
        job,
        chunks,
        sections,
        output,
    };
    Ok((bundle, carried))
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h)?;
    Ok((bytes, hex::encode(h.finalize())))
}

/// Writes the archive: the manifest, then the output when carried.
pub fn write_bundle(b: &JobBundle, output: Option<&Path>, w: impl Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(w);
    let manifest = serde_json::to_vec_pretty(b).map_err(std::io::Error::other)?;
    let mtime = (b.exported_ms / 1000).max(0) as u64;
    let mut header = tar::Header::new_ustar();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header.set_cksum();
    tar.append_data(&mut header, BUNDLE_MANIFEST, manifest.as_slice())?;
    if let (Some(path), Some(f)) = (output, &b.output) {
        let mut file = std::fs::File::open(path)?;
        let mut header = tar::Header::new_ustar();
        header.set_size(f.bytes);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_cksum();
        tar.append_data(&mut header, &f.name, (&mut file).take(f.bytes))?;
    }
    tar.into_inner()?.flush()
}

/// Reads the archive at `path`: the manifest checked, and the output (when carried) copied into
/// the folder `out_dir` under its download name after its size and hash are verified. Returns the
/// manifest and where the output went.
fn read_bundle(path: &Path, out_dir: &Path) -> Result<(JobBundle, Option<PathBuf>), BundleError> {
    let damaged = |what: &str| BundleError::Damaged(what.to_owned());
    let mut archive = tar::Archive::new(std::fs::File::open(path)?);
    let mut entries = archive
        .entries()
        .map_err(|e| BundleError::Damaged(format!("not a tar archive: {e}")))?;
    let bundle = read_manifest(&mut entries)?;
    let Some(want) = &bundle.output else {
        return Ok((bundle, None));
    };
    let mut entry = entries
        .next()
        .ok_or_else(|| damaged("the output it names is missing (the archive ends early)"))?
        .map_err(|e| BundleError::Damaged(format!("the output entry cannot be read: {e}")))?;
    if entry.path_bytes().as_ref() != want.name.as_bytes() || entry.size() != want.bytes {
        return Err(damaged("the output entry is not the one bundle.json names"));
    }
    let dest = out_dir.join(want.saved_name());
    let part = out_dir.join("output.part");
    let copied = (|| -> Result<(), BundleError> {
        std::fs::create_dir_all(out_dir)?;
        let mut file = std::fs::File::create(&part)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| BundleError::Damaged(format!("the output is cut short: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])?;
            total += n as u64;
        }
        file.sync_all()?;
        if total != want.bytes || hex::encode(hasher.finalize()) != want.sha256 {
            return Err(damaged("the output's bytes do not match its SHA-256"));
        }
        std::fs::rename(&part, &dest)?;
        Ok(())
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(out_dir);
        return Err(e);
    }
    Ok((bundle, Some(dest)))
}

/// Imports the bundle at `path` as a new job with the bundle's history (its spec, state, chunks
/// and report; its output when carried). The original job's id is kept in the job's key.
pub async fn import(svc: &Service, path: &Path) -> Result<JobStatus, BundleError> {
    let id = uuid::Uuid::new_v4().to_string();
    let out_dir = svc.config.data_dir.join("outputs");
    std::fs::create_dir_all(&out_dir)?;
    let (src, folder) = (path.to_owned(), out_dir.join(format!("imported-{id}")));
    let (bundle, output) = tokio::task::spawn_blocking(move || read_bundle(&src, &folder))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
    let out = output
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let key = format!("imported:{}", bundle.job.id);
    if let Err(e) = svc.store.import_job(&id, &key, &bundle, &out).await {
        if let Some(dir) = output.as_deref().and_then(Path::parent) {
            let _ = std::fs::remove_dir_all(dir);
        }
        return Err(e.into());
    }
    Ok(svc.store.job(&id).await?)
}

/// The archive's first entry, `bundle.json`, read and checked.
fn read_manifest(entries: &mut tar::Entries<'_, std::fs::File>) -> Result<JobBundle, BundleError> {
    let damaged = |what: &str| BundleError::Damaged(what.to_owned());
    let mut first = entries
        .next()
        .ok_or_else(|| damaged("it is empty"))?
        .map_err(|e| BundleError::Damaged(format!("not a tar archive: {e}")))?;
    if first.path_bytes().as_ref() != BUNDLE_MANIFEST.as_bytes() {
        return Err(damaged("its first entry is not bundle.json"));
    }
    if first.size() > MANIFEST_MAX {
        return Err(damaged("bundle.json is larger than 256 MiB"));
    }
    let mut text = String::new();
    first
        .read_to_string(&mut text)
        .map_err(|e| BundleError::Damaged(format!("bundle.json cannot be read: {e}")))?;
    JobBundle::parse(&text).map_err(BundleError::Refused)
}

/// Only the manifest of the bundle at `path` (to re-run its spec on another input).
pub async fn manifest(path: &Path) -> Result<JobBundle, BundleError> {
    let src = path.to_owned();
    tokio::task::spawn_blocking(move || -> Result<JobBundle, BundleError> {
        let mut archive = tar::Archive::new(std::fs::File::open(&src)?);
        let mut entries = archive
            .entries()
            .map_err(|e| BundleError::Damaged(format!("not a tar archive: {e}")))?;
        read_manifest(&mut entries)
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}
