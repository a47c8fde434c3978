//! The documentation states what the code does: the ABI constants in `docs/abi.md` are
//! `preflight_sdk::abi`'s, and `docs/ids.md` lists exactly the host's issue ids.

use preflight_engine::IssueId;
use preflight_sdk::abi;

use crate::support::repo;

/// The rows `| `NAME` | `VALUE` |` of a Markdown table.
fn code_rows(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", name, value, ""] if name.starts_with('`') && value.starts_with('`') => Some((
                    name.trim_matches('`').to_owned(),
                    value.trim_matches('`').to_owned(),
                )),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn the_abi_doc_states_the_sdk_constants() {
    let text = std::fs::read_to_string(repo().join("docs/abi.md")).unwrap();
    let constants = [
        ("VERSION", abi::VERSION.to_string()),
        ("IMPORT_MODULE", abi::IMPORT_MODULE.to_owned()),
        ("IMPORT_LOG", abi::IMPORT_LOG.to_owned()),
        ("EXPORT_MEMORY", abi::EXPORT_MEMORY.to_owned()),
        ("EXPORT_ALLOC", abi::EXPORT_ALLOC.to_owned()),
        ("EXPORT_EVALUATE", abi::EXPORT_EVALUATE.to_owned()),
        ("SECTION", abi::SECTION.to_owned()),
        ("NAME_MAX_LEN", abi::NAME_MAX_LEN.to_string()),
    ];
    let rows = code_rows(&text);
    for (name, value) in constants {
        let documented = rows.iter().find(|(n, _)| n == name);
        assert_eq!(
            documented.map(|(_, v)| v.as_str()),
            Some(value.as_str()),
            "docs/abi.md states `{name}` wrongly or not at all"
        );
    }
}

#[test]
fn the_id_doc_lists_every_host_issue_id() {
    let text = std::fs::read_to_string(repo().join("docs/ids.md")).unwrap();
    let documented: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(id, _)| id.to_owned()))
        .collect();
    let known: Vec<String> = IssueId::ALL
        .iter()
        .map(|id| id.as_str().to_owned())
        .collect();
    assert_eq!(
        documented, known,
        "docs/ids.md must list IssueId::ALL, in order"
    );
    for id in IssueId::ALL {
        let row = format!("| `{}` | {} |", id.as_str(), id.meaning());
        assert!(
            text.lines().any(|line| line == row),
            "docs/ids.md must say what `{id}` means as IssueId::meaning does: {row}"
        );
    }
}
