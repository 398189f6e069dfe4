//! Errors as scripts and hosts see them: an engine refusal caught in a script is a map that says
//! what failed (`kind`), on which record and field, the message, and where the failing call is;
//! uncaught, the host gets the same kind, record and field. A run that another writer overtook
//! runs again.

use std::sync::Arc;

use rapport_engine::ops::PluginSettings;
use rapport_engine::store::{Backend, MemoryBackend};
use rapport_engine::{Database, SCHEMA};
use rapport_script::{Limits, RunOptions, ScriptErrorKind, ScriptHost, plugin};
use rapport_testkit::*;
use rhai::Map;

/// The error `call` throws, as the script's `catch (e)` gets it.
fn caught(db: &Database, call: &str) -> Map {
    let src = format!("let caught = ();\ntry {{\n{call}\n}} catch (e) {{ caught = e; }}\ncaught");
    let out = ScriptHost::new(Limits::user())
        .run(db, "test", &src, RunOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    out.value
        .into_dynamic()
        .try_cast::<Map>()
        .expect("the catch block gives the error map")
}

fn text(m: &Map, key: &str) -> String {
    m.get(key).map(ToString::to_string).unwrap_or_default()
}

fn int(m: &Map, key: &str) -> i64 {
    m.get(key).and_then(|v| v.as_int().ok()).unwrap_or(-1)
}

#[each_backend]
fn a_caught_engine_error_says_its_kind_record_and_message() {
    let db = db();
    let e = caught(&db, "contact_update(\"NOPE\", #{name: \"x\"})");
    assert_eq!(text(&e, "kind"), "not_found", "{e:?}");
    assert_eq!(text(&e, "record"), "contact NOPE");
    assert!(text(&e, "message").contains("does not exist"), "{e:?}");
}

#[each_backend]
fn a_caught_engine_error_names_the_field_when_there_is_one() {
    let db = db();
    let e = caught(&db, "contact_create(#{kind: \"company\"})");
    assert_eq!(text(&e, "kind"), "required", "{e:?}");
    assert_eq!(text(&e, "field"), "name");
}

#[each_backend]
fn a_caught_engine_error_says_where_the_failing_call_is() {
    let db = db();
    let e = caught(
        &db,
        "  let b = 2;\n    log_interaction(#{contact: \"NOPE\", template: \"CALL\"});",
    );
    assert_eq!(int(&e, "line"), 4, "{e:?}");
    assert_eq!(int(&e, "position"), 5, "{e:?}");
    assert_eq!(text(&e, "source"), "test");
}

#[each_backend]
fn a_script_can_tell_one_refusal_from_another() {
    let db = db();
    let out = ScriptHost::new(Limits::user())
        .run(
            &db,
            "test",
            r#"
            let kinds = [];
            for code in ["", "NOPE"] {
                try { log_interaction(#{contact: "P1", template: code}); }
                catch (e) { kinds.push(e.kind); }
            }
            kinds
            "#,
            RunOptions::default(),
        )
        .unwrap();
    assert_eq!(
        out.value.to_json(),
        serde_json::json!(["required", "not_found"])
    );
}

#[each_backend]
fn an_uncaught_engine_error_gives_the_host_its_kind_record_and_field() {
    let db = db();
    let err = ScriptHost::new(Limits::user())
        .run(
            &db,
            "test",
            "\n  log_interaction(#{contact: \"P1\", template: \"NOPE\"})",
            RunOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.kind, ScriptErrorKind::Runtime);
    assert_eq!(err.kind_word(), "not_found");
    let detail = err.detail.as_deref().expect("the engine's detail");
    assert_eq!(detail.record.as_deref(), Some("template NOPE"));
    assert_eq!((err.line, err.column), (Some(2), Some(3)), "{err}");
    assert!(
        err.message.starts_with("template NOPE does not exist"),
        "{err}"
    );
}

#[each_backend]
fn a_thrown_text_is_a_runtime_error_without_engine_detail() {
    let db = db();
    let err = ScriptHost::new(Limits::user())
        .run(&db, "test", "throw \"stop here\"", RunOptions::default())
        .unwrap_err();
    assert_eq!(err.message, "stop here");
    assert!(err.detail.is_none());
    assert_eq!(err.kind_word(), "runtime");
}

#[each_backend]
fn a_capability_a_plugin_lacks_is_refused_with_kind_denied() {
    let db = db();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("nosy");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        "name = \"nosy\"\nversion = \"1.0\"\nrequires = \"0.1\"\nhooks = [\"before_log\"]\n[capabilities]\nread = [\"entries\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("main.rhai"),
        "fn before_log(d) { try { contacts().count(); d } catch (e) { throw e.kind } }",
    )
    .unwrap();
    db.write(|tx| {
        tx.plugin_settings_set(&PluginSettings {
            enabled: vec!["nosy".into()],
            folders: vec![],
        })
    })
    .unwrap();
    let (sources, _) = plugin::from_folder(root.path());
    let mut host = ScriptHost::new(Limits::user());
    host.load_plugins(&db, &sources).unwrap();
    let out = host
        .run(
            &db,
            "test",
            "let c = (); try { log_interaction(#{contact: \"P1\", template: \"CALL\"}) } catch (e) { c = e; } c",
            RunOptions::default(),
        )
        .unwrap()
        .value;
    // The hook threw its own refusal (a veto); what it caught inside was "denied".
    assert_eq!(
        out.field("kind").and_then(|k| k.as_text()).as_deref(),
        Some("vetoed")
    );
    assert!(
        out.field("message")
            .and_then(|m| m.as_text())
            .is_some_and(|m| m.contains("denied")),
        "{:?}",
        out.to_json()
    );
}

#[test]
fn a_script_run_another_writer_overtook_runs_again_and_commits_once() {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new(SCHEMA));
    let db = Database::with_backend(backend.clone()).unwrap();
    let other = Database::with_backend(backend).unwrap();
    fill(&db);
    let host = ScriptHost::new(Limits::user());
    let mut runs = 0;
    let out = host
        .run_then(
            &db,
            "test",
            "log_interaction(#{contact: \"P1\", template: \"CALL\"})",
            RunOptions::default(),
            |_, _| {
                runs += 1;
                if runs == 1 {
                    other.write(|tx| tx.log_interaction(draft("P2", "CALL")))?;
                }
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(runs, 2, "the overtaken run ran again");
    // The other writer took entry 1; the script's run, run again, took entry 2.
    assert_eq!(out.value.as_int(), Some(2));
    assert_eq!(entry(&db, 1).contact_no, "P2");
    assert_eq!(entry(&db, 2).contact_no, "P1");
    assert_eq!(db.read(|v| v.last_entry_no()).unwrap(), 2);
}

#[each_backend]
fn a_mistyped_function_is_answered_with_the_closest_one_and_how_it_is_called() {
    let db = db();
    let host = ScriptHost::new(Limits::user());
    for (typo, meant) in [
        ("contcts().count()", "did you mean contacts?"),
        ("contacts().cont()", "did you mean count?"),
    ] {
        let err = host
            .run(&db, "test", typo, RunOptions::default())
            .expect_err("a mistyped function fails");
        assert!(err.message.contains(meant), "{typo}: {err}");
        assert!(err.message.contains("called as"), "{typo}: {err}");
    }
    let far = host
        .run(&db, "test", "zzzzzzzz()", RunOptions::default())
        .expect_err("an unknown function fails");
    assert!(far.message.contains(":help lists"), "{far}");
}
