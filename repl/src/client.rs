//! The command line's side of `rapport serve`: an HTTP client (ureq, blocking) that sends
//! requests with the user's token and turns the server's JSON errors back into the same
//! messages a local command gives. Also the discovery file a server writes beside the
//! database, through which a plain `rapport --db FILE …` finds it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use rapport_engine::store::key::hex;

use crate::api::{self, ApiError, ErrorBody, RUN_HEADER, RunReply, RunRequest};

/// Where a running server says it is: written beside the database (`FILE.server`, readable by
/// its owner only), removed when the server stops.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Discovery {
    /// The server's base URL.
    pub url: String,
    /// The server's process id.
    pub pid: u32,
    /// A token for the machine's user who started it (full role; it lives only as long as
    /// the server and is never stored in the database).
    pub token: String,
    /// The user that token acts as.
    pub user: String,
}

impl Discovery {
    /// The discovery file of a database file.
    pub fn path_of(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".server");
        PathBuf::from(name)
    }

    /// The server a database's discovery file names, if there is one that can be read.
    pub fn find(db: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path_of(db)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error (the same kind, record, field and message as a local
    /// command's).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The server cannot be reached, or the connection broke.
    #[error("the server at {url} cannot be reached: {source}; is rapport serve running there?")]
    Unreachable {
        /// The base URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The answer was not what the API promises.
    #[error("the server at {url} sent an answer that is not rapport's API: {problem}")]
    Protocol {
        /// The base URL.
        url: String,
        /// What was wrong.
        problem: String,
    },
}

impl ClientError {
    /// The server's error, if the server answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(e) => Some(e),
            _ => None,
        }
    }
}

/// A connection to one server, with one token.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// Bodies larger than this ask the server first (`Expect: 100-continue`).
const ASK_FIRST: usize = 64 * 1024;

/// A request as JSON (the API's request types always serialize).
fn json_bytes(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// A run id: 16 random bytes in hex.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // The operating system's generator does not fail on the systems rapport runs on; if it
    // did, the id would still be unique enough for cancel (it is no secret).
    let _ = getrandom::fill(&mut bytes);
    hex(&bytes)
}

/// A new token: `rpt_` and 32 random bytes in hex.
pub fn new_token() -> Result<String, std::io::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!("rpt_{}", hex(&bytes)))
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:7480`), authenticating with `token`.
    pub fn new(base: &str, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(None)
            // rapport serve answers `Expect: 100-continue` as soon as it has read the headers;
            // waiting for that answer is what lets a refusal arrive before the upload.
            .timeout_await_100(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.base, api::PREFIX)
    }

    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => request.header("authorization", format!("Bearer {t}")),
            None => request,
        }
    }

    fn unreachable(&self, source: ureq::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            source: Box::new(source),
        }
    }

    /// The answer's body as `T`, or the server's error.
    fn answer<T: DeserializeOwned>(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut response = response.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        if !status.is_success() {
            return Err(self.error_of(status.as_u16(), &body));
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Protocol {
            url: self.base.clone(),
            problem: e.to_string(),
        })
    }

    fn error_of(&self, status: u16, body: &[u8]) -> ClientError {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => ClientError::Api(Box::new(b.error)),
            Err(_) => ClientError::Protocol {
                url: self.base.clone(),
                problem: format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ),
            },
        }
    }

    /// `GET path`, answered with JSON.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.answer(self.authorized(self.agent.get(self.url(path))).call())
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ClientError> {
        self.post_bytes(path, "application/json", &json_bytes(body))
    }

    /// `POST path` with raw bytes (a CSV file), answered with JSON.
    pub fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<T, ClientError> {
        self.answer(self.sending(path, content_type, bytes, None))
    }

    /// Sends a body. A large one first asks whether the server takes it (`Expect:
    /// 100-continue`), so that a refusal (too large, no token, a role that may not) arrives as
    /// the server's answer instead of as a connection the server closed half-way through the
    /// upload.
    fn sending(
        &self,
        path: &str,
        content_type: &str,
        bytes: &[u8],
        run_id: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut request = self
            .authorized(self.agent.post(self.url(path)))
            .header("content-type", content_type);
        if bytes.len() > ASK_FIRST {
            request = request.header("expect", "100-continue");
        }
        if let Some(id) = run_id {
            request = request.header(RUN_HEADER, id);
        }
        request.send(bytes)
    }

    /// `DELETE path`, answered with JSON.
    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.answer(self.authorized(self.agent.delete(self.url(path))).call())
    }

    /// `GET path`, its body streamed into `out` as it arrives (an export, a backup); returns
    /// the number of bytes.
    pub fn download(&self, path: &str, out: &mut dyn std::io::Write) -> Result<u64, ClientError> {
        let response = self
            .authorized(self.agent.get(self.url(path)))
            .call()
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let mut reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        if !status.is_success() {
            let mut body = Vec::new();
            let _ = reader.read_to_end(&mut body);
            return Err(self.error_of(status.as_u16(), &body));
        }
        std::io::copy(&mut reader, out).map_err(|e| ClientError::Protocol {
            url: self.base.clone(),
            problem: format!("the download broke off: {e}"),
        })
    }

    /// Runs a script; setting `cancel` (Ctrl-C) asks the server to stop it, and the answer is
    /// then the run's `cancelled` error (nothing of it kept).
    pub fn run(
        &self,
        request: &RunRequest,
        cancel: Option<&Arc<AtomicBool>>,
    ) -> Result<RunReply, ClientError> {
        let id = random_id();
        let body = json_bytes(request);
        let Some(cancel) = cancel else {
            return self.answer(self.sending("/run", "application/json", &body, Some(&id)));
        };
        cancel.store(false, Ordering::Relaxed);
        let (done, answer) = std::sync::mpsc::channel();
        let me = self.clone();
        let run_id = id.clone();
        std::thread::spawn(move || {
            let outcome = me.answer(me.sending("/run", "application/json", &body, Some(&run_id)));
            let _ = done.send(outcome);
        });
        let mut asked = false;
        loop {
            match answer.recv_timeout(Duration::from_millis(50)) {
                Ok(outcome) => return outcome,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    // Asked until the server has it: a cancel before the run is registered
                    // is answered "not running" and asked again.
                    if !asked && cancel.load(Ordering::Relaxed) {
                        let told: Result<serde_json::Value, _> =
                            self.post(&format!("/runs/{id}/cancel"), &serde_json::json!({}));
                        asked = told.is_ok();
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(ClientError::Protocol {
                        url: self.base.clone(),
                        problem: "the request ended without an answer".into(),
                    });
                }
            }
        }
    }
}
