//! The binary answers `--help` (this test also makes `cargo test` build the `rapport` binary that
//! the end-to-end tests in the workspace's `tests/` package run).

#[test]
fn help_lists_every_command_with_an_example() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rapport"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for command in ["demo", "run", "eval", "check", "stats"] {
        assert!(text.contains(command), "--help lacks {command}:\n{text}");
    }
}
