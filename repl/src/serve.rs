//! `rapport serve`: one process owns the database and serves many clients over HTTP (axum on
//! tokio; API.md). Every request is one transaction, exactly as a local command is: scripts run
//! on a blocking thread with their own host (the user's limits, the database's plugins and
//! hooks), readers on snapshots side by side, writers one at a time (redb's writer slot queues
//! them; a run overtaken once waits its turn in the write transaction). Each client
//! authenticates with a token; its role bounds what it may do. On Ctrl-C or SIGTERM the server
//! stops taking requests, lets the running ones finish for a grace period, stops the rest
//! (they roll back), and closes the file.
#![expect(
    clippy::result_large_err,
    reason = "a handler's error is the response body it becomes, made once per failed request"
)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use clap::ValueEnum;
use rapport::api::{
    ApiError, CheckReply, DocumentReply, ErrorBody, ImportReply, InfoReply, RUN_HEADER, RunReply,
    RunRequest, SessionReply, UserReply, UserRequest,
};
use rapport::client::{Discovery, new_token, random_id};
use rapport::error::CliError;
use rapport::import::{self, ImportKind, ImportOptions, Input};
use rapport::transfer::{self, ExportFormat, ExportKind};
use rapport_engine::model::{Doing, Role};
use rapport_engine::ops::{StatKind, token_hash};
use rapport_engine::{Database, Error};
use rapport_script::value::{contact_json_with, entry_json_with};
use rapport_script::{Caller, Limits, RunOptions, ScriptHost, Variables};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio_stream::wrappers::ReceiverStream;

use crate::shared;

/// How the server runs.
pub struct Config {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The limits of each request's script.
    pub limits: Limits,
    /// The largest request body.
    pub max_request: usize,
    /// The largest CSV import.
    pub max_import: usize,
    /// How long running requests may go on after a shutdown signal.
    pub grace: Duration,
}

/// How long a REPL session may stay idle.
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// How many REPL sessions may be open at once, and per user.
const MAX_SESSIONS: usize = 256;
const MAX_SESSIONS_PER_USER: usize = 16;

/// Who sent a request.
#[derive(Clone)]
struct Who {
    user: String,
    role: Role,
    /// The machine's user who started the server (its discovery token): may read files.
    local: bool,
}

/// A running script a client may cancel.
struct Running {
    user: String,
    cancel: Arc<AtomicBool>,
}

/// A REPL session: a thread that owns a script host and its variables, made for one user with
/// one role (a token of the same user with another role is another caller).
struct SessionSlot {
    user: String,
    role: Role,
    local: bool,
    jobs: std::sync::mpsc::Sender<SessionJob>,
    cancel: Arc<AtomicBool>,
}

impl SessionSlot {
    fn owned_by(&self, who: &Who, id: &str) -> Result<(), ApiError> {
        if self.user == who.user && self.role == who.role && self.local == who.local {
            return Ok(());
        }
        Err(ApiError::new(
            "denied",
            Some(&format!("session {id}")),
            Some("session"),
            format!("session {id} belongs to another user or role; open one of your own"),
        ))
    }
}

struct SessionJob {
    request: RunRequest,
    reply: std::sync::mpsc::Sender<Result<RunReply, ApiError>>,
}

/// What every request shares.
struct Server {
    db: Arc<Database>,
    path: PathBuf,
    config: Config,
    /// The hash of the discovery token, and the user it acts as.
    local_hash: String,
    local_user: String,
    runs: Mutex<HashMap<String, Running>>,
    sessions: Mutex<HashMap<String, SessionSlot>>,
    started: Instant,
    requests: AtomicU64,
    stopping: AtomicBool,
}

type Shared = Arc<Server>;

/// A failed request, as the API gives it: a status and `{"error": {…}}`.
struct Failure(ApiError);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(ErrorBody { error: self.0 })).into_response()
    }
}

type Answer<T> = Result<T, Failure>;

fn engine(e: &Error) -> ApiError {
    ApiError::of_engine(e)
}

fn cli(e: &CliError) -> ApiError {
    e.api_error()
}

