//! Many writers at once on one database: what only a server database (PostgreSQL) makes
//! possible, and what a serializable store must still get exactly right. Each test runs on
//! PostgreSQL when `RAPPORT_TEST_POSTGRES` names a server (`.ci/run` starts one), with several
//! `Database` values — each its own connection pool, as several rapport processes would have —
//! and on redb (one `Database` shared by the threads: one writer at a time).

use std::collections::BTreeSet;
use std::sync::Arc;

use rapport_engine::model::{AccountKind, Campaign, Contact, DocumentType};
use rapport_engine::ops::{InteractionDraft, StatKind};
use rapport_engine::store::{Backend, PostgresBackend, RedbBackend};
use rapport_engine::{Database, SCHEMA};
use rapport_testkit::{assert_consistent, draft, fill, open_on, postgres_url, segment_of};

/// Opens `n` handles on one new database: on PostgreSQL `n` databases on one schema (their own
/// pools), on redb one shared.
fn handles(n: usize) -> Vec<Vec<Arc<Database>>> {
    let mut all = Vec::new();
    let redb: Arc<dyn Backend> = Arc::new(RedbBackend::in_memory(SCHEMA).unwrap());
    let one = Arc::new(open_on(redb));
    fill(&one);
    all.push(vec![one; n]);
    if let Some(url) = postgres_url() {
        let namespace = format!(
            "conc_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() % 1_000_000_000_000)
        );
        let dbs: Vec<Arc<Database>> = (0..n)
            .map(|_| {
                let backend: Arc<dyn Backend> =
                    Arc::new(PostgresBackend::open_in(&url, &namespace, SCHEMA).unwrap());
                Arc::new(open_on(backend))
            })
            .collect();
        fill(&dbs[0]);
        all.push(dbs);
    } else {
        eprintln!("PostgreSQL part skipped: RAPPORT_TEST_POSTGRES names no server");
    }
    all
}

fn kind(db: &Database) -> &'static str {
    db.backend().kind()
}

#[test]
fn many_writers_logging_on_one_template_keep_statistics_exact_and_entry_numbers_gapless() {
    let (threads, each) = (6, 15);
    for dbs in handles(threads) {
        let backend = kind(&dbs[0]);
        let before = dbs[0].read(|v| v.last_entry_no()).unwrap();
        std::thread::scope(|s| {
            for db in &dbs {
                s.spawn(move || {
                    for _ in 0..each {
                        db.write(|tx| {
                            tx.log_interaction(InteractionDraft {
                                salesperson: "JO".into(),
                                description: "at once".into(),
                                ..draft("P1", "CALL")
                            })
                        })
                        .unwrap_or_else(|e| panic!("{backend}: a log failed: {e}"));
                    }
                });
            }
        });
        let db = &dbs[0];
        let logged = (threads * each) as u64;
        let nos: BTreeSet<u64> = db
            .read(|v| {
                let mut nos = BTreeSet::new();
                v.each_entry(&mut |e| {
                    nos.insert(e.entry_no);
                    Ok(true)
                })?;
                Ok(nos)
            })
            .unwrap();
        let expected: BTreeSet<u64> = (before + 1..=before + logged).collect();
        assert_eq!(
            nos.range(before + 1..).copied().collect::<BTreeSet<_>>(),
            expected,
            "{backend}: entry numbers unique and without gaps"
        );
        let calls = db
            .read(|v| v.statistics(StatKind::Template, "CALL", None))
            .unwrap();
        assert_eq!(calls.count, logged, "{backend}: the template's count");
        let jo = db
            .read(|v| v.statistics(StatKind::Salesperson, "JO", None))
            .unwrap();
        assert_eq!(jo.count, logged, "{backend}: the salesperson's count");
        assert_consistent(db);
    }
}

#[test]
fn contacts_created_at_once_get_unique_numbers() {
    let (threads, each) = (6, 10);
    for dbs in handles(threads) {
        let backend = kind(&dbs[0]);
        let made: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = dbs
                .iter()
                .map(|db| {
                    s.spawn(move || {
                        (0..each)
                            .map(|i| {
                                db.write(|tx| {
                                    tx.contact_create(Contact {
                                        name: format!("Person {i}"),
                                        ..Default::default()
                                    })
                                })
                                .unwrap_or_else(|e| panic!("{backend}: {e}"))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let unique: BTreeSet<&String> = made.iter().collect();
        assert_eq!(unique.len(), threads * each, "{backend}: {made:?}");
        for no in &made {
            assert!(
                dbs[0].read(|v| v.contact(no)).unwrap().is_some(),
                "{backend}: {no} is there"
            );
        }
    }
}

#[test]
fn documents_recorded_at_once_for_one_campaign_make_exactly_one_campaign_entry() {
    let threads = 6;
    for dbs in handles(threads) {
        let backend = kind(&dbs[0]);
        let campaign = dbs[0]
            .write(|tx| {
                tx.campaign_create(Campaign {
                    description: "Spring".into(),
                    ..Default::default()
                })
            })
            .unwrap();
        std::thread::scope(|s| {
            for (i, db) in dbs.iter().enumerate() {
                let campaign = campaign.clone();
                s.spawn(move || {
                    let mut event = rapport_engine::model::DocumentEvent::printed(
                        DocumentType::SalesInvoice,
                        &format!("10300{i}"),
                        AccountKind::Customer,
                        "10000",
                    );
                    event.campaign = campaign;
                    let out = db
                        .write(|tx| tx.record_document(&event))
                        .unwrap_or_else(|e| panic!("{backend}: {e}"));
                    assert!(out.recorded, "{backend}: {out:?}");
                });
            }
        });
        let entries = dbs[0].read(|v| v.campaign_entries()).unwrap();
        let of_campaign: Vec<_> = entries
            .iter()
            .filter(|c| c.campaign_no == campaign)
            .collect();
        assert_eq!(of_campaign.len(), 1, "{backend}: {of_campaign:?}");
        assert_consistent(&dbs[0]);
    }
}

#[test]
fn a_segment_logged_while_single_interactions_are_logged_both_finish() {
    for dbs in handles(2) {
        let backend = kind(&dbs[0]);
        let segment = segment_of(&dbs[0], "BUS", &["P1", "P2"]);
        std::thread::scope(|s| {
            let (a, b) = (&dbs[0], &dbs[1]);
            let segment = &segment;
            s.spawn(move || {
                a.write(|tx| tx.log_segment(segment, Default::default()))
                    .unwrap_or_else(|e| panic!("{backend}: the segment log failed: {e}"));
            });
            s.spawn(move || {
                for _ in 0..10 {
                    b.write(|tx| tx.log_interaction(draft("C2", "CALL")))
                        .unwrap_or_else(|e| panic!("{backend}: a log failed: {e}"));
                }
            });
        });
        let bus = dbs[0]
            .read(|v| v.statistics(StatKind::Template, "BUS", None))
            .unwrap();
        assert_eq!(bus.count, 2, "{backend}: the segment's two lines");
        let calls = dbs[0]
            .read(|v| v.statistics(StatKind::Template, "CALL", None))
            .unwrap();
        assert_eq!(calls.count, 10, "{backend}: the ten calls");
        assert_consistent(&dbs[0]);
    }
}
