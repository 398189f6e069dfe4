//! Helpers for end-to-end tests: run the real `rapport` binary against a database in a fresh
//! temporary folder (a redb file, or a PostgreSQL schema of its own: [`each_backend`] runs a
//! test on both), as a user would, and look at what it printed.

pub mod fuzz;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `rapport` binary that `cargo test` built beside this test (target/<profile>/rapport).
pub fn rapport_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join(format!("rapport{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the whole workspace's tests (cargo test), or build it first with cargo build -p rapport",
        bin.display()
    );
    bin
}

/// A seeded xorshift generator: the same seed gives the same crash moments and fuzz inputs.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// A temporary folder, and the database the runs use: a redb file in the folder, or a schema of
/// its own on the PostgreSQL server `RAPPORT_TEST_POSTGRES` names ([`Workspace::postgres`]).
pub struct Workspace {
    dir: tempfile::TempDir,
    /// The PostgreSQL database, or `None`: the redb file `rapport.redb` in the folder.
    postgres: Option<Postgres>,
    /// On PostgreSQL, the token of the full-role user that reaches its servers (a server on
    /// PostgreSQL writes no discovery file): added at the first [`Workspace::serve`].
    owner: std::sync::OnceLock<String>,
}

/// A workspace's rapport database on the test server.
struct Postgres {
    /// `RAPPORT_TEST_POSTGRES`: the server.
    server: String,
    /// The PostgreSQL schema this workspace's database is in.
    schema: String,
    /// What `--db` gets: the server's URL with `schema=…`.
    url: String,
    /// The test failed: the schema is kept for a look.
    keep: bool,
}

/// What one run printed.
pub struct Run {
    /// Exit status was 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn of(out: &Output) -> Self {
        Self {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The PostgreSQL server the end-to-end tests may use (`RAPPORT_TEST_POSTGRES`, a
/// `postgresql://` URL; `.ci/run` starts a private cluster for it), if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("RAPPORT_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// Runs `test` on a new workspace on redb, then on a new one on PostgreSQL when
/// `RAPPORT_TEST_POSTGRES` names a server (saying it was skipped otherwise). A failure names
/// the backend it failed on (`on postgres: …`).
pub fn each_backend(test: impl Fn(&Workspace)) {
    on_backend(Workspace::new(), &test);
    match Workspace::postgres() {
        Some(ws) => on_backend(ws, &test),
        None => eprintln!("postgres: skipped (RAPPORT_TEST_POSTGRES is not set)"),
    }
}

fn on_backend(mut ws: Workspace, test: &impl Fn(&Workspace)) {
    let backend = ws.backend();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&ws)));
    if let Some(pg) = &mut ws.postgres {
        pg.keep = outcome.is_err();
    }
    drop(ws);
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(a panic without a message)");
        panic!("on {backend}: {message}");
    }
}

