//! Fixtures for the engine's and the language's tests: every test on every backend
//! ([`each_backend`]), a database on a fixed clock with a small catalogue ([`db`]), and
//! [`refused`], which proves that a refused operation wrote nothing before it was refused.
//!
//! Use it from integration tests only (`tests/*.rs`): it links the engine as a library, and a
//! crate's own unit tests would see a second copy of its types.

use std::cell::Cell;
use std::sync::Arc;

use chrono::NaiveDate;
use rapport_engine::model::{
    AccountKind, Amount, AttachmentContent, Campaign, Contact, ContactKind, ContactSelector,
    Correspondence, DocumentType, Flow, InitiatedBy, InteractionGroup, InteractionLogEntry,
    InteractionTemplate, Salesperson, Segment, StepOptions,
};
use rapport_engine::ops::{InteractionDraft, LogSegmentOptions, LoggedSegmentOutcome};
use rapport_engine::store::faults::CountingWrites;
use rapport_engine::store::{Backend, MemoryBackend, PostgresBackend, RedbBackend};
use rapport_engine::{Clock, Database, Error, Result, SCHEMA, Tx};

pub use rapport_testkit_macros::each_backend;

/// The storage backends a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// redb, on a database in memory (the same code as a file, without the disk).
    Redb,
    /// The persistent-map backend with optimistic writers.
    Memory,
    /// PostgreSQL, in a schema of its own per database, on the server `RAPPORT_TEST_POSTGRES`
    /// names (`.ci/run` starts one); without it, the PostgreSQL variant of a test is skipped.
    Postgres,
}

/// The PostgreSQL server the tests use (`RAPPORT_TEST_POSTGRES`, a `postgres://` URL), if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("RAPPORT_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A new, empty rapport database on the test server, in a schema no other test uses.
pub fn postgres_backend() -> Arc<dyn Backend> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = postgres_url().expect("RAPPORT_TEST_POSTGRES names a PostgreSQL server");
    let namespace = format!(
        "test_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() % 1_000_000_000),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Arc::new(
        PostgresBackend::open_in(&url, &namespace, SCHEMA)
            .unwrap_or_else(|e| panic!("the test PostgreSQL server at {url}: {e}")),
    )
}

thread_local! {
    static CHOSEN: Cell<Option<BackendKind>> = const { Cell::new(None) };
}

/// Runs `test` with `kind` chosen for every database the fixtures make on this thread
/// (what `#[each_backend]` expands to).
pub fn on_backend<T>(kind: BackendKind, test: impl FnOnce() -> T) -> T {
    struct Restore(Option<BackendKind>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CHOSEN.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CHOSEN.with(|c| c.replace(Some(kind))));
    test()
}

/// The backend chosen for this thread's test (the memory backend outside `#[each_backend]`).
pub fn backend_kind() -> BackendKind {
    CHOSEN.with(Cell::get).unwrap_or(BackendKind::Memory)
}

/// A new, empty backend of the chosen kind with the engine's tables.
pub fn new_backend() -> Arc<dyn Backend> {
    match backend_kind() {
        BackendKind::Redb => {
            Arc::new(RedbBackend::in_memory(SCHEMA).expect("a redb database in memory"))
        }
        BackendKind::Memory => Arc::new(MemoryBackend::new(SCHEMA)),
        BackendKind::Postgres => postgres_backend(),
    }
}

/// The date `YYYY-MM-DD` (panics on anything else: tests write their dates).
pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The day the fixtures' clock stands at.
pub const TODAY: &str = "2026-11-29";

/// An empty database on the chosen backend whose clock stands at 2026-11-29 and whose user is
/// TESTER.
pub fn empty_db() -> Database {
    open_on(new_backend())
}

/// The database on `backend` with the fixtures' clock (2026-11-29) and user (TESTER): for tests
/// that open several handles on one backend, or wrap it.
pub fn open_on(backend: Arc<dyn Backend>) -> Database {
    let mut db = Database::with_backend(backend).unwrap();
    db.context_mut().clock = Clock::fixed(day(TODAY));
    db.context_mut().user = "TESTER".into();
    db
}

