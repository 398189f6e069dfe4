//! The limits of one script run. A run that reaches one stops, changes nothing, and its error
//! says which limit stopped it.

use std::time::Duration;

/// Limits of one script run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations (0: no limit).
    pub max_operations: u64,
    /// Depth of nested function calls.
    pub max_call_depth: usize,
    /// Longest string, in bytes (0: no check).
    ///
    /// Rhai checks the three size limits by walking the whole value after every change to it,
    /// so growing an array or a map to n items under a size limit costs time in n²: a limit in
    /// the millions is never reached, the script just runs on. Users' scripts therefore leave
    /// them off and are bounded by `max_memory`; hooks keep small ones (cheap at that size).
    pub max_string_size: usize,
    /// Largest array (0: no check).
    pub max_array_size: usize,
    /// Largest map (0: no check).
    pub max_map_size: usize,
    /// Wall-clock time.
    pub max_time: Duration,
    /// Memory the run may add, in bytes (0: no limit). Checked only on a host given a memory
    /// probe (`ScriptHost::set_memory_probe`); it is the guard for what Rhai's own size limits
    /// miss (Rhai 1.27 does not size-check `map[new_key] = value`).
    pub max_memory: usize,
}

impl Limits {
    /// For a user's own scripts (REPL, `run`, `eval`): large enough for bulk work on millions of
    /// records; huge data is stopped by the memory limit.
    pub fn user() -> Self {
        Self {
            max_operations: 50_000_000_000,
            max_call_depth: 64,
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
            max_time: Duration::from_secs(3600),
            max_memory: 4 * 1024 * 1024 * 1024,
        }
    }

    /// For plugin hooks: strict.
    pub fn hook() -> Self {
        Self {
            max_operations: 1_000_000,
            max_call_depth: 32,
            max_string_size: 1024 * 1024,
            max_array_size: 100_000,
            max_map_size: 10_000,
            max_time: Duration::from_secs(2),
            max_memory: 64 * 1024 * 1024,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::user()
    }
}

/// The token a run is stopped with when it is cancelled.
pub(crate) const STOP_CANCELLED: &str = "cancelled";
/// The token of a run over its time.
pub(crate) const STOP_TIME: &str = "time";
/// The token of a run over its memory.
pub(crate) const STOP_MEMORY: &str = "memory";
