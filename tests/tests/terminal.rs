//! The REPL at a terminal, driven through a pseudo-terminal as a person types at it: Tab
//! completion, the pager between screenfuls, and Ctrl-C while results print. (Pipes are
//! `cli.rs`'s; these need a terminal, which only a pseudo-terminal gives a test.)

use std::process::Command;

use rapport_tests::{Workspace, rapport_bin};
use rexpect::session::{PtySession, spawn_command};

/// How long any one expected output may take to come (a debug build on a loaded machine).
const TIMEOUT_MS: u64 = 30_000;

/// The REPL on `ws`'s database in a terminal `rows` × `cols` (set with `stty` inside it, as a
/// terminal window would), its history in the workspace, waiting at its first prompt.
fn repl_at_terminal(ws: &Workspace, rows: u16, cols: u16) -> PtySession {
    let mut command = Command::new("sh");
    command
        .current_dir(ws.path())
        .env_remove("RAPPORT_DB")
        .env_remove("RAPPORT_SERVER")
        .env_remove("RAPPORT_TOKEN")
        .env("XDG_DATA_HOME", ws.path())
        .env("TERM", "xterm")
        .arg("-c")
        .arg(format!(
            "stty rows {rows} cols {cols}; exec \"$0\" --db \"$1\""
        ))
        .arg(rapport_bin())
        .arg(ws.db_arg());
    let mut p = spawn_command(command, Some(TIMEOUT_MS)).expect("the REPL starts in a terminal");
    p.exp_string("rapport> ").expect("a first prompt");
    p
}

/// Leaves the REPL (at its prompt: what is typed while a script runs may be dropped).
fn quit(mut p: PtySession) {
    p.send_line(":quit").expect("written");
    p.exp_eof().expect("the REPL ends");
}

#[test]
fn tab_completes_a_method_after_a_query_at_the_terminal() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    let mut p = repl_at_terminal(&ws, 24, 120);
    p.send("contacts().filt").expect("written");
    p.send("\t").expect("written");
    p.flush().expect("written");
    p.exp_string("contacts().filter")
        .expect("Tab completes filter");
    // The completed line runs as typed.
    p.send_line("(#{country: \"NO\"}).count()")
        .expect("written");
    p.exp_regex(r"\r\n\d+\r\n")
        .expect("the count of contacts in Norway");
    p.exp_string("rapport> ").expect("the next prompt");
    quit(p);
}

#[test]
fn a_long_result_pauses_after_each_screenful_and_q_stops_it() {
    let ws = Workspace::new();
    ws.ok(&["demo"]);
    // Wide enough for a table of contacts (narrower, each would be a block of lines).
    let mut p = repl_at_terminal(&ws, 20, 400);
    p.send_line("contacts()").expect("written");
    // 20 lines: 13 contacts fill the first screenful.
    p.exp_string("-- 13 rows shown: Enter for more, q and Enter to stop --")
        .expect("a pause after the first screenful");
    p.send_line("").expect("written");
    p.exp_string("-- 26 rows shown")
        .expect("a pause after the second");
    p.send_line("q").expect("written");
    // (The pseudo-terminal's bytes come as Latin-1 characters: the dash is not matched.)
    p.exp_regex(r"\(26 rows\) .+ stopped")
        .expect("q stops the results where they are");
    p.exp_string("rapport> ").expect("the REPL goes on");
    p.send_line("contacts().count()").expect("written");
    p.exp_string("\r\n50\r\n").expect("and answers");
    p.exp_string("rapport> ").expect("the next prompt");
    quit(p);
}

#[test]
fn ctrl_c_while_results_print_stops_them_and_the_repl_goes_on() {
    let ws = Workspace::new();
    ws.ok(&[
        "eval",
        "for i in 0..2000 { contact_create(#{name: `Person ${i}`}); }",
    ]);
    let mut p = repl_at_terminal(&ws, 24, 200);
    p.send_line(":format csv").expect("written");
    p.exp_string("rapport> ").expect("the next prompt");
    // Each record takes a while to pass its filter: the results print for seconds.
    p.send_line("contacts().where(|c| { let n = 0; for i in 0..3000 { n += i; } n > 0 })")
        .expect("written");
    p.exp_string("Person 1").expect("results begin to print");
    p.send_control('c').expect("Ctrl-C");
    p.exp_regex("stopped after [0-9]+ record")
        .expect("the printing stops, and says so");
    p.exp_string("rapport> ").expect("the REPL goes on");
    p.send_line("1 + 1").expect("written");
    p.exp_string("\r\n2\r\n").expect("and answers");
    p.exp_string("rapport> ").expect("the next prompt");
    quit(p);
}