/// Runs `rapport serve` until Ctrl-C or SIGTERM. The database is opened, first read and
/// finally closed outside the async runtime (the PostgreSQL client blocks on a runtime of its
/// own); inside it, only blocking threads touch it.
pub fn run(db: Database, path: &Path, config: Config) -> Result<(), CliError> {
    // Plugins that do not load are said once, here (each request leaves them out quietly).
    let mut probe = ScriptHost::new(Limits::user());
    crate::shared::warn_plugins(&shared::load_plugins(&db, &mut probe)?);
    drop(probe);
    let db = Arc::new(db);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Output)?;
    let outcome = runtime.block_on(serve(db.clone(), path, config));
    // Work still running past the forced end (a client that never reads its stream) is left
    // to the process's exit: every commit is durable, and nothing uncommitted is kept.
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop(db);
    outcome
}

async fn serve(db: Arc<Database>, path: &Path, config: Config) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| CliError::Write {
            what: "listening address",
            path: config.listen.to_string(),
            source,
            fix: "pick a free port with --listen 127.0.0.1:PORT (port 0: any free one)",
        })?;
    let addr = listener.local_addr().map_err(CliError::Output)?;
    let url = format!("http://{addr}");
    let local_token = new_token().map_err(CliError::Output)?;
    let local_user = db.context().user.clone();
    // A file gets a discovery file beside it; a PostgreSQL database needs none (every
    // process may open it, so local commands work on it directly).
    let discovery = rapport_engine::postgres_url(path)
        .is_none()
        .then(|| Discovery::path_of(path));
    if let Some(file) = &discovery {
        write_discovery(
            file,
            &Discovery {
                url: url.clone(),
                pid: std::process::id(),
                token: local_token.clone(),
                user: local_user.clone(),
            },
        )?;
    }
    let grace = config.grace;
    let server: Shared = Arc::new(Server {
        db,
        path: path.to_path_buf(),
        config,
        local_hash: token_hash(&local_token),
        local_user,
        runs: Mutex::default(),
        sessions: Mutex::default(),
        started: Instant::now(),
        requests: AtomicU64::new(0),
        stopping: AtomicBool::new(false),
    });
    let app = router(server.clone());
    let signalled = shutdown_signal()?;
    {
        let mut out = std::io::stdout().lock();
        let found = discovery.as_ref().map_or_else(
            || "clients connect with --server and a token (rapport users add)".to_string(),
            |d| format!("clients on this machine find it through {}", d.display()),
        );
        let _ = writeln!(
            out,
            "rapport serve: {} on {url} (process {}); {found}; stop with Ctrl-C",
            server.db.backend().location(),
            std::process::id(),
        );
        let _ = out.flush();
    }
    let stopping = server.clone();
    let stopped = Arc::new(tokio::sync::Notify::new());
    let told = stopped.clone();
    let serving = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            signalled.await;
            stopping.stopping.store(true, Ordering::Relaxed);
            let running = lock(&stopping.runs).len();
            eprintln!(
                "rapport serve: stopping; {running} running request(s) may finish within {} s",
                grace.as_secs()
            );
            // Sessions end after their current run; running requests past the grace period
            // are stopped (a stopped request changes nothing).
            lock(&stopping.sessions).clear();
            told.notify_one();
            let late = stopping.clone();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                for run in lock(&late.runs).values() {
                    run.cancel.store(true, Ordering::Relaxed);
                }
            });
        })
        .into_future();
    // The grace period, then the running requests are stopped; a few seconds more for them to
    // roll back and answer, then connections still open (a stream to a client that stopped
    // reading, a slow upload) are dropped.
    let forced = async move {
        stopped.notified().await;
        tokio::time::sleep(grace + Duration::from_secs(5)).await;
    };
    let outcome = tokio::select! {
        outcome = serving => outcome,
        () = forced => {
            eprintln!("rapport serve: connections still open after the grace period are dropped");
            Ok(())
        }
    };
    if let Some(file) = &discovery {
        let _ = std::fs::remove_file(file);
    }
    outcome.map_err(CliError::Output)?;
    eprintln!(
        "rapport serve: stopped after {} request(s); {} is closed",
        server.requests.load(Ordering::Relaxed),
        server.db.backend().location()
    );
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Ctrl-C or SIGTERM: the handlers are installed when this is called (before the server says
/// where it listens, so a signal right after that is never the default, abrupt one).
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(CliError::Output)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(CliError::Output)?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
    })
}

/// The discovery file: the owner alone may read it (it holds a full token).
fn write_discovery(file: &Path, d: &Discovery) -> Result<(), CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |source| CliError::Write {
        what: "server discovery file",
        path: file.display().to_string(),
        source,
        fix: "start the server where you may write beside the database",
    };
    let _ = std::fs::remove_file(file);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(cannot)?;
    let text = serde_json::to_string(d).unwrap_or_default();
    f.write_all(text.as_bytes()).map_err(cannot)
}

