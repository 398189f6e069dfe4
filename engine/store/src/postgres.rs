//! The PostgreSQL backend (feature `postgres`): a database several rapport processes, on one
//! machine or many, use at once. Each logical table is one PostgreSQL table `t_NAME (k bytea
//! PRIMARY KEY, v bytea NOT NULL)` in a schema of its own (`rapport` unless told); `bytea`
//! compares as unsigned bytes, a prefix first — the order of the contract (a test checks it).
//!
//! **Transactions** are PostgreSQL's `SERIALIZABLE` ones, on a pooled connection each (r2d2). A
//! snapshot is one too: upgrading it to write ([`Backend::upgrade`]) continues the same
//! transaction, so PostgreSQL itself decides whether what was read still holds — a commit that
//! would break the serial order fails with a serialization failure, which is
//! [`StoreError::Conflict`] (retried by the caller); commits that did not touch what was read
//! do not. Reads go to the server (one round trip per `get`; a scan reads pages of keys in key
//! order, `LIMIT`ed, growing from 64 to 4,096 rows, so a scan that stops early reads little and
//! no scan holds a table in memory). Writes are buffered in the transaction (so it reads its
//! own writes from the buffer and the server merged) and flushed in batches of up to 1,000 rows
//! (`INSERT … SELECT unnest(…) ON CONFLICT DO UPDATE`, `DELETE … = ANY(…)`) at commit, or
//! earlier when the buffer passes 32 MiB (a million-contact import is one transaction).
//!
//! **An unknown commit outcome** (the connection broke during `COMMIT`) is resolved, never
//! guessed: every write transaction inserts a random marker row into `rapport_commits`; after a
//! broken commit the backend waits until the old server process has ended (it knows its pid)
//! and looks for the marker — there: committed; absent: nothing was kept, a conflict the caller
//! may run again. Markers older than a day are removed when a backend opens.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::NoTls;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use r2d2_postgres::PostgresConnectionManager;

use crate::backend::{Backend, ReadTxn, WriteTxn};
use crate::error::{Result, StoreError};
use crate::key::hex;
use crate::kv::{KvRead, KvWrite, Order, Visit, check_sizes};
use crate::table::{Schema, Table};

type Manager = PostgresConnectionManager<NoTls>;
/// What a transaction read, by table id and key (`None`: not there).
type ReadCache = std::collections::HashMap<(usize, Vec<u8>), Option<Vec<u8>>>;
/// Pages of scans read from the server: (table id, lower bound, inclusive, upper bound,
/// descending, limit) → rows.
type PageCache = std::collections::HashMap<
    (usize, Vec<u8>, bool, Option<Vec<u8>>, bool, usize),
    Vec<(Vec<u8>, Vec<u8>)>,
>;
/// A buffered change: a key and its new value (`None`: deleted).
type Change<'a> = (&'a Vec<u8>, &'a Option<Vec<u8>>);
type Conn = r2d2::PooledConnection<Manager>;

const KIND: &str = "postgres";
/// The second key of the advisory lock writers hold while they write (one writer at a time per
/// rapport database, across processes); the first is the schema's ([`lock_key`]).
const WRITER_LOCK: i32 = 1;
/// The second key of the lock under which a backend creates its tables.
const CREATE_LOCK: i32 = 2;

/// The first key of a rapport database's advisory locks: its schema name, hashed (FNV-1a).
/// Two-key advisory locks are a key space of their own, apart from one-key (bigint) ones.
fn lock_key(namespace: &str) -> i32 {
    let hash = namespace.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    i32::from_ne_bytes(hash.to_ne_bytes())
}
/// Rows per flushed statement.
const BATCH: usize = 1000;
/// Bytes per flushed statement (PostgreSQL takes at most 1 GiB in one message).
const BATCH_BYTES: usize = 64 << 20;
/// Buffered bytes after which a write transaction flushes before its commit.
const FLUSH_BYTES: usize = 32 << 20;
/// Bytes of what a transaction has read that it keeps to answer again without the server (its
/// snapshot never changes, so what it read stays true for it, until it writes the key).
const CACHE_BYTES: usize = 64 << 20;
/// A rapport database in PostgreSQL.
pub struct PostgresBackend {
    pool: r2d2::Pool<Manager>,
    schema: Schema,
    location: String,
    namespace: String,
    /// The qualified table names, by table id.
    tables: Arc<[String]>,
    /// Round trips to the server so far (statements sent), for the benchmarks.
    round_trips: Arc<std::sync::atomic::AtomicU64>,
    /// The first key of this database's advisory locks.
    lock: i32,
}

