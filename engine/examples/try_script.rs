use rapport_engine::script::{Limits, RunOptions, ScriptHost};
use rapport_engine::{Clock, Database, demo};

fn main() {
    let mut db = Database::in_memory().unwrap();
    db.context_mut().clock = Clock::fixed(chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
    db.write(|tx| demo::load(tx)).unwrap();
    let mut limits = Limits::user();
    if std::env::var_os("SMALL").is_some() {
        limits.max_string_size = 1000;
        limits.max_array_size = 1000;
        limits.max_map_size = 1000;
        limits.max_time = std::time::Duration::from_secs(5);
    }
    let host = ScriptHost::new(limits);
    let src = std::env::args().nth(1).unwrap();
    match host.run(&db, "try", &src, RunOptions::default()) {
        Ok(out) => {
            for p in out.printed {
                println!("print: {p}");
            }
            println!("=> {} (committed {})", out.value, out.committed);
        }
        Err(e) => println!("ERR {e} [{:?}]", e.kind),
    }
}
