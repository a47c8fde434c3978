//! `preflight keygen` and `preflight verify-decision`: the keys that sign decision records and
//! the check an auditor runs on one, with an optional replay of the decision.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::attest::{self, Rejected};
use crate::diagnostic;
use crate::exit::ExitCode;
use crate::inputs::PolicySpec;
use crate::limits::LimitArgs;
use preflight_report::escape::control as esc;
use preflight_sources::PolicySource;

/// Arguments of `preflight keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Writes NAME.pem (the private key, mode 0600) and NAME.pub.pem.
    #[arg(default_value = "preflight-signing", value_name = "NAME")]
    pub name: PathBuf,
}

/// `preflight keygen`.
pub fn keygen(args: &KeygenArgs) -> ExitCode {
    match attest::keygen(&args.name) {
        Ok((private, public)) => {
            println!(
                "wrote {} (private: keep it secret, e.g. as a CI secret) and {} (public: give it to whoever verifies)",
                private.display(),
                public.display()
            );
            ExitCode::Go
        }
        Err(message) => {
            diagnostic::error(&message);
            ExitCode::Error
        }
    }
}

/// Arguments of `preflight verify-decision`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The decision record (`run --attest FILE`).
    #[arg(value_name = "FILE")]
    pub record: PathBuf,
    /// The signer's Ed25519 public key (PEM).
    #[arg(long, value_name = "KEY.pub.pem")]
    pub public_key: PathBuf,
    /// The fact set the decision was made on: its sha256 must be the recorded one.
    #[arg(long, value_name = "FACTS.json")]
    pub facts: Option<PathBuf>,
    /// Evaluate the facts again with the recorded policies (found by digest: built in, at
    /// their recorded source, or in preflight.lock) and require the same decision and issues.
    #[arg(long, requires = "facts")]
    pub replay: bool,
    /// Require this subject (a file, or NAME@sha256:HEX) to be one the record is about.
    #[arg(long, value_name = "PATH|NAME@sha256:HEX")]
    pub subject: Vec<String>,
    /// Sandbox limits for the replay (default: the recorded ones).
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Not verified (exit 1), or an error (exit 2).
enum Failure {
    NotVerified(String),
    Error(String),
}

/// `preflight verify-decision`: exit 0 verified, 1 not verified, 2 error.
pub fn verify(rt: &tokio::runtime::Runtime, args: &VerifyArgs) -> ExitCode {
    match verify_record(rt, args) {
        Ok(summary) => {
            // A closed pipe (`| head`) is not an error of the verification.
            let _ = writeln!(std::io::stdout(), "{summary}");
            ExitCode::Go
        }
        Err(Failure::NotVerified(message)) => {
            eprintln!("NOT VERIFIED: {}", esc(&message));
            ExitCode::NoGo
        }
        Err(Failure::Error(message)) => {
            diagnostic::error(&message);
            ExitCode::Error
        }
    }
}

fn verify_record(rt: &tokio::runtime::Runtime, args: &VerifyArgs) -> Result<String, Failure> {
    let name = args.record.display().to_string();
    let key = attest::read_public_key(&args.public_key).map_err(Failure::Error)?;
    let bytes =
        preflight_engine::files::read(&args.record, preflight_engine::files::InputKind::Report)
            .map_err(|err| Failure::Error(format!("decision record `{name}`: {err}")))?;
    let statement = attest::verify(&bytes, &key).map_err(|rejected| match rejected {
        Rejected::Malformed(message) => Failure::Error(format!(
            "decision record `{name}`: {message}; give the file `preflight run --attest` wrote"
        )),
        Rejected::Signature(message) => Failure::NotVerified(format!("`{name}`: {message}")),
    })?;
    let bad = |message: &str| Failure::Error(format!("decision record `{name}`: {message}"));
    if statement.get("_type").and_then(Value::as_str) != Some(attest::STATEMENT_TYPE) {
        return Err(bad("the signed statement is not an in-toto Statement v1"));
    }
    if statement.get("predicateType").and_then(Value::as_str) != Some(attest::PREDICATE_TYPE) {
        return Err(bad(
            "the signed statement is not a preflight decision (another predicate type)",
        ));
    }
    let predicate = &statement["predicate"];
    let decision = predicate["decision"]
        .as_str()
        .ok_or_else(|| bad("the predicate has no decision"))?;
    let subjects = statement["subject"]
        .as_array()
        .filter(|subjects| !subjects.is_empty())
        .ok_or_else(|| bad("the statement has no subject"))?;
    for wanted in &args.subject {
        let wanted = attest::subject(wanted).map_err(Failure::Error)?;
        let found = subjects
            .iter()
            .any(|s| s["digest"]["sha256"] == wanted["digest"]["sha256"]);
        if !found {
            return Err(Failure::NotVerified(format!(
                "the record is not about {} (sha256:{})",
                wanted["name"].as_str().unwrap_or_default(),
                wanted["digest"]["sha256"].as_str().unwrap_or_default()
            )));
        }
    }
    let recorded_facts = predicate["facts_sha256"].as_str().unwrap_or_default();
    let mut lines = vec![
        format!(
            "verified: `{}` is signed by key {}",
            esc(&name),
            attest::key_id(&key)
        ),
        format!(
            "decision: {} at {} by preflight {}",
            esc(decision),
            esc(predicate["time"].as_str().unwrap_or("?")),
            esc(predicate["host"]["version"].as_str().unwrap_or("?"))
        ),
        format!("facts:    sha256:{}", esc(recorded_facts)),
    ];
    for policy in predicate["policies"].as_array().into_iter().flatten() {
        lines.push(format!(
            "policy:   {} {} sha256:{}",
            esc(policy["name"].as_str().unwrap_or("?")),
            esc(policy["version"].as_str().unwrap_or("?")),
            esc(policy["sha256"].as_str().unwrap_or("?"))
        ));
    }
    let Some(facts_path) = &args.facts else {
        return Ok(lines.join("\n"));
    };
    let facts = preflight_engine::facts::read_file(facts_path)
        .and_then(preflight_engine::facts::from_value)
        .map_err(|err| Failure::Error(format!("`{}`: {err}", facts_path.display())))?;
    if facts.sha256 != recorded_facts {
        return Err(Failure::NotVerified(format!(
            "the facts in `{}` are not the ones decided on: sha256:{} against the recorded sha256:{}",
            facts_path.display(),
            facts.sha256,
            esc(recorded_facts)
        )));
    }
    lines.push(format!("facts:    `{}` matches", facts_path.display()));
    if args.replay {
        lines.push(replay(rt, args, predicate, &facts)?);
    }
    Ok(lines.join("\n"))
}