fn failed(operation: impl Into<String>) -> impl FnOnce(postgres::Error) -> StoreError {
    let operation = operation.into();
    move |e| {
        if is_conflict(&e) {
            StoreError::Conflict
        } else {
            StoreError::backend(KIND, operation, e)
        }
    }
}

/// A serialization failure or a deadlock, or (before any commit was asked for) a connection
/// that broke or a server that is shutting down: the transaction was refused or lost, nothing of
/// it was kept, and running it again may succeed.
fn is_conflict(e: &postgres::Error) -> bool {
    is_refusal(e)
        || e.is_closed()
        || e.code().is_some_and(|c| {
            c.code().starts_with("08") || matches!(c.code(), "57P01" | "57P02" | "57P03")
        })
}

/// The server refused the transaction (a serialization failure or a deadlock): at `COMMIT`
/// the only answer that surely means nothing was kept.
fn is_refusal(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// Whether `s` may be a schema name without quoting.
fn plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
        && !s.starts_with("pg_")
}

impl PostgresBackend {
    /// Opens the rapport database at `url` (`postgres://user@host/db`, or
    /// `postgres://user@/db?host=/run/postgresql` for a unix socket), in the PostgreSQL schema
    /// the URL's `schema=NAME` parameter names (`rapport` without one: one server database can
    /// hold several rapport databases), creating its tables if they are missing.
    pub fn open(url: &str, schema: Schema) -> Result<Self> {
        let (url, namespace) = without_schema(url);
        Self::open_in(&url, namespace.unwrap_or("rapport"), schema)
    }

    /// The same, in the PostgreSQL schema `namespace` (lower-case letters, digits, `_`): one
    /// server database can hold several rapport databases (the tests use one each).
    pub fn open_in(url: &str, namespace: &str, schema: Schema) -> Result<Self> {
        let config: postgres::Config = url.parse().map_err(|e| StoreError::Open {
            location: redacted(url),
            source: Arc::new(e),
        })?;
        let location = format!(
            "postgres database {} ({})",
            config.get_dbname().unwrap_or("(the user's)"),
            redacted(url)
        );
        if !plain_identifier(namespace) {
            return Err(StoreError::Open {
                location,
                source: Arc::new(std::io::Error::other(format!(
                    "\"{namespace}\" is not a schema name: use lower-case letters, digits and _ (not starting with pg_)"
                ))),
            });
        }
        let pool = r2d2::Pool::builder()
            .max_size(32)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(PostgresConnectionManager::new(config, NoTls))
            .map_err(|e| StoreError::Open {
                location: location.clone(),
                source: Arc::new(e),
            })?;
        let tables: Arc<[String]> = schema
            .tables()
            .iter()
            .map(|t| format!("{namespace}.t_{}", t.name()))
            .collect();
        let backend = Self {
            pool,
            schema,
            location,
            namespace: namespace.to_string(),
            tables,
            round_trips: Arc::default(),
            lock: lock_key(namespace),
        };
        backend.create_tables()?;
        Ok(backend)
    }

