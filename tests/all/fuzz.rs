//! Every input kept in `fuzz/corpus/TARGET/` (seeds, what the fuzzer found interesting, and
//! each crash it found, as a regression) through the same function the fuzz target runs.

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use crate::support::repo;

#[test]
fn every_fuzz_corpus_input_still_passes() {
    for (name, target) in targets::TARGETS {
        let dir = repo().join("fuzz/corpus").join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .flatten()
            .map(|entry| entry.path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "the corpus of `{name}` is empty");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "`{name}` fails on {}", input.display());
        }
    }
}
