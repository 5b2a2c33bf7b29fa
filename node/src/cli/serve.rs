//! `kino-node serve`, and the data folder every command that keeps jobs opens.

use super::args::{NodeArgs, ServeArgs, WorkerArgs};
use super::error::{CliError, CliResult};
use crate::service::{Service, ServiceConfig};
use crate::store::{host_name, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The data folder (created if needed) and its job store.
pub async fn open_store(data_dir: Option<PathBuf>) -> CliResult<(PathBuf, Store)> {
    let data_dir = data_folder(data_dir)?;
    let store = Store::open_sqlite(&data_dir).await?;
    Ok((data_dir, store))
}

/// The data folder asked for (else the default), created if needed.
fn data_folder(data_dir: Option<PathBuf>) -> CliResult<PathBuf> {
    let data_dir = data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir).map_err(CliError::io(format!(
        "creating data folder {}",
        data_dir.display()
    )))?;
    Ok(data_dir)
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
    let token = a.token.filter(|t| !t.is_empty());
    if !a.listen.ip().is_loopback() && token.is_none() {
        return Err(CliError::Usage(format!(
            "refusing to listen on {} without a token: set --token or KINO_TOKEN (or listen on 127.0.0.1)",
            a.listen
        )));
    }
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .map_err(CliError::io(format!("listening on {}", a.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(CliError::io("reading the listening address"))?;
    let url = a
        .public_url
        .clone()
        .unwrap_or_else(|| match addr.ip().is_unspecified() {
            true => format!("http://{}:{}", host_name(), addr.port()),
            false => format!("http://{addr}"),
        });
    let peers = Peers {
        url: Some(url),
        coordinator: None,
        token: token.clone(),
    };
    let (data_dir, svc) = start_node(a.node, peers).await?;
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

/// How a farm node reaches the others: the URL it serves on (serving nodes), the node it fetches
/// inputs from (`--coordinator`), the token.
struct Peers {
    url: Option<String>,
    coordinator: Option<String>,
    token: Option<String>,
}

/// Opens the node's store (its own SQLite, or the farm's PostgreSQL, joining it under its name) and
/// starts the job service on it.
async fn start_node(a: NodeArgs, peers: Peers) -> CliResult<(PathBuf, Arc<Service>)> {
    let janitor = janitor_config(&a)?;
    let (data_dir, store, node, farm_link) = match &a.db {
        None => {
            let (dir, store) = open_store(a.data_dir).await?;
            (dir, store, String::new(), None)
        }
        Some(url) => {
            let dir = data_folder(a.data_dir)?;
            let storage = crate::service::remote::storage_id(&dir).map_err(CliError::io(
                format!("the data folder's id in {}", dir.display()),
            ))?;
            // The URL (it may carry a password) is never printed; errors name the database only.
            let store = Store::connect(url).await?;
            let name = a.name.clone().unwrap_or_else(host_name);
            let lease_ms = (a.lease_seconds * 1000.0) as i64;
            let info = node_info(&storage, peers.url.as_deref());
            store
                .register_node(&name, env!("CARGO_PKG_VERSION"), &info, 3 * lease_ms)
                .await?;
            let token = peers.token.filter(|t| !t.is_empty());
            let link = crate::service::remote::FarmLink {
                storage,
                coordinator: peers.coordinator,
                peer: crate::pipeline::remote::PeerLink::new(token)?,
            };
            (dir, store, name, Some(link))
        }
    };
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
            lease_ms: ((a.lease_seconds * 1000.0) as i64).max(300),
            sample_ms: (a.sample_seconds.max(0.0) * 1000.0) as u64,
            node,
            farm_link,
            janitor,
        },
    );
    Ok((data_dir, svc))
}

/// The janitor's settings from the command line: a retention only when one is asked for.
fn janitor_config(a: &NodeArgs) -> CliResult<crate::service::janitor::JanitorConfig> {
    let positive = |v: Option<f64>, flag: &str| match v {
        Some(v) if !(v.is_finite() && v > 0.0) => Err(CliError::Usage(format!(
            "{flag} must be a positive number, got {v}"
        ))),
        v => Ok(v),
    };
    let days = positive(a.retain_days, "--retain-days")?;
    let gb = positive(a.retain_quota_gb, "--retain-quota-gb")?;
    let every = positive(Some(a.janitor_seconds), "--janitor-seconds")?.unwrap_or(60.0);
    let retention = (days.is_some() || gb.is_some()).then(|| kino_shared::Retention {
        max_age_seconds: days.map(|d| d * 86_400.0),
        quota_bytes: gb.map(|g| (g * 1e9) as u64),
    });
    Ok(crate::service::janitor::JanitorConfig {
        retention,
        every: std::time::Duration::from_secs_f64(every.max(0.05)),
    })
}

/// `kino-node worker --name N --drain`: asks the running node N to drain, through the store.
async fn ask_to_drain(a: &NodeArgs) -> CliResult<u8> {
    let (Some(url), Some(name)) = (&a.db, &a.name) else {
        return Err(CliError::Usage(
            "--drain needs the farm's store (--db or KINO_DB) and the node's --name".into(),
        ));
    };
    let store = Store::connect(url).await?;
    let alive_ms = 3 * (a.lease_seconds * 1000.0) as i64;
    if !store.request_drain(name, alive_ms).await? {
        return Err(CliError::Missing(format!(
            "no live node named {name} in this farm (see GET /api/nodes)"
        )));
    }
    eprintln!("kino-node: asked {name} to drain: it finishes the chunks in hand and takes no more");
    Ok(0)
}

/// What a node tells the farm about itself: cores, memory, encoders and models present (no paths),
/// its data folder's id and the URL it serves on.
fn node_info(storage: &str, url: Option<&str>) -> String {
    use kino_shared::VideoCodec;
    crate::media::init();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let encoders: Vec<String> = [
        VideoCodec::H264,
        VideoCodec::H265,
        VideoCodec::Av1,
        VideoCodec::Vp9,
    ]
    .into_iter()
    .filter(|c| crate::media::encode::find_encoder(*c).is_ok())
    .map(|c| format!("{c:?}").to_lowercase())
    .collect();
    let models: Vec<String> = crate::models::Config::from_env()
        .ok()
        .and_then(|c| std::fs::read_dir(c.dir).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".onnx"))
        .collect();
    // MemTotal from /proc/meminfo, in bytes.
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kb| kb * 1024);
    serde_json::json!({
        "host": host_name(),
        "cores": cores,
        "memory_bytes": memory_bytes,
        "encoders": encoders,
        "models": models,
        "gpus": gpus(),
        "storage": storage,
        "url": url,
    })
    .to_string()
}

