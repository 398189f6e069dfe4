//! The load benchmark of `rapport serve`: N clients on loopback for a bounded time, each logging
//! interactions, recording documents and running a segment query in turn, against the same
//! work done by direct local commands one after the other (a `rapport` process each, as a
//! script or an ERP calls it without a server). Reports throughput, p50/p99 latency, errors
//! (must be 0), writes lost (must be 0) and the server's peak memory, at 1, 4 and 16 clients.
//!
//! ```text
//! cargo build --release -p rapport && cargo run --release -p rapport-bench --bin load -- --seconds 10
//! ```
//!
//! It stops by itself: every run is bounded by `--seconds`, and the servers it starts are
//! stopped (SIGTERM) when their run ends.

use std::fmt::Write;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rapport::api::{DocumentReply, RunRequest};
use rapport::client::{Client, Discovery};
use serde_json::json;

/// The three kinds of work, in turn.
#[derive(Clone, Copy)]
enum Work {
    Log,
    Document,
    Query,
}

impl Work {
    fn nth(i: u64) -> Self {
        match i % 3 {
            0 => Work::Log,
            1 => Work::Document,
            _ => Work::Query,
        }
    }
}

/// What one run measured.
struct Measured {
    what: String,
    ops: u64,
    errors: u64,
    lost: i64,
    seconds: f64,
    latencies: Vec<Duration>,
    peak_mib: Option<f64>,
}

impl Measured {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut l = self.latencies.clone();
        l.sort();
        let i = ((l.len() as f64 - 1.0) * p).round() as usize;
        l[i].as_secs_f64() * 1000.0
    }
}

fn rapport_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark's path");
    let bin = exe.with_file_name("rapport");
    assert!(
        bin.exists(),
        "{} is missing: build it first with cargo build --release -p rapport",
        bin.display()
    );
    bin
}