/// Evaluates the facts again with the recorded modules and settings.
fn replay(
    rt: &tokio::runtime::Runtime,
    args: &VerifyArgs,
    predicate: &Value,
    facts: &preflight_engine::Facts,
) -> Result<String, Failure> {
    let runtime =
        super::run::runtime(&args.limits, false).map_err(|err| Failure::Error(err.to_string()))?;
    let fetcher = crate::load::fetcher(false).map_err(|err| Failure::Error(err.to_string()))?;
    let lock =
        preflight_sources::lock::LockFile::load(Path::new(preflight_sources::lock::FILE_NAME))
            .ok()
            .flatten();
    let mut entries = Vec::new();
    for policy in predicate["policies"].as_array().into_iter().flatten() {
        let name = policy["name"].as_str().unwrap_or("?");
        let Some(sha256) = policy["sha256"].as_str() else {
            return Err(Failure::Error(format!(
                "policy `{name}` has no recorded sha256 (it failed to load in the recorded run); it cannot be replayed"
            )));
        };
        let mut candidates: Vec<String> = Vec::new();
        if let Some(source) = policy["source"].as_str() {
            candidates.push(source.to_owned());
        }
        if let Some(lock) = &lock {
            candidates.extend(
                lock.policies
                    .iter()
                    .filter(|entry| entry.sha256 == sha256)
                    .map(|entry| entry.source.clone()),
            );
        }
        let mut loaded = None;
        for candidate in &candidates {
            let Ok(source) = PolicySource::parse(candidate, Path::new("")) else {
                continue;
            };
            if let PolicySource::Builtin(builtin) = &source
                && preflight_engine::builtin::find(builtin).is_none_or(|b| b.sha256 != sha256)
            {
                continue;
            }
            let mut spec = PolicySpec::new(source);
            spec.sha256 = vec![(sha256.to_owned(), "the decision record".to_owned())];
            spec.settings = policy["settings"].clone();
            if !spec.settings.is_object() {
                spec.settings = Value::Object(serde_json::Map::new());
            }
            spec.enforce = policy["enforced"].as_bool().unwrap_or(true);
            let (entry, error) = rt.block_on(crate::load::entry(&runtime, &fetcher, &spec));
            if error.is_none() {
                loaded = Some(entry);
                break;
            }
        }
        match loaded {
            Some(entry) => entries.push(entry),
            None => {
                return Err(Failure::Error(format!(
                    "refusing to replay: no module with sha256:{sha256} (policy `{name}`) is available here (tried {}); run the replay where the recorded source or preflight.lock gives that module, or with the preflight version that made the decision for a built-in",
                    if candidates.is_empty() {
                        "nothing".to_owned()
                    } else {
                        candidates.join(", ")
                    }
                )));
            }
        }
    }
    let evaluation = runtime.evaluate_all(&entries, facts);
    let mut report = evaluation.report;
    // The issue waivers the record says were in force apply again; finding waivers are in
    // the facts already (`security.waived`).
    let waived: Vec<(String, String)> = predicate["waived_issues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| {
            Some((
                w["policy"].as_str()?.to_owned(),
                w["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    if !waived.is_empty() {
        preflight_engine::waivers::apply_recorded(&mut report, &waived);
    }
    // An expired waiver that blocked is the host's, not a policy's: carried over as recorded.
    for issue in predicate["blocking_issues"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if issue["policy"] == "preflight"
            && issue["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("waivers."))
        {
            report
                .blocking_issues
                .push(preflight_engine::ReportIssue::new(
                    preflight_engine::IssueId::WaiverExpired,
                    "recorded: an expired waiver blocked",
                ));
            report.decision = preflight_sdk::Decision::NoGo;
        }
    }
    let ids = |issues: &[preflight_engine::ReportIssue]| {
        let mut ids: Vec<String> = issues
            .iter()
            .map(|issue| format!("{}/{}", issue.policy, issue.id))
            .collect();
        ids.sort();
        ids
    };
    let mut recorded: Vec<String> = predicate["blocking_issues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|issue| {
            format!(
                "{}/{}",
                issue["policy"].as_str().unwrap_or_default(),
                issue["id"].as_str().unwrap_or_default()
            )
        })
        .collect();
    recorded.sort();
    let now = ids(&report.blocking_issues);
    let decision = report.decision.to_string();
    let recorded_decision = predicate["decision"].as_str().unwrap_or_default();
    if decision != recorded_decision || now != recorded {
        return Err(Failure::NotVerified(format!(
            "the replay decides {decision} with blocking issues {now:?}; the record says {} with {recorded:?}",
            esc(recorded_decision)
        )));
    }
    Ok(format!(
        "replayed: {decision} with the same blocking issues ({} policies, same digests)",
        entries.len()
    ))
}
