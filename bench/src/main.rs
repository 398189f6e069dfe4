//! rapport against SQLite on the same CRM work. Generates a seeded company, runs each
//! operation on both, compares the answers (a mismatch fails the run) and prints a table of
//! medians, ratios (rapport ÷ SQLite) and rapport's peak memory per operation.
//!
//!   cargo run --release -p rapport-bench -- --scale smoke      (CI: answers only matter)
//!   cargo run --release -p rapport-bench -- --scale reference  (1M contacts, 3M entries)

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rapport::output::{End, Format, Streamer};
use rapport_engine::model::{
    Amount, Contact, ContactFilter, ContactKind, ContactSelector, FieldDef, FieldRecord, FieldType,
    FieldValue, InteractionGroup, InteractionTemplate, Salesperson, Segment, StepOptions,
};
use rapport_engine::ops::{
    CancelMode, CanceledEntryFilter, InteractionDraft, LogSegmentOptions, StatKind,
};
use rapport_engine::store::{KvWrite, Order as StoreOrder, Result as StoreResult, Table};
use rapport_engine::{Clock, Database};
use rapport_script::{Limits, RunOptions, ScriptHost};
use rusqlite::{Connection, params};

#[global_allocator]
static ALLOCATED: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

const CITIES: &[&str] = &[
    "Oslo",
    "Bergen",
    "London",
    "Paris",
    "Berlin",
    "Madrid",
    "Rome",
    "Vienna",
    "Prague",
    "Warsaw",
    "Dublin",
    "Lisbon",
    "Athens",
    "Helsinki",
    "Stockholm",
    "Copenhagen",
    "Brussels",
    "Amsterdam",
    "Zurich",
    "Munich",
];

/// The size of the generated company.
#[derive(Debug, Clone, Copy)]
struct Scale {
    contacts: u64,
    entries: u64,
    templates: u64,
    salespeople: u64,
    timelines: u64,
    runs: usize,
}

impl Scale {
    fn named(name: &str) -> Option<Scale> {
        let base = |contacts: u64, runs| Scale {
            contacts,
            entries: contacts * 3,
            templates: 40,
            salespeople: 50,
            timelines: (contacts / 100).max(10),
            runs,
        };
        match name {
            "smoke" => Some(base(10_000, 1)),
            "small" => Some(base(100_000, 3)),
            "reference" => Some(base(1_000_000, 3)),
            _ => None,
        }
    }
}

/// Seeded xorshift: the same company every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Person {
    no: String,
    name: String,
    company: bool,
    company_no: String,
    city: &'static str,
    revenue: f64,
    bucket: i64,
}

fn people(scale: Scale) -> Vec<Person> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    (0..scale.contacts)
        .map(|i| {
            let company = i % 10 == 0;
            Person {
                no: format!("C{i:07}"),
                name: format!("Contact {i}"),
                company,
                company_no: format!("C{:07}", i - i % 10),
                city: CITIES[rng.next(CITIES.len() as u64) as usize],
                revenue: rng.next(100_000) as f64 / 100.0,
                bucket: (i % 10) as i64,
            }
        })
        .collect()
}

fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n % 330)
}

/// One write of the history's rows, on whichever database it is given.
type Work<'w> = Box<dyn FnMut(&mut rapport_engine::Tx<'_>) -> rapport_engine::Result<u64> + 'w>;

/// One row of the history's cost, as the runs go: times with and without the record, the peak
/// memory, the history's bytes for the operation, how many records it changed.
#[derive(Clone, Default)]
struct HistorySample {
    with: Vec<Duration>,
    without: Vec<Duration>,
    peak: f64,
    bytes: u64,
    records: u64,
}

/// One measured operation.
struct Row {
    name: &'static str,
    target: f64,
    rapport: Duration,
    sqlite: Duration,
    peak_mib: f64,
    /// Statements sent to PostgreSQL per run of rapport's side (0 on redb).
    round_trips: f64,
    /// The same physical work done straight on the store (scan the same bytes, write the same
    /// keys): how far rapport is from its own storage's limit.
    floor: Option<Duration>,
}

impl Row {
    fn with_floor(mut self, floor: Duration) -> Self {
        self.floor = Some(floor);
        self
    }
}

/// A write transaction that passes every write through and keeps a copy of each put: what
/// an import wrote, to write again straight into a store (the import's floor).
struct Recording<'a> {
    inner: &'a mut dyn KvWrite,
    log: &'a mut Vec<(Table, Vec<u8>, Vec<u8>)>,
}