fn rapport(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(rapport_bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RAPPORT_SERVER")
        .output()
        .expect("rapport runs")
}

/// A fresh database: the demo company and 5,000 more contacts in ten cities.
fn database(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(name);
    assert!(rapport(&db, &["demo"]).status.success());
    let mut csv = String::from("no,name,kind,city,salesperson\n");
    let cities = [
        "Oslo", "Bergen", "London", "Paris", "Berlin", "Rome", "Madrid", "Lisbon", "Vienna",
        "Prague",
    ];
    for i in 0..5000 {
        let _ = writeln!(
            csv,
            "L{i:06},Person {i},person,{},JO",
            cities[i % cities.len()]
        );
    }
    let file = dir.join(format!("{name}.csv"));
    std::fs::write(&file, csv).expect("the CSV is written");
    assert!(
        rapport(&db, &["import", "contacts", &file.display().to_string()])
            .status
            .success()
    );
    db
}

const QUERY: &str = r#"contacts().filter(#{city: "Oslo"}).count()"#;

fn log_script(n: u64) -> String {
    format!(
        r#"log_interaction(#{{contact: "L{:06}", template: "OUTGOING", description: "call {n}"}})"#,
        n % 5000
    )
}

fn entries(db: &Path, client: Option<&Client>) -> i64 {
    match client {
        Some(c) => c
            .run(
                &RunRequest {
                    source: "entries().count()".into(),
                    ..RunRequest::default()
                },
                None,
            )
            .expect("entries counted")
            .value
            .as_i64()
            .expect("a count"),
        None => String::from_utf8_lossy(&rapport(db, &["eval", "entries().count()"]).stdout)
            .trim()
            .parse()
            .expect("a count"),
    }
}

/// Starts a server on the file; returns it, its URL and its owner's token.
fn serve(db: &Path) -> (Child, String, String) {
    let mut child = Command::new(rapport_bin())
        .arg("--db")
        .arg(db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("rapport serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the address");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an address")
        .to_string();
    let token = Discovery::find(db).expect("the discovery file").token;
    (child, url, token)
}

/// The peak resident memory of a process, in MiB (Linux: `VmHWM`).
fn peak_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// N clients of one server for `seconds`.
fn through_server(dir: &Path, clients: u64, seconds: u64) -> Measured {
    let db = database(dir, &format!("served-{clients}.redb"));
    let (mut server, url, token) = serve(&db);
    let pid = server.id();
    let owner = Client::new(&url, Some(token.clone()));
    let before = entries(&db, Some(&owner));
    let writes = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let counter = AtomicU64::new(0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let client = Client::new(&url, Some(token.clone()));
                let (writes, errors, counter) = (&writes, &errors, &counter);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    while Instant::now() < deadline {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let t = Instant::now();
                        let ok = match Work::nth(n) {
                            Work::Log => client
                                .run(
                                    &RunRequest {
                                        source: log_script(n),
                                        ..RunRequest::default()
                                    },
                                    None,
                                )
                                .is_ok(),
                            Work::Document => client
                                .post::<DocumentReply>(
                                    "/documents",
                                    &json!({"type": "sales_invoice", "no": format!("S{n}"), "customer": "10000", "action": "posted"}),
                                )
                                .is_ok_and(|r| r.recorded),
                            Work::Query => client
                                .run(
                                    &RunRequest {
                                        source: QUERY.into(),
                                        ..RunRequest::default()
                                    },
                                    None,
                                )
                                .is_ok(),
                        };
                        mine.push(t.elapsed());
                        if !ok {
                            errors.fetch_add(1, Ordering::Relaxed);
                        } else if !matches!(Work::nth(n), Work::Query) {
                            writes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a client ends"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let after = entries(&db, Some(&owner));
    let peak = peak_mib(pid);
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();
    Measured {
        what: format!(
            "rapport serve, {clients} client{}",
            if clients == 1 { "" } else { "s" }
        ),
        ops: latencies.len() as u64,
        errors: errors.into_inner(),
        lost: i64::try_from(writes.into_inner()).unwrap_or(0) - (after - before),
        seconds: elapsed,
        latencies,
        peak_mib: peak,
    }
}

/// The same work as local commands, one after the other, for `seconds`.
fn local_commands(dir: &Path, seconds: u64) -> Measured {
    let db = database(dir, "local.redb");
    let before = entries(&db, None);
    let (mut latencies, mut errors, mut writes) = (Vec::new(), 0u64, 0i64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut n = 0u64;
    while Instant::now() < deadline {
        let t = Instant::now();
        let doc_no = format!("S{n}");
        let out = match Work::nth(n) {
            Work::Log => rapport(&db, &["eval", &log_script(n)]),
            Work::Document => rapport(
                &db,
                &[
                    "document",
                    "sales_invoice",
                    &doc_no,
                    "--customer",
                    "10000",
                    "--action",
                    "posted",
                ],
            ),
            Work::Query => rapport(&db, &["eval", QUERY]),
        };
        latencies.push(t.elapsed());
        if !out.status.success() {
            errors += 1;
        } else if !matches!(Work::nth(n), Work::Query) {
            writes += 1;
        }
        n += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = entries(&db, None);
    Measured {
        what: "local commands, one after the other".into(),
        ops: latencies.len() as u64,
        errors,
        lost: writes - (after - before),
        seconds: elapsed,
        latencies,
        peak_mib: None,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let seconds: u64 = value("--seconds", "10").parse().expect("--seconds N");
    let clients: Vec<u64> = value("--clients", "1,4,16")
        .split(',')
        .map(|c| c.trim().parse().expect("--clients 1,4,16"))
        .collect();
    let dir = tempfile::tempdir().expect("a temporary folder");
    eprintln!(
        "{seconds} s per run; work in turn: log an interaction, record a document, query a segment's contacts (5,050 contacts)"
    );
    let mut rows = vec![local_commands(dir.path(), seconds)];
    for c in clients {
        eprintln!("{c} client(s)…");
        rows.push(through_server(dir.path(), c, seconds));
    }
    let base = rows[0].ops as f64 / rows[0].seconds;
    println!(
        "| run | requests | per second | × local | p50 ms | p99 ms | errors | lost writes | server peak MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let rate = r.ops as f64 / r.seconds;
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.1} | {:.1} | {} | {} | {} |",
            r.what,
            r.ops,
            rate,
            rate / base,
            r.percentile(0.5),
            r.percentile(0.99),
            r.errors,
            r.lost,
            r.peak_mib.map_or_else(|| "—".into(), |m| format!("{m:.0}")),
        );
    }
    let bad = rows.iter().any(|r| r.errors > 0 || r.lost != 0);
    if bad {
        eprintln!("error: a run had errors or lost writes");
        std::process::exit(1);
    }
}
