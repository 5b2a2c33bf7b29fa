//! A job bundle: a finished job's spec, state, chunks and report sections (cut lists and tracks
//! among them), and optionally its output, to move a job's record (or re-run it) on another node.
//! On the wire it is a tar archive whose first entry is `bundle.json` (this type).

use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a bundle's `format` says.
pub const BUNDLE_FORMAT: &str = "kino-job-bundle";
/// The bundle version this build writes and the newest it reads.
pub const BUNDLE_VERSION: u32 = 1;
/// The manifest's name in the archive (its first entry).
pub const BUNDLE_MANIFEST: &str = "bundle.json";

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobBundle {
    /// Always `kino-job-bundle`.
    pub format: String,
    pub version: u32,
    /// When it was exported, milliseconds since the epoch.
    pub exported_ms: i64,
    pub job: JobStatus,
    pub chunks: Vec<ChunkStatus>,
    /// The report's sections by name (scenes, quality, auto_edit with its cut list, tracks, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub sections: BTreeMap<String, serde_json::Value>,
    /// The output file in the archive, when it was included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<BundleFile>,
}

/// A file carried in the archive beside the manifest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// Its entry name: `output.mp4`, `output.mkv`, …
    pub name: String,
    pub bytes: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// What the output downloads as (`holiday-kino.mp4`): kept by the node that imports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_name: Option<String>,
}

impl BundleFile {
    /// The name the imported output is saved and downloaded under: the bundle's download name
    /// when it is a plain file name with the output's extension, else `output.<ext>`.
    pub fn saved_name(&self) -> String {
        let ext = self.name.trim_start_matches("output.");
        self.download_name
            .as_deref()
            .filter(|n| {
                n.len() <= 200
                    && !n.starts_with('.')
                    && !n.chars().any(|c| matches!(c, '/' | '\\') || c.is_control())
                    && n.strip_suffix(ext)
                        .is_some_and(|s| s.ends_with('.') && s.len() > 1)
            })
            .map_or_else(|| self.name.clone(), str::to_owned)
    }
}

impl JobBundle {
    /// Reads a manifest: its format and version first (a newer bundle is refused by name), then
    /// the job's spec must pass this node's checks, and the job must have ended.
    pub fn parse(text: &str) -> Result<JobBundle, FileError> {
        check_format(text, BUNDLE_FORMAT, BUNDLE_VERSION)?;
        let b: JobBundle = serde_json::from_str(text)
            .map_err(|e| SpecError::new("bundle", format!("not a valid job bundle: {e}")))?;
        b.job
            .spec
            .validate()
            .map_err(|e| SpecError::new(format!("job.spec.{}", e.field), e.message))?;
        if !matches!(
            b.job.state,
            JobState::Done | JobState::Failed | JobState::Cancelled
        ) {
            return Err(SpecError::new(
                "job.state",
                format!(
                    "the bundle's job is {}: only an ended job can be imported",
                    b.job.state.as_str()
                ),
            )
            .into());
        }
        if let Some(f) = &b.output {
            let ext = f.name.strip_prefix("output.");
            let ok = ext.is_some_and(|e| {
                !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if !ok || f.sha256.len() != 64 {
                return Err(SpecError::new("output", "invalid output entry").into());
            }
        }
        Ok(b)
    }
}
