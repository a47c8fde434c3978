//! Every issue id the host itself gives, in one enum: the same failure has the same id wherever
//! it happens (`run`, `--facts-stream`, `canary`, `test`, `serve`). Policies add their own ids
//! (`risk.above_go`, `security.secret`, ...); those are theirs to document.

/// An issue id the host gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum IssueId {
    /// A facts file (or stream) cannot be read: missing, not a regular file, over its cap.
    FactsUnreadable,
    /// A fact set is not a JSON object (not JSON, not UTF-8, a repeated key, not an object).
    FactsNotJson,
    /// A fact stream line is over its cap.
    FactsTooLarge,
    /// A `--fact KEY=VALUE` override is malformed.
    FactsBadOverride,
    /// The fact set breaks the facts schema, or its counts disagree with its findings.
    FactsInvalid,
    /// A collector could not read its input.
    FactsCollectorFailed,
    /// A policy needs a custom fact section the fact set does not have.
    FactsMissing,
    /// A fact stream has no fact sets.
    FactsEmptyStream,
    /// A fact stream was interrupted (Ctrl-C, SIGTERM) before its end.
    FactsInterrupted,
    /// `preflight.toml` or `preflight.lock` cannot be used.
    ConfigInvalid,
    /// A setting has a value no setting may have, or a policy refused its settings.
    SettingsInvalid,
    /// A report could not be written where it was asked for.
    ReportUnwritable,
    /// A run was interrupted (Ctrl-C, SIGTERM) before its report.
    RunInterrupted,
    /// The host could not get a resource the run needs (open files, threads, memory).
    HostResources,
    /// No enforced policy ran.
    PolicyNoneEnforced,
    /// A waiver is past its date: it no longer applies.
    WaiverExpired,
    /// A waiver expires within `[waivers] warn_days`.
    WaiverExpiring,
    /// A waiver matched nothing in the run.
    WaiverUnused,
    /// A `--baseline` file is not a preflight report or fact set.
    BaselineInvalid,
    /// A baseline matched none of the run's findings.
    BaselineNoMatch,
    /// A policy module file cannot be read.
    PolicyUnreadable,
    /// No built-in policy has that name.
    PolicyUnknownBuiltin,
    /// The module's sha256 is not the pinned one.
    PolicyDigestMismatch,
    /// The module's version is outside the requirement.
    PolicyVersionMismatch,
    /// A remote module cannot be had.
    PolicyRemoteUnavailable,
    /// The module's signature is missing or does not verify.
    PolicySignatureInvalid,
    /// `--locked` and the module is not in the lock file.
    PolicyNotLocked,
    /// The bytes are not a valid WebAssembly module.
    PolicyInvalidModule,
    /// The module has no metadata section.
    PolicyMissingMetadata,
    /// The module's metadata is invalid.
    PolicyBadMetadata,
    /// The module implements another ABI version.
    PolicyUnsupportedAbi,
    /// The module needs a newer host.
    PolicyHostTooOld,
    /// The module imports something policies may not use.
    PolicyForbiddenImport,
    /// The module imports `preflight.log` with the wrong type.
    PolicyBadImport,
    /// The module is over a compile limit.
    PolicyCompileLimit,
    /// A required export is missing.
    PolicyMissingExport,
    /// A required export has the wrong type.
    PolicyBadExport,
    /// The evaluation ran out of fuel.
    PolicyOutOfFuel,
    /// The evaluation ran past its deadline.
    PolicyDeadline,
    /// The policy grew its memory past the cap.
    PolicyMemoryLimit,
    /// The policy exhausted its stack.
    PolicyStackOverflow,
    /// The policy trapped (a panic, an out-of-bounds access, ...).
    PolicyTrap,
    /// The policy broke the ABI while running.
    PolicyAbiViolation,
    /// The output pointer and length are outside the policy's memory.
    PolicyOutputOutOfBounds,
    /// The output is over its cap.
    PolicyOutputTooLarge,
    /// The output is not UTF-8.
    PolicyOutputNotUtf8,
    /// The output is not JSON.
    PolicyOutputNotJson,
    /// The output breaks the policy-output schema.
    PolicyOutputSchema,
    /// The host could not set up the sandbox.
    PolicyHostError,
    /// A canary analysis could not be set up (flags, config).
    CanarySetup,
    /// A canary analysis was interrupted (Ctrl-C, SIGTERM).
    CanaryInterrupted,
    /// A Prometheus query failed.
    CanaryQueryFailed,
    /// A canary monitor reached its failure limit.
    CanaryFailureLimit,
    /// A policy could not read its input (given by the SDK inside the policy).
    InputInvalid,
    /// A policy could not write its output (given by the SDK inside the policy).
    OutputUnserializable,
}