    /// How many statements this backend has sent to the server (each one round trip).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn connection(&self) -> Result<Conn> {
        self.pool.get().map_err(|e| StoreError::Open {
            location: self.location.clone(),
            source: Arc::new(e),
        })
    }

    /// The schema, the tables and the commit markers, made once (under an advisory lock, so
    /// two processes opening a new database at once do not trip over each other).
    fn create_tables(&self) -> Result<()> {
        let mut conn = self.connection()?;
        let ns = &self.namespace;
        let mut sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {ns}; \
             CREATE TABLE IF NOT EXISTS {ns}.rapport_commits (id bytea PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());"
        );
        for t in self.tables.iter() {
            let _ = write!(
                sql,
                "CREATE TABLE IF NOT EXISTS {t} (k bytea PRIMARY KEY, v bytea NOT NULL);"
            );
        }
        let _ = write!(
            sql,
            "DELETE FROM {ns}.rapport_commits WHERE at < now() - interval '1 day';"
        );
        // The lock, the tables (one implicit transaction, committed) and the unlock are three
        // statements of their own: a lock let go inside the transaction would let the next
        // opener in before the tables are committed.
        conn.batch_execute(&format!(
            "SELECT pg_advisory_lock({}, {CREATE_LOCK})",
            self.lock
        ))
        .map_err(failed("wait to create the tables"))?;
        let made = conn
            .batch_execute(&sql)
            .map_err(failed("create the tables"));
        if conn
            .batch_execute(&format!(
                "SELECT pg_advisory_unlock({}, {CREATE_LOCK})",
                self.lock
            ))
            .is_err()
            && !conn.is_closed()
        {
            // Never back into the pool holding the lock: a broken connection is dropped.
            let _ = conn.batch_execute("SELECT pg_advisory_unlock_all()");
        }
        made
    }

    /// A transaction on a connection of its own, and the server process serving it. A writer
    /// first takes the writers' lock (a session lock, before `BEGIN`, so that its snapshot is
    /// taken once the writer before it has committed).
    fn begin(&self, writer: bool) -> Result<PgTxn> {
        let mut conn = self.connection()?;
        if writer {
            // Its own statement: in one query string with `BEGIN`, PostgreSQL would make it
            // part of the transaction (and take the snapshot before the wait).
            conn.batch_execute(&format!(
                "SELECT pg_advisory_lock({}, {WRITER_LOCK})",
                self.lock
            ))
            .map_err(failed("wait for the writers' lock"))?;
        }
        let rows = match conn
            .simple_query("BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT pg_backend_pid()")
        {
            Ok(rows) => rows,
            Err(e) => {
                if writer {
                    // A connection must never go back to the pool holding the lock.
                    let _ = conn.batch_execute("ROLLBACK; SELECT pg_advisory_unlock_all()");
                }
                return Err(failed("begin a transaction")(e));
            }
        };
        let pid = rows
            .iter()
            .find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|p| p.parse().ok()),
                _ => None,
            })
            .unwrap_or(0);
        if pid == 0 {
            // Without the server process's id an unknown commit outcome could not be resolved.
            let _ = conn.batch_execute("ROLLBACK; SELECT pg_advisory_unlock_all()");
            return Err(StoreError::backend(
                KIND,
                "begin a transaction",
                std::io::Error::other("the server did not say which process serves it"),
            ));
        }
        self.round_trips.fetch_add(
            if writer { 2 } else { 1 },
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(PgTxn {
            conn: RefCell::new(Some(conn)),
            round_trips: self.round_trips.clone(),
            lock: self.lock,
            locked: writer,
            pid,
            tables: self.tables.clone(),
            namespace: self.namespace.clone(),
            pool: self.pool.clone(),
            writes: Vec::new(),
            buffered: 0,
            wrote: false,
            cache: RefCell::default(),
            pages: RefCell::default(),
            cached: std::cell::Cell::new(0),
        })
    }
}

/// The URL without rapport's own query parameter `schema=NAME`, and that name (the last one
/// given, if any): `postgres::Config` knows no such parameter. Every other parameter is kept,
/// in its order; a string that is not a URL (`host=… user=…`) is kept as it is.
fn without_schema(url: &str) -> (String, Option<&str>) {
    let Some((base, query)) = url.split_once('?').filter(|_| url.contains("://")) else {
        return (url.to_string(), None);
    };
    let mut namespace = None;
    let mut kept = Vec::new();
    for param in query.split('&') {
        match param.strip_prefix("schema=") {
            Some(name) => namespace = Some(name),
            None => kept.push(param),
        }
    }
    if kept.is_empty() {
        (base.to_string(), namespace)
    } else {
        (format!("{base}?{}", kept.join("&")), namespace)
    }
}

