//! Helpers for end-to-end tests: run the real `rapport` binary against a database in a fresh
//! temporary folder, as a user would, and look at what it printed.

pub mod fuzz;

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

/// A temporary folder with one database file in it.
pub struct Workspace {
    dir: tempfile::TempDir,
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

impl Workspace {
    /// A new empty folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// The database file the runs use.
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("rapport.redb")
    }

    /// Runs `rapport --db <db> args…` in the folder.
    pub fn run(&self, args: &[&str]) -> Run {
        let db = self.db().display().to_string();
        self.run_plain(&[&["--db", db.as_str()][..], args].concat())
    }

    /// Runs `rapport --db <db> args…` with `stdin` as its standard input.
    pub fn run_with_input(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = Command::new(rapport_bin())
            .current_dir(self.dir.path())
            .env_remove("RAPPORT_DB")
            .env("XDG_DATA_HOME", self.dir.path())
            .arg("--db")
            .arg(self.db())
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
        let db = rapport_engine::Database::open(self.db()).expect("the database opens");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        db.fingerprint().expect("the database reads").hash(&mut h);
        h.finish()
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
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
    discovery: PathBuf,
    /// What it wrote on stderr, read as it comes (a full pipe would stop the server).
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Workspace {
    /// Starts `rapport --db <db> serve --listen 127.0.0.1:0 [extra…]` and waits until it says
    /// where it listens.
    pub fn serve(&self, extra: &[&str]) -> Server {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = Command::new(rapport_bin())
            .current_dir(self.dir.path())
            .env_remove("RAPPORT_DB")
            .arg("--db")
            .arg(self.db())
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
            discovery: rapport::client::Discovery::path_of(&self.db()),
            stderr: Some(stderr),
        }
    }

    /// Runs `rapport args…` in the folder without `--db` (for `--server` runs).
    pub fn run_plain(&self, args: &[&str]) -> Run {
        let out: Output = Command::new(rapport_bin())
            .current_dir(self.dir.path())
            .env_remove("RAPPORT_DB")
            .env_remove("RAPPORT_SERVER")
            .env_remove("RAPPORT_TOKEN")
            .args(args)
            .output()
            .expect("rapport runs");
        Run::of(&out)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Server {
    /// The token the server wrote for its owner into the discovery file (full role).
    pub fn owner_token(&self) -> String {
        let text = std::fs::read_to_string(&self.discovery).expect("the discovery file");
        serde_json::from_str::<rapport::client::Discovery>(&text)
            .expect("the discovery file is JSON")
            .token
    }

    /// A client of the server with `token`.
    pub fn client(&self, token: Option<&str>) -> rapport::client::Client {
        rapport::client::Client::new(&self.url, token.map(String::from))
    }

    /// The discovery file.
    pub fn discovery(&self) -> &Path {
        &self.discovery
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