/// A new segment with template `template` and a line for each of `contacts`; returns its no.
pub fn segment_of(db: &Database, template: &str, contacts: &[&str]) -> String {
    db.write(|tx| segment_in(tx, ("All", template, String::new()), contacts))
        .unwrap()
}

/// A new segment (description, template, campaign) with a line for each of `contacts`, inside
/// `tx`; returns its no.
fn segment_in(
    tx: &mut Tx<'_>,
    (description, template, campaign_no): (&str, &str, String),
    contacts: &[&str],
) -> Result<String> {
    let no = tx.segment_create(Segment {
        description: description.into(),
        template: template.into(),
        campaign_no,
        ..Default::default()
    })?;
    tx.segment_add(
        &no,
        &ContactSelector::Contacts(contacts.iter().map(|c| (*c).to_string()).collect()),
        StepOptions::default(),
    )?;
    Ok(no)
}

/// Logs a new segment of `contacts` with template `template` in a new campaign "Fair", inside
/// `tx`.
pub fn log_segment_in_campaign(
    tx: &mut Tx<'_>,
    template: &str,
    contacts: &[&str],
) -> Result<LoggedSegmentOutcome> {
    let campaign = tx.campaign_create(Campaign {
        description: "Fair".into(),
        ..Default::default()
    })?;
    let no = segment_in(tx, ("Fair", template, campaign), contacts)?;
    tx.log_segment(&no, LogSegmentOptions::default())
}

/// A database with: groups LETTER, PHONE, SALES; templates BUS (letter, hard copy), CALL (phone,
/// outbound), INCOME (inbound), INV (sales documents); salespeople JO, PS; company C1 with
/// persons P1 (e-mail, `hard_copy`), P2 (no e-mail); company C2; customer 10000 → C1.
pub fn db() -> Database {
    let db = empty_db();
    fill(&db);
    db
}

/// Writes the catalogue and contacts [`db`] has into `db`.
pub fn fill(db: &Database) {
    db.write(|tx| {
        for (code, description) in [
            ("LETTER", "Letters"),
            ("PHONE", "Phone calls"),
            ("SALES", "Sales documents"),
        ] {
            tx.group_define(InteractionGroup {
                code: code.into(),
                description: description.into(),
            })?;
        }
        tx.template_define(template(
            "BUS",
            "LETTER",
            "Business letter",
            8,
            30,
            Flow::Outbound,
            Correspondence::HardCopy,
        ))?;
        tx.template_define(template(
            "CALL",
            "PHONE",
            "Outgoing call",
            1,
            15,
            Flow::Outbound,
            Correspondence::Blank,
        ))?;
        let mut income = template(
            "INCOME",
            "PHONE",
            "Incoming call",
            0,
            10,
            Flow::Inbound,
            Correspondence::Blank,
        );
        income.initiated_by = InitiatedBy::Them;
        tx.template_define(income)?;
        tx.template_define(template(
            "INV",
            "SALES",
            "Sales invoice",
            8,
            1,
            Flow::Outbound,
            Correspondence::Blank,
        ))?;
        tx.salesperson_create(Salesperson {
            code: "JO".into(),
            name: "Jim Olive".into(),
            ..Default::default()
        })?;
        tx.salesperson_create(Salesperson {
            code: "PS".into(),
            name: "Peter Saddow".into(),
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "C1".into(),
            name: "Cannon Group".into(),
            salesperson: "JO".into(),
            email: "info@cannon.example".into(),
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "P1".into(),
            name: "Anna Berg".into(),
            kind: ContactKind::Person,
            company_no: "C1".into(),
            salesperson: "JO".into(),
            email: "anna@cannon.example".into(),
            correspondence: Correspondence::HardCopy,
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "P2".into(),
            name: "Bart Dahl".into(),
            kind: ContactKind::Person,
            company_no: "C1".into(),
            salesperson: "PS".into(),
            ..Default::default()
        })?;
        tx.contact_create(Contact {
            no: "C2".into(),
            name: "Selangorian".into(),
            salesperson: "PS".into(),
            email: "info@selangorian.example".into(),
            ..Default::default()
        })?;
        tx.relation_link("C1", AccountKind::Customer, "10000")?;
        tx.template_setup_set(&[(DocumentType::SalesInvoice, "INV".into())])?;
        Ok(())
    })
    .unwrap();
}

