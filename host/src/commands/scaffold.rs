//! `preflight policy new NAME`: a policy crate that builds for wasm32 and passes `preflight test`
//! as generated.

use std::path::{Path, PathBuf};

const CARGO_TOML: &str = include_str!("scaffold/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("scaffold/lib.rs.tmpl");
const BUILD_SH: &str = include_str!("scaffold/build.sh.tmpl");
const README: &str = include_str!("scaffold/README.md.tmpl");
const CASE_GO: &str = include_str!("scaffold/go.json.tmpl");
const CASE_BLOCKED: &str = include_str!("scaffold/blocked.yaml.tmpl");
const CASE_UNAPPROVED: &str = include_str!("scaffold/unapproved.yaml.tmpl");
const CHANGE_SCHEMA: &str = include_str!("scaffold/change.schema.json");

/// Writes the crate into `dir/NAME`; returns the folder.
///
/// # Errors
/// A message when the name is not a valid policy name, the folder exists, or a write fails.
pub fn create(name: &str, dir: &Path, sdk_path: Option<&Path>) -> Result<PathBuf, String> {
    let valid = !name.is_empty()
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(format!(
            "`{name}` is not a policy name: use lowercase letters, digits and `-`, starting with a letter"
        ));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(format!("`{}` already exists", root.display()));
    }
    let source = match sdk_path {
        Some(path) => {
            let path = path
                .canonicalize()
                .map_err(|err| format!("--sdk-path `{}`: {err}", path.display()))?;
            format!("path = {:?}", path.display().to_string())
        }
        None => format!("version = \"{}\"", env!("CARGO_PKG_VERSION")),
    };
    let sdk = format!("preflight-sdk = {{ {source} }}");
    let sdk_schema = format!("preflight-sdk = {{ {source}, features = [\"schema\"] }}");
    let lib = name.replace('-', "_");
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{lib}}", &lib)
            .replace("{{sdk_schema}}", &sdk_schema)
            .replace("{{sdk}}", &sdk)
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("build.sh", fill(BUILD_SH)),
        ("README.md", fill(README)),
        ("cases/go.json", fill(CASE_GO)),
        ("cases/blocked.yaml", fill(CASE_BLOCKED)),
        ("cases/unapproved-change.yaml", fill(CASE_UNAPPROVED)),
        ("change.schema.json", CHANGE_SCHEMA.to_owned()),
        (".gitignore", "target/\n*.wasm\n".to_owned()),
    ];
    for (file, text) in files {
        let path = root.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("`{}`: {err}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|err| format!("`{}`: {err}", path.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let script = root.join("build.sh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .map_err(|err| format!("`{}`: {err}", script.display()))?;
    }
    Ok(root)
}
