//! Many writers at once, on redb and on PostgreSQL: `log_interaction` in its own transaction,
//! by 1, 2, 4 and 8 clients for a bounded time, every client on one template and one
//! salesperson (the hottest rows there are). Reports commits per second, p50/p99 latency, how
//! often a transaction ran again after a conflict (retries per commit), failures (must be 0)
//! and, on PostgreSQL, round trips per commit.
//!
//! ```text
//! cargo run --release -p rapport-bench --bin writers -- --postgres 'postgresql://user@/db?host=/run/postgresql' --seconds 5
//! ```
//!
//! On redb the clients share one `Database` (one process, one writer at a time); on PostgreSQL
//! each client has a `Database` of its own (its own connection pool, as separate processes
//! would). It stops by itself after `--seconds` per run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rapport_engine::model::{Contact, InteractionGroup, InteractionTemplate, Salesperson};
use rapport_engine::ops::InteractionDraft;
use rapport_engine::store::{
    Backend, PostgresBackend, ReadTxn, RedbBackend, Result, Schema, WriteTxn,
};
use rapport_engine::{Database, SCHEMA};

/// A backend that counts the write transactions begun (every attempt, retries included).
struct Counting {
    inner: Arc<dyn Backend>,
    attempts: AtomicU64,
}

impl Backend for Counting {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn schema(&self) -> Schema {
        self.inner.schema()
    }
    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        self.inner.begin_read()
    }
    fn begin_write(&self) -> Result<Box<dyn WriteTxn>> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        self.inner.begin_write()
    }
    fn upgrade(&self, read: Box<dyn ReadTxn>) -> Result<Box<dyn WriteTxn>> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        self.inner.upgrade(read)
    }
}

fn catalogue(db: &Database, contacts: usize) {
    db.write(|tx| {
        tx.group_define(InteractionGroup {
            code: "PHONE".into(),
            description: "Calls".into(),
        })?;
        tx.template_define(InteractionTemplate {
            code: "CALL".into(),
            group: "PHONE".into(),
            description: "Outgoing call".into(),
            ..Default::default()
        })?;
        tx.salesperson_create(Salesperson {
            code: "JO".into(),
            ..Default::default()
        })?;
        for i in 0..contacts {
            tx.contact_create(Contact {
                no: format!("K{i:05}"),
                name: format!("Person {i}"),
                salesperson: "JO".into(),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .expect("the catalogue is written");
}

struct Row {
    backend: &'static str,
    clients: usize,
    commits: u64,
    failures: u64,
    attempts: u64,
    seconds: f64,
    latencies: Vec<Duration>,
    round_trips: Option<u64>,
}

fn percentile(l: &mut [Duration], p: f64) -> f64 {
    if l.is_empty() {
        return 0.0;
    }
    l.sort();
    l[((l.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

/// `clients` threads logging on `dbs` (one handle each) for `seconds`.
fn run(
    backend: &'static str,
    dbs: &[Arc<Database>],
    counting: &[Arc<Counting>],
    seconds: u64,
    round_trips: &dyn Fn() -> Option<u64>,
) -> Row {
    let attempts_before: u64 = counting
        .iter()
        .map(|c| c.attempts.load(Ordering::Relaxed))
        .sum();
    let trips_before = round_trips();
    let failures = AtomicU64::new(0);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let latencies: Vec<Duration> = std::thread::scope(|s| {
        let workers: Vec<_> = dbs
            .iter()
            .enumerate()
            .map(|(i, db)| {
                let failures = &failures;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    let mut n = i;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let outcome = db.write(|tx| {
                            tx.log_interaction(InteractionDraft {
                                contact: format!("K{:05}", n % 100),
                                template: "CALL".into(),
                                salesperson: "JO".into(),
                                description: "load".into(),
                                ..Default::default()
                            })
                        });
                        match outcome {
                            Ok(_) => mine.push(t.elapsed()),
                            Err(e) => {
                                eprintln!("{backend}: a write failed: {e}");
                                failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        n += dbs.len();
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a client ends"))
            .collect()
    });
    let attempts: u64 = counting
        .iter()
        .map(|c| c.attempts.load(Ordering::Relaxed))
        .sum::<u64>()
        - attempts_before;
    Row {
        backend,
        clients: dbs.len(),
        commits: latencies.len() as u64,
        failures: failures.into_inner(),
        attempts,
        seconds: started.elapsed().as_secs_f64(),
        latencies,
        round_trips: round_trips()
            .zip(trips_before)
            .map(|(after, before)| after - before),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = value("--seconds").map_or(5, |s| s.parse().expect("--seconds N"));
    let clients: Vec<usize> = value("--clients")
        .unwrap_or_else(|| "1,2,4,8".into())
        .split(',')
        .map(|c| c.trim().parse().expect("--clients 1,2,4,8"))
        .collect();
    let postgres = value("--postgres").or_else(|| std::env::var("RAPPORT_TEST_POSTGRES").ok());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut rows = Vec::new();
    for &n in &clients {
        // redb: one file, one Database shared by the clients.
        let path = dir.path().join(format!("writers-{n}.redb"));
        let counting = Arc::new(Counting {
            inner: Arc::new(RedbBackend::open(&path, SCHEMA).expect("a redb file")),
            attempts: AtomicU64::new(0),
        });
        let db = Arc::new(Database::with_backend(counting.clone()).expect("the database opens"));
        catalogue(&db, 100);
        rows.push(run("redb", &vec![db; n], &[counting], seconds, &|| None));
        // PostgreSQL: a Database (a pool) per client on one schema.
        if let Some(url) = &postgres {
            let namespace = format!("bench_writers_{}_{n}", std::process::id());
            let pg: Vec<Arc<PostgresBackend>> = (0..n)
                .map(|_| {
                    Arc::new(
                        PostgresBackend::open_in(url, &namespace, SCHEMA)
                            .expect("the PostgreSQL database opens"),
                    )
                })
                .collect();
            let counting: Vec<Arc<Counting>> = pg
                .iter()
                .map(|b| {
                    Arc::new(Counting {
                        inner: b.clone(),
                        attempts: AtomicU64::new(0),
                    })
                })
                .collect();
            let dbs: Vec<Arc<Database>> = counting
                .iter()
                .map(|c| Arc::new(Database::with_backend(c.clone()).expect("the database opens")))
                .collect();
            catalogue(&dbs[0], 100);
            let trips = || Some(pg.iter().map(|b| b.round_trips()).sum());
            rows.push(run("postgres", &dbs, &counting, seconds, &trips));
        }
    }
    if postgres.is_none() {
        eprintln!("PostgreSQL left out: give --postgres URL (or RAPPORT_TEST_POSTGRES)");
    }
    println!(
        "| backend | clients | commits/s | p50 ms | p99 ms | retries per commit | failures | round trips per commit |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &mut rows {
        let commits = r.commits.max(1) as f64;
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.3} | {} | {} |",
            r.backend,
            r.clients,
            r.commits as f64 / r.seconds,
            percentile(&mut r.latencies, 0.5),
            percentile(&mut r.latencies, 0.99),
            (r.attempts as f64 - commits - r.failures as f64).max(0.0) / commits,
            r.failures,
            r.round_trips
                .map_or_else(|| "—".into(), |t| format!("{:.1}", t as f64 / commits)),
        );
    }
    if rows.iter().any(|r| r.failures > 0) {
        std::process::exit(1);
    }
}
