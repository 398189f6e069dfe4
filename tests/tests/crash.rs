//! Crash test (RELIABILITY.md): the real `rapport` binary does bulk work — imports, segment
//! logging, canceling, purging — one transaction per run, and is killed with SIGKILL at seeded
//! random moments. After every kill the database is reopened and must hold every operation that
//! finished fully, the killed one fully or not at all, pass the integrity check, and never have
//! given one entry number to two entries; its history holds one record for each operation that
//! committed and none for one that did not.
//!
//! It runs on a redb file and on PostgreSQL (`each_backend`; skipped, saying so, when
//! `RAPPORT_TEST_POSTGRES` names no server): there the killed process is a client that dies in
//! the middle of its transaction.
//!
//! 12 kills by default; `RAPPORT_CRASH_KILLS=150 cargo test -p rapport-tests --test crash` for
//! the full run. `RAPPORT_CRASH_SEED` changes the moments.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rapport_engine::Database;
use rapport_tests::{Rng, Workspace, each_backend, rapport_bin};

/// Contacts per import, and so per logged segment.
const BATCH: usize = 1000;

/// One bulk operation of the test, and what it leaves when it committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Import contacts `R{round}-{i}` with custom field batch = `b{round}`.
    Import(usize),
    /// Log a segment of the contacts of import `batch`, described `round {round}`.
    LogSegment { round: usize, batch: usize },
    /// Cancel the logged segment of round `of`.
    Cancel { of: usize },
    /// Purge every canceled entry.
    Purge,
}

/// What the database holds, as the checks see it.
struct State {
    contacts_of_batch: BTreeMap<String, usize>,
    /// Entries by description: (count, canceled).
    entries_by_description: BTreeMap<String, (usize, usize)>,
    canceled: usize,
    /// Every entry: its number and who it is.
    identities: Vec<(u64, String)>,
    /// The operations of the history: how many, and what ran the last.
    operations: usize,
    last_what: String,
}

fn state(ws: &Workspace) -> State {
    let db = Database::open(std::path::Path::new(&ws.db_arg()))
        .expect("the database opens after the kill");
    let report = db.read(|v| v.integrity_check()).unwrap();
    assert!(
        report.is_ok(),
        "integrity check after a kill: {:?}",
        report.differences
    );
    let mut s = State {
        contacts_of_batch: BTreeMap::new(),
        entries_by_description: BTreeMap::new(),
        canceled: 0,
        identities: Vec::new(),
        operations: 0,
        last_what: String::new(),
    };
    db.read(|v| {
        v.each_contact(&mut |c| {
            if let Some(rapport_engine::model::FieldValue::Text(b)) = c.custom.get("batch") {
                *s.contacts_of_batch.entry(b.clone()).or_default() += 1;
            }
            Ok(true)
        })?;
        v.each_entry(&mut |e| {
            let slot = s
                .entries_by_description
                .entry(e.description.clone())
                .or_default();
            slot.0 += 1;
            if e.canceled {
                slot.1 += 1;
                s.canceled += 1;
            }
            s.identities
                .push((e.entry_no, format!("{} {}", e.contact_no, e.description)));
            Ok(true)
        })?;
        v.operations(None, rapport_engine::store::Order::Ascending, &mut |op| {
            s.operations += 1;
            s.last_what = op.what;
            Ok(true)
        })
    })
    .unwrap();
    s
}

fn script(ws: &Workspace, name: &str, text: &str) -> std::path::PathBuf {
    ws.file(name, text.as_bytes())
}