/// The URL without its password (in the user part or as `password=`), for messages.
fn redacted(url: &str) -> String {
    let url = redacted_user(url);
    match url.find("password=") {
        Some(at) => {
            let end = url[at..].find('&').map_or(url.len(), |e| at + e);
            format!("{}password=***{}", &url[..at], &url[end..])
        }
        None => url,
    }
}

fn redacted_user(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Backend for PostgresBackend {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn schema(&self) -> Schema {
        self.schema
    }

    fn begin_read(&self) -> Result<Box<dyn ReadTxn>> {
        Ok(Box::new(self.begin(false)?))
    }

    fn begin_write(&self) -> Result<Box<dyn WriteTxn>> {
        Ok(Box::new(self.begin(true)?))
    }

    /// The snapshot's own transaction goes on, now writing, once it holds the writers' lock:
    /// PostgreSQL refuses it (as a conflict, at a write or at commit) only if a commit since it
    /// began breaks the serial order of what it read and writes; run again, it begins with the
    /// lock and cannot be refused by another writer.
    fn upgrade(&self, read: Box<dyn ReadTxn>) -> Result<Box<dyn WriteTxn>> {
        // A snapshot that cannot go on (its transaction failed, its connection broke) is never
        // swapped for a fresh one: what it read would be written over a newer state. The
        // caller runs its work again.
        read.into_write().ok_or(StoreError::Conflict)
    }
}

/// One transaction: its connection (given back to the pool when it ends), and its buffered
/// writes per table (`None`: deleted).
struct PgTxn {
    conn: RefCell<Option<Conn>>,
    round_trips: Arc<std::sync::atomic::AtomicU64>,
    /// The first key of the database's advisory locks.
    lock: i32,
    /// Whether the connection holds the writers' lock as a session lock (let go at the end).
    locked: bool,
    pid: i32,
    tables: Arc<[String]>,
    namespace: String,
    pool: r2d2::Pool<Manager>,
    writes: Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    buffered: usize,
    wrote: bool,
    /// What the transaction read from the server (`None`: not there), by table and key.
    cache: RefCell<ReadCache>,
    /// The pages of scans the transaction read from the server since its last flush (a page
    /// of the same range read again is the same page until the transaction writes to the
    /// server: a workflow that checks the declared fields once per imported contact asks once).
    pages: RefCell<PageCache>,
    cached: std::cell::Cell<usize>,
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.get_mut().take() {
            // Ends the transaction before the connection goes back to the pool; a connection
            // that cannot is broken, and the pool drops broken ones.
            let _ = conn.batch_execute("ROLLBACK");
            if self.locked {
                let _ = conn.batch_execute("SELECT pg_advisory_unlock_all()");
            }
        }
    }
}

impl PgTxn {
    fn with_conn<T>(&self, work: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        self.round_trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut slot = self.conn.borrow_mut();
        let conn = slot.as_mut().ok_or_else(|| {
            StoreError::backend(
                KIND,
                "use a transaction",
                std::io::Error::other("the transaction has ended"),
            )
        })?;
        work(conn)
    }

    /// Keeps what was read, while the cache has room.
    fn remember(&self, table: Table, key: &[u8], value: Option<&[u8]>) {
        let size = key.len() + value.map_or(0, <[u8]>::len) + 32;
        if self.cached.get() + size > CACHE_BYTES {
            return;
        }
        self.cached.set(self.cached.get() + size);
        self.cache
            .borrow_mut()
            .insert((table.id(), key.to_vec()), value.map(<[u8]>::to_vec));
    }

