//! Running `kino-node`: one-off commands, their events, and `kino-node serve` as a [`Node`]; the
//! tus-js-client script that uploads to one.

use crate::{kino_bin, root, s};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `kino-node render INPUT -o OUTPUT --data-dir DATA --preset ultrafast EXTRA…`; asserts success and
/// returns stderr.
pub fn render(input: &Path, output: &Path, data: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "render",
        s(input),
        "-o",
        s(output),
        "--data-dir",
        s(data),
        "--preset",
        "ultrafast",
    ];
    args.extend_from_slice(extra);
    let out = kino(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "render failed: {err}");
    err
}

/// Runs `kino-node` with `args`.
pub fn kino(args: &[&str]) -> Output {
    Command::new(kino_bin())
        .args(args)
        .output()
        .expect("running kino-node")
}

/// Lets the process `cmd` starts write no file past `bytes`, as a full disk or a quota would: the
/// kernel refuses the write (`EFBIG`, "File too large"; the signal that would kill the process
/// instead is ignored).
pub fn limit_file_size(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

/// A `kino-node serve` process on 127.0.0.1 with a random port.
pub struct Node {
    child: std::process::Child,
    pub base: String,
    pub data: PathBuf,
}

impl Node {
    /// Starts a node on `data` with extra serve arguments and waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Node {
        Node::start_with_env(data, extra, &[])
    }

    /// Like [`Node::start`], with extra environment variables for the node.
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Node {
        Node::start_with(data, extra, |c| {
            c.envs(env.iter().copied());
        })
    }

    /// Like [`Node::start`], with the command adjusted first (environment, limits).
    pub fn start_with(data: &Path, extra: &[&str], adjust: impl FnOnce(&mut Command)) -> Node {
        use std::io::BufRead;
        std::fs::create_dir_all(data).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("node.log"))
            .expect("log");
        let mut cmd = Command::new(kino_bin());
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().expect("utf-8"),
        ])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(log);
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("starting kino-node serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading listen line");
        let base = line.trim().rsplit(' ').next().expect("address").to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "unexpected first line: {line}"
        );
        Node {
            child,
            base,
            data: data.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the tus-js-client script (tests/js) and returns its JSON line.
pub fn tus_js(args: &[&str]) -> Value {
    let js = root().join("tests").join("js");
    assert!(
        js.join("node_modules").join("tus-js-client").is_dir(),
        "tus-js-client missing: run scripts/setup.sh"
    );
    let out = Command::new("node")
        .arg(js.join("tus-upload.mjs"))
        .args(args)
        .output()
        .expect("running node");
    assert!(
        out.status.success(),
        "tus-js-client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().expect("output line")).expect("json line")
}

/// Runs `kino-node ARGS…` (with `--events`), hands each event to `stop`, and SIGKILLs the process
/// the first time `stop` returns true. Returns the events read until then.
pub fn kill_when(args: &[&str], mut stop: impl FnMut(&Value) -> bool) -> Vec<Value> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(kino_bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting kino-node");
    let mut seen = Vec::new();
    let out = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(out).lines() {
        let ev: Value = serde_json::from_str(&line.expect("event line")).expect("event JSON");
        let done = stop(&ev);
        seen.push(ev);
        if done {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaping kino-node");
    seen
}

/// Runs `kino-node ARGS…` (with `--events`) to success and returns its events.
pub fn events_of(args: &[&str]) -> Vec<Value> {
    let o = kino(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect()
}