fn router(server: Shared) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/info", get(info))
        .route("/v1/run", post(run_script))
        .route("/v1/runs/{id}/cancel", post(cancel_run))
        .route("/v1/sessions", post(session_open))
        .route("/v1/sessions/{id}", delete(session_close))
        .route("/v1/documents", post(document))
        .route("/v1/entries/{no}", get(entry))
        .route("/v1/contacts/{no}", get(contact))
        .route("/v1/export/{what}", get(export))
        .route("/v1/stats/{kind}", get(stats_all))
        .route("/v1/stats/{kind}/{code}", get(stats))
        .route("/v1/check", get(check))
        .route("/v1/backup", get(backup))
        .route("/v1/plugins", get(plugins))
        .route("/v1/plugins/{name}/{action}", post(plugin_set))
        .route("/v1/import/{what}", post(import))
        .route("/v1/users", get(users).post(user_add))
        .route("/v1/users/{name}", delete(user_revoke))
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .with_state(server)
}

async fn wrong_method() -> Failure {
    Failure(ApiError::new(
        "bad_request",
        Some("request"),
        Some("method"),
        "this endpoint does not take that method; API.md gives each endpoint's (GET or POST …)"
            .into(),
    ))
}

/// A query string of the endpoint's shape, or a bad request naming what is wrong.
fn query_of<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q).map_err(|e| {
        ApiError::new(
            "bad_request",
            Some("request"),
            Some("query"),
            format!("{}; API.md gives the endpoint's parameters", e.body_text()),
        )
    })
}

async fn not_found() -> Failure {
    Failure(ApiError::new(
        "not_found",
        Some("request"),
        None,
        "there is no such endpoint; API.md lists them (they start with /v1/)".into(),
    ))
}

/// Runs `work` on a blocking thread (the engine and scripts block on the database).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Answer<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(outcome) => outcome.map_err(Failure),
        Err(e) => Err(Failure(ApiError::new(
            "storage",
            None,
            None,
            format!(
                "the request failed inside the server ({e}); rapport check tells whether the database is whole"
            ),
        ))),
    }
}

/// The user of a request, refused unless its role is at least `role` — checked before the
/// request's body is read.
async fn authorize(
    server: &Shared,
    headers: &HeaderMap,
    role: Role,
    what: &'static str,
) -> Answer<Who> {
    let (me, headers) = (server.clone(), headers.clone());
    blocking(move || me.allowed(&headers, role, what)).await
}

impl Server {
    /// The user a request's token belongs to.
    fn who(&self, headers: &HeaderMap) -> Result<Who, ApiError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let unauthorized = |message: &str| {
            ApiError::new(
                "unauthorized",
                Some("request"),
                Some("authorization"),
                message.into(),
            )
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "no token: send the header Authorization: Bearer TOKEN (rapport users add NAME --role ROLE makes a token; rapport --token TOKEN sends it)",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("the Authorization header must read Bearer TOKEN"))?;
        let hash = token_hash(token);
        if hash == self.local_hash {
            return Ok(Who {
                user: self.local_user.clone(),
                role: Role::Full,
                local: true,
            });
        }
        match self
            .db
            .read(|v| v.user_by_token(token))
            .map_err(|e| engine(&e))?
        {
            Some(u) => Ok(Who {
                user: u.name,
                role: u.role,
                local: false,
            }),
            None => Err(unauthorized(
                "the token is not valid: it is mistyped, or its user was revoked; ask for a new one (rapport users add)",
            )),
        }
    }

    /// The same, refused unless its role is at least `role`.
    fn allowed(&self, headers: &HeaderMap, role: Role, what: &str) -> Result<Who, ApiError> {
        let who = self.who(headers)?;
        if who.role < role {
            return Err(ApiError::new(
                "denied",
                Some(&format!("user {}", who.user)),
                Some("role"),
                format!(
                    "user {} (role {}) may not {what}; that needs a token of role {role}",
                    who.user, who.role
                ),
            ));
        }
        Ok(who)
    }

    /// A script host for one request (or one REPL session) of `who`: the server's limits,
    /// the database's plugins as they are now, the user's role, no file access from afar.
    fn host(&self, who: &Who, cancel: Arc<AtomicBool>) -> Result<ScriptHost, ApiError> {
        let mut host = ScriptHost::with_cancel_flag(self.config.limits, cancel);
        host.set_memory_probe(crate::allocated);
        host.set_caller(Caller {
            user: Some(who.user.clone()),
            role: who.role,
            file_access: who.local,
        });
        shared::load_plugins(&self.db, &mut host).map_err(|e| cli(&e))?;
        Ok(host)
    }
}

