//! The dashboard page (`#dashboard`): each node's resources over the last hour (every reading) or
//! day (averaged by the node) from `GET /api/resources` (CPU per core, memory, the data folder's
//! disk, queue, throughput, NVIDIA GPUs where NVML reads them), charted and refreshed while the page is shown; the data folder's
//! storage and the janitor's removals; the recent failures.

use crate::net;
use gloo_net::http::Request;
use gloo_timers::future::TimeoutFuture;
use kino_shared::{Analytics, RecentFailure, ResourceHistory, ResourceSample, StorageStatus};
use std::rc::Rc;
use yew::prelude::*;

/// Drawing size of a chart (the SVG scales to its box).
const W: f64 = 600.0;
const H: f64 = 120.0;
/// Refresh period of the page's figures: the hour's charts, the day's (averaged over 4 minutes).
const REFRESH_MS: u32 = 2000;
const DAY_REFRESH_MS: u32 = 30_000;

/// One line of a chart: its name and `(time ms, value)` points.
#[derive(Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, f64)>,
}

/// The polyline of `s` in a chart spanning times `t0..t1` and values `lo..hi`.
pub fn line(s: &Series, (t0, t1): (i64, i64), (lo, hi): (f64, f64)) -> String {
    let (tw, vh) = ((t1 - t0).max(1) as f64, (hi - lo).max(1e-9));
    s.points
        .iter()
        .map(|&(t, v)| {
            let x = (t - t0) as f64 / tw * W;
            let y = H - (v.clamp(lo, hi) - lo) / vh * H;
            format!("{x:.2},{y:.2}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Properties, PartialEq)]
struct ChartProps {
    id: AttrValue,
    title: AttrValue,
    /// The latest figure, in words.
    now: AttrValue,
    series: Vec<Series>,
    span: (i64, i64),
    range: (f64, f64),
}

#[function_component(Chart)]
fn chart(p: &ChartProps) -> Html {
    let (t0, t1) = p.span;
    let (lo, hi) = p.range;
    html! {
        <figure class="chart" id={p.id.clone()}>
            <figcaption><strong>{ p.title.clone() }</strong>{" "}<span class="muted now">{ p.now.clone() }</span></figcaption>
            <svg viewBox={format!("0 0 {W} {H}")} preserveAspectRatio="none" role="img"
                aria-label={format!("{}: {}", p.title, p.now)}
                data-t0={t0.to_string()} data-t1={t1.to_string()} data-lo={lo.to_string()} data-hi={hi.to_string()}>
                { for p.series.iter().enumerate().map(|(i, s)| html! {
                    <polyline class={format!("s{}", i.min(5))} data-series={s.name.clone()} points={line(s, p.span, p.range)}
                        fill="none" vector-effect="non-scaling-stroke" />
                }) }
            </svg>
            <p class="legend muted" aria-hidden="true">
                { for p.series.iter().enumerate().map(|(i, s)| html! {
                    <span><i class={format!("s{}", i.min(5))} />{ s.name.clone() }{" "}</span>
                }) }
            </p>
        </figure>
    }
}

/// `n` bytes in GiB.
fn gib(n: u64) -> String {
    format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64)
}

/// The charts of one node's readings (oldest first).
fn node_charts(node: &str, samples: &[&ResourceSample]) -> Html {
    let Some(last) = samples.last() else {
        return html! {};
    };
    let span = (samples[0].at_ms, last.at_ms);
    let pick = |name: &str, f: &dyn Fn(&ResourceSample) -> f64| Series {
        name: name.to_owned(),
        points: samples.iter().map(|s| (s.at_ms, f(s))).collect(),
    };
    let mut cpu = vec![pick("cpu", &|s| s.cpu)];
    for i in 0..last.cores.len() {
        cpu.push(pick(&format!("core{i}"), &|s| {
            s.cores.get(i).copied().unwrap_or(0.0)
        }));
    }
    let peak =
        |f: &dyn Fn(&ResourceSample) -> f64| samples.iter().map(|s| f(s)).fold(0.0, f64::max);
    let queue_hi = peak(&|s| s.queue_depth.max(s.running_chunks) as f64).max(1.0);
    let fps_hi = peak(&|s| s.frames_per_second).max(1.0);
    let id = |what: &str| {
        if node.is_empty() {
            format!("chart-{what}")
        } else {
            format!("chart-{node}-{what}")
        }
    };
    html! {
        <section class="panel node" data-node={node.to_owned()} aria-label={format!("Node {}", if node.is_empty() { "this node" } else { node })}>
            <h2>{ if node.is_empty() { "This node".to_owned() } else { format!("Node {node}") } }</h2>
            <div class="charts">
                <Chart id={id("cpu")} title="CPU" series={cpu} span={span} range={(0.0, 1.0)}
                    now={format!("{:.0} % · {} cores · kino-node {:.1} cores", last.cpu * 100.0, last.cores.len(), last.process_cpu_cores)} />
                <Chart id={id("memory")} title="Memory" span={span} range={(0.0, last.memory_total_bytes.max(1) as f64)}
                    series={vec![pick("used", &|s| s.memory_used_bytes as f64), pick("kino-node", &|s| s.process_memory_bytes as f64)]}
                    now={format!("{} of {} · kino-node {}", gib(last.memory_used_bytes), gib(last.memory_total_bytes), gib(last.process_memory_bytes))} />
                <Chart id={id("disk")} title="Data disk free" span={span} range={(0.0, last.disk_total_bytes.max(1) as f64)}
                    series={vec![pick("free", &|s| s.disk_free_bytes as f64)]}
                    now={format!("{} free of {}", gib(last.disk_free_bytes), gib(last.disk_total_bytes))} />
                <Chart id={id("queue")} title="Chunks" span={span} range={(0.0, queue_hi)}
                    series={vec![pick("queued", &|s| s.queue_depth as f64), pick("running", &|s| s.running_chunks as f64)]}
                    now={format!("{} queued · {} rendering", last.queue_depth, last.running_chunks)} />
                <Chart id={id("throughput")} title="Throughput" span={span} range={(0.0, fps_hi)}
                    series={vec![pick("fps", &|s| s.frames_per_second)]}
                    now={format!("{:.1} frames/s · {:.1} chunks/min", last.frames_per_second, last.chunks_per_minute)} />
                { for last.gpus.iter().enumerate().map(|(i, g)| {
                    let gpu = move |s: &ResourceSample| s.gpus.get(i).cloned().unwrap_or_default();
                    let memory = move |s: &ResourceSample| {
                        let g = gpu(s);
                        g.memory_used_bytes as f64 / g.memory_total_bytes.max(1) as f64
                    };
                    html! {
                        <Chart id={id(&format!("gpu{i}"))} title={format!("GPU {i} · {}", g.name)} span={span} range={(0.0, 1.0)}
                            series={vec![pick("use", &|s| gpu(s).utilization), pick("memory", &memory)]}
                            now={format!("{:.0} % · memory {} of {}", g.utilization * 100.0, gib(g.memory_used_bytes), gib(g.memory_total_bytes))} />
                    }
                }) }
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// Whether the page is shown (it polls only then).
    pub shown: bool,
}

/// `n` bytes in the largest unit that keeps a figure ≥ 1 (kB, MB, GB: powers of 1000, as disks
/// are sold).
fn size(n: u64) -> String {
    let units = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    match units.iter().find(|(_, u)| n as f64 >= *u) {
        Some((name, u)) => format!("{:.1} {name}", n as f64 / u),
        None => format!("{n} B"),
    }
}

fn files(n: u64) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

/// The data folder's storage and what the janitor removed.
fn storage_panel(s: &StorageStatus) -> Html {
    let policy = match &s.retention {
        None => "off (start the node with --retain-days or --retain-quota-gb)".to_owned(),
        Some(r) => {
            let mut parts = vec![];
            if let Some(a) = r.max_age_seconds {
                parts.push(format!("unused files older than {:.3} days", a / 86_400.0));
            }
            if let Some(q) = r.quota_bytes {
                parts.push(format!("oldest unused files over {}", size(q)));
            }
            parts.join(", ")
        }
    };
    html! {
        <section class="panel storage" aria-labelledby="storage-h">
            <h2 id="storage-h">{"Storage"}</h2>
            <p id="storage-figures" data-uploads={s.uploads_bytes.to_string()} data-outputs={s.outputs_bytes.to_string()}
                data-freed={s.freed_bytes.to_string()}>
                { format!("Uploads {} ({}) · outputs {} ({})", size(s.uploads_bytes), files(s.uploads_files),
                    size(s.outputs_bytes), files(s.outputs_files)) }
            </p>
            <p class="muted">{ format!("Janitor: {policy}. Freed {} in {} since the node started.",
                size(s.freed_bytes), files(s.freed_files)) }</p>
            if !s.removed.is_empty() {
                <ul id="janitor-removed">
                    { for s.removed.iter().take(10).map(|r| html! {
                        <li>{ format!("{} · {} · {}", r.name, size(r.bytes), if r.reason == "quota" { "over quota" } else { "past the age" }) }</li>
                    }) }
                </ul>
            }
        </section>
    }
}

/// The job history of the last 30 days: per day, success rate, speeds; CSV and JSON to download.
fn history_panel(a: &Analytics) -> Html {
    let jobs: u64 = a.days.iter().map(|d| d.jobs).sum();
    let minutes: f64 = a.days.iter().map(|d| d.video_minutes).sum();
    let rate = a
        .success_rate
        .map(|r| format!("{:.0} % succeeded", r * 100.0))
        .unwrap_or_else(|| "none ended yet".into());
    let link = |q: &str| net::link(&format!("/api/analytics?days=30{q}"));
    html! {
        <section class="panel history" aria-labelledby="history-h">
            <h2 id="history-h">{"History (30 days)"}</h2>
            <p id="history-summary" data-jobs={jobs.to_string()}>
                { format!("{jobs} jobs · {rate} · {minutes:.1} minutes of video rendered") }
            </p>
            if !a.days.is_empty() {
                <div class="scroll">
                <table id="history-days">
                    <thead><tr><th>{"Day (UTC)"}</th><th>{"Jobs"}</th><th>{"Done"}</th><th>{"Failed"}</th><th>{"Cancelled"}</th><th>{"Video min"}</th></tr></thead>
                    <tbody>{ for a.days.iter().rev().take(7).map(|d| html! {
                        <tr><td>{ d.day.clone() }</td><td>{ d.jobs }</td><td>{ d.done }</td><td>{ d.failed }</td><td>{ d.cancelled }</td>
                            <td>{ format!("{:.1}", d.video_minutes) }</td></tr>
                    }) }</tbody>
                </table>
                </div>
            }
            if !a.speeds.is_empty() {
                <div class="scroll">
                <table id="history-speeds">
                    <thead><tr><th>{"Part"}</th><th>{"Source"}</th><th>{"× real time per worker"}</th><th>{"Jobs"}</th></tr></thead>
                    <tbody>{ for a.speeds.iter().map(|s| html! {
                        <tr data-stage={s.stage.clone()}><td>{ s.stage.clone() }</td><td>{ s.resolution.clone() }</td>
                            <td>{ format!("{:.2}", s.realtime) }</td><td>{ s.jobs }</td></tr>
                    }) }</tbody>
                </table>
                </div>
            }
            <p class="muted">{"Download: "}
                <a id="history-csv" href={link("&format=csv")} download="">{"days (CSV)"}</a>{" · "}
                <a href={link("&format=csv&table=speeds")} download="">{"speeds (CSV)"}</a>{" · "}
                <a href={link("")}>{"JSON"}</a>
            </p>
        </section>
    }
}

/// The window the charts show.
#[derive(Clone, Copy, PartialEq)]
enum Window {
    Hour,
    Day,
}

#[function_component(Dashboard)]
pub fn dashboard(p: &Props) -> Html {
    let history = use_state(|| None::<Result<Rc<ResourceHistory>, String>>);
    let failures = use_state(Vec::<RecentFailure>::new);
    let storage = use_state(|| None::<StorageStatus>);
    let analytics = use_state(|| None::<Analytics>);
    let window = use_state(|| Window::Hour);
    {
        let (history, failures, storage) = (history.clone(), failures.clone(), storage.clone());
        let analytics = analytics.clone();
        use_effect_with((p.shown, *window), move |&(shown, window)| {
            let alive = Rc::new(std::cell::Cell::new(shown));
            let running = alive.clone();
            let (query, every) = match window {
                Window::Hour => ("/api/resources?minutes=60", REFRESH_MS),
                Window::Day => ("/api/resources?minutes=1440", DAY_REFRESH_MS),
            };
            if shown {
                wasm_bindgen_futures::spawn_local(async move {
                    while running.get() {
                        let got = match net::send(Request::get(query)).await {
                            Ok(r) => r
                                .json::<ResourceHistory>()
                                .await
                                .map(Rc::new)
                                .map_err(|e| e.to_string()),
                            Err(e) => Err(e.to_string()),
                        };
                        history.set(Some(got));
                        if let Ok(r) = net::send(Request::get("/api/failures?limit=10")).await {
                            if let Ok(list) = r.json::<Vec<RecentFailure>>().await {
                                failures.set(list);
                            }
                        }
                        if let Ok(r) = net::send(Request::get("/api/storage")).await {
                            if let Ok(s) = r.json::<StorageStatus>().await {
                                storage.set(Some(s));
                            }
                        }
                        if let Ok(r) = net::send(Request::get("/api/analytics?days=30")).await {
                            if let Ok(a) = r.json::<Analytics>().await {
                                analytics.set(Some(a));
                            }
                        }
                        TimeoutFuture::new(every).await;
                    }
                });
            }
            move || alive.set(false)
        });
    }
    let body = match &*history {
        None => html! { <p class="muted">{"Loading the node's readings…"}</p> },
        Some(Err(e)) => {
            html! { <p class="err" role="alert">{ format!("The readings cannot be loaded: {e}") }</p> }
        }
        Some(Ok(h)) if h.samples.is_empty() => html! {
            <p class="muted">{"No readings yet: the node reads its resources every few seconds (see --sample-seconds)."}</p>
        },
        Some(Ok(h)) => {
            let mut nodes: Vec<&str> = h.samples.iter().map(|s| s.node.as_str()).collect();
            nodes.sort_unstable();
            nodes.dedup();
            let charts = nodes.into_iter().map(|n| {
                let mine: Vec<&ResourceSample> = h.samples.iter().filter(|s| s.node == n).collect();
                node_charts(n, &mine)
            });
            html! { <>{ for charts }</> }
        }
    };
    html! {
        <main class="dashboard" id="dashboard" hidden={!p.shown}>
            <div class="wide">
                <h2 class="visually-hidden">{"Dashboard"}</h2>
                <div class="row" role="group" aria-label="Chart window">
                    { for [(Window::Hour, "Last hour", "window-hour"), (Window::Day, "Last day", "window-day")].into_iter().map(|(w, label, id)| {
                        let pressed = (*window == w).to_string();
                        let window = window.clone();
                        let onclick = Callback::from(move |_| window.set(w));
                        html! { <button type="button" class="secondary" {id} aria-pressed={pressed} {onclick}>{ label }</button> }
                    }) }
                </div>
                <p class="muted">{ if *window == Window::Hour {
                    "Every reading of the last hour (the node reads its resources every few seconds and keeps them a day; "
                } else {
                    "The last day, each point the average of 4 minutes of readings ("
                } }<a href={net::link("/api/resources")}>{"data"}</a>{")."}</p>
                { body }
                if let Some(s) = &*storage { { storage_panel(s) } }
                if let Some(a) = &*analytics { { history_panel(a) } }
                <section class="panel failures" aria-labelledby="failures-h">
                    <h2 id="failures-h">{"Recent failures"}</h2>
                    if failures.is_empty() {
                        <p class="muted">{"None."}</p>
                    }
                    <ul id="failures">
                        { for failures.iter().map(|f| html! {
                            <li data-job={f.job.clone()}>
                                <strong>{ format!("Job {}", f.job.chars().take(8).collect::<String>()) }</strong>
                                { f.chunk.map(|c| format!(", chunk {c}")).unwrap_or_default() }
                                { if f.node.is_empty() { String::new() } else { format!(" on {}", f.node) } }
                                {": "}<span class="err">{ f.error.clone() }</span>
                            </li>
                        }) }
                    </ul>
                </section>
            </div>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1_260_000), "1.3 MB");
        assert_eq!(size(3_000_000_000), "3.0 GB");
        assert_eq!(files(1), "1 file");
    }

    #[test]
    fn points_map_time_and_value_onto_the_box() {
        let s = Series {
            name: "cpu".into(),
            points: vec![(1000, 0.0), (2000, 0.5), (3000, 2.0)],
        };
        assert_eq!(
            line(&s, (1000, 3000), (0.0, 1.0)),
            "0.00,120.00 300.00,60.00 600.00,0.00"
        );
    }
}