/// A template of `group` with a unit cost and duration, flow and correspondence (initiated by
/// us when outbound).
pub fn template(
    code: &str,
    group: &str,
    description: &str,
    cost: i64,
    minutes: i64,
    flow: Flow,
    correspondence: Correspondence,
) -> InteractionTemplate {
    InteractionTemplate {
        code: code.into(),
        group: group.into(),
        description: description.into(),
        unit_cost: Amount::from_units(cost),
        unit_duration: Amount::from_units(minutes),
        flow,
        initiated_by: if flow == Flow::Outbound {
            InitiatedBy::Us
        } else {
            InitiatedBy::Blank
        },
        correspondence,
        ..Default::default()
    }
}

/// A draft for `contact` with `template`.
pub fn draft(contact: &str, template: &str) -> InteractionDraft {
    InteractionDraft {
        contact: contact.into(),
        template: template.into(),
        ..Default::default()
    }
}

/// Logs one interaction and returns its entry no.
#[expect(
    clippy::needless_pass_by_value,
    reason = "tests build the draft in the call; the write may run it again, so it is cloned"
)]
pub fn log(db: &Database, draft: InteractionDraft) -> u64 {
    db.write(|tx| tx.log_interaction(draft.clone())).unwrap()
}

/// Runs an operation that must be refused and returns its error, after proving that it wrote
/// nothing before it was refused (every write goes through a counting [`rapport_engine::store::KvWrite`])
/// and that the database is as it was.
pub fn refused<T: std::fmt::Debug>(
    db: &Database,
    mut work: impl FnMut(&mut Tx<'_>) -> Result<T>,
) -> Error {
    let before = db.fingerprint().unwrap();
    let mut wrote = (0, None);
    let err = db
        .write_raw(|kv, ctx| {
            let mut counting = CountingWrites::new(kv);
            let outcome = work(&mut Tx::new(&mut counting, ctx));
            wrote = (
                counting.writes(),
                counting
                    .first_write()
                    .map(|(table, key)| format!("table {table}, key {key:02x?}")),
            );
            outcome
        })
        .expect_err("the operation should have been refused");
    let (writes, first) = wrote;
    assert!(
        writes == 0,
        "the operation wrote {writes} key(s) before it was refused (the first: {}); check before writing: {err}",
        first.unwrap_or_default()
    );
    assert_eq!(
        before,
        db.fingerprint().unwrap(),
        "a refused operation changed the database: {err}"
    );
    err
}

/// Runs work that fails after it has written (several workflows in one transaction, the last
/// refused) and returns its error, after proving that the transaction kept nothing.
pub fn rolled_back<T: std::fmt::Debug>(
    db: &Database,
    work: impl FnMut(&mut Tx<'_>) -> Result<T>,
) -> Error {
    let before = db.fingerprint().unwrap();
    let err = db.write(work).expect_err("the work should have failed");
    assert_eq!(
        before,
        db.fingerprint().unwrap(),
        "a failed transaction kept some of its writes: {err}"
    );
    err
}

/// The entry `no`, which must exist.
pub fn entry(db: &Database, no: u64) -> InteractionLogEntry {
    db.read(|v| v.entry(no)).unwrap().expect("entry exists")
}

/// Attachment content named `name`.
pub fn attachment(name: &str, content: &[u8]) -> AttachmentContent {
    AttachmentContent {
        file_name: name.into(),
        content: content.to_vec(),
    }
}

/// The integrity check must find nothing.
pub fn assert_consistent(db: &Database) {
    let report = db.read(|v| v.integrity_check()).unwrap();
    assert!(
        report.is_ok(),
        "integrity check on {}: {:#?}",
        db.backend().kind(),
        report.differences
    );
}
