//! The README's language reference is generated from `script::docs::FUNCTIONS` (the same table
//! the REPL's help uses). `RAPPORT_BLESS=1 cargo test -p rapport-script --test reference`
//! rewrites it after a change.

use std::fmt::Write;

use rapport_script::docs::FUNCTIONS;

const START: &str = "<!-- language-reference:start -->";
const END: &str = "<!-- language-reference:end -->";

fn generated() -> String {
    let mut out = String::from("\n| function | what it does |\n|---|---|\n");
    for f in FUNCTIONS {
        let _ = writeln!(
            out,
            "| `{}` | {} |",
            f.signature.replace('|', r"\|"),
            f.summary
        );
    }
    out
}

#[test]
fn the_readme_language_reference_is_the_function_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (Some(start), Some(end)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the {START} … {END} markers");
    };
    let current = &readme[start + START.len()..end];
    let wanted = generated();
    if std::env::var_os("RAPPORT_BLESS").is_some() && current != wanted {
        let updated = format!("{}{START}{wanted}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        current, wanted,
        "README.md's language reference is stale: run RAPPORT_BLESS=1 cargo test -p rapport-script --test reference"
    );
}
