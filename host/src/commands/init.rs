//! `preflight init`: look at the project and write a `preflight.toml` for what is there —
//! scanner reports (SARIF, Trivy, Grype, Gitleaks, Ruff JSON), JUnit reports, lcov or Cobertura
//! coverage, SBOMs, VEX documents and Markdown checklists — with everything else commented out,
//! so the first `preflight run` reads only files that exist.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config;
use crate::exit::ExitCode;

/// Arguments of `preflight init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Where to write it; the project it describes is this file's folder.
    #[arg(long, short, value_name = "FILE", default_value = config::FILE_NAME)]
    pub output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
    /// Write the commented starter without looking at the project.
    #[arg(long)]
    pub bare: bool,
}

/// What a file in the project is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Sarif,
    Trivy,
    Grype,
    Gitleaks,
    Ruff,
    Junit,
    Lcov,
    Cobertura,
    CycloneDx,
    Spdx,
    OpenVex,
    Checklist,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Sarif => "SARIF",
            Kind::Trivy => "Trivy JSON",
            Kind::Grype => "Grype JSON",
            Kind::Gitleaks => "Gitleaks JSON",
            Kind::Ruff => "Ruff JSON",
            Kind::Junit => "JUnit XML",
            Kind::Lcov => "lcov",
            Kind::Cobertura => "Cobertura XML",
            Kind::CycloneDx => "CycloneDX SBOM",
            Kind::Spdx => "SPDX SBOM",
            Kind::OpenVex => "OpenVEX",
            Kind::Checklist => "Markdown checklist",
        }
    }
}

/// Folders never looked in.
const SKIPPED: [&str; 10] = [
    "target",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".git",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    "site-packages",
];

/// How deep and how much the search looks: a bounded walk, whatever the project's size.
const MAX_DEPTH: usize = 5;
const MAX_ENTRIES: usize = 20_000;
const HEAD: usize = 64 * 1024;
const MAX_JSON: u64 = 16 * 1024 * 1024;

/// The first bytes of a file, as text.
fn head(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(HEAD as u64).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn classify_json(path: &Path) -> Option<Kind> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_JSON {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let has = |key: &str| value.get(key).is_some();
    if has("runs") && value.get("version").and_then(|v| v.as_str()) == Some("2.1.0") {
        return Some(Kind::Sarif);
    }
    if has("SchemaVersion") && has("Results") || has("ArtifactName") && has("Results") {
        return Some(Kind::Trivy);
    }
    if has("matches") && has("descriptor") {
        return Some(Kind::Grype);
    }
    if value.get("bomFormat").and_then(|v| v.as_str()) == Some("CycloneDX") {
        return Some(Kind::CycloneDx);
    }
    if has("spdxVersion") {
        return Some(Kind::Spdx);
    }
    if value
        .get("@context")
        .and_then(|v| v.as_str())
        .is_some_and(|c| c.starts_with("https://openvex.dev/ns"))
    {
        return Some(Kind::OpenVex);
    }
    let items = value.as_array()?;
    let Some(first) = items.first() else {
        // An empty report (nothing found) is known by its name.
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        return if name.contains("ruff") {
            Some(Kind::Ruff)
        } else if name.contains("gitleaks") {
            Some(Kind::Gitleaks)
        } else {
            None
        };
    };
    if first.get("RuleID").is_some() && first.get("File").is_some() {
        Some(Kind::Gitleaks)
    } else if first.get("code").is_some() && first.get("filename").is_some() {
        Some(Kind::Ruff)
    } else {
        None
    }
}

fn classify(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".sarif") || name.ends_with(".sarif.json") {
        return head(path)
            .filter(|text| text.contains("\"runs\""))
            .map(|_| Kind::Sarif);
    }
    if name.ends_with(".json") {
        return classify_json(path);
    }
    if name.ends_with(".xml") {
        let text = head(path)?;
        if text.contains("<testsuites") || text.contains("<testsuite") {
            return Some(Kind::Junit);
        }
        if text.contains("<coverage") && text.contains("line-rate") {
            return Some(Kind::Cobertura);
        }
        return None;
    }
    if name == "lcov.info" || name.ends_with(".lcov") || name.ends_with(".info") {
        let text = head(path)?;
        return (text.contains("SF:") && text.contains("end_of_record")).then_some(Kind::Lcov);
    }
    if name.ends_with(".md") {
        let text = head(path)?;
        let items = text
            .lines()
            .map(str::trim_start)
            .filter(|line| {
                ["- [ ]", "- [x]", "- [X]", "* [ ]", "* [x]", "* [X]"]
                    .iter()
                    .any(|item| line.starts_with(item))
            })
            .count();
        return (items >= 1).then_some(Kind::Checklist);
    }
    None
}

