//! Scores from Markdown checklists (`- [x]` / `- [ ]`), a fixed number, or a number in a JSON
//! file at a JSON pointer.

use std::collections::BTreeMap;

use preflight_sdk::facts::{ChecklistScore, ChecklistSection};
use serde::Deserialize;

use super::input::{self, CollectError};
use crate::input::Root;

/// Open items kept in the facts.
const OPEN_ITEMS: usize = 50;

/// Where a score comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum ScoreSource {
    /// A fixed number from 0 to 10.
    Fixed(f64),
    /// A Markdown checklist: score = 10 × done / total, optionally weighted per section
    /// (by heading text; unlisted sections weigh 1).
    Checklist {
        /// The checklist file.
        checklist: String,
        /// Weight per section heading.
        #[serde(default)]
        sections: BTreeMap<String, f64>,
    },
    /// A number in a JSON file.
    Json {
        /// The JSON file.
        json: String,
        /// JSON pointer to the number, e.g. `/quality/readiness`.
        pointer: String,
    },
}

/// A score and, for checklists, how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The score, 0 to 10.
    pub value: f64,
    /// The checklist, when it came from one.
    pub checklist: Option<ChecklistScore>,
}

/// Reads a score.
///
/// # Errors
/// A [`CollectError`] naming the file and what is wrong.
pub fn score(root: &Root, name: &str, source: &ScoreSource) -> Result<Score, CollectError> {
    match source {
        ScoreSource::Fixed(value) => Ok(Score {
            value: *value,
            checklist: None,
        }),
        ScoreSource::Checklist {
            checklist,
            sections,
        } => {
            let path = root.join(checklist);
            let text = input::read_text(&path, preflight_engine::files::InputKind::Checklist)?;
            let parsed = parse(&text, sections);
            if parsed.total == 0 {
                return Err(CollectError::content(
                    &path,
                    format!(
                        "the {name} checklist has no `- [ ]` / `- [x]` items, so it cannot give a score"
                    ),
                ));
            }
            let weight_total: f64 = parsed
                .sections
                .iter()
                .map(|s| s.weight * s.total as f64)
                .sum();
            if weight_total <= 0.0 {
                return Err(CollectError::content(
                    &path,
                    format!("every section of the {name} checklist has weight 0"),
                ));
            }
            let weight_done: f64 = parsed
                .sections
                .iter()
                .map(|s| s.weight * s.done as f64)
                .sum();
            let value = round4(10.0 * weight_done / weight_total);
            Ok(Score {
                value,
                checklist: Some(ChecklistScore {
                    path: checklist.clone(),
                    done: parsed.done,
                    total: parsed.total,
                    score: value,
                    sections: parsed.sections,
                    open_items: parsed.open_items,
                }),
            })
        }
        ScoreSource::Json { json, pointer } => {
            let path = root.join(json);
            let text = input::read_text(&path, preflight_engine::files::InputKind::ScoreJson)?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|err| CollectError::json(&path, &err))?;
            let found = value.pointer(pointer).ok_or_else(|| {
                CollectError::content(
                    &path,
                    format!("nothing at JSON pointer `{pointer}` for the {name} score"),
                )
            })?;
            let number = found.as_f64().ok_or_else(|| {
                CollectError::content(
                    &path,
                    format!("`{pointer}` holds {found}, not a number, for the {name} score"),
                )
            })?;
            Ok(Score {
                value: number,
                checklist: None,
            })
        }
    }
}

/// What a checklist holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Items checked.
    pub done: u64,
    /// Items in all.
    pub total: u64,
    /// Per section.
    pub sections: Vec<ChecklistSection>,
    /// Unchecked items.
    pub open_items: Vec<String>,
}