/// The command line of `op`.
fn args(ws: &Workspace, op: Op) -> Vec<String> {
    let path = match op {
        Op::Import(round) => {
            let mut csv = String::from("no,name,kind,city,batch\n");
            for i in 0..BATCH {
                let _ = writeln!(
                    csv,
                    "R{round}-{i},Contact {round} {i},company,Oslo,b{round}"
                );
            }
            return vec![
                "import".into(),
                "contacts".into(),
                ws.file(&format!("import{round}.csv"), csv.as_bytes())
                    .display()
                    .to_string(),
                // The first import declares the custom column batch; the rest find it declared.
                "--define-fields".into(),
            ];
        }
        Op::LogSegment { round, batch } => script(
            ws,
            &format!("log{round}.rhai"),
            &format!(
                r#"let s = segment_create(#{{description: "round {round}", template: "CALL", salesperson: "JO"}});
s.add(contacts().filter(#{{batch: "b{batch}"}}));
s.log()"#
            ),
        ),
        Op::Cancel { of } => script(
            ws,
            &format!("cancel{of}.rhai"),
            &format!(
                r#"logged_segments().where(|l| l.description == "round {of}").first().cancel()"#
            ),
        ),
        Op::Purge => script(ws, "purge.rhai", "purge_canceled()"),
    };
    vec!["run".into(), path.display().to_string()]
}

/// Checks what a run of `op` left, given the state before it; `finished`: the process exited
/// by itself (so it must have committed).
fn check(op: Op, before: &State, after: &State, finished: bool) -> bool {
    let (was, now) = match op {
        Op::Import(round) => {
            let key = format!("b{round}");
            (
                before.contacts_of_batch.get(&key).copied().unwrap_or(0),
                after.contacts_of_batch.get(&key).copied().unwrap_or(0),
            )
        }
        Op::LogSegment { round, .. } => {
            let key = format!("round {round}");
            (
                before.entries_by_description.get(&key).map_or(0, |e| e.0),
                after.entries_by_description.get(&key).map_or(0, |e| e.0),
            )
        }
        Op::Cancel { of } => {
            let key = format!("round {of}");
            (
                before.entries_by_description.get(&key).map_or(0, |e| e.1),
                after.entries_by_description.get(&key).map_or(0, |e| e.1),
            )
        }
        Op::Purge => (before.canceled, after.canceled),
    };
    let full = match op {
        Op::Import(_) | Op::LogSegment { .. } | Op::Cancel { .. } => now == BATCH && was == 0,
        Op::Purge => now == 0,
    };
    let none = now == was;
    assert!(
        full || none,
        "{op:?} left part of itself: {was} before, {now} after"
    );
    assert!(
        !finished || full,
        "{op:?} finished but is not all there ({now})"
    );
    // The history holds the operation exactly when it committed a change.
    let committed = full && now != was;
    assert_eq!(
        after.operations,
        before.operations + usize::from(committed),
        "{op:?} (committed: {committed}) left {} operation record(s)",
        after.operations - before.operations
    );
    if committed {
        let word = match op {
            Op::Import(_) => "import",
            _ => ".rhai",
        };
        assert!(
            after.last_what.contains(word),
            "{op:?}: the last operation is {}",
            after.last_what
        );
    }
    full
}

#[test]
fn killed_at_random_moments_rapport_keeps_every_commit_whole_and_loses_nothing() {
    let kills: usize = std::env::var("RAPPORT_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("RAPPORT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x005E_ED0F_C4A5);
    each_backend(|ws| {
        let mut rng = Rng(seed | 1);
        ws.ok(&[
            "eval",
            r#"group_define(#{code: "PHONE", description: "Calls"});
           salesperson_create(#{code: "JO", name: "Jim Olive"});
           template_define(#{code: "CALL", group: "PHONE", description: "Call", unit_cost: 1.5, unit_duration: 10})"#,
        ]);
        // Entry numbers ever seen, with the entry they named: a number must never name another.
        let mut numbers: BTreeMap<u64, String> = BTreeMap::new();
        let mut estimate: BTreeMap<&str, Duration> = BTreeMap::new();
        let (mut killed, mut runs, mut killed_after_commit) = (0, 0, 0);
        let mut imported: Vec<usize> = Vec::new();
        let mut logged: Vec<usize> = Vec::new();
        let mut canceled: Vec<usize> = Vec::new();
        let mut before = state(ws);
        let mut round = 0;
        while killed < kills {
            round += 1;
            assert!(
                round < kills * 20 + 50,
                "too few runs were killed in flight"
            );
            // The next operation, in turn, as far as the state allows it.
            let op = match round % 4 {
                1 => match imported.first() {
                    Some(&batch) => Op::LogSegment { round, batch },
                    None => Op::Import(round),
                },
                2 => match logged.iter().find(|r| !canceled.contains(r)) {
                    Some(&of) => Op::Cancel { of },
                    None => Op::Import(round),
                },
                3 => Op::Purge,
                _ => Op::Import(round),
            };
            let kind = match op {
                Op::Import(_) => "import",
                Op::LogSegment { .. } => "log",
                Op::Cancel { .. } => "cancel",
                Op::Purge => "purge",
            };
            let mut child = Command::new(rapport_bin())
                .arg("--db")
                .arg(ws.db_arg())
                .args(args(ws, op))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("rapport starts");
            let started = Instant::now();
            let typical = estimate
                .get(kind)
                .copied()
                .unwrap_or(Duration::from_millis(300));
            let delay = Duration::from_micros(rng.below(typical.as_micros() as usize + 1) as u64);
            std::thread::sleep(delay);
            let finished = if let Some(status) = child.try_wait().expect("the child's status") {
                assert!(status.success(), "{op:?} failed on its own");
                estimate.insert(kind, started.elapsed());
                true
            } else {
                child.kill().expect("SIGKILL");
                child.wait().expect("the killed child");
                killed += 1;
                false
            };
            runs += 1;
            let after = state(ws);
            let done = check(op, &before, &after, finished);
            if done && !finished {
                killed_after_commit += 1;
            }
            if done {
                match op {
                    Op::Import(r) => imported.push(r),
                    Op::LogSegment { batch, .. } => {
                        logged.push(round);
                        imported.retain(|b| *b != batch);
                    }
                    Op::Cancel { of } => canceled.push(of),
                    Op::Purge => {}
                }
            }
            for (no, who) in &after.identities {
                if let Some(seen) = numbers.insert(*no, who.clone()) {
                    assert_eq!(&seen, who, "entry number {no} was given twice");
                }
            }
            before = after;
        }
        eprintln!(
            "{}: {runs} runs, {killed} killed in flight ({killed_after_commit} of them after their commit); \
             every commit whole, nothing half-written",
            ws.backend()
        );
    });
}
