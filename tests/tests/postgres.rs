//! rapport on PostgreSQL, end to end: the real binary on a private cluster this test makes in a
//! temporary folder (initdb, a unix socket only), and the database server itself killed with
//! `kill -9` while a segment is being logged. Skipped, saying so, where PostgreSQL is not
//! installed (`.ci/run` installs it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use rapport_tests::Workspace;

/// A private PostgreSQL cluster; stopped and removed when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

fn as_postgres(bin: &Path, tool: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

impl Cluster {
    fn new() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()?;
        let dir = tempfile::tempdir().ok()?;
        let _ = Command::new("chmod").arg("755").arg(dir.path()).status();
        for sub in ["data", "sock"] {
            std::fs::create_dir(dir.path().join(sub)).ok()?;
            let _ = Command::new("chown")
                .arg("postgres")
                .arg(dir.path().join(sub))
                .status();
        }
        let ok = as_postgres(&bin, "initdb")
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-A", "trust", "-U", "rapport"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "initdb failed");
        let cluster = Self { bin, dir };
        cluster.start();
        Some(cluster)
    }

    fn start(&self) {
        // After a kill -9 the old server's processes take a moment to go: try for a while.
        for _ in 0..50 {
            let started = as_postgres(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .arg("-l")
                .arg(self.dir.path().join("sock/log"))
                .arg("-w")
                .arg("-o")
                .arg(format!(
                    "-k {} -c listen_addresses=''",
                    self.dir.path().join("sock").display()
                ))
                .arg("start")
                .output()
                .is_ok_and(|o| o.status.success());
            if started {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!("the PostgreSQL cluster does not start");
    }

    fn url(&self) -> String {
        format!(
            "postgresql://rapport@/postgres?host={}",
            self.dir.path().join("sock").display()
        )
    }

    /// Kills the postmaster with SIGKILL: no shutdown at all.
    fn kill_9(&self) {
        let pid = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .expect("postmaster.pid")
            .lines()
            .next()
            .expect("its first line is the pid")
            .trim()
            .to_string();
        let _ = Command::new("kill").args(["-9", &pid]).status();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[test]
fn the_database_server_killed_during_a_segment_log_leaves_the_log_whole_or_absent() {
    let Some(cluster) = Cluster::new() else {
        eprintln!("skipped: PostgreSQL is not installed here (/usr/lib/postgresql/*/bin)");
        return;
    };
    let url = cluster.url();
    let ws = Workspace::new();
    let rapport = |args: &[&str]| ws.run_plain(&[&["--db", url.as_str()][..], args].concat());
    let ok = |args: &[&str]| {
        let run = rapport(args);
        assert!(run.success, "rapport {args:?}: {}", run.stderr);
        run.stdout
    };
    ok(&["demo"]);
    let mut csv = String::from("no,name,kind,salesperson\n");
    for i in 0..3000 {
        let _ = writeln!(csv, "K{i:06},Person {i},person,JO");
    }
    let file = ws.file("people.csv", csv.as_bytes());
    ok(&["import", "contacts", &file.display().to_string()]);
    for delay_ms in [300, 1200, 3000] {
        let segment = ok(&[
            "eval",
            r#"let s = segment_create(#{description: "Everyone", template: "OUTGOING"}); s.add(#{salesperson: "JO"}); s.no"#,
        ])
        .trim()
        .to_string();
        let lines: i64 = ok(&["eval", &format!("segment(\"{segment}\").lines().len()")])
            .trim()
            .parse()
            .expect("a count");
        let before: i64 = ok(&["eval", "entries().count()"])
            .trim()
            .parse()
            .expect("a count");
        let mut logging = Command::new(rapport_tests::rapport_bin())
            .args([
                "--db",
                &url,
                "eval",
                &format!("segment(\"{segment}\").log()"),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rapport starts");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let finished_before = logging.try_wait().ok().flatten();
        cluster.kill_9();
        // Back while rapport may still be retrying or learning how its commit ended.
        cluster.start();
        let reported = logging.wait().expect("rapport ends");
        let check = ok(&["check"]);
        assert!(
            check.starts_with("ok:"),
            "killed after {delay_ms} ms: {check}"
        );
        let after: i64 = ok(&["eval", "entries().count()"])
            .trim()
            .parse()
            .expect("a count");
        eprintln!(
            "killed after {delay_ms} ms: {} of {lines} entries there; rapport said {reported}{}",
            after - before,
            if finished_before.is_some() {
                " (it had ended before the kill)"
            } else {
                ""
            }
        );
        // What rapport reported is what happened: a success is a whole log.
        if reported.success() {
            assert_eq!(
                after,
                before + lines,
                "reported logged, but the log is not whole"
            );
        }
        assert!(
            after == before || after == before + lines,
            "killed after {delay_ms} ms: {} entries of a {lines}-line segment",
            after - before
        );
    }
}

#[test]
fn two_processes_log_on_one_postgresql_database_at_once() {
    let Some(cluster) = Cluster::new() else {
        eprintln!("skipped: PostgreSQL is not installed here (/usr/lib/postgresql/*/bin)");
        return;
    };
    let url = cluster.url();
    let ws = Workspace::new();
    assert!(ws.run_plain(&["--db", &url, "demo"]).success);
    let lines: String = (0..30)
        .map(|_| "log_interaction(#{contact: \"CT000002\", template: \"OUTGOING\", description: \"at once\"});\n")
        .collect();
    std::thread::scope(|s| {
        let repls: Vec<_> = (0..2)
            .map(|_| {
                let (url, lines) = (&url, &lines);
                s.spawn(move || {
                    use std::io::Write;
                    let mut child = Command::new(rapport_tests::rapport_bin())
                        .args(["--db", url])
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .expect("a REPL starts");
                    child
                        .stdin
                        .take()
                        .expect("stdin")
                        .write_all(lines.as_bytes())
                        .expect("the lines are written");
                    child.wait_with_output().expect("the REPL ends")
                })
            })
            .collect();
        for r in repls {
            let out = r.join().expect("a REPL thread");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success() && !text.contains("error"), "{text}");
        }
    });
    let count = ws.run_plain(&["--db", &url, "eval", "entries().count()"]);
    assert_eq!(count.stdout.trim(), "134", "74 of the demo and 2 × 30");
    let check = ws.run_plain(&["--db", &url, "check"]);
    assert!(
        check.stdout.starts_with("ok: 134 entries"),
        "{}",
        check.stdout
    );
}
