//! A PostgreSQL server of the tests' own.

use crate::{free_port, run, s};
use std::path::PathBuf;
use std::process::{Command, Output};

/// A PostgreSQL server of the tests' own (Debian's `postgresql` package, `initdb` + `pg_ctl` in a
/// temporary folder, a free port on 127.0.0.1, trust authentication for user `kino`), stopped when
/// dropped. `pg_stat_statements` is loaded so tests can count the statements a call costs.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

impl Postgres {
    /// Starts a server; `None` (with a note) when PostgreSQL is not installed, except under `CI=true`,
    /// where a missing PostgreSQL fails the run.
    pub fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").is_file())
            .max();
        let Some(bin) = bin else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is not installed (scripts/setup.sh installs Debian's postgresql)"
            );
            eprintln!("PostgreSQL is not installed: skipping (scripts/setup.sh installs it)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("kino-pg-")
            .tempdir()
            .expect("temporary folder");
        // initdb refuses to run as root: the server runs as the package's `postgres` user then.
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if as_postgres {
            run("chown", &["-R", "postgres:postgres", s(dir.path())]);
        }
        let pg = Postgres {
            port: free_port(),
            dir,
            bin,
            as_postgres,
        };
        let data = pg.dir.path().join("data");
        pg.run_pg(
            "initdb",
            &[
                "-D",
                s(&data),
                "-A",
                "trust",
                "-U",
                "kino",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.start_again();
        Some(pg)
    }

    /// Starts the server (again, after [`Postgres::stop`]).
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_preload_libraries=pg_stat_statements",
            self.port,
            s(self.dir.path())
        );
        let (data, log) = (self.dir.path().join("data"), self.dir.path().join("log"));
        self.run_pg(
            "pg_ctl",
            &["-D", s(&data), "-o", &opts, "-l", s(&log), "-w", "start"],
        );
    }

    /// Stops the server (fast shutdown: connections are cut, as when it goes away).
    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        self.run_pg("pg_ctl", &["-D", s(&data), "-m", "fast", "-w", "stop"]);
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let exe = s(&exe).to_owned();
        if self.as_postgres {
            let mut all = vec!["-u", "postgres", "--", exe.as_str()];
            all.extend_from_slice(args);
            run("runuser", &all)
        } else {
            run(&exe, args)
        }
    }

    /// A new, empty database on this server; its URL.
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgres://kino@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` in database `db` with psql; its output, unaligned and without headers.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let port = self.port.to_string();
        let psql = [self.bin.join("psql"), PathBuf::from("/usr/bin/psql")]
            .into_iter()
            .find(|p| p.is_file())
            .map(|p| s(&p).to_owned())
            .unwrap_or_else(|| "psql".to_owned());
        let out = run(
            &psql,
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "kino",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-A",
                "-t",
                "-c",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let _ = cmd
            .args(["-D", s(&data), "-m", "fast", "-w", "stop"])
            .output();
    }
}
