//! The committed schemas match what the Rust types generate.

use preflight_engine::schema::SchemaKind;

use crate::support::repo;

#[test]
fn committed_schemas_do_not_drift() {
    for kind in SchemaKind::ALL {
        let path = repo().join("schemas").join(kind.file_name());
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert!(
            committed == kind.render(),
            "{} drifted from the Rust types; regenerate with `preflight schema {:?} > {}`",
            path.display(),
            kind,
            path.display()
        );
    }
}

#[test]
fn the_seed_example_and_reports_validate() {
    let facts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/seed/facts.json")).unwrap(),
    )
    .unwrap();
    preflight_engine::schema::validate(SchemaKind::Facts, &facts).unwrap();
}
