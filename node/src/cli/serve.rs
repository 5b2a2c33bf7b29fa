//! `kino-node serve`, and the data folder every command that keeps jobs opens.

use super::args::ServeArgs;
use super::error::{CliError, CliResult};
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The data folder (created if needed) and its job store.
pub async fn open_store(data_dir: Option<PathBuf>) -> CliResult<(PathBuf, Store)> {
    let data_dir = data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir).map_err(CliError::io(format!(
        "creating data folder {}",
        data_dir.display()
    )))?;
    let store = Store::open_sqlite(&data_dir).await?;
    Ok((data_dir, store))
}

/// `$XDG_DATA_HOME/kino`, else `~/.local/share/kino`.
fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("kino");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/kino"))
        .unwrap_or_else(|| PathBuf::from(".kino"))
}

/// `kino-node serve`: the HTTP API, the editor and the job service on one store.
pub async fn cmd_serve(a: ServeArgs) -> CliResult<u8> {
    use crate::api::{self, ApiConfig, AppState};
    use crate::service::{Service, ServiceConfig};
    let token = a.token.filter(|t| !t.is_empty());
    if !a.listen.ip().is_loopback() && token.is_none() {
        return Err(CliError::Usage(format!(
            "refusing to listen on {} without a token: set --token or KINO_TOKEN (or listen on 127.0.0.1)",
            a.listen
        )));
    }
    let (data_dir, store) = open_store(a.data_dir).await?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let workers = a.workers.unwrap_or((cores / 2).max(1)).max(1);
    let svc = Service::new(
        store,
        ServiceConfig {
            data_dir: data_dir.clone(),
            max_jobs: a.max_jobs.max(1),
            chunk_slots: workers,
            memory_bytes: a.max_memory_mb * 1024 * 1024 / a.max_jobs.max(1) as u64,
            max_attempts: a.max_attempts.max(1),
            lease_ms: 30_000,
        },
    );
    let root = std::env::current_exe().ok().and_then(|e| {
        e.parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
    });
    let find = |rel: &str| -> Option<PathBuf> {
        [
            PathBuf::from(rel),
            root.clone().unwrap_or_default().join(rel),
        ]
        .into_iter()
        .find(|p| p.is_dir())
    };
    let web_dir = a.web_dir.or_else(|| find("web/dist"));
    let static_dir = find("static").unwrap_or_else(|| PathBuf::from("static"));
    let state = AppState {
        svc,
        config: Arc::new(ApiConfig {
            token,
            max_upload_bytes: a.max_upload_bytes,
            web_dir,
            static_dir,
        }),
        uploads: Arc::default(),
        redact: Arc::new(crate::api::redact::Redactor::new(&data_dir)),
    };
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .map_err(CliError::io(format!("listening on {}", a.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(CliError::io("reading the listening address"))?;
    println!("kino-node: listening on http://{addr}");
    eprintln!(
        "kino-node: serving http://{addr} (API docs at /api/docs), data in {}",
        data_dir.display()
    );
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(CliError::io("serving"))?;
    Ok(0)
}
