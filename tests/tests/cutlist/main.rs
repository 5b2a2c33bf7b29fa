//! Cut lists written as CMX 3600 EDL, FCPXML and OpenTimelineIO JSON, read back by OpenTimelineIO
//! (the reference implementation, with its CMX 3600 and FCP X XML adapters, from PyPI in
//! `.venv-tools`): every clip must come back with the source range that was written, in frames.
//!
//! Also the auto-edit end to end: the `cutlist` command and `render --auto-edit` on generated clips
//! with known black, silent and frozen stretches.

mod autoedit;
mod export;
mod trim;