/// The GPUs this machine shows: NVIDIA's by model name (the driver's `/proc` entries), other render
/// devices (`/sys/class/drm/renderD*`) by vendor.
fn gpus() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/proc/driver/nvidia/gpus")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("information")).ok())
        .filter_map(|info| {
            let line = info.lines().find(|l| l.starts_with("Model:"))?.to_owned();
            Some(line.trim_start_matches("Model:").trim().to_owned())
        })
        .collect();
    let nvidia = !out.is_empty();
    for dev in std::fs::read_dir("/sys/class/drm")
        .into_iter()
        .flatten()
        .flatten()
    {
        if !dev.file_name().to_string_lossy().starts_with("renderD") {
            continue;
        }
        let vendor = std::fs::read_to_string(dev.path().join("device/vendor")).unwrap_or_default();
        let name = match vendor.trim() {
            "0x10de" if nvidia => continue,
            "0x10de" => "NVIDIA GPU",
            "0x1002" => "AMD GPU",
            "0x8086" => "Intel GPU",
            _ => continue,
        };
        out.push(name.to_owned());
    }
    out
}

/// `kino-node worker`: the job service of a farm node, without HTTP. SIGTERM or Ctrl-C drains it:
/// the chunks in hand are finished, then it exits.
pub async fn cmd_worker(a: WorkerArgs) -> CliResult<u8> {
    if a.node.db.is_none() {
        return Err(CliError::Usage(
            "a worker needs the farm's store: --db postgres://… (or KINO_DB)".into(),
        ));
    }
    if a.drain {
        return ask_to_drain(&a.node).await;
    }
    let peers = Peers {
        url: None,
        coordinator: a.coordinator,
        token: a.token,
    };
    let (_, svc) = start_node(a.node, peers).await?;
    eprintln!("kino-node: worker {} joined the farm", svc.config.node);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(CliError::io("listening for SIGTERM"))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = svc.drain_asked() => {}
    }
    eprintln!("kino-node: draining: finishing the chunks in hand");
    svc.drain();
    tokio::select! {
        _ = svc.idle() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(0)
}
