//! Hostile input to the language (RELIABILITY.md): every function called with arguments of the
//! wrong type, and a closure that fails deep into a long query after writing on the way. Each is
//! an error that says what is wrong, and the database is as it was.

use rapport_script::docs::FUNCTIONS;
use rapport_script::{Limits, RunOptions, ScriptHost};
use rapport_testkit::*;

#[test]
fn every_language_function_given_arguments_of_the_wrong_type_fails_clearly_and_writes_nothing() {
    let db = db();
    log(&db, draft("P1", "CALL"));
    let before = db.fingerprint().unwrap();
    let host = ScriptHost::new(Limits::user());
    let wrong = [
        "()",
        "[[]]",
        "Fn(\"no_such_function\")",
        "#{no_such_field: [()]}",
    ];
    let mut refused = 0;
    for f in FUNCTIONS {
        for arity in 1..=3 {
            for value in wrong {
                let args = vec![value; arity].join(", ");
                let call = format!("{}({args})", f.name);
                match host.run(&db, "hostile", &call, RunOptions::default()) {
                    Ok(_) => {}
                    Err(e) => {
                        let text = e.to_string();
                        assert!(
                            text.len() > 20 && !text.contains("panicked"),
                            "{call}: {text}"
                        );
                        refused += 1;
                    }
                }
                assert_eq!(db.fingerprint().unwrap(), before, "{call} wrote something");
            }
        }
    }
    eprintln!("{refused} calls with wrong arguments refused");
    assert!(refused > FUNCTIONS.len() * 8, "only {refused} refused");
}

#[test]
fn a_closure_failing_on_the_twenty_thousandth_record_undoes_every_write_before_it() {
    let db = db();
    db.write(|tx| {
        for i in 0..20_000 {
            tx.contact_create(rapport_engine::model::Contact {
                no: format!("N{i:05}"),
                name: format!("Contact {i}"),
                salesperson: "JO".into(),
                ..Default::default()
            })?;
        }
        Ok(())
    })
    .unwrap();
    let before = db.fingerprint().unwrap();
    let err = ScriptHost::new(Limits::user())
        .run(
            &db,
            "hostile",
            r#"contacts().each(|c| {
                   log_interaction(#{contact: c.no, template: "CALL"});
                   if c.no == "N19999" { throw "the 20000th record is bad" }
               })"#,
            RunOptions::default(),
        )
        .expect_err("the closure throws");
    assert!(
        err.to_string().contains("the 20000th record is bad"),
        "{err}"
    );
    assert_eq!(db.fingerprint().unwrap(), before);
}