/// Sets a run's cancel flag when its request goes away before it ends (the client closed the
/// connection), and forgets the run either way.
struct RunGuard {
    server: Shared,
    id: String,
    cancel: Arc<AtomicBool>,
    done: bool,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.done {
            self.cancel.store(true, Ordering::Relaxed);
        }
        lock(&self.server.runs).remove(&self.id);
    }
}

/// A request's body, at most `limit` bytes. A body announced as larger is refused before a
/// byte of it is read (a client that asked `Expect: 100-continue` is told so instead of
/// uploading it); one that turns out larger is refused when it passes the limit.
async fn body_of(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            "too_large",
            Some("request"),
            Some("body"),
            format!(
                "the request body is larger than {} MiB; send less, or start the server with a larger --max-request-mib (--max-import-mib for imports)",
                limit / (1024 * 1024)
            ),
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            too_large()
        } else {
            ApiError::new(
                "bad_request",
                Some("request"),
                Some("body"),
                format!("the request body cannot be read: {e}"),
            )
        }
    })
}

fn json_of<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
    example: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            "bad_request",
            Some("request"),
            Some("body"),
            format!("the body is not a {what}: {e}; send JSON like {example}"),
        )
    })
}

async fn health(State(server): State<Shared>) -> axum::Json<Json> {
    let stopping = server.stopping.load(Ordering::Relaxed);
    axum::Json(json!({
        "status": if stopping { "stopping" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "backend": server.db.backend().kind(),
        "uptime_seconds": server.started.elapsed().as_secs(),
        "running": lock(&server.runs).len(),
        "sessions": lock(&server.sessions).len(),
    }))
}

async fn info(State(server): State<Shared>, headers: HeaderMap) -> Answer<axum::Json<InfoReply>> {
    let reply = blocking(move || {
        let who = server.allowed(&headers, Role::Read, "read")?;
        shared::info(&server.db, &who.user, who.role).map_err(|e| engine(&e))
    })
    .await?;
    Ok(axum::Json(reply))
}

async fn run_script(
    State(server): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Answer<axum::Json<RunReply>> {
    let who = authorize(&server, &headers, Role::Read, "run scripts").await?;
    let body = body_of(&headers, body, server.config.max_request).await?;
    let request: RunRequest = json_of(&body, "run request", r#"{"source": "contacts().count()"}"#)?;
    let id = headers
        .get(RUN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map_or_else(random_id, String::from);
    // A session's runs stop through the session's own flag (cleared for this run).
    let cancel = match &request.session {
        Some(s) => {
            let sessions = lock(&server.sessions);
            let slot = sessions.get(s).ok_or_else(|| session_gone(s))?;
            slot.owned_by(&who, s)?;
            slot.cancel.store(false, Ordering::Relaxed);
            slot.cancel.clone()
        }
        None => Arc::new(AtomicBool::new(false)),
    };
    {
        let mut runs = lock(&server.runs);
        if runs.contains_key(&id) {
            return Err(Failure(ApiError::new(
                "bad_request",
                Some(&format!("run {id}")),
                Some(RUN_HEADER),
                format!(
                    "a run named {id} is running already; name each run differently (or leave the header out)"
                ),
            )));
        }
        runs.insert(
            id.clone(),
            Running {
                user: who.user.clone(),
                cancel: cancel.clone(),
            },
        );
    }
    let mut guard = RunGuard {
        server: server.clone(),
        id,
        cancel: cancel.clone(),
        done: false,
    };
    let reply = blocking(move || {
        if let Some(session) = request.session.clone() {
            session_run(&server, &who, &session, request)
        } else {
            let host = server.host(&who, cancel)?;
            run_on(&server.db, &host, &mut Variables::new(), &request)
        }
    })
    .await;
    guard.done = true;
    Ok(axum::Json(reply?))
}

/// Runs a request's script on `host` with its parameters as variables.
fn run_on(
    db: &Database,
    host: &ScriptHost,
    variables: &mut Variables,
    request: &RunRequest,
) -> Result<RunReply, ApiError> {
    for (name, value) in &request.params {
        variables
            .set_json(name, value)
            .map_err(|e| ApiError::of_script(&e))?;
    }
    let name = request.name.as_deref().unwrap_or("remote");
    host.run_with(
        db,
        name,
        &request.source,
        variables,
        RunOptions {
            dry_run: request.dry_run,
        },
    )
    .map(|out| RunReply::of(&out))
    .map_err(|e| ApiError::of_script(&e))
}

fn session_gone(id: &str) -> ApiError {
    ApiError::new(
        "gone",
        Some(&format!("session {id}")),
        Some("session"),
        format!(
            "session {id} is over (it was idle for {} minutes, or the server restarted); open a new one",
            SESSION_IDLE.as_secs() / 60
        ),
    )
}

fn session_run(
    server: &Server,
    who: &Who,
    id: &str,
    request: RunRequest,
) -> Result<RunReply, ApiError> {
    let jobs = {
        let sessions = lock(&server.sessions);
        let slot = sessions.get(id).ok_or_else(|| session_gone(id))?;
        slot.owned_by(who, id)?;
        slot.jobs.clone()
    };
    let (reply, answer) = std::sync::mpsc::channel();
    jobs.send(SessionJob { request, reply })
        .map_err(|_| session_gone(id))?;
    answer.recv().map_err(|_| session_gone(id))?
}

async fn session_open(
    State(server): State<Shared>,
    headers: HeaderMap,
) -> Answer<axum::Json<SessionReply>> {
    let reply = blocking(move || {
        let who = server.who(&headers)?;
        if server.stopping.load(Ordering::Relaxed) {
            return Err(ApiError::new(
                "unavailable",
                None,
                None,
                "the server is stopping".into(),
            ));
        }
        let id = random_id();
        let cancel = Arc::new(AtomicBool::new(false));
        let (jobs, inbox) = std::sync::mpsc::channel::<SessionJob>();
        {
            // Counted and taken under one lock: two requests cannot both take the last place.
            let mut sessions = lock(&server.sessions);
            let mine = sessions.values().filter(|s| s.user == who.user).count();
            if sessions.len() >= MAX_SESSIONS || mine >= MAX_SESSIONS_PER_USER {
                return Err(ApiError::new(
                    "unavailable",
                    Some("session"),
                    None,
                    format!(
                        "{} sessions are open; close a REPL, or wait for idle ones to end",
                        if mine >= MAX_SESSIONS_PER_USER {
                            mine
                        } else {
                            sessions.len()
                        }
                    ),
                ));
            }
            sessions.insert(
                id.clone(),
                SessionSlot {
                    user: who.user.clone(),
                    role: who.role,
                    local: who.local,
                    jobs,
                    cancel: cancel.clone(),
                },
            );
        }
        // The host is made on the session's own thread (it is not Send); a failure to make
        // it is the first run's answer.
        let (owner, flag, me, session) = (who.clone(), cancel.clone(), server.clone(), id.clone());
        std::thread::Builder::new()
            .name(format!("session-{id}"))
            .spawn(move || {
                let host = me.host(&owner, flag);
                let mut variables = Variables::new();
                while let Ok(job) = inbox.recv_timeout(SESSION_IDLE) {
                    let outcome = match &host {
                        Ok(host) => run_on(&me.db, host, &mut variables, &job.request),
                        Err(e) => Err(e.clone()),
                    };
                    let _ = job.reply.send(outcome);
                }
                lock(&me.sessions).remove(&session);
            })
            .map_err(|e| {
                lock(&server.sessions).remove(&id);
                ApiError::new(
                    "unavailable",
                    Some("session"),
                    None,
                    format!("no thread for a session: {e}"),
                )
            })?;
        Ok(SessionReply {
            session: id,
            idle_seconds: SESSION_IDLE.as_secs(),
        })
    })
    .await?;
    Ok(axum::Json(reply))
}

async fn session_close(
    State(server): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    blocking(move || {
        let who = server.who(&headers)?;
        let mut sessions = lock(&server.sessions);
        match sessions.get(&id) {
            Some(slot) if slot.user == who.user || who.role == Role::Full => {
                sessions.remove(&id);
                Ok(axum::Json(json!({"closed": id})))
            }
            Some(_) => Err(ApiError::new(
                "denied",
                Some(&format!("session {id}")),
                None,
                format!("session {id} belongs to another user"),
            )),
            None => Err(session_gone(&id)),
        }
    })
    .await
}

async fn cancel_run(
    State(server): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    blocking(move || {
        let who = server.who(&headers)?;
        let runs = lock(&server.runs);
        match runs.get(&id) {
            Some(run) if run.user == who.user || who.role == Role::Full => {
                run.cancel.store(true, Ordering::Relaxed);
                Ok(axum::Json(json!({"cancelled": id})))
            }
            Some(_) => Err(ApiError::new(
                "denied",
                Some(&format!("run {id}")),
                None,
                format!("run {id} belongs to another user"),
            )),
            None => Err(ApiError::new(
                "not_found",
                Some(&format!("run {id}")),
                None,
                format!("run {id} is not running (it ended, or never began)"),
            )),
        }
    })
    .await
}

async fn document(
    State(server): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Answer<axum::Json<DocumentReply>> {
    let who = authorize(&server, &headers, Role::Log, "record documents").await?;
    let body = body_of(&headers, body, server.config.max_request).await?;
    let event: serde_json::Map<String, Json> = json_of(
        &body,
        "document event",
        r#"{"type": "sales_invoice", "no": "103017", "customer": "10000", "action": "emailed"}"#,
    )?;
    let reply = blocking(move || {
        let host = server.host(&who, Arc::new(AtomicBool::new(false)))?;
        shared::record_document(&server.db, &host, &Json::Object(event))
            .map_err(|e| ApiError::of_script(&e))
    })
    .await?;
    Ok(axum::Json(reply))
}

async fn entry(
    State(server): State<Shared>,
    UrlPath(no): UrlPath<String>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    blocking(move || {
        server.allowed(&headers, Role::Read, "read entries")?;
        let n: u64 = no.parse().map_err(|_| {
            ApiError::new(
                "invalid",
                Some(&format!("interaction log entry {no}")),
                Some("entry_no"),
                format!(
                    "\"{no}\" is not an entry number; give a whole number, e.g. /v1/entries/17"
                ),
            )
        })?;
        server
            .db
            .read(|v| {
                let declared = v.declared_fields(rapport_engine::model::FieldRecord::Entry)?;
                let e = v
                    .entry(n)?
                    .ok_or_else(|| Error::not_found("interaction log entry", n.to_string()))?;
                entry_json_with(v, &e, &declared)
            })
            .map(axum::Json)
            .map_err(|e| engine(&e))
    })
    .await
}

async fn contact(
    State(server): State<Shared>,
    UrlPath(no): UrlPath<String>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    blocking(move || {
        server.allowed(&headers, Role::Read, "read contacts")?;
        server
            .db
            .read(|v| {
                let declared = v.declared_fields(rapport_engine::model::FieldRecord::Contact)?;
                let c = v
                    .contact(&no)?
                    .ok_or_else(|| Error::not_found("contact", no.clone()))?;
                contact_json_with(v, &c, &declared)
            })
            .map(axum::Json)
            .map_err(|e| engine(&e))
    })
    .await
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

/// A writer whose bytes go to a streamed response body, in chunks; it fails once the client is
/// gone, which stops the export.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::ErrorKind::BrokenPipe)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A response whose body `produce` writes on a blocking thread as it goes (never all of it in
/// memory); a failure half-way breaks the connection, so a client never takes a cut-off body
/// for a whole one.
fn streamed(
    content_type: &'static str,
    produce: impl FnOnce(&mut dyn Write) -> Result<(), CliError> + Send + 'static,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let failed = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(tx));
        let outcome = produce(&mut w).and_then(|()| w.flush().map_err(CliError::Output));
        if let Err(e) = outcome {
            let _ = failed.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let mut response = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn export(
    State(server): State<Shared>,
    UrlPath(what): UrlPath<String>,
    q: Result<Query<FormatQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Answer<Response> {
    let kind = ExportKind::from_str(&what, true).map_err(|_| {
        ApiError::new(
            "invalid",
            Some("export"),
            Some("what"),
            format!(
                "there is no export of \"{what}\"; export contacts, entries, salespeople, groups, templates, fields or database"
            ),
        )
    })?;
    let q = query_of(q)?;
    let format = match q.format.as_deref() {
        None | Some("csv") => ExportFormat::Csv,
        Some("json") => ExportFormat::Json,
        Some(other) => {
            return Err(Failure(ApiError::new(
                "invalid",
                Some("export"),
                Some("format"),
                format!("there is no export format \"{other}\"; give csv or json"),
            )));
        }
    };
    // A whole database holds the users' token hashes, the settings and every attachment: for
    // the roles that may take a backup.
    let (role, what) = if kind == ExportKind::Database {
        (Role::Full, "export the whole database")
    } else {
        (Role::Read, "export")
    };
    let me = server.clone();
    blocking(move || me.allowed(&headers, role, what).map(|_| ())).await?;
    let content_type = match format {
        _ if kind == ExportKind::Database => "application/x-ndjson",
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Json => "application/json",
    };
    Ok(streamed(content_type, move |out| {
        transfer::export(&server.db, kind, format, out).map(|_| ())
    }))
}

#[derive(Deserialize)]
struct RangeQuery {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
}

async fn stats(
    State(server): State<Shared>,
    UrlPath((kind, code)): UrlPath<(String, String)>,
    range: Result<Query<RangeQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    stats_of(server, kind, Some(code), range, headers).await
}

/// `GET /v1/stats/{kind}`: every record of the kind, one row each.
async fn stats_all(
    State(server): State<Shared>,
    UrlPath(kind): UrlPath<String>,
    range: Result<Query<RangeQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    stats_of(server, kind, None, range, headers).await
}

async fn stats_of(
    server: Shared,
    kind: String,
    code: Option<String>,
    range: Result<Query<RangeQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    let range = query_of(range)?;
    blocking(move || {
        server.allowed(&headers, Role::Read, "read statistics")?;
        let kind: StatKind = kind.parse().map_err(|problem: String| {
            engine(&Error::invalid(
                "stats",
                "kind",
                problem,
                "give template, group, contact, salesperson, campaign_entry or logged_segment",
            ))
        })?;
        let range = match (range.from, range.to) {
            (Some(from), Some(to)) => Some((from, to)),
            (None, None) => None,
            _ => {
                return Err(engine(&Error::invalid(
                    "stats",
                    "from",
                    "is given without to (or to without from)",
                    "give both from and to, or neither",
                )));
            }
        };
        let Some(code) = code else {
            let rows = shared::stats_of_all(&server.db, kind, range).map_err(|e| engine(&e))?;
            return Ok(axum::Json(rows));
        };
        let s = server
            .db
            .read(|v| v.statistics(kind, &code, range))
            .map_err(|e| engine(&e))?;
        Ok(axum::Json(shared::stats_json(kind, &code, &s)))
    })
    .await
}

async fn check(State(server): State<Shared>, headers: HeaderMap) -> Answer<axum::Json<CheckReply>> {
    blocking(move || {
        server.allowed(&headers, Role::Read, "check the database")?;
        let reply = crate::shared::check_reply(&server.db).map_err(|e| engine(&e))?;
        Ok(axum::Json(reply))
    })
    .await
}

async fn backup(State(server): State<Shared>, headers: HeaderMap) -> Answer<Response> {
    // The copy is made into a private folder, then streamed: one snapshot, whole or not at all.
    let file = blocking(move || {
        server.allowed(&headers, Role::Full, "back up the database")?;
        // Beside the database: the same disk, not a temporary file system in memory; for a
        // PostgreSQL database (a URL, no folder), in the folder the server was started in.
        let parent = if rapport_engine::postgres_url(&server.path).is_some() {
            Path::new(".").to_path_buf()
        } else {
            server
                .path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| Path::new("."))
                .to_path_buf()
        };
        let dir = tempfile::Builder::new()
            .prefix(".rapport-backup-")
            .tempdir_in(parent)
            .map_err(|e| {
                ApiError::new(
                    "storage",
                    None,
                    None,
                    format!("no folder for the copy: {e}"),
                )
            })?;
        let path = dir.path().join("backup.redb");
        server.db.backup(&path).map_err(|e| engine(&e))?;
        Ok((dir, path))
    })
    .await?;
    Ok(streamed("application/octet-stream", move |out| {
        let (dir, path) = file;
        let mut f = std::fs::File::open(&path).map_err(CliError::Output)?;
        std::io::copy(&mut f, out).map_err(CliError::Output)?;
        drop(dir);
        Ok(())
    }))
}

async fn plugins(State(server): State<Shared>, headers: HeaderMap) -> Answer<axum::Json<Json>> {
    blocking(move || {
        server.allowed(&headers, Role::Read, "list plugins")?;
        let mut host = ScriptHost::new(Limits::user());
        let report = shared::load_plugins(&server.db, &mut host).map_err(|e| cli(&e))?;
        Ok(axum::Json(json!({
            "plugins": shared::plugin_rows(&report),
            "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })))
    })
    .await
}

async fn plugin_set(
    State(server): State<Shared>,
    UrlPath((name, action)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Answer<axum::Json<Json>> {
    blocking(move || {
        let who = server.allowed(&headers, Role::Full, "change plugins")?;
        let enable = match action.as_str() {
            "enable" => true,
            "disable" => false,
            other => {
                return Err(ApiError::new(
                    "invalid",
                    Some(&format!("plugin {name}")),
                    Some("action"),
                    format!("there is no plugin action \"{other}\"; give enable or disable (a plugin folder can only be added on the server's machine)"),
                ));
            }
        };
        let db = server.db.as_user(&who.user).doing(Doing {
            kind: "request".into(),
            what: format!("plugins {action} {name}"),
            script: String::new(),
        });
        shared::plugin_switch(&db, &name, enable)
            .map(|message| axum::Json(json!({ "message": message })))
            .map_err(|e| cli(&e))
    })
    .await
}

#[derive(Deserialize)]
struct ImportQuery {
    #[serde(default)]
    define_fields: bool,
    #[serde(default)]
    update: bool,
    delimiter: Option<String>,
    name: Option<String>,
}

async fn import(
    State(server): State<Shared>,
    UrlPath(what): UrlPath<String>,
    q: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Answer<axum::Json<ImportReply>> {
    let kind = ImportKind::from_str(&what, true).map_err(|_| {
        ApiError::new(
            "invalid",
            Some("import"),
            Some("what"),
            format!(
                "there is no import of \"{what}\"; import contacts, salespeople, groups, templates, fields, entries or database"
            ),
        )
    })?;
    let q = query_of(q)?;
    let delimiter = match q.delimiter.as_deref().map(import::delimiter) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(problem)) => {
            return Err(Failure(ApiError::new(
                "invalid",
                Some("import"),
                Some("delimiter"),
                problem,
            )));
        }
    };
    let options = ImportOptions {
        define_fields: q.define_fields,
        update: q.update,
        delimiter,
        on_server: true,
    };
    let who = authorize(&server, &headers, Role::Full, "import").await?;
    let body = body_of(&headers, body, server.config.max_import).await?;
    blocking(move || {
        let name = q.name.unwrap_or_else(|| "upload".into());
        let input = Input::Bytes(&body);
        // Entries it logs name the client's user, as its scripts' do.
        let db = server.db.as_user(&who.user);
        let define = if options.define_fields {
            import::fields_to_define(&db, kind, input, &name, options).map_err(|e| cli(&e))?
        } else {
            Vec::new()
        };
        // Entries it logs go through the plugins' hooks, as the client's user.
        let host = server.host(&who, Arc::new(AtomicBool::new(false)))?;
        let reply = import::import(&db, &host, kind, input, &name, options, &define)
            .map_err(|e| cli(&e))?;
        Ok(axum::Json(reply))
    })
    .await
}

async fn users(
    State(server): State<Shared>,
    headers: HeaderMap,
) -> Answer<axum::Json<Vec<UserReply>>> {
    blocking(move || {
        server.allowed(&headers, Role::Full, "list users")?;
        let users = server.db.read(|v| v.users()).map_err(|e| engine(&e))?;
        Ok(axum::Json(
            users.iter().map(|u| UserReply::of(u, None)).collect(),
        ))
    })
    .await
}

async fn user_add(
    State(server): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Answer<axum::Json<UserReply>> {
    let who = authorize(&server, &headers, Role::Full, "add users").await?;
    let body = body_of(&headers, body, server.config.max_request).await?;
    let request: UserRequest = json_of(&body, "user", r#"{"name": "anna", "role": "log"}"#)?;
    blocking(move || {
        let db = server.db.as_user(&who.user).doing(Doing {
            kind: "request".into(),
            what: format!("users add {}", request.name),
            script: String::new(),
        });
        shared::user_add(&db, &request.name, &request.role)
            .map(axum::Json)
            .map_err(|e| cli(&e))
    })
    .await
}

async fn user_revoke(
    State(server): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Answer<axum::Json<UserReply>> {
    blocking(move || {
        let who = server.allowed(&headers, Role::Full, "revoke users")?;
        let user = server
            .db
            .as_user(&who.user)
            .doing(Doing {
                kind: "request".into(),
                what: format!("users revoke {name}"),
                script: String::new(),
            })
            .write(|tx| tx.user_revoke(&name))
            .map_err(|e| engine(&e))?;
        // Its open REPL sessions end with it.
        lock(&server.sessions).retain(|_, s| s.local || s.user != user.name);
        Ok(axum::Json(UserReply::of(&user, None)))
    })
    .await
}