impl IssueId {
    /// Every id, in the order of `docs/ids.md`.
    pub const ALL: [IssueId; 55] = [
        IssueId::FactsUnreadable,
        IssueId::FactsNotJson,
        IssueId::FactsTooLarge,
        IssueId::FactsBadOverride,
        IssueId::FactsInvalid,
        IssueId::FactsCollectorFailed,
        IssueId::FactsMissing,
        IssueId::FactsEmptyStream,
        IssueId::FactsInterrupted,
        IssueId::ConfigInvalid,
        IssueId::SettingsInvalid,
        IssueId::ReportUnwritable,
        IssueId::RunInterrupted,
        IssueId::HostResources,
        IssueId::PolicyNoneEnforced,
        IssueId::WaiverExpired,
        IssueId::WaiverExpiring,
        IssueId::WaiverUnused,
        IssueId::BaselineInvalid,
        IssueId::BaselineNoMatch,
        IssueId::PolicyUnreadable,
        IssueId::PolicyUnknownBuiltin,
        IssueId::PolicyDigestMismatch,
        IssueId::PolicyVersionMismatch,
        IssueId::PolicyRemoteUnavailable,
        IssueId::PolicySignatureInvalid,
        IssueId::PolicyNotLocked,
        IssueId::PolicyInvalidModule,
        IssueId::PolicyMissingMetadata,
        IssueId::PolicyBadMetadata,
        IssueId::PolicyUnsupportedAbi,
        IssueId::PolicyHostTooOld,
        IssueId::PolicyForbiddenImport,
        IssueId::PolicyBadImport,
        IssueId::PolicyCompileLimit,
        IssueId::PolicyMissingExport,
        IssueId::PolicyBadExport,
        IssueId::PolicyOutOfFuel,
        IssueId::PolicyDeadline,
        IssueId::PolicyMemoryLimit,
        IssueId::PolicyStackOverflow,
        IssueId::PolicyTrap,
        IssueId::PolicyAbiViolation,
        IssueId::PolicyOutputOutOfBounds,
        IssueId::PolicyOutputTooLarge,
        IssueId::PolicyOutputNotUtf8,
        IssueId::PolicyOutputNotJson,
        IssueId::PolicyOutputSchema,
        IssueId::PolicyHostError,
        IssueId::CanarySetup,
        IssueId::CanaryInterrupted,
        IssueId::CanaryQueryFailed,
        IssueId::CanaryFailureLimit,
        IssueId::InputInvalid,
        IssueId::OutputUnserializable,
    ];

