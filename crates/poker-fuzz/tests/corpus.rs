//! Replays every committed corpus file (`fuzz/corpus/<target>/*`) through its target's body, so
//! the properties the fuzzers checked keep holding in the normal, stable test run.

use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn replay(target: &str) {
    let (_, body) = poker_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} is missing: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("a readable corpus folder").path();
        if !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).expect("a readable corpus file");
        let outcome = std::panic::catch_unwind(|| body(&data));
        if let Err(panic) = outcome {
            std::panic::resume_unwind(Box::new(format!(
                "{target}: {} fails: {}",
                path.display(),
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(panic)")
            )));
        }
        replayed += 1;
    }
    // A corpus that lost its files would make this test pass without checking anything.
    assert!(
        replayed >= 5,
        "{target}: only {replayed} corpus files in {}",
        dir.display()
    );
}

#[test]
fn frame_corpus_keeps_its_properties() {
    replay("frame");
}

#[test]
fn rest_body_corpus_keeps_its_properties() {
    replay("rest_body");
}

#[test]
fn import_csv_corpus_keeps_its_properties() {
    replay("import_csv");
}

#[test]
fn import_json_corpus_keeps_its_properties() {
    replay("import_json");
}

#[test]
fn deck_corpus_keeps_its_properties() {
    replay("deck");
}

#[test]
fn every_corpus_folder_has_a_test() {
    let names: Vec<&str> = poker_fuzz::TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        ["frame", "rest_body", "import_csv", "import_json", "deck"]
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    for entry in std::fs::read_dir(&root).expect("fuzz/corpus exists") {
        let name = entry.expect("readable").file_name();
        let name = name.to_string_lossy();
        assert!(
            names.contains(&name.as_ref()),
            "fuzz/corpus/{name} has no replay"
        );
    }
}