/// Parses checklist items with a CommonMark parser (GitHub task lists): `- [x]` and `- [ ]` in
/// list items count; anything in a code block, an HTML block or comment, or a table does not.
/// The section of an item is the nearest heading above it.
pub fn parse(text: &str, weights: &BTreeMap<String, f64>) -> Parsed {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let weight_of = |title: &str| {
        weights
            .iter()
            .find(|(name, _)| name.trim().eq_ignore_ascii_case(title.trim()))
            .map_or(1.0, |(_, w)| *w)
    };
    let mut sections: Vec<ChecklistSection> = Vec::new();
    let mut current = String::new();
    let mut heading: Option<String> = None;
    // The open task item whose label is being read: (label, depth of lists inside it).
    let mut label: Option<(String, usize)> = None;
    let mut open_items = Vec::new();
    for event in Parser::new_ext(text, Options::ENABLE_TASKLISTS) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(title) = heading.take() {
                    current = title.trim().to_owned();
                }
            }
            Event::TaskListMarker(checked) => {
                let index = match sections.iter().position(|s| s.title == current) {
                    Some(index) => index,
                    None => {
                        sections.push(ChecklistSection {
                            title: current.clone(),
                            weight: weight_of(&current),
                            done: 0,
                            total: 0,
                        });
                        sections.len() - 1
                    }
                };
                let section = &mut sections[index];
                section.total += 1;
                if checked {
                    section.done += 1;
                } else if open_items.len() < OPEN_ITEMS {
                    label = Some((String::new(), 0));
                }
            }
            Event::Start(Tag::List(_)) => {
                if let Some((_, depth)) = &mut label {
                    *depth += 1;
                }
            }
            Event::End(TagEnd::List(_)) => {
                if let Some((_, depth)) = &mut label {
                    *depth = depth.saturating_sub(1);
                }
            }
            Event::End(TagEnd::Item) => {
                if let Some((text, 0)) = &label {
                    open_items.push(text.trim().to_owned());
                    label = None;
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(title) = &mut heading {
                    title.push_str(&text);
                } else if let Some((item, 0)) = &mut label {
                    item.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((item, 0)) = &mut label {
                    item.push(' ');
                }
            }
            _ => {}
        }
    }
    Parsed {
        done: sections.iter().map(|s| s.done).sum(),
        total: sections.iter().map(|s| s.total).sum(),
        sections,
        open_items,
    }
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_items_by_section_and_skips_code() {
        let text = "# DoD\n- [x] a\n- [ ] b\n* [X] c\n```\n- [ ] not an item\n```\n## Docs\n1. [x] d\n2) [ ] e\n- [] not an item\n-[x] not an item\n";
        let parsed = parse(text, &BTreeMap::new());
        assert_eq!((parsed.done, parsed.total), (3, 5));
        assert_eq!(parsed.sections.len(), 2);
        assert_eq!(parsed.sections[1].title, "Docs");
        assert_eq!(parsed.open_items, vec!["b", "e"]);
    }

    /// Issue #12: items inside code blocks, HTML comments and indented code are not counted.
    #[test]
    fn items_in_code_and_comments_do_not_count() {
        let text = "# DoD\n- [x] real\n<!--\n- [ ] commented out\n-->\n\n    - [ ] indented code\n\n~~~\n- [ ] fenced\n~~~\n<details>\n\n- [ ] inside html but markdown\n\n</details>\n\n- [ ] *emphasis* and `code` label\n  - [x] nested done\n";
        let parsed = parse(text, &BTreeMap::new());
        assert_eq!((parsed.done, parsed.total), (2, 4), "{parsed:?}");
        assert_eq!(
            parsed.open_items,
            vec!["inside html but markdown", "emphasis and code label"]
        );
    }

    #[test]
    fn weights_apply_per_section() {
        let text = "## Core\n- [x] a\n- [x] b\n## Nice\n- [ ] c\n- [ ] d\n";
        let weights = BTreeMap::from([("core".to_owned(), 3.0)]);
        let parsed = parse(text, &weights);
        let done: f64 = parsed
            .sections
            .iter()
            .map(|s| s.weight * s.done as f64)
            .sum();
        let total: f64 = parsed
            .sections
            .iter()
            .map(|s| s.weight * s.total as f64)
            .sum();
        assert_eq!(10.0 * done / total, 7.5);
    }
}