/// Every recognised file under `root`, relative to it, `/`-separated, sorted.
fn discover(root: &Path) -> BTreeMap<Kind, Vec<String>> {
    let mut found: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
    let mut pending = vec![(root.to_owned(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return found;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                if depth < MAX_DEPTH && !SKIPPED.contains(&name.as_str()) && !name.starts_with('.')
                {
                    pending.push((path, depth + 1));
                }
            } else if kind.is_file()
                && let Some(what) = classify(&path)
            {
                let relative = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                found.entry(what).or_default().push(relative);
            }
        }
    }
    for files in found.values_mut() {
        files.sort();
    }
    found
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn list(files: &[String]) -> String {
    let items: Vec<String> = files.iter().map(|f| quoted(f)).collect();
    format!("[{}]", items.join(", "))
}

/// The checklist for a score: a file whose name says it (`DOD`, `READINESS`; `MVP`,
/// `FEATURES`), else none.
fn checklist_for<'a>(checklists: &'a [String], words: &[&str]) -> Option<&'a String> {
    checklists.iter().find(|path| {
        let name = path.rsplit('/').next().unwrap_or(path).to_ascii_uppercase();
        words.iter().any(|word| name.contains(word))
    })
}

/// The configuration for what was found.
fn detected(found: &BTreeMap<Kind, Vec<String>>, root: &Path) -> String {
    let files = |kind: Kind| found.get(&kind).cloned().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# preflight.toml — written by `preflight init` from what is in this folder.\n\
         # Paths are relative to this file's folder. Flags on the command line override these values.\n\
         # Commented lines are inputs that were not found; uncomment them when your pipeline writes them.\n"
    );
    let _ = writeln!(
        out,
        "# Mode of the standard gate: \"A\" (aggressive), \"B\" (balanced), \"S\" (safe).\nmode = \"B\"\n"
    );
    let _ = writeln!(
        out,
        "# Complexity of the change: \"low\" (+0 risk), \"medium\" (+5), \"high\" (+10).\ncomplexity = \"medium\"\n"
    );
    let checklists = files(Kind::Checklist);
    let readiness = checklist_for(&checklists, &["DOD", "DONE", "READINESS", "RELEASE"]);
    let mvp = checklist_for(&checklists, &["MVP", "FEATURE"]);
    let _ = writeln!(
        out,
        "# Readiness and MVP scores, 0–10: a number, a Markdown checklist (10 × checked / total),\n# or a number in a JSON file (`{{ json = \"FILE\", pointer = \"/a/b\" }}`).\n[scores]"
    );
    match readiness {
        Some(path) => {
            let _ = writeln!(out, "readiness = {{ checklist = {} }}", quoted(path));
        }
        None => {
            let _ = writeln!(
                out,
                "readiness = 7.0    # no definition-of-done checklist found: set the score, or\n# readiness = {{ checklist = \"docs/DOD_CHECKLIST.md\" }}"
            );
        }
    }
    match mvp {
        Some(path) => {
            let _ = writeln!(out, "mvp = {{ checklist = {} }}", quoted(path));
        }
        None => {
            let _ = writeln!(
                out,
                "mvp = 7.0          # no MVP checklist found: set the score, or\n# mvp = {{ checklist = \"docs/MVP_FEATURES.md\" }}"
            );
        }
    }
    let _ = writeln!(
        out,
        "\n# Scanner reports (paths or globs). A configured file that is missing or malformed is an\n# error. Without any report and without a `gate` verdict the security gate fails closed.\n[security]"
    );
    let scanners = [
        (
            Kind::Sarif,
            "sarif",
            "[\"reports/semgrep.sarif\"]    # SARIF 2.1.0 from any tool",
        ),
        (
            Kind::Trivy,
            "trivy",
            "[\"reports/trivy.json\"]       # trivy ... --format json",
        ),
        (
            Kind::Grype,
            "grype",
            "[\"reports/grype.json\"]       # grype ... -o json",
        ),
        (
            Kind::Gitleaks,
            "gitleaks",
            "[\"reports/gitleaks.json\"] # gitleaks ... --report-format json",
        ),
        (
            Kind::Ruff,
            "ruff",
            "[\"reports/ruff.json\"]        # ruff check --output-format json",
        ),
        (
            Kind::OpenVex,
            "vex",
            "[\"vex/openvex.json\"]        # OpenVEX or CycloneDX VEX statements",
        ),
    ];
    let mut any_scanner = false;
    for (kind, key, example) in scanners {
        let paths = files(kind);
        if paths.is_empty() {
            let _ = writeln!(out, "# {key} = {example}");
        } else {
            any_scanner |= kind != Kind::OpenVex;
            let _ = writeln!(out, "{key} = {}", list(&paths));
        }
    }
    if !any_scanner {
        let _ = writeln!(
            out,
            "# gate = \"PASS\"                     # a verdict from an earlier security step, if you have one"
        );
    }
    let junit = files(Kind::Junit);
    let _ = writeln!(out);
    if junit.is_empty() {
        let _ = writeln!(out, "# [tests]\n# junit = [\"reports/junit/*.xml\"]");
    } else {
        let _ = writeln!(out, "[tests]\njunit = {}", list(&junit));
    }
    let _ = writeln!(out);
    match (files(Kind::Lcov).first(), files(Kind::Cobertura).first()) {
        (Some(lcov), _) => {
            let _ = writeln!(out, "[coverage]\nlcov = {}", quoted(lcov));
        }
        (None, Some(cobertura)) => {
            let _ = writeln!(out, "[coverage]\ncobertura = {}", quoted(cobertura));
        }
        (None, None) => {
            let _ = writeln!(
                out,
                "# [coverage]\n# lcov = \"coverage/lcov.info\"         # or: cobertura = \"coverage.xml\""
            );
        }
    }
    let cyclonedx = files(Kind::CycloneDx);
    let spdx = files(Kind::Spdx);
    let _ = writeln!(out);
    if cyclonedx.is_empty() && spdx.is_empty() {
        let _ = writeln!(
            out,
            "# [sbom]\n# cyclonedx = [\"sbom/bom.cdx.json\"]   # or: spdx = [\"sbom/sbom.spdx.json\"]"
        );
    } else {
        let _ = writeln!(out, "[sbom]");
        if !cyclonedx.is_empty() {
            let _ = writeln!(out, "cyclonedx = {}", list(&cyclonedx));
        }
        if !spdx.is_empty() {
            let _ = writeln!(out, "spdx = {}", list(&spdx));
        }
    }
    let optional: Vec<String> = ["CHANGELOG.md", "docs/RUNBOOK.md"]
        .iter()
        .filter(|file| root.join(file).is_file())
        .map(|file| (*file).to_owned())
        .collect();
    let required: Vec<String> = ["README.md"]
        .iter()
        .filter(|file| root.join(file).is_file())
        .map(|file| (*file).to_owned())
        .collect();
    let _ = writeln!(
        out,
        "\n[artifacts]\nrequired = {}             # missing → blocking issue\noptional = {}             # missing → listed in artifacts_missing",
        list(&required),
        list(&optional)
    );
    let _ = writeln!(
        out,
        "\n# Settings of the standard gate, preflight-gate (defaults shown).\n[gate]\n\
         # weights = {{ readiness = 0.5, mvp = 0.5, security = 0.2 }}\n\
         # thresholds = {{ go = 50, canary = 65 }}\n\
         # security = {{ fail_on = {{ vulnerability = \"high\", secret = \"info\", lint = \"high\", misconfiguration = \"high\" }} }}\n\
         # tests = {{ require_passing = \"block\" }}\n\
         # coverage = {{ minimum = 80 }}\n\
         # licenses = {{ deny = [\"AGPL-3.0-only\"], unknown = \"warn\" }}\n\n\
         # More policies: see `preflight init --bare` for every key, and docs/policies.md.\n\
         # [[policy]]\n# source = \"policies/team-rule.wasm\"\n# enforce = false"
    );
    out
}