    /// What the transaction knows of `key` without the server: its own change, or what it read
    /// (`None`: nothing; `Some(None)`: that it is not there).
    #[expect(
        clippy::option_option,
        reason = "unknown, known absent and known value are the three answers"
    )]
    fn known(&self, table: Table, key: &[u8]) -> Option<Option<Vec<u8>>> {
        if let Some(change) = self.buffer(table).and_then(|b| b.get(key)) {
            return Some(change.clone());
        }
        self.cache
            .borrow()
            .get(&(table.id(), key.to_vec()))
            .cloned()
    }

    fn buffer(&self, table: Table) -> Option<&BTreeMap<Vec<u8>, Option<Vec<u8>>>> {
        self.writes.get(table.id())
    }

    fn buffer_mut(&mut self, table: Table) -> &mut BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        if self.writes.len() <= table.id() {
            self.writes.resize_with(self.tables.len(), BTreeMap::new);
        }
        &mut self.writes[table.id()]
    }

    /// Reads a page of keys from the server: from `lower` (inclusive or not) up to `upper`
    /// (exclusive), in `order`.
    fn page(
        &self,
        table: Table,
        lower: (&[u8], bool),
        upper: Option<&[u8]>,
        order: Order,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let name = &self.tables[table.id()];
        let low = if lower.1 { ">=" } else { ">" };
        let direction = match order {
            Order::Ascending => "ASC",
            Order::Descending => "DESC",
        };
        let query = match upper {
            Some(_) => format!(
                "SELECT k, v FROM {name} WHERE k {low} $1 AND k < $2 ORDER BY k {direction} LIMIT {limit}"
            ),
            None => {
                format!(
                    "SELECT k, v FROM {name} WHERE k {low} $1 ORDER BY k {direction} LIMIT {limit}"
                )
            }
        };
        let low_key = lower.0;
        let page_key = (
            table.id(),
            low_key.to_vec(),
            lower.1,
            upper.map(<[u8]>::to_vec),
            matches!(order, Order::Descending),
            limit,
        );
        if let Some(rows) = self.pages.borrow().get(&page_key) {
            return Ok(rows.clone());
        }
        let rows: Vec<(Vec<u8>, Vec<u8>)> = self.with_conn(|c| {
            let rows = match upper {
                Some(up) => c.query_typed(&query, &[(&low_key, Type::BYTEA), (&up, Type::BYTEA)]),
                None => c.query_typed(&query, &[(&low_key, Type::BYTEA)]),
            }
            .map_err(failed(format!("read table {}", table.name())))?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1)))
                .collect())
        })?;
        let size = rows
            .iter()
            .map(|(k, v)| k.len() + v.len() + 32)
            .sum::<usize>()
            + 64;
        if self.cached.get() + size <= CACHE_BYTES {
            self.cached.set(self.cached.get() + size);
            self.pages.borrow_mut().insert(page_key, rows.clone());
        }
        Ok(rows)
    }

    /// Writes the buffered changes to the server (inside the transaction) and empties the
    /// buffer.
    fn flush(&mut self) -> Result<()> {
        let writes = std::mem::take(&mut self.writes);
        self.buffered = 0;
        // The server's rows change for this transaction: the pages read before are old.
        self.pages.get_mut().clear();
        // What was read of the keys written is now older than the server's: forget it.
        {
            let mut cache = self.cache.borrow_mut();
            for (id, changes) in writes.iter().enumerate() {
                for k in changes.keys() {
                    cache.remove(&(id, k.clone()));
                }
            }
        }
        for (id, changes) in writes.into_iter().enumerate() {
            if changes.is_empty() {
                continue;
            }
            let name = self.tables[id].clone();
            let mut gone: Vec<Vec<u8>> = Vec::new();
            let mut keys: Vec<Vec<u8>> = Vec::new();
            let mut values: Vec<Vec<u8>> = Vec::new();
            for (k, v) in changes {
                match v {
                    Some(v) => {
                        keys.push(k);
                        values.push(v);
                    }
                    None => gone.push(k),
                }
            }
            let delete = format!("DELETE FROM {name} WHERE k = ANY($1)");
            // One round trip per statement (with_conn counts one of them).
            let mut trips = gone.len().div_ceil(BATCH) as u64;
            let upsert = format!(
                "INSERT INTO {name} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            );
            self.with_conn(|c| {
                for chunk in gone.chunks(BATCH) {
                    let chunk: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                    c.query_typed(&delete, &[(&chunk, Type::BYTEA_ARRAY)])
                        .map_err(failed(format!("write table {name}")))?;
                }
                // Statements of at most BATCH rows and BATCH_BYTES (a large value goes alone).
                let mut start = 0;
                while start < keys.len() {
                    let (mut end, mut bytes) = (start, 0);
                    while end < keys.len()
                        && end - start < BATCH
                        && (end == start
                            || bytes + keys[end].len() + values[end].len() <= BATCH_BYTES)
                    {
                        bytes += keys[end].len() + values[end].len();
                        end += 1;
                    }
                    let ks: Vec<&[u8]> = keys[start..end].iter().map(Vec::as_slice).collect();
                    let vs: Vec<&[u8]> = values[start..end].iter().map(Vec::as_slice).collect();
                    c.query_typed(
                        &upsert,
                        &[(&ks, Type::BYTEA_ARRAY), (&vs, Type::BYTEA_ARRAY)],
                    )
                    .map_err(failed(format!("write table {name}")))?;
                    trips += 1;
                    start = end;
                }
                Ok(())
            })?;
            self.round_trips.fetch_add(
                trips.saturating_sub(1),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        Ok(())
    }

    /// After a broken `COMMIT`: waits until the old server process is gone, then looks for the
    /// transaction's marker.
    fn resolve(&self, marker: &[u8], broken: &postgres::Error) -> Result<()> {
        let unknown = |why: String| {
            StoreError::backend(
                KIND,
                format!(
                    "learn whether a commit went through ({why}); the connection broke during COMMIT: look for marker {} in {}.rapport_commits",
                    hex(marker),
                    self.namespace
                ),
                std::io::Error::other(broken.to_string()),
            )
        };
        let mut conn = self.pool.get().map_err(|e| unknown(e.to_string()))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let alive = conn
                .query_typed(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND pid <> pg_backend_pid()",
                    &[(&self.pid, Type::INT4)],
                )
                .map_err(|e| unknown(e.to_string()))?
                .first()
                .map_or(0, |r| r.get::<_, i64>(0));
            if alive == 0 {
                break;
            }
            if Instant::now() > deadline {
                return Err(unknown("the old server process is still running".into()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let found = conn
            .query_typed(
                &format!(
                    "SELECT 1 FROM {}.rapport_commits WHERE id = $1",
                    self.namespace
                ),
                &[(&marker, Type::BYTEA)],
            )
            .map_err(|e| unknown(e.to_string()))?;
        if found.is_empty() {
            // Not committed: nothing of it was kept, so running it again is safe.
            Err(StoreError::Conflict)
        } else {
            Ok(())
        }
    }
}

impl KvRead for PgTxn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(known) = self.known(table, key) {
            return Ok(known);
        }
        let query = format!("SELECT v FROM {} WHERE k = $1", self.tables[table.id()]);
        let value = self.with_conn(|c| {
            let rows = c
                .query_typed(&query, &[(&key, Type::BYTEA)])
                .map_err(failed(format!("read table {}", table.name())))?;
            Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
        })?;
        self.remember(table, key, value.as_deref());
        Ok(value)
    }

    fn prefetch(&self, table: Table, keys: &[Vec<u8>]) -> Result<()> {
        let unknown: Vec<&[u8]> = keys
            .iter()
            .map(Vec::as_slice)
            .filter(|k| self.known(table, k).is_none())
            .collect();
        if unknown.len() < 2 {
            return Ok(()); // one key: its get asks no later than now
        }
        let query = format!(
            "SELECT k, v FROM {} WHERE k = ANY($1)",
            self.tables[table.id()]
        );
        for chunk in unknown.chunks(BATCH) {
            let rows = self.with_conn(|c| {
                c.query_typed(&query, &[(&chunk, Type::BYTEA_ARRAY)])
                    .map_err(failed(format!("read table {}", table.name())))
            })?;
            let mut found = std::collections::HashMap::with_capacity(rows.len());
            for row in &rows {
                found.insert(row.get::<_, Vec<u8>>(0), row.get::<_, Vec<u8>>(1));
            }
            for key in chunk {
                self.remember(table, key, found.get(*key).map(Vec::as_slice));
            }
        }
        Ok(())
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        order: Order,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        if to.is_some_and(|to| from >= to) {
            return Ok(());
        }
        let empty = BTreeMap::new();
        let buffer = self.buffer(table).unwrap_or(&empty);
        let range = (
            Bound::Included(from),
            to.map_or(Bound::Unbounded, Bound::Excluded),
        );
        let mut changes: Box<dyn Iterator<Item = Change<'_>>> = match order {
            Order::Ascending => Box::new(buffer.range::<[u8], _>(range)),
            Order::Descending => Box::new(buffer.range::<[u8], _>(range).rev()),
        };
        let mut change = changes.next();
        let mut page: VecDeque<(Vec<u8>, Vec<u8>)> = VecDeque::new();
        let mut limit = 64;
        // Where the next page starts: ascending, above the last key read (the first page from
        // `from` itself); descending, below it (the first page from `to`).
        let mut last: Option<Vec<u8>> = None;
        let mut exhausted = false;
        loop {
            if page.is_empty() && !exhausted {
                let rows = match (order, &last) {
                    (Order::Ascending, None) => self.page(table, (from, true), to, order, limit)?,
                    (Order::Ascending, Some(l)) => {
                        self.page(table, (l, false), to, order, limit)?
                    }
                    (Order::Descending, None) => {
                        self.page(table, (from, true), to, order, limit)?
                    }
                    (Order::Descending, Some(l)) => {
                        self.page(table, (from, true), Some(l), order, limit)?
                    }
                };
                exhausted = rows.len() < limit;
                last = rows.last().map(|(k, _)| k.clone());
                for (k, v) in &rows {
                    self.remember(table, k, Some(v));
                }
                page.extend(rows);
                limit = (limit * 2).min(4096);
            }
            let stored = page.front();
            // The next key in `order` of the two sources; the buffer's change wins a tie.
            let take_change = match (stored, change) {
                (None, None) => return Ok(()),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some((k, _)), Some((ck, _))) => match order {
                    Order::Ascending => ck.as_slice() <= k.as_slice(),
                    Order::Descending => ck.as_slice() >= k.as_slice(),
                },
            };
            if take_change {
                let (ck, cv) = change.expect("chosen above");
                if stored.is_some_and(|(k, _)| k == ck) {
                    page.pop_front();
                }
                change = changes.next();
                if let Some(v) = cv
                    && !visit(ck, v)
                {
                    return Ok(());
                }
            } else {
                let (k, v) = page.pop_front().expect("chosen above");
                if !visit(&k, &v) {
                    return Ok(());
                }
            }
        }
    }
}

impl KvWrite for PgTxn {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        check_sizes(table, key, value)?;
        self.buffered += key.len() + value.len();
        self.wrote = true;
        self.buffer_mut(table)
            .insert(key.to_vec(), Some(value.to_vec()));
        if self.buffered > FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool> {
        let was = self.get(table, key)?.is_some();
        if was {
            self.remove_blind(table, key)?;
        }
        Ok(was)
    }

    fn remove(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.remove_blind(table, key)
    }
}

impl PgTxn {
    /// A delete that does not ask the server whether the key was there: flushed as `DELETE`,
    /// which removes nothing when it was not.
    fn remove_blind(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.wrote = true;
        self.buffered += key.len();
        self.buffer_mut(table).insert(key.to_vec(), None);
        if self.buffered > FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

impl ReadTxn for PgTxn {
    fn seen(&self) -> u64 {
        0
    }

    fn into_write(self: Box<Self>) -> Option<Box<dyn WriteTxn>> {
        // The writers' lock for the rest of this transaction (let go at its end).
        let key = self.lock;
        let locked = self.with_conn(|c| {
            c.batch_execute(&format!(
                "SELECT pg_advisory_xact_lock({key}, {WRITER_LOCK})"
            ))
            .map_err(failed("wait for the writers' lock"))
        });
        // A connection that failed: a new write transaction is the caller's answer.
        locked.ok().map(|()| self as Box<dyn WriteTxn>)
    }
}

impl WriteTxn for PgTxn {
    fn base(&self) -> u64 {
        0
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        if !self.wrote {
            // Nothing to keep: end the transaction (its connection goes back to the pool).
            return self.abort();
        }
        self.flush()?;
        let mut marker = [0u8; 16];
        getrandom::fill(&mut marker).map_err(|e| {
            StoreError::backend(
                KIND,
                "make a commit marker",
                std::io::Error::other(e.to_string()),
            )
        })?;
        let insert = format!(
            "INSERT INTO {}.rapport_commits (id) VALUES ($1)",
            self.namespace
        );
        self.with_conn(|c| {
            c.query_typed(&insert, &[(&marker.as_slice(), Type::BYTEA)])
                .map(|_| ())
                .map_err(failed("mark the commit"))
        })?;
        let mut conn = self
            .conn
            .get_mut()
            .take()
            .expect("a transaction that has not ended has its connection");
        self.round_trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let committed = conn.batch_execute("COMMIT");
        if self.locked && !conn.is_closed() {
            let _ = conn.batch_execute("SELECT pg_advisory_unlock_all()");
        }
        match committed {
            Ok(()) => Ok(()),
            Err(e) if is_refusal(&e) => Err(StoreError::Conflict),
            // Any other failure of COMMIT may have come after the commit was durable (a
            // server shutting down answers with an error of its own): learn what happened.
            Err(e) => {
                drop(conn);
                self.resolve(&marker, &e)
            }
        }
    }

    fn abort(mut self: Box<Self>) -> Result<()> {
        if let Some(mut conn) = self.conn.get_mut().take() {
            let rolled_back = conn.batch_execute("ROLLBACK").map_err(failed("roll back"));
            if self.locked {
                let _ = conn.batch_execute("SELECT pg_advisory_unlock_all()");
            }
            rolled_back?;
        }
        Ok(())
    }
}

// Callers pass only `&[u8]` and `&[&[u8]]` parameters; the compiler checks they are `ToSql`.
const _: fn() = || {
    fn is_param<T: ToSql + Sync>() {}
    is_param::<&[u8]>();
    is_param::<Vec<&[u8]>>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_schema_parameter_names_the_schema_and_is_taken_out() {
        let cases = [
            (
                "postgresql://anna@db/crm",
                ("postgresql://anna@db/crm", None),
            ),
            (
                "postgresql://anna@/crm?host=/run/postgresql",
                ("postgresql://anna@/crm?host=/run/postgresql", None),
            ),
            (
                "postgresql://anna@db/crm?schema=sales",
                ("postgresql://anna@db/crm", Some("sales")),
            ),
            (
                "postgresql://anna@/crm?host=/run/postgresql&schema=sales",
                ("postgresql://anna@/crm?host=/run/postgresql", Some("sales")),
            ),
            (
                "postgres://anna@/crm?schema=sales&host=/tmp/s&sslmode=disable",
                (
                    "postgres://anna@/crm?host=/tmp/s&sslmode=disable",
                    Some("sales"),
                ),
            ),
            (
                "postgres://anna@/crm?host=/tmp/s&schema=old&connect_timeout=5&schema=new",
                (
                    "postgres://anna@/crm?host=/tmp/s&connect_timeout=5",
                    Some("new"),
                ),
            ),
            ("host=/tmp/s user=anna", ("host=/tmp/s user=anna", None)),
        ];
        for (url, (rest, namespace)) in cases {
            let (got, name) = without_schema(url);
            assert_eq!((got.as_str(), name), (rest, namespace), "{url}");
            got.parse::<postgres::Config>()
                .unwrap_or_else(|e| panic!("{got} does not parse: {e}"));
        }
    }

    #[test]
    fn a_bad_schema_name_is_refused_with_the_password_redacted() {
        const TABLES: [Table; 1] = [Table::new(0, "t")];
        for url in [
            "postgresql://anna:secret@db/crm?schema=Sales-1",
            "postgresql://anna@db/crm?password=secret&schema=pg_x&sslmode=disable",
            "postgresql://anna@db/crm?schema=&password=secret",
        ] {
            let Err(e) = PostgresBackend::open(url, Schema::new(&TABLES)) else {
                panic!("{url} opened");
            };
            let message = e.to_string();
            assert!(message.contains("is not a schema name"), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }
}
