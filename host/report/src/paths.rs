//! Paths as the consumers of SARIF, Code Quality and GitHub annotations want them: relative to
//! one base, the repository root. Facts and the JSON report give paths relative to the project
//! folder (what a policy's path rules are written against); a project in `services/api/` of a
//! monorepo reports `src/a.py` there and `services/api/src/a.py` here, whatever mix of relative
//! and absolute paths the scanners wrote.

use std::path::{Path, PathBuf};

use preflight_engine::files::lexical_clean;

/// The project folder and the base, both absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathBase {
    project: PathBuf,
    base: PathBuf,
}

impl PathBase {
    /// Paths relative to `project` shown relative to `base` (both made absolute against the
    /// working directory).
    pub fn new(project: &Path, base: &Path) -> PathBase {
        let absolute = |path: &Path| {
            lexical_clean(&std::path::absolute(path).unwrap_or_else(|_| path.to_owned()))
        };
        PathBase {
            project: absolute(project),
            base: absolute(base),
        }
    }

    /// A path from facts (relative to the project folder, or absolute) relative to the base;
    /// an absolute path outside the base stays absolute.
    pub fn show(&self, path: &str) -> String {
        let given = Path::new(path);
        let absolute = if given.is_absolute() {
            lexical_clean(given)
        } else {
            lexical_clean(&self.project.join(given))
        };
        match absolute.strip_prefix(&self.base) {
            Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
            Ok(relative) => relative.to_string_lossy().replace('\\', "/"),
            Err(_) if given.is_absolute() => path.to_owned(),
            Err(_) => absolute.to_string_lossy().replace('\\', "/"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_from_the_base() {
        let paths = PathBase::new(Path::new("/repo/services/api"), Path::new("/repo"));
        assert_eq!(paths.show("src/a.py"), "services/api/src/a.py");
        assert_eq!(paths.show("./src/a.py"), "services/api/src/a.py");
        assert_eq!(paths.show("/repo/libs/x.py"), "libs/x.py");
        assert_eq!(paths.show("../../libs/y.py"), "libs/y.py");
        assert_eq!(paths.show("/usr/lib/z.py"), "/usr/lib/z.py");
        assert_eq!(paths.show("../../../outside.py"), "/outside.py");
        let same = PathBase::new(Path::new("/p"), Path::new("/p"));
        assert_eq!(same.show("a/b.py"), "a/b.py");
    }
}
