//! Analytics over the job history: jobs and minutes of video per day, success rate, average speed
//! per stage and source resolution, storage; as JSON, or CSV for a spreadsheet.

use crate::store::JobHistory;
use kino_shared::{resolution_class, Analytics, AnalyticsDay, JobTimings, StageSpeed};
use std::collections::BTreeMap;

/// Which jobs count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only jobs in this state (`done`, `failed`, `cancelled`, `queued`, …).
    pub state: Option<String>,
    /// Only jobs with a stage of this kind (`denoise`, `scale`, …).
    pub stage: Option<String>,
}

fn stage_kinds(spec: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    v["stages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn day_of(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// Sums the history `jobs` (created from `from_ms` to `to_ms`) that pass `filter`.
pub fn summarize(jobs: &[JobHistory], from_ms: i64, to_ms: i64, filter: &Filter) -> Analytics {
    let mut days: BTreeMap<String, AnalyticsDay> = BTreeMap::new();
    // (stage, resolution) → (jobs, worker seconds, video seconds)
    let mut speeds: BTreeMap<(String, &'static str), (u64, f64, f64)> = BTreeMap::new();
    let (mut done, mut failed) = (0u64, 0u64);
    for j in jobs {
        if filter.state.as_deref().is_some_and(|s| s != j.state) {
            continue;
        }
        if let Some(kind) = &filter.stage {
            if !stage_kinds(&j.spec).contains(kind) {
                continue;
            }
        }
        let day = day_of(j.created_ms);
        let d = days.entry(day.clone()).or_insert_with(|| AnalyticsDay {
            day,
            ..Default::default()
        });
        d.jobs += 1;
        match j.state.as_str() {
            "done" => (d.done, done) = (d.done + 1, done + 1),
            "failed" => (d.failed, failed) = (d.failed + 1, failed + 1),
            "cancelled" => d.cancelled += 1,
            _ => {}
        }
        let timings: Option<JobTimings> =
            (j.timings.as_deref()).and_then(|t| serde_json::from_str(t).ok());
        let Some(t) = timings.filter(|_| j.state == "done") else {
            continue;
        };
        d.video_minutes += t.video_seconds / 60.0;
        d.render_minutes += t.phases.iter().map(|p| p.seconds).sum::<f64>() / 60.0;
        if t.video_seconds <= 0.0 || t.height == 0 {
            continue;
        }
        for part in &t.chunk_parts {
            let e = speeds
                .entry((part.part.clone(), resolution_class(t.height)))
                .or_default();
            e.0 += 1;
            e.1 += part.seconds;
            e.2 += t.video_seconds;
        }
    }
    Analytics {
        from_ms,
        to_ms,
        success_rate: (done + failed > 0).then(|| done as f64 / (done + failed) as f64),
        days: days.into_values().collect(),
        speeds: speeds
            .into_iter()
            .map(|((stage, res), (jobs, seconds, video))| StageSpeed {
                stage,
                resolution: res.into(),
                jobs,
                realtime: if seconds > 0.0 { video / seconds } else { 0.0 },
                seconds,
                video_seconds: video,
            })
            .collect(),
        uploads_bytes: 0,
        outputs_bytes: 0,
    }
}

/// One of the analytics' tables as CSV (`days` or `speeds`), a header row first.
pub fn csv(a: &Analytics, table: &str) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if table == "speeds" {
        for s in &a.speeds {
            w.serialize(s)?;
        }
        if a.speeds.is_empty() {
            w.write_record([
                "stage",
                "resolution",
                "jobs",
                "realtime",
                "seconds",
                "video_seconds",
            ])?;
        }
    } else {
        for d in &a.days {
            w.serialize(d)?;
        }
        if a.days.is_empty() {
            w.write_record([
                "day",
                "jobs",
                "done",
                "failed",
                "cancelled",
                "video_minutes",
                "render_minutes",
            ])?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: &str, day: i64, stages: &str, timings: Option<&str>) -> JobHistory {
        JobHistory {
            state: state.into(),
            spec: format!(r#"{{"input":"x","stages":[{stages}]}}"#),
            created_ms: day * 86_400_000 + 3_600_000,
            timings: timings.map(str::to_owned),
        }
    }

    #[test]
    fn days_speeds_and_success_rate() {
        let t = r#"{"phases":[{"part":"render","seconds":30}],"chunk_parts":[{"part":"denoise","seconds":20},{"part":"encode","seconds":5}],"chunks":2,"video_seconds":10,"height":720}"#;
        let jobs = [
            job("done", 20_000, r#"{"kind":"denoise"}"#, Some(t)),
            job("done", 20_000, r#"{"kind":"denoise"}"#, Some(t)),
            job("failed", 20_001, r#"{"kind":"scale"}"#, None),
            job("cancelled", 20_001, "", None),
        ];
        let a = summarize(&jobs, 0, 1, &Filter::default());
        assert_eq!(a.days.len(), 2);
        assert_eq!(a.days[0].day, "2024-10-04");
        assert_eq!((a.days[0].jobs, a.days[0].done), (2, 2));
        assert!((a.days[0].video_minutes - 20.0 / 60.0).abs() < 1e-9);
        assert_eq!((a.days[1].failed, a.days[1].cancelled), (1, 1));
        assert_eq!(a.success_rate, Some(2.0 / 3.0));
        let denoise = a.speeds.iter().find(|s| s.stage == "denoise").unwrap();
        assert_eq!((denoise.resolution.as_str(), denoise.jobs), ("720p", 2));
        assert!((denoise.realtime - 0.5).abs() < 1e-9, "{denoise:?}");
        let only = Filter {
            stage: Some("scale".into()),
            ..Filter::default()
        };
        let a = summarize(&jobs, 0, 1, &only);
        assert_eq!(a.days.len(), 1);
        assert_eq!(a.success_rate, Some(0.0));
        let text = csv(&a, "days").unwrap();
        assert_eq!(
            text,
            "day,jobs,done,failed,cancelled,video_minutes,render_minutes\n2024-10-05,1,0,1,0,0.0,0.0\n"
        );
    }
}