impl Workspace {
    /// A new empty folder; the database is the redb file `rapport.redb` in it.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
            postgres: None,
            owner: std::sync::OnceLock::new(),
        }
    }

    /// A new empty folder and a new empty database on the PostgreSQL server
    /// `RAPPORT_TEST_POSTGRES` names, in a schema no other workspace uses (dropped with the
    /// workspace, kept when a test fails); `None` without the variable.
    pub fn postgres() -> Option<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let server = postgres_server()?;
        let schema = format!(
            "e2e_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() % 1_000_000_000)
        );
        let url = format!(
            "{server}{}schema={schema}",
            if server.contains('?') { '&' } else { '?' }
        );
        Some(Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
            postgres: Some(Postgres {
                server,
                schema,
                url,
                keep: false,
            }),
            owner: std::sync::OnceLock::new(),
        })
    }

    /// A new empty workspace on the same backend as this one.
    #[must_use]
    pub fn another(&self) -> Self {
        if self.postgres.is_some() {
            Self::postgres().expect("RAPPORT_TEST_POSTGRES is still set")
        } else {
            Self::new()
        }
    }

    /// `"redb"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgres"
        } else {
            "redb"
        }
    }

    /// What `--db` gets: the redb file's path, or the PostgreSQL URL (with `schema=…`).
    pub fn db_arg(&self) -> OsString {
        match &self.postgres {
            Some(pg) => OsString::from(&pg.url),
            None => self.db().into_os_string(),
        }
    }

    /// The database file the runs use (a redb workspace's; a PostgreSQL one has none).
    pub fn db(&self) -> PathBuf {
        assert!(
            self.postgres.is_none(),
            "a PostgreSQL workspace has no database file: use db_arg(), or keep the test redb-only"
        );
        self.dir.path().join("rapport.redb")
    }

    /// `rapport` in the folder, without the environment's database, server and token.
    fn command(&self) -> Command {
        let mut command = Command::new(rapport_bin());
        command
            .current_dir(self.dir.path())
            .env_remove("RAPPORT_DB")
            .env_remove("RAPPORT_SERVER")
            .env_remove("RAPPORT_TOKEN");
        command
    }

    /// Runs `rapport --db <db> args…` in the folder.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(&[], args)
    }

    /// Runs `rapport --db <db> args…` with `vars` in its environment.
    pub fn run_with_env(&self, vars: &[(&str, &str)], args: &[&str]) -> Run {
        let out = self
            .command()
            .envs(vars.iter().copied())
            .arg("--db")
            .arg(self.db_arg())
            .args(args)
            .output()
            .expect("rapport runs");
        Run::of(&out)
    }

    /// Runs `rapport --db <db> args…` with `stdin` as its standard input.
    pub fn run_with_input(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .command()
            .env("XDG_DATA_HOME", self.dir.path())
            .arg("--db")
            .arg(self.db_arg())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rapport starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("input written");
        Run::of(&child.wait_with_output().expect("rapport ends"))
    }

    /// Writes a file into the folder and returns its path.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("the file is written");
        path
    }

    /// Runs and requires success.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(run.success, "rapport {args:?} failed:\n{}", run.stderr);
        run.stdout
    }

    /// A hash of every record in the database (to prove a command changed nothing). The file's
    /// bytes are no good for that: redb rewrites its header on every commit.
    pub fn content_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let db =
            rapport_engine::Database::open(Path::new(&self.db_arg())).expect("the database opens");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        db.fingerprint().expect("the database reads").hash(&mut h);
        h.finish()
    }

    /// Runs commands the way a second terminal reaches `server`: with no flags on redb (the
    /// discovery file beside the database says where it is), with `--server URL --token T` on
    /// PostgreSQL (where a server writes no discovery file).
    pub fn through<'a>(&'a self, server: &Server) -> Through<'a> {
        let flags = match &server.owner {
            Some(token) => vec![
                "--server".to_string(),
                server.url.clone(),
                "--token".to_string(),
                token.clone(),
            ],
            None => Vec::new(),
        };
        Through { ws: self, flags }
    }

    /// On PostgreSQL, the token of the workspace's full-role user `owner` (added the first
    /// time).
    fn owner_token(&self) -> String {
        self.owner
            .get_or_init(|| {
                let out = self.ok(&["users", "add", "owner", "--role", "full"]);
                out.lines()
                    .find_map(|l| l.strip_prefix("token: "))
                    .unwrap_or_else(|| panic!("no token in {out:?}"))
                    .to_string()
            })
            .clone()
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Workspace {
    /// Drops a PostgreSQL workspace's schema (kept, and named, when the test failed).
    fn drop(&mut self) {
        let Some(pg) = &self.postgres else { return };
        if pg.keep || std::thread::panicking() {
            eprintln!(
                "the failed test's database is kept: schema {} on {}",
                pg.schema, pg.server
            );
            return;
        }
        if let Ok(mut client) = postgres::Client::connect(&pg.server, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
                pg.schema
            ));
        }
    }
}

/// Commands that reach a running server as a second terminal would ([`Workspace::through`]).
pub struct Through<'a> {
    ws: &'a Workspace,
    /// `--server URL --token T` on PostgreSQL; nothing on redb.
    flags: Vec<String>,
}

