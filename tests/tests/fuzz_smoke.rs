//! The fuzz targets' checks on seeded random inputs (mutations of the corpus files and of
//! valid scripts), so every `cargo test` runs them; `fuzz/` runs the same checks under
//! libFuzzer for as long as one likes (RELIABILITY.md). `RAPPORT_FUZZ_RUNS` sets the count.

use std::path::Path;

use rapport_tests::{Rng, fuzz};

/// `seed` with a few random byte flips, insertions, deletions and splices from `other`.
fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] = rng.next_u64() as u8;
            }
            1 => {
                let special = b",\"\n\xff{}()#;";
                out.insert(at, special[rng.below(special.len())]);
            }
            2 if at < out.len() => {
                out.remove(at);
            }
            _ if !other.is_empty() => {
                let from = rng.below(other.len());
                let to = (from + rng.below(40)).min(other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
            _ => {}
        }
    }
    out
}

fn runs() -> usize {
    std::env::var("RAPPORT_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

fn seeds(kind: &str, valid: &[&str]) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(kind);
    let mut all: Vec<Vec<u8>> = valid.iter().map(|s| s.as_bytes().to_vec()).collect();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if bytes.len() < 10_000 {
            all.push(bytes);
        }
    }
    all
}

fn drive(kind: &str, valid: &[&str], check: fn(&[u8]), seed: u64) {
    let seeds = seeds(kind, valid);
    let mut rng = Rng(seed);
    for seed in &seeds {
        check(seed);
    }
    for _ in 0..runs() {
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        check(&mutate(&mut rng, a, b));
    }
}

#[test]
fn the_csv_import_target_holds_on_mutated_csv() {
    drive(
        "csv",
        &[
            "no,name,kind,company_no,city,revenue\nX1,Good Co,company,,Oslo,12.5\nX2,Anna,person,X1,Oslo,yes\n",
        ],
        fuzz::csv_import,
        0x00C5_F00D,
    );
}

#[test]
fn the_script_target_holds_on_mutated_scripts() {
    drive(
        "scripts",
        &[
            r#"let no = log_interaction(#{contact: "P1", template: "CALL", cost: 3}); cancel(no); purge_canceled()"#,
            r#"let s = segment_create(#{description: "x", template: "CALL"}); s.add(["P1", "C1"]); s.log()"#,
            r#"contacts().where(|c| c.name > "B").count()"#,
        ],
        fuzz::script,
        0x005C_4197,
    );
}

#[test]
fn the_decoder_target_holds_on_random_bytes() {
    let mut rng = Rng(0x00DE_C0DE);
    for _ in 0..runs() * 20 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        fuzz::decode(&bytes);
        // And with the schema byte a stored record starts with.
        let mut versioned = vec![1];
        versioned.extend(&bytes);
        fuzz::decode(&versioned);
    }
}
