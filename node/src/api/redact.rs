//! Keeps the node's folder layout out of everything a client reads. Errors from FFmpeg, the file
//! system and the pipeline name the files they were about; at this boundary a path in the data folder
//! becomes what the client knows it by: `upload <id>` for an upload, the file's own name otherwise.
//! Applied to every JSON and text body the API routes answer with and to every WebSocket event, so a new error message
//! cannot leak a path by forgetting to.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use std::borrow::Cow;
use std::path::Path;

/// Largest response body rewritten (job lists and reports are far below it; downloads are not text).
const MAX_BODY: usize = 64 << 20;

/// Rewrites paths in the data folder out of client-visible text.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// The data folder as it may appear in messages: as configured, absolute, canonical; longest
    /// first, each without a trailing slash.
    prefixes: Vec<String>,
}

impl Redactor {
    pub fn new(data_dir: &Path) -> Self {
        let mut prefixes = vec![data_dir.display().to_string()];
        if let Ok(abs) = std::path::absolute(data_dir) {
            prefixes.push(abs.display().to_string());
        }
        if let Ok(c) = data_dir.canonicalize() {
            prefixes.push(c.display().to_string());
        }
        let mut prefixes: Vec<String> = prefixes
            .into_iter()
            .map(|p| p.trim_end_matches('/').to_owned())
            .filter(|p| !p.is_empty() && p != "." && p != "/")
            .collect();
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        prefixes.dedup();
        Redactor { prefixes }
    }

    /// `text` with every path into the data folder replaced by its public name.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.prefixes.iter().any(|p| text.contains(p.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while !rest.is_empty() {
            for p in &self.prefixes {
                let Some(at) = rest.find(p.as_str()) else {
                    continue;
                };
                let after = &rest[at + p.len()..];
                // A path only where the prefix starts a token and continues into the folder
                // (`data/…`), so words like "Invalid data" stay as they are.
                let starts_token = rest[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !is_path_char(c) || (p.starts_with('/') && c != '/'));
                if !starts_token || !(after.starts_with('/') || after.is_empty()) {
                    out.push_str(&rest[..at + p.len()]);
                    rest = after;
                    continue 'scan;
                }
                out.push_str(&rest[..at]);
                let end = after
                    .find(|c: char| !is_path_char(c))
                    .unwrap_or(after.len());
                out.push_str(&public_name(&after[..end]));
                rest = &after[end..];
                continue 'scan;
            }
            out.push_str(rest);
            break;
        }
        Cow::Owned(out)
    }
}

fn is_path_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '"' | '\'' | '(' | ')' | ',' | ';' | '<' | '>' | '`'))
        && c != ':'
}

/// What a client calls the file at `rel` (relative to the data folder, with its leading slash).
fn public_name(rel: &str) -> String {
    let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        ["uploads", id, ..] => format!("upload {}", id.split('.').next().unwrap_or(id)),
        [] => "the node's data folder".to_owned(),
        [.., name] => (*name).to_owned(),
    }
}

/// Middleware for the API routes: JSON and text response bodies pass through the redactor.
pub async fn bodies(
    State(redactor): State<std::sync::Arc<Redactor>>,
    req: Request,
    next: Next,
) -> Response {
    let res = next.run(req).await;
    let textual = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/"));
    if !textual {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    match redactor.text(text) {
        Cow::Borrowed(_) => Response::from_parts(parts, Body::from(bytes)),
        Cow::Owned(t) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(t))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_data_folder_become_public_names() {
        let r = Redactor::new(Path::new("data"));
        assert_eq!(
            r.text("not a recognised media file: data/uploads/0a1b (Invalid data found)"),
            "not a recognised media file: upload 0a1b (Invalid data found)"
        );
        assert_eq!(
            r.text("cannot write output data/jobs/j1/chunks/0003.mp4: No space left"),
            "cannot write output 0003.mp4: No space left"
        );
        assert_eq!(r.text("Invalid data found"), "Invalid data found");
        assert_eq!(r.text("metadata/x"), "metadata/x");
        let abs = std::path::absolute("data").unwrap();
        let msg = format!("I/O error on {}/outputs/x.mp4", abs.display());
        assert_eq!(r.text(&msg), "I/O error on x.mp4");
        let json = format!(r#"{{"track":"{}/uploads/ff.wav"}}"#, abs.display());
        assert_eq!(r.text(&json), r#"{"track":"upload ff"}"#);
    }

    #[test]
    fn an_absolute_data_folder_is_found_anywhere_in_a_token() {
        let r = Redactor::new(Path::new("/srv/kino-data"));
        assert_eq!(
            r.text("open '/srv/kino-data/uploads/abc': denied"),
            "open 'upload abc': denied"
        );
        assert_eq!(r.text("/srv/kino-data"), "the node's data folder");
        assert_eq!(r.text("/srv/kino-database"), "/srv/kino-database");
    }
}