    /// The id as it appears in reports: `facts.invalid`, `policy.deadline`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            IssueId::FactsUnreadable => "facts.unreadable",
            IssueId::FactsNotJson => "facts.not_json",
            IssueId::FactsTooLarge => "facts.too_large",
            IssueId::FactsBadOverride => "facts.bad_override",
            IssueId::FactsInvalid => "facts.invalid",
            IssueId::FactsCollectorFailed => "facts.collector_failed",
            IssueId::FactsMissing => "facts.missing",
            IssueId::FactsEmptyStream => "facts.empty_stream",
            IssueId::FactsInterrupted => "facts.interrupted",
            IssueId::ConfigInvalid => "config.invalid",
            IssueId::SettingsInvalid => "settings.invalid",
            IssueId::ReportUnwritable => "report.unwritable",
            IssueId::RunInterrupted => "run.interrupted",
            IssueId::HostResources => "host.resources",
            IssueId::PolicyNoneEnforced => "policy.none_enforced",
            IssueId::WaiverExpired => "waivers.expired",
            IssueId::WaiverExpiring => "waivers.expiring",
            IssueId::WaiverUnused => "waivers.unused",
            IssueId::BaselineInvalid => "baseline.invalid",
            IssueId::BaselineNoMatch => "baseline.no_match",
            IssueId::PolicyUnreadable => "policy.unreadable",
            IssueId::PolicyUnknownBuiltin => "policy.unknown_builtin",
            IssueId::PolicyDigestMismatch => "policy.digest_mismatch",
            IssueId::PolicyVersionMismatch => "policy.version_mismatch",
            IssueId::PolicyRemoteUnavailable => "policy.remote_unavailable",
            IssueId::PolicySignatureInvalid => "policy.signature_invalid",
            IssueId::PolicyNotLocked => "policy.not_locked",
            IssueId::PolicyInvalidModule => "policy.invalid_module",
            IssueId::PolicyMissingMetadata => "policy.missing_metadata",
            IssueId::PolicyBadMetadata => "policy.bad_metadata",
            IssueId::PolicyUnsupportedAbi => "policy.unsupported_abi",
            IssueId::PolicyHostTooOld => "policy.host_too_old",
            IssueId::PolicyForbiddenImport => "policy.forbidden_import",
            IssueId::PolicyBadImport => "policy.bad_import",
            IssueId::PolicyCompileLimit => "policy.compile_limit",
            IssueId::PolicyMissingExport => "policy.missing_export",
            IssueId::PolicyBadExport => "policy.bad_export",
            IssueId::PolicyOutOfFuel => "policy.out_of_fuel",
            IssueId::PolicyDeadline => "policy.deadline",
            IssueId::PolicyMemoryLimit => "policy.memory_limit",
            IssueId::PolicyStackOverflow => "policy.stack_overflow",
            IssueId::PolicyTrap => "policy.trap",
            IssueId::PolicyAbiViolation => "policy.abi_violation",
            IssueId::PolicyOutputOutOfBounds => "policy.output_out_of_bounds",
            IssueId::PolicyOutputTooLarge => "policy.output_too_large",
            IssueId::PolicyOutputNotUtf8 => "policy.output_not_utf8",
            IssueId::PolicyOutputNotJson => "policy.output_not_json",
            IssueId::PolicyOutputSchema => "policy.output_schema",
            IssueId::PolicyHostError => "policy.host_error",
            IssueId::CanarySetup => "canary.setup",
            IssueId::CanaryInterrupted => "canary.interrupted",
            IssueId::CanaryQueryFailed => "canary.query_failed",
            IssueId::CanaryFailureLimit => "canary.failure_limit",
            IssueId::InputInvalid => "input.invalid",
            IssueId::OutputUnserializable => "output.unserializable",
        }
    }

    /// What the id means, one sentence (`docs/ids.md` lists the same).
    pub const fn meaning(self) -> &'static str {
        match self {
            IssueId::FactsUnreadable => {
                "A facts file (or stream) cannot be read: missing, not a regular file, over its cap."
            }
            IssueId::FactsNotJson => {
                "A fact set is not a JSON object (not JSON, not UTF-8, a repeated key, not an object)."
            }
            IssueId::FactsTooLarge => "A fact stream line is over its cap.",
            IssueId::FactsBadOverride => "A `--fact KEY=VALUE` override is malformed.",
            IssueId::FactsInvalid => {
                "The fact set breaks the facts schema, or its counts disagree with its findings."
            }
            IssueId::FactsCollectorFailed => "A collector could not read its input.",
            IssueId::FactsMissing => {
                "A policy needs a custom fact section the fact set does not have."
            }
            IssueId::FactsEmptyStream => "A fact stream has no fact sets.",
            IssueId::FactsInterrupted => {
                "A fact stream was interrupted (Ctrl-C, SIGTERM) before its end."
            }
            IssueId::ConfigInvalid => "`preflight.toml` or `preflight.lock` cannot be used.",
            IssueId::SettingsInvalid => {
                "A setting has a value no setting may have, or a policy refused its settings."
            }
            IssueId::ReportUnwritable => "A report could not be written where it was asked for.",
            IssueId::RunInterrupted => "A run was interrupted (Ctrl-C, SIGTERM) before its report.",
            IssueId::HostResources => {
                "The host could not get a resource the run needs (open files, threads, memory)."
            }
            IssueId::PolicyNoneEnforced => "No enforced policy ran.",
            IssueId::WaiverExpired => "A waiver is past its date and no longer applies.",
            IssueId::WaiverExpiring => "A waiver expires soon.",
            IssueId::WaiverUnused => "A waiver matched nothing in the run.",
            IssueId::BaselineInvalid => "A baseline file is not a preflight report or fact set.",
            IssueId::BaselineNoMatch => "A baseline matched none of the run's findings.",
            IssueId::PolicyUnreadable => "A policy module file cannot be read.",
            IssueId::PolicyUnknownBuiltin => "No built-in policy has that name.",
            IssueId::PolicyDigestMismatch => "The module's sha256 is not the pinned one.",
            IssueId::PolicyVersionMismatch => "The module's version is outside the requirement.",
            IssueId::PolicyRemoteUnavailable => "A remote module cannot be had.",
            IssueId::PolicySignatureInvalid => {
                "The module's signature is missing or does not verify."
            }
            IssueId::PolicyNotLocked => "`--locked` and the module is not in the lock file.",
            IssueId::PolicyInvalidModule => "The bytes are not a valid WebAssembly module.",
            IssueId::PolicyMissingMetadata => "The module has no metadata section.",
            IssueId::PolicyBadMetadata => "The module's metadata is invalid.",
            IssueId::PolicyUnsupportedAbi => "The module implements another ABI version.",
            IssueId::PolicyHostTooOld => "The module needs a newer host.",
            IssueId::PolicyForbiddenImport => "The module imports something policies may not use.",
            IssueId::PolicyBadImport => "The module imports `preflight.log` with the wrong type.",
            IssueId::PolicyCompileLimit => "The module is over a compile limit.",
            IssueId::PolicyMissingExport => "A required export is missing.",
            IssueId::PolicyBadExport => "A required export has the wrong type.",
            IssueId::PolicyOutOfFuel => "The evaluation ran out of fuel.",
            IssueId::PolicyDeadline => "The evaluation ran past its deadline.",
            IssueId::PolicyMemoryLimit => "The policy grew its memory past the cap.",
            IssueId::PolicyStackOverflow => "The policy exhausted its stack.",
            IssueId::PolicyTrap => "The policy trapped (a panic, an out-of-bounds access, ...).",
            IssueId::PolicyAbiViolation => "The policy broke the ABI while running.",
            IssueId::PolicyOutputOutOfBounds => {
                "The output pointer and length are outside the policy's memory."
            }
            IssueId::PolicyOutputTooLarge => "The output is over its cap.",
            IssueId::PolicyOutputNotUtf8 => "The output is not UTF-8.",
            IssueId::PolicyOutputNotJson => "The output is not JSON.",
            IssueId::PolicyOutputSchema => "The output breaks the policy-output schema.",
            IssueId::PolicyHostError => "The host could not set up the sandbox.",
            IssueId::CanarySetup => "A canary analysis could not be set up (flags, config).",
            IssueId::CanaryInterrupted => "A canary analysis was interrupted (Ctrl-C, SIGTERM).",
            IssueId::CanaryQueryFailed => "A Prometheus query failed.",
            IssueId::CanaryFailureLimit => "A canary monitor reached its failure limit.",
            IssueId::InputInvalid => {
                "A policy could not read its input (given by the SDK inside the policy)."
            }
            IssueId::OutputUnserializable => {
                "A policy could not write its output (given by the SDK inside the policy)."
            }
        }
    }

    /// Whether the id means an error rather than a decision: a report with it exits 2. Every
    /// host id is an error except the canary monitor's stopping reasons and the waivers';
    /// `settings.invalid`,
    /// `input.invalid` and `output.unserializable` are errors also when a policy gives them.
    pub const fn is_error(self) -> bool {
        !matches!(
            self,
            IssueId::CanaryInterrupted
                | IssueId::CanaryFailureLimit
                | IssueId::PolicyNoneEnforced
                | IssueId::WaiverExpired
                | IssueId::WaiverExpiring
                | IssueId::WaiverUnused
                | IssueId::BaselineNoMatch
        )
    }

    /// The id with this text, if the host gives it.
    pub fn parse(text: &str) -> Option<IssueId> {
        IssueId::ALL.into_iter().find(|id| id.as_str() == text)
    }
}

impl std::fmt::Display for IssueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for id in IssueId::ALL {
            assert!(seen.insert(id.as_str()), "{id} twice");
            assert_eq!(IssueId::parse(id.as_str()), Some(id));
        }
    }
}