impl Through<'_> {
    fn args<'b>(&'b self, args: &[&'b str]) -> Vec<&'b str> {
        self.flags
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect()
    }

    /// Runs `rapport --db <db> [--server URL --token T] args…`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.ws.run(&self.args(args))
    }

    /// The same with `stdin` as its standard input.
    pub fn run_with_input(&self, args: &[&str], stdin: &str) -> Run {
        self.ws.run_with_input(&self.args(args), stdin)
    }

    /// Runs and requires success.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ws.ok(&self.args(args))
    }
}

/// Compares whole outputs and prints both, line by line, when they differ.
pub fn assert_output(expected: &str, actual: &str) {
    if expected != actual {
        let mut report = String::from("outputs differ\n--- expected\n");
        report.push_str(expected);
        report.push_str("\n--- actual\n");
        report.push_str(actual);
        panic!("{report}");
    }
}

/// A `rapport serve` the test started on a free loopback port; stopped (killed) when dropped.
pub struct Server {
    child: std::process::Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The discovery file beside a redb database (a server on PostgreSQL writes none).
    discovery: Option<PathBuf>,
    /// On PostgreSQL, the token of the workspace's full-role user (on redb, the owner's token
    /// is in the discovery file).
    owner: Option<String>,
    /// What it wrote on stderr, read as it comes (a full pipe would stop the server).
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Workspace {
    /// Starts `rapport --db <db> serve --listen 127.0.0.1:0 [extra…]` and waits until it says
    /// where it listens.
    pub fn serve(&self, extra: &[&str]) -> Server {
        use std::io::BufRead;
        use std::process::Stdio;
        let owner = self.postgres.is_some().then(|| self.owner_token());
        let mut child = self
            .command()
            .arg("--db")
            .arg(self.db_arg())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rapport serve starts");
        let stdout = child.stdout.take().expect("its stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("rapport serve says where it listens");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        let mut stderr = child.stderr.take().expect("its stderr");
        let stderr = std::thread::spawn(move || {
            use std::io::Read;
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Server {
            child,
            url,
            discovery: self
                .postgres
                .is_none()
                .then(|| rapport::client::Discovery::path_of(&self.db())),
            owner,
            stderr: Some(stderr),
        }
    }

    /// Runs `rapport args…` in the folder without `--db` (for `--server` runs).
    pub fn run_plain(&self, args: &[&str]) -> Run {
        Run::of(&self.command().args(args).output().expect("rapport runs"))
    }

    /// Writes a plugin — its manifest and main script — into the folder `folder` of the
    /// workspace (made if missing), and returns that folder (for `rapport plugins folder`).
    pub fn plugin(&self, folder: &str, name: &str, manifest: &str, main: &str) -> PathBuf {
        let folder = self.dir.path().join(folder);
        std::fs::create_dir_all(folder.join(name)).expect("the plugin's folder is made");
        std::fs::write(folder.join(name).join("plugin.toml"), manifest)
            .expect("the manifest is written");
        std::fs::write(folder.join(name).join("main.rhai"), main).expect("main is written");
        folder
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Server {
    /// A token of the full role: on redb, the one the server wrote for its owner into the
    /// discovery file; on PostgreSQL, the workspace's user `owner`'s.
    pub fn owner_token(&self) -> String {
        if let Some(token) = &self.owner {
            return token.clone();
        }
        let text = std::fs::read_to_string(self.discovery()).expect("the discovery file");
        serde_json::from_str::<rapport::client::Discovery>(&text)
            .expect("the discovery file is JSON")
            .token
    }

    /// A client of the server with `token`.
    pub fn client(&self, token: Option<&str>) -> rapport::client::Client {
        rapport::client::Client::new(&self.url, token.map(String::from))
    }

    /// The discovery file (a redb database's; a server on PostgreSQL writes none).
    pub fn discovery(&self) -> &Path {
        self.discovery
            .as_deref()
            .expect("a server on PostgreSQL writes no discovery file: keep the test redb-only")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the server to end; returns whether it exited with 0, and
    /// what it wrote on stderr.
    pub fn terminate(mut self) -> (bool, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("the server ends");
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        (status.success(), stderr)
    }

    /// Kills the server at once (SIGKILL: no cleanup at all).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