/// Writes the configuration; refuses to overwrite without `--force`.
pub fn init(args: &InitArgs) -> ExitCode {
    if args.output.exists() && !args.force {
        crate::diagnostic::error(&format!(
            "`{}` already exists; pass --force to overwrite it",
            args.output.display()
        ));
        return ExitCode::Error;
    }
    let text = if args.bare {
        config::STARTER.to_owned()
    } else {
        let root = args
            .output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let found = discover(root);
        report(&found);
        detected(&found, root)
    };
    match preflight_engine::files::write_atomic(&args.output, text.as_bytes()) {
        Ok(()) => {
            eprintln!(
                "wrote {}; next: preflight run --format text",
                args.output.display()
            );
            ExitCode::Go
        }
        Err(err) => {
            crate::diagnostic::error(&err.to_string());
            ExitCode::Error
        }
    }
}

/// Says on stderr what was found and what was left commented.
fn report(found: &BTreeMap<Kind, Vec<String>>) {
    let all = [
        Kind::Sarif,
        Kind::Trivy,
        Kind::Grype,
        Kind::Gitleaks,
        Kind::Ruff,
        Kind::OpenVex,
        Kind::Junit,
        Kind::Lcov,
        Kind::Cobertura,
        Kind::CycloneDx,
        Kind::Spdx,
        Kind::Checklist,
    ];
    if found.is_empty() {
        eprintln!("found no reports, SBOMs or checklists; every input is left commented");
    }
    for (kind, files) in found {
        let shown: Vec<String> = files
            .iter()
            .take(5)
            .map(|f| preflight_report::escape::control(f).into_owned())
            .collect();
        let more = if files.len() > 5 {
            format!(" and {} more", files.len() - 5)
        } else {
            String::new()
        };
        eprintln!("found {}: {}{more}", kind.label(), shown.join(", "));
    }
    let missing: Vec<&str> = all
        .iter()
        .filter(|kind| !found.contains_key(kind))
        .map(|kind| kind.label())
        .collect();
    if !missing.is_empty() {
        eprintln!("left commented (not found): {}", missing.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detected_config_parses_and_names_only_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("reports")).unwrap();
        std::fs::write(
            root.join("reports/x.sarif"),
            r#"{"version":"2.1.0","runs":[]}"#,
        )
        .unwrap();
        std::fs::write(root.join("reports/junit.xml"), "<testsuites></testsuites>").unwrap();
        std::fs::write(root.join("DOD.md"), "- [x] done\n- [ ] open\n").unwrap();
        let found = discover(root);
        let text = detected(&found, root);
        let parsed = config::parse(Path::new("preflight.toml"), &text).unwrap();
        assert_eq!(parsed.security.unwrap().sarif, ["reports/x.sarif"]);
        assert!(text.contains("junit = [\"reports/junit.xml\"]"));
        assert!(text.contains("readiness = { checklist = \"DOD.md\" }"));
        assert!(text.contains("# [coverage]"));
    }
}