rapport_engine::store::reads_through_inner!(Recording<'_>);

impl KvWrite for Recording<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> StoreResult<()> {
        self.log.push((table, key.to_vec(), value.to_vec()));
        self.inner.put(table, key, value)
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> StoreResult<bool> {
        self.inner.delete(table, key)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> StoreResult<()> {
        self.inner.remove(table, key)
    }
}

/// Every key and value of `table`, read straight from the store (a scan's floor); gives the
/// bytes read.
fn scan_bytes(db: &Database, table: Table) -> u64 {
    let read = db.backend().begin_read().unwrap();
    let mut bytes = 0_u64;
    read.scan(table, &[], None, StoreOrder::Ascending, &mut |k, v| {
        bytes += (k.len() + v.len()) as u64;
        true
    })
    .unwrap();
    bytes
}

/// The PostgreSQL backends the benchmark opened, to count their round trips.
static POSTGRES: std::sync::Mutex<Vec<Arc<rapport_engine::store::PostgresBackend>>> =
    std::sync::Mutex::new(Vec::new());

/// Statements sent to PostgreSQL so far by every backend the benchmark opened.
fn round_trips() -> u64 {
    POSTGRES
        .lock()
        .unwrap()
        .iter()
        .map(|b| b.round_trips())
        .sum()
}

/// A writer that only counts the bytes it is given (where printed results go).
struct Counting(Rc<Cell<u64>>);

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a script that answers a number (rapport's side of a row).
fn script_count(host: &ScriptHost, db: &Database, script: &str) -> u64 {
    host.run(db, "bench", script, RunOptions::default())
        .unwrap()
        .value
        .as_int()
        .unwrap() as u64
}

/// Measures one operation on both sides, checks that they answered alike, and gives its row.
fn row(
    name: &'static str,
    what: &str,
    target: f64,
    runs: usize,
    rapport: impl FnMut() -> u64,
    sqlite: impl FnMut() -> u64,
) -> Row {
    let (rapport, rapport_answer, peak_mib, round_trips) = measure(runs, rapport);
    let (sqlite, sqlite_answer, ..) = measure(runs, sqlite);
    compare(what, rapport_answer, sqlite_answer);
    Row {
        name,
        target,
        rapport,
        sqlite,
        peak_mib,
        round_trips,
        floor: None,
    }
}

/// Runs `f` `runs` times and returns the median time, its answer, the peak memory it added and
/// the statements it sent to PostgreSQL per run.
fn measure(runs: usize, mut f: impl FnMut() -> u64) -> (Duration, u64, f64, f64) {
    let trips = round_trips();
    let mut times = Vec::with_capacity(runs);
    let mut answer = 0;
    let peak = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let base = ALLOCATED.allocated();
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(ALLOCATED.allocated(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    for _ in 0..runs {
        let start = Instant::now();
        answer = f();
        times.push(start.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    times.sort();
    let peak_mib = peak.load(Ordering::Relaxed).saturating_sub(base) as f64 / (1024.0 * 1024.0);
    let trips = (round_trips() - trips) as f64 / runs as f64;
    (times[times.len() / 2], answer, peak_mib, trips)
}

fn compare(name: &str, rapport: u64, sqlite: u64) {
    assert_eq!(
        rapport, sqlite,
        "{name}: rapport answered {rapport}, SQLite {sqlite}"
    );
}

fn contact_record(p: &Person) -> Contact {
    let mut c = Contact {
        no: p.no.clone(),
        name: p.name.clone(),
        kind: if p.company {
            ContactKind::Company
        } else {
            ContactKind::Person
        },
        company_no: if p.company {
            String::new()
        } else {
            p.company_no.clone()
        },
        city: p.city.to_string(),
        salesperson: "SP00".into(),
        ..Contact::default()
    };
    c.custom
        .insert("revenue".into(), FieldValue::Number(p.revenue));
    c.custom
        .insert("bucket".into(), FieldValue::Number(p.bucket as f64));
    c
}

fn sqlite_open(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        .unwrap();
    conn
}

const SCHEMA: &str = "
CREATE TABLE contacts(no TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, company_no TEXT, city TEXT, salesperson TEXT, revenue REAL, bucket INTEGER);
CREATE INDEX contacts_company ON contacts(company_no);
CREATE TABLE entries(entry_no INTEGER PRIMARY KEY, contact_no TEXT, company_no TEXT, date TEXT, template TEXT, grp TEXT,
  salesperson TEXT, cost REAL, duration REAL, canceled INTEGER NOT NULL DEFAULT 0, logged_segment_no INTEGER NOT NULL DEFAULT 0);
CREATE INDEX entries_contact ON entries(contact_no, date, entry_no);
CREATE INDEX entries_company ON entries(company_no, date, entry_no);
CREATE INDEX entries_template ON entries(template, canceled, cost, duration);
CREATE INDEX entries_canceled ON entries(canceled);
CREATE INDEX entries_logged_segment ON entries(logged_segment_no);
CREATE TABLE logged_segments(entry_no INTEGER PRIMARY KEY, description TEXT, canceled INTEGER NOT NULL DEFAULT 0);
";

fn import_sqlite(conn: &mut Connection, people: &[Person]) -> u64 {
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO contacts VALUES (?1, ?2, ?3, ?4, ?5, 'SP00', ?6, ?7)")
            .unwrap();
        for p in people {
            let company_no = if p.company {
                p.no.as_str()
            } else {
                p.company_no.as_str()
            };
            insert
                .execute(params![
                    p.no,
                    p.name,
                    if p.company { "company" } else { "person" },
                    company_no,
                    p.city,
                    p.revenue,
                    p.bucket
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    conn.query_row("SELECT count(*) FROM contacts", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scale_name = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1))
        .map_or("smoke", String::as_str);
    let scale = Scale::named(scale_name)
        .unwrap_or_else(|| panic!("--scale is smoke, small or reference, not {scale_name}"));
    eprintln!(
        "scale {scale_name}: {} contacts, {} entries, {} templates",
        scale.contacts, scale.entries, scale.templates
    );
    let dir = tempfile::tempdir().unwrap();
    let people = people(scale);
    let mut rows = Vec::new();

    // 1. Import the contacts in one transaction (each side into a fresh file).
    // `--postgres URL`: rapport's side on PostgreSQL (a schema of its own) instead of a redb file.
    let postgres = args
        .iter()
        .position(|a| a == "--postgres")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let namespace = format!("bench_{}", std::process::id());
    let rapport_path = dir.path().join("rapport.redb");
    let open_rapport = || match &postgres {
        Some(url) => {
            let backend = Arc::new(
                rapport_engine::store::PostgresBackend::open_in(
                    url,
                    &namespace,
                    rapport_engine::SCHEMA,
                )
                .unwrap(),
            );
            POSTGRES.lock().unwrap().push(backend.clone());
            Database::with_backend(backend).unwrap()
        }
        None => Database::open(&rapport_path).unwrap(),
    };
    // Another database of the same kind, for the floors (a schema or a file of its own).
    let open_fresh = |tag: &str| match &postgres {
        Some(url) => Database::with_backend(Arc::new(
            rapport_engine::store::PostgresBackend::open_in(
                url,
                &format!("{namespace}_{tag}"),
                rapport_engine::SCHEMA,
            )
            .unwrap(),
        ))
        .unwrap(),
        None => Database::open(dir.path().join(format!("{tag}.redb"))).unwrap(),
    };
    let table = |name: &str| {
        *rapport_engine::SCHEMA
            .tables()
            .iter()
            .find(|t| t.name() == name)
            .unwrap()
    };
    if postgres.is_some() {
        eprintln!("rapport on PostgreSQL (schema {namespace})");
    }
    let mut db = open_rapport();
    db.context_mut().clock = Clock::fixed(day(340));
    let setup_catalogue = |db: &Database| {
        db.write(|tx| {
            tx.salesperson_create(Salesperson {
                code: "SP00".into(),
                name: "Salesperson 0".into(),
                ..Salesperson::default()
            })?;
            for s in 1..scale.salespeople {
                tx.salesperson_create(Salesperson {
                    code: format!("SP{s:02}"),
                    name: format!("Salesperson {s}"),
                    ..Salesperson::default()
                })?;
            }
            for name in ["revenue", "bucket"] {
                tx.field_define(&FieldDef {
                    record: FieldRecord::Contact,
                    name: name.into(),
                    field_type: FieldType::Number,
                    description: String::new(),
                })?;
            }
            for g in 0..5 {
                tx.group_define(InteractionGroup {
                    code: format!("G{g}"),
                    description: format!("Group {g}"),
                })?;
            }
            for t in 0..scale.templates {
                tx.template_define(InteractionTemplate {
                    code: format!("T{t:02}"),
                    group: format!("G{}", t % 5),
                    description: format!("Template {t}"),
                    unit_cost: Amount::from_units((t % 7) as i64 + 1),
                    unit_duration: Amount::from_units(15),
                    ..InteractionTemplate::default()
                })?;
            }
            Ok(())
        })
        .unwrap();
    };
    setup_catalogue(&db);
    let records: Vec<Contact> = people.iter().map(contact_record).collect();
    // As `rapport import` does: what the contacts share read once, a thousand rows announced
    // to the store at a time.
    let import = |tx: &mut rapport_engine::Tx<'_>| {
        tx.batch_contacts(|tx| {
            for chunk in records.chunks(1000) {
                let nos: Vec<&str> = chunk.iter().map(|c| c.no.as_str()).collect();
                tx.view().prefetch_contacts(&nos)?;
                for c in chunk {
                    tx.contact_create(c.clone())?;
                }
            }
            Ok(())
        })
    };
    let (rapport_time, rapport_n, peak, trips) = measure(1, || {
        db.write(|tx| import(tx)).unwrap();
        db.read(|v| {
            let mut n = 0;
            v.each_contact(&mut |_| {
                n += 1;
                Ok(true)
            })?;
            Ok(n)
        })
        .unwrap()
    });
    // The import's floor: the keys and values the import wrote (recorded from the same import
    // into a database of its own), written straight into a fresh store in one transaction.
    let import_floor = {
        let recorded = open_fresh("recorded");
        setup_catalogue(&recorded);
        let mut log = Vec::new();
        recorded
            .write_raw(|kv, ctx| {
                log.clear();
                let mut rec = Recording {
                    inner: kv,
                    log: &mut log,
                };
                import(&mut rapport_engine::Tx::new(&mut rec, ctx))
            })
            .unwrap();
        drop(recorded);
        let target = open_fresh("floor");
        setup_catalogue(&target);
        let (floor, ..) = measure(1, || {
            target
                .write_raw(|kv, _| {
                    for (table, k, v) in &log {
                        kv.put(*table, k, v)?;
                    }
                    Ok(())
                })
                .unwrap();
            log.len() as u64
        });
        floor
    };
    let sqlite_path = dir.path().join("sqlite.db");
    let mut conn = sqlite_open(&sqlite_path);
    conn.execute_batch(SCHEMA).unwrap();
    let (sqlite_time, sqlite_n, ..) = measure(1, || import_sqlite(&mut conn, &people));
    compare("import", rapport_n, sqlite_n);
    rows.push(Row {
        name: "import contacts in one transaction",
        target: 1.0,
        rapport: rapport_time,
        sqlite: sqlite_time,
        peak_mib: peak,
        round_trips: trips,
        floor: Some(import_floor),
    });

    // Setup (not timed): the interaction log, the same entries on both sides.
    eprintln!("setup: logging {} entries", scale.entries);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut entries = Vec::with_capacity(scale.entries as usize);
    for _ in 0..scale.entries {
        let contact = rng.next(scale.contacts);
        entries.push((
            contact,
            rng.next(scale.templates),
            rng.next(scale.salespeople),
            day(rng.next(330)),
        ));
    }
    for chunk in entries.chunks(20_000) {
        db.write(|tx| {
            for &(c, t, s, d) in chunk {
                tx.log_interaction(InteractionDraft {
                    contact: people[c as usize].no.clone(),
                    template: format!("T{t:02}"),
                    salesperson: format!("SP{s:02}"),
                    date: Some(d),
                    ..InteractionDraft::default()
                })?;
            }
            Ok(())
        })
        .unwrap();
    }
    {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx.prepare("INSERT INTO entries(entry_no, contact_no, company_no, date, template, grp, salesperson, cost, duration) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)").unwrap();
            for (i, &(c, t, s, d)) in entries.iter().enumerate() {
                let p = &people[c as usize];
                let company_no = if p.company { &p.no } else { &p.company_no };
                insert
                    .execute(params![
                        i as i64 + 1,
                        p.no,
                        company_no,
                        d.to_string(),
                        format!("T{t:02}"),
                        format!("G{}", t % 5),
                        format!("SP{s:02}"),
                        (t % 7 + 1) as f64,
                        15.0
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }

    // 2. A scripted filter over every contact, no index on either side.
    let host = ScriptHost::new(Limits::user());
    let script = r#"contacts().where(|c| c.city == "Oslo" && c.revenue > 500.0).count()"#;
    rows.push(row(
        "scripted filter over all contacts",
        "scripted filter",
        0.5,
        scale.runs,
        || script_count(&host, &db, script),
        || {
            conn.query_row(
                "SELECT count(*) FROM contacts WHERE city = 'Oslo' AND revenue > 500.0",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
        },
    ));
    // The scan's floor: what it reads, straight from the store — the contact columns (the
    // count reads no record).
    let contacts = table("contacts");
    let columns = table("contact_columns");
    let (scan_floor, ..) = measure(scale.runs, || scan_bytes(&db, columns));
    let last = rows.pop().unwrap().with_floor(scan_floor);
    rows.push(last);
    // The list's floor adds the records of the contacts that match, each read by its key.
    let matching: Vec<Vec<u8>> = db
        .read(|v| {
            let mut keys = Vec::new();
            v.each_contact(&mut |c| {
                if c.city == "Oslo"
                    && matches!(c.custom.get("revenue"), Some(FieldValue::Number(r)) if *r > 500.0)
                {
                    keys.push(
                        rapport_engine::store::key::Key::new()
                            .str(&c.no)
                            .into_bytes(),
                    );
                }
                Ok(true)
            })?;
            Ok(keys)
        })
        .unwrap();
    let (list_floor, ..) = measure(scale.runs, || {
        let read = db.backend().begin_read().unwrap();
        let records: u64 = matching
            .iter()
            .map(|k| read.get(contacts, k).unwrap().map_or(0, |v| v.len() as u64))
            .sum();
        scan_bytes(&db, columns) + records
    });

    // 2b. The same as a user writes it for a segment: the matching contacts (5%), whole.
    let script = r#"contacts().where(|c| c.city == "Oslo" && c.revenue > 500.0).list().len()"#;
    rows.push(
        row(
            "the same, returning the matching contacts (.list(), 5%)",
            "scripted filter list",
            1.0,
            scale.runs,
            || {
                script_count(&host, &db, script)
            },
            || {
                type ContactRow = (String, String, String, Option<String>, Option<String>, Option<String>, f64, i64);
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT no, name, kind, company_no, city, salesperson, revenue, bucket FROM contacts WHERE city = 'Oslo' AND revenue > 500.0",
                    )
                    .unwrap();
                let rows: Vec<ContactRow> = stmt
                    .query_map([], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                rows.len() as u64
            },
        )
        .with_floor(list_floor),
    );

    // 2c. Every contact printed, as `rapport --format csv eval 'contacts()'` prints them: the
    // query's results streamed to the output as they come (the command line's own printer), not
    // collected first; SQLite's side writes every row of its contacts table as CSV.
    let printed_bytes = Rc::new(Cell::new(0_u64));
    rows.push(row(
        "print every contact as CSV (a script's result, streamed)",
        "print every contact",
        1.0,
        scale.runs,
        || {
            let out = Box::new(Counting(printed_bytes.clone()));
            let printer = Rc::new(RefCell::new(Streamer::new(Format::Csv, out)));
            host.stream_results(Some(printer.clone()));
            let ran = host
                .run(&db, "bench", "contacts()", RunOptions::default())
                .unwrap();
            host.stream_results(None);
            printer.borrow_mut().finish(End::Complete).unwrap();
            ran.streamed.unwrap().rows
        },
        || {
            let mut w = csv::Writer::from_writer(Counting(Rc::new(Cell::new(0))));
            w.write_record([
                "no",
                "name",
                "kind",
                "company_no",
                "city",
                "salesperson",
                "revenue",
                "bucket",
            ])
            .unwrap();
            let mut stmt = conn.prepare_cached("SELECT * FROM contacts").unwrap();
            let mut rows = stmt.query([]).unwrap();
            let mut n = 0;
            while let Some(r) = rows.next().unwrap() {
                let text = |i: usize| r.get::<_, Option<String>>(i).unwrap().unwrap_or_default();
                let revenue: Option<f64> = r.get(6).unwrap();
                let bucket: Option<i64> = r.get(7).unwrap();
                w.write_record([
                    text(0),
                    text(1),
                    text(2),
                    text(3),
                    text(4),
                    text(5),
                    revenue.map(|x| x.to_string()).unwrap_or_default(),
                    bucket.map(|x| x.to_string()).unwrap_or_default(),
                ])
                .unwrap();
                n += 1;
            }
            w.flush().unwrap();
            n
        },
    ));
    eprintln!(
        "printed {:.1} MiB of CSV for every contact",
        printed_bytes.get() as f64 / (1024.0 * 1024.0)
    );

    // 3. The same on an indexed field (SQLite gets an index on city).
    conn.execute_batch("CREATE INDEX contacts_city ON contacts(city);")
        .unwrap();
    let script = r#"contacts().filter(#{city: "Oslo"}).count()"#;
    rows.push(row(
        "filter on an indexed field (city)",
        "indexed filter",
        0.5,
        scale.runs,
        || script_count(&host, &db, script),
        || {
            conn.query_row(
                "SELECT count(*) FROM contacts WHERE city = 'Oslo'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
        },
    ));

    // 4. A contact's timeline (entries, newest first) for random contacts.
    let picks: Vec<usize> = (0..scale.timelines)
        .map(|_| rng.next(scale.contacts) as usize)
        .collect();
    rows.push(row(
        "timelines of random contacts",
        "timeline",
        1.0,
        scale.runs,
        || {
            db.read(|v| {
                Ok(picks
                    .iter()
                    .map(|&i| v.timeline(&people[i].no).map_or(0, |t| t.len() as u64))
                    .sum())
            })
            .unwrap()
        },
        || {
            // A person's own entries; a company's entries and its persons' (its company index).
            // Whole entries, as rapport's timeline returns them (not just their numbers, which the
            // index alone would answer).
            let mut person = conn
                .prepare_cached(
                    "SELECT * FROM entries WHERE contact_no = ?1 ORDER BY date DESC, entry_no DESC",
                )
                .unwrap();
            let mut company = conn
                .prepare_cached(
                    "SELECT * FROM entries WHERE company_no = ?1 ORDER BY date DESC, entry_no DESC",
                )
                .unwrap();
            picks
                .iter()
                .map(|&i| {
                    let stmt = if people[i].company {
                        &mut company
                    } else {
                        &mut person
                    };
                    stmt.query_map(params![people[i].no], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, f64>(7)?,
                            r.get::<_, f64>(8)?,
                            r.get::<_, i64>(9)?,
                            r.get::<_, i64>(10)?,
                        ))
                    })
                    .unwrap()
                    .try_fold(0_u64, |n, entry| entry.map(|_| n + 1))
                    .unwrap()
                })
                .sum()
        },
    ));

    // 5. Statistics of every template over all entries.
    rows.push(row(
        "statistics of all templates",
        "template statistics",
        0.01,
        scale.runs,
        || {
        db.read(|v| {
            Ok((0..scale.templates)
                .map(|t| {
                    v.statistics(StatKind::Template, &format!("T{t:02}"), None)
                        .map_or(0, |s| s.count)
                })
                .sum())
        })
        .unwrap()
        },
        || {
        let mut stmt = conn.prepare_cached("SELECT template, count(*), sum(cost), sum(duration) FROM entries WHERE canceled = 0 GROUP BY template").unwrap();
        stmt.query_map([], |r| r.get::<_, i64>(1))
            .unwrap()
            .map(|n| n.unwrap() as u64)
            .sum()
        },
    ));

    // 5b. An ad-hoc aggregate: one month of entries grouped by salesperson (the answer: the sum
    // of the squares of the groups' counts, so both sides must agree on every group).
    let script = r#"
        let m = entries().filter(#{date: #{from: date("2026-03-01"), to: date("2026-03-31")}})
            .group_count("salesperson");
        let s = 0;
        for k in m.keys() { s += m[k] * m[k]; }
        s"#;
    rows.push(row(
        "one month of entries grouped by salesperson",
        "ad-hoc aggregate",
        1.0,
        scale.runs,
        || {
            script_count(&host, &db, script)
        },
        || {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT count(*) FROM entries WHERE date BETWEEN '2026-03-01' AND '2026-03-31' GROUP BY salesperson",
                )
                .unwrap();
            stmt.query_map([], |r| r.get::<_, i64>(0))
                .unwrap()
                .map(|n| {
                    let n = n.unwrap() as u64;
                    n * n
                })
                .sum()
        },
    ));
    let entries_table = table("entries");
    let (entries_floor, ..) = measure(scale.runs, || scan_bytes(&db, entries_table));
    let last = rows.pop().unwrap().with_floor(entries_floor);
    rows.push(last);

    // Adds the contacts of one bucket (a tenth) to a new segment and logs it; gives the entries.
    let log_bucket = |bucket: f64| {
        move |tx: &mut rapport_engine::Tx<'_>| -> rapport_engine::Result<u64> {
            let no = tx.segment_create(Segment {
                description: format!("Bucket {bucket}"),
                template: "T00".into(),
                ..Segment::default()
            })?;
            let filter = ContactFilter::all().eq("bucket", FieldValue::Number(bucket));
            tx.segment_add(
                &no,
                &ContactSelector::Filter(filter),
                StepOptions::default(),
            )?;
            Ok(tx
                .log_segment(&no, LogSegmentOptions::default())?
                .entry_nos
                .len() as u64)
        }
    };

    // 6. Add a tenth of the contacts to a segment from a filter and log it.
    let (r, rn, peak, trips) = measure(1, || db.write(log_bucket(3.0)).unwrap());
    let next_entry = scale.entries as i64 + 1;
    let (s, sn, ..) = measure(1, || {
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO logged_segments(entry_no, description) VALUES (1, 'Bucket 3')",
            [],
        )
        .unwrap();
        let n = tx
            .execute(
                "INSERT INTO entries(entry_no, contact_no, company_no, date, template, grp, salesperson, cost, duration, logged_segment_no)
                 SELECT ?1 + row_number() OVER (ORDER BY no) - 1, no, company_no, '2026-12-07', 'T00', 'G0', salesperson, 1.0, 15.0, 1 FROM contacts WHERE bucket = 3",
                params![next_entry],
            )
            .unwrap();
        tx.commit().unwrap();
        n as u64
    });
    compare("log segment", rn, sn);
    rows.push(Row {
        name: "segment from a filter, logged",
        target: 1.0,
        rapport: r,
        sqlite: s,
        peak_mib: peak,
        round_trips: trips,
        floor: None,
    });

    // 7. Cancel that logged segment.
    rows.push(row(
        "cancel a logged segment",
        "cancel logged segment",
        1.0,
        1,
        || {
            db.write(|tx| tx.set_logged_segment_canceled(1, true))
                .unwrap();
            db.read(|v| v.statistics(StatKind::LoggedSegment, "1", None))
                .unwrap()
                .count
        },
        || {
            let tx = conn.transaction().unwrap();
            tx.execute(
                "UPDATE logged_segments SET canceled = 1 WHERE entry_no = 1",
                [],
            )
            .unwrap();
            let n = tx
                .execute(
                    "UPDATE entries SET canceled = 1 WHERE logged_segment_no = 1",
                    [],
                )
                .unwrap();
            tx.commit().unwrap();
            n as u64
        },
    ));

    // 8. Purge the canceled entries (setup, not timed: cancel every tenth entry of the log too).
    let tenth: Vec<u64> = (1..=scale.entries).filter(|n| n % 10 == 0).collect();
    for chunk in tenth.chunks(20_000) {
        db.write(|tx| {
            tx.set_entries_canceled(chunk, CancelMode::Cancel, false)
                .map(|_| ())
        })
        .unwrap();
    }
    conn.execute(
        "UPDATE entries SET canceled = 1 WHERE entry_no % 10 = 0 AND logged_segment_no = 0",
        [],
    )
    .unwrap();
    rows.push(row(
        "purge canceled entries",
        "purge",
        1.0,
        1,
        || {
            db.write(|tx| tx.delete_canceled_entries(&CanceledEntryFilter::default(), false))
                .unwrap()
                .count as u64
        },
        || {
            let tx = conn.transaction().unwrap();
            let n = tx
                .execute("DELETE FROM entries WHERE canceled = 1", [])
                .unwrap();
            tx.commit().unwrap();
            n as u64
        },
    ));

    // 9. Open the database and answer a first query.
    drop(host);
    drop(db);
    drop(conn);
    rows.push(row(
        "open and answer a first query",
        "open and query",
        1.0,
        scale.runs,
        || {
            let db = open_rapport();
            db.read(|v| v.statistics(StatKind::Template, "T01", None))
                .unwrap()
                .count
        },
        || {
            let conn = sqlite_open(&sqlite_path);
            conn.query_row(
                "SELECT count(*) FROM entries WHERE template = 'T01' AND canceled = 0",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
        },
    ));

    // 10. The history's cost: the same work on two fresh databases, one through
    // `Database::write` (every commit leaves its operation record), one in a bare write
    // transaction of the same backend (no record); then an undo of a segment log. Each
    // operation changes data, so the whole sequence runs on fresh pairs — five times (three at
    // reference scale) — and each row is the median; the side that goes first alternates.
    eprintln!("history: the same work with and without its record");
    let history_runs = if scale.contacts > 100_000 { 3 } else { 5 };
    let history_rows = {
        let bare =
            |db: &Database,
             work: &mut dyn FnMut(&mut rapport_engine::Tx<'_>) -> rapport_engine::Result<u64>|
             -> u64 {
                let mut txn = db.backend().begin_write().unwrap();
                let n = work(&mut rapport_engine::Tx::new(&mut *txn, db.context())).unwrap();
                txn.commit().unwrap();
                n
            };
        let last_op = |db: &Database| {
            db.read(|v| {
                let mut last = 0;
                v.operations(None, StoreOrder::Descending, &mut |op| {
                    last = op.no;
                    Ok(false)
                })?;
                Ok(last)
            })
            .unwrap()
        };
        let journal_changes = table("journal_changes");
        let journal = table("journal");
        let op_bytes = |db: &Database, no: u64| {
            let read = db.backend().begin_read().unwrap();
            let mut bytes = 0_u64;
            let from = no.to_be_bytes();
            let to = (no + 1).to_be_bytes();
            for t in [journal, journal_changes] {
                read.scan(t, &from, Some(&to), StoreOrder::Ascending, &mut |k, v| {
                    bytes += (k.len() + v.len()) as u64;
                    true
                })
                .unwrap();
            }
            bytes
        };
        let names = [
            "import contacts in one transaction",
            "segment from a filter, logged",
            "cancel a logged segment",
            "purge canceled entries",
        ];
        // Per row: the times with and without, peak memory, history bytes, records changed.
        let mut samples = vec![HistorySample::default(); names.len() + 1];
        for run in 0..history_runs {
            let with = open_fresh(&format!("history_on_{run}"));
            let without = open_fresh(&format!("history_off_{run}"));
            setup_catalogue(&with);
            setup_catalogue(&without);
            let steps: Vec<Work<'_>> = vec![
                Box::new(|tx| import(tx).map(|()| records.len() as u64)),
                Box::new(log_bucket(3.0)),
                Box::new(|tx| {
                    tx.set_logged_segment_canceled(1, true)?;
                    Ok(tx
                        .view()
                        .statistics(StatKind::LoggedSegment, "1", None)?
                        .count)
                }),
                Box::new(|tx| {
                    Ok(tx
                        .delete_canceled_entries(&CanceledEntryFilter::default(), false)?
                        .count as u64)
                }),
            ];
            for (i, mut work) in steps.into_iter().enumerate() {
                let mut side = |recorded: bool| {
                    if recorded {
                        measure(1, || with.write(|tx| work(tx)).unwrap())
                    } else {
                        measure(1, || bare(&without, &mut *work))
                    }
                };
                // The side that goes first alternates between runs.
                let (on, off) = if run % 2 == 0 {
                    let off = side(false);
                    (side(true), off)
                } else {
                    let on = side(true);
                    (on, side(false))
                };
                compare(names[i], on.1, off.1);
                let s = &mut samples[i];
                s.with.push(on.0);
                s.without.push(off.0);
                s.peak = s.peak.max(on.2);
                s.bytes = op_bytes(&with, last_op(&with));
                s.records = on.1;
            }
            // Undo of a segment log: the log, then its undo, on the database with the history.
            let log4 = log_bucket(4.0);
            let (logged, n, ..) = measure(1, || with.write(log4).unwrap());
            let op = last_op(&with);
            let (undone, undone_n, peak, _) = measure(1, || {
                with.write(|tx| tx.undo(op)).unwrap().records.len() as u64
            });
            assert!(
                undone_n > n,
                "the undo put back {undone_n} records for {n} entries"
            );
            let report = with.read(|v| v.integrity_check()).unwrap();
            assert!(
                report.is_ok(),
                "check after the undo: {:?}",
                report.differences
            );
            let s = &mut samples[names.len()];
            s.with.push(undone);
            s.without.push(logged);
            s.peak = s.peak.max(peak);
            s.bytes = op_bytes(&with, last_op(&with));
            s.records = n;
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        samples
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                let (peak, bytes, n) = (s.peak, s.bytes, s.records);
                let name = names.get(i).map_or_else(
                    || format!("undo of a segment log ({n} entries; \"without\": the log itself)"),
                    |s| (*s).to_string(),
                );
                (
                    name,
                    median(&mut s.with),
                    median(&mut s.without),
                    peak,
                    bytes,
                    n,
                )
            })
            .collect::<Vec<_>>()
    };

    let side = if postgres.is_some() {
        "rapport on PostgreSQL"
    } else {
        "rapport"
    };
    let trips = postgres.is_some();
    println!(
        "| operation | {side} | SQLite | ratio | target | met | rapport peak memory | floor | rapport ÷ floor |{}",
        if trips { " round trips |" } else { "" }
    );
    println!(
        "|---|---:|---:|---:|---:|:-:|---:|---:|---:|{}",
        if trips { "---:|" } else { "" }
    );
    for row in &rows {
        let ratio = row.rapport.as_secs_f64() / row.sqlite.as_secs_f64().max(1e-9);
        let (floor, to_floor) = row.floor.map_or((String::new(), String::new()), |f| {
            (
                format!("{:.3} ms", f.as_secs_f64() * 1000.0),
                format!(
                    "{:.2}",
                    row.rapport.as_secs_f64() / f.as_secs_f64().max(1e-9)
                ),
            )
        });
        println!(
            "| {} | {:.3} ms | {:.3} ms | {ratio:.3} | ≤ {} | {} | {:.1} MiB | {floor} | {to_floor} |{}",
            row.name,
            row.rapport.as_secs_f64() * 1000.0,
            row.sqlite.as_secs_f64() * 1000.0,
            row.target,
            if ratio <= row.target { "yes" } else { "no" },
            row.peak_mib,
            if trips {
                format!(" {:.0} |", row.round_trips)
            } else {
                String::new()
            }
        );
    }
    println!();
    println!(
        "| the history's cost (median of {history_runs}) | with history | without | ratio | target | met | peak memory | history bytes | bytes per entry or contact |"
    );
    println!("|---|---:|---:|---:|---:|:-:|---:|---:|---:|");
    for (name, on, off, peak, bytes, n) in &history_rows {
        let ratio = on.as_secs_f64() / off.as_secs_f64().max(1e-9);
        let undo = name.starts_with("undo");
        println!(
            "| {name} | {:.3} ms | {:.3} ms | {ratio:.3} | {} | {} | {peak:.1} MiB | {bytes} | {:.0} |",
            on.as_secs_f64() * 1000.0,
            off.as_secs_f64() * 1000.0,
            if undo { "—" } else { "≤ 1.15" },
            if undo {
                "—"
            } else if ratio <= 1.15 {
                "yes"
            } else {
                "no"
            },
            *bytes as f64 / (*n).max(1) as f64,
        );
    }
    eprintln!("all answers matched");
}
