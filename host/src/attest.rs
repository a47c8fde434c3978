//! Signed decision records: an in-toto Statement v1 about the released artifacts whose
//! predicate is the decision and everything it rests on, in a DSSE envelope signed with
//! Ed25519. `docs/audit.md` documents the predicate.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto Statement type this writes and reads.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a preflight decision (documented in `docs/audit.md`).
pub const PREDICATE_TYPE: &str =
    "https://github.com/preflight-gate/preflight/blob/main/docs/audit.md#decision-v1";

/// A DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Base64 of the statement.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// The key's id: hex sha256 of its DER SubjectPublicKeyInfo.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the Ed25519 signature over the PAE.
    pub sig: String,
}

/// DSSE's pre-authentication encoding: what is signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The id of a public key: hex sha256 of its DER SubjectPublicKeyInfo.
pub fn key_id(key: &VerifyingKey) -> String {
    match key.to_public_key_der() {
        Ok(der) => hex::encode(Sha256::digest(der.as_bytes())),
        Err(_) => String::new(),
    }
}

/// Reads an Ed25519 private key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
///
/// # Errors
/// A message naming the file and what to do when it cannot be read or is another kind of key.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, String> {
    let text = read_pem(path)?;
    SigningKey::from_pkcs8_pem(&text).map_err(|err| {
        format!(
            "`{}` is not an Ed25519 private key in PKCS#8 PEM ({err}); write one with `preflight keygen` or `openssl genpkey -algorithm ed25519`",
            path.display()
        )
    })
}

/// Reads an Ed25519 public key in SPKI PEM (`openssl pkey -pubout`).
///
/// # Errors
/// A message naming the file when it cannot be read or is another kind of key.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, String> {
    let text = read_pem(path)?;
    VerifyingKey::from_public_key_pem(&text).map_err(|err| {
        format!(
            "`{}` is not an Ed25519 public key in PEM ({err}); `preflight keygen` writes one as NAME.pub.pem, `openssl pkey -in KEY.pem -pubout` derives one",
            path.display()
        )
    })
}

fn read_pem(path: &Path) -> Result<String, String> {
    preflight_engine::files::read_to_string(path, preflight_engine::files::InputKind::Signature)
        .map_err(|err| format!("key `{}`: {err}", path.display()))
}

/// `preflight keygen`: writes `PREFIX.pem` (private, mode 0600) and `PREFIX.pub.pem`.
///
/// # Errors
/// When either file exists, randomness is unavailable or a write fails.
pub fn keygen(prefix: &Path) -> Result<(PathBuf, PathBuf), String> {
    let private = PathBuf::from(format!("{}.pem", prefix.display()));
    let public = PathBuf::from(format!("{}.pub.pem", prefix.display()));
    for path in [&private, &public] {
        if path.exists() {
            return Err(format!(
                "`{}` exists; choose another name (`preflight keygen NAME`) or remove it",
                path.display()
            ));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|err| format!("no randomness: {err}"))?;
    let key = SigningKey::from_bytes(&seed);
    let private_pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|err| err.to_string())?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|err| err.to_string())?;
    write_private(&private, private_pem.as_bytes())?;
    preflight_engine::files::write_atomic(&public, public_pem.as_bytes())
        .map_err(|err| format!("cannot write `{}`: {err}", public.display()))?;
    Ok((private, public))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|err| format!("cannot create `{}`: {err}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|err| format!("cannot write `{}`: {err}", path.display()))
}

/// Signs a statement into an envelope.
pub fn sign(statement: &Value, key: &SigningKey) -> Envelope {
    let payload = serde_json::to_vec(statement).unwrap_or_default();
    let signature = key.sign(&pae(PAYLOAD_TYPE, &payload));
    Envelope {
        payload: BASE64.encode(&payload),
        payload_type: PAYLOAD_TYPE.to_owned(),
        signatures: vec![EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: BASE64.encode(signature.to_bytes()),
        }],
    }
}

/// Why an envelope did not verify.
#[derive(Debug)]
pub enum Rejected {
    /// Not an envelope, or not one this reads: an error (exit 2).
    Malformed(String),
    /// A well-formed envelope that this key did not sign: not verified (exit 1).
    Signature(String),
}

/// Checks an envelope's signature with `key` and returns its statement. A signature counts
/// when its `keyid` is empty or names this key, and it verifies strictly.
///
/// # Errors
/// [`Rejected`]: malformed, or not signed by this key.
pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<Value, Rejected> {
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|err| Rejected::Malformed(format!("not a DSSE envelope: {err}")))?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(Rejected::Signature(format!(
            "payload type is `{}`, not `{PAYLOAD_TYPE}`",
            preflight_report::escape::control(&envelope.payload_type)
        )));
    }
    let payload = BASE64
        .decode(envelope.payload.as_bytes())
        .map_err(|err| Rejected::Malformed(format!("the payload is not base64: {err}")))?;
    if envelope.signatures.is_empty() {
        return Err(Rejected::Signature(
            "the envelope has no signature".to_owned(),
        ));
    }
    let ours = key_id(key);
    let message = pae(&envelope.payload_type, &payload);
    let mut reasons = Vec::new();
    let mut verified = false;
    for signature in &envelope.signatures {
        if !signature.keyid.is_empty() && signature.keyid != ours {
            reasons.push(format!(
                "a signature names key {}, not this key ({ours})",
                preflight_report::escape::control(&signature.keyid)
            ));
            continue;
        }
        let Ok(raw) = BASE64.decode(signature.sig.as_bytes()) else {
            reasons.push("a signature is not base64".to_owned());
            continue;
        };
        let Ok(raw) = <[u8; 64]>::try_from(raw.as_slice()) else {
            reasons.push("a signature is not 64 bytes".to_owned());
            continue;
        };
        match key.verify_strict(&message, &Signature::from_bytes(&raw)) {
            Ok(()) => verified = true,
            Err(_) => reasons.push("a signature does not verify with this key".to_owned()),
        }
    }
    if !verified {
        return Err(Rejected::Signature(reasons.join("; ")));
    }
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|err| Rejected::Malformed(format!("the signed payload is not JSON: {err}")))?;
    Ok(statement)
}

/// A subject given on the command line: a file (hashed) or `NAME@sha256:HEX`.
///
/// # Errors
/// When the file cannot be read or the digest is not 64 hex digits.
pub fn subject(text: &str) -> Result<Value, String> {
    if let Some((name, digest)) = text.rsplit_once("@sha256:") {
        let valid = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
        if name.is_empty() || !valid {
            return Err(format!(
                "--subject `{text}`: give a file, or NAME@sha256:HEX with 64 hex digits"
            ));
        }
        return Ok(json!({"name": name, "digest": {"sha256": digest.to_ascii_lowercase()}}));
    }
    let path = Path::new(text);
    let bytes = std::fs::read(path)
        .map_err(|err| format!("--subject `{text}`: {err}; give a file, or NAME@sha256:HEX"))?;
    Ok(json!({"name": text, "digest": {"sha256": hex::encode(Sha256::digest(&bytes))}}))
}

/// What a decision record binds besides the report.
#[derive(Debug, Clone)]
pub struct Context {
    /// The artifacts released; empty: the fact set itself.
    pub subjects: Vec<Value>,
    /// Each policy's settings, in the report's order.
    pub settings: Vec<Value>,
    /// sha256 of `preflight.lock`, when there is one.
    pub lock_sha256: Option<String>,
    /// sha256 of the waivers in force, when there are any.
    pub waivers_sha256: Option<String>,
    /// The sandbox limits.
    pub limits: Value,
    /// The exit code the run gives.
    pub exit_code: u8,
}

/// The in-toto statement of a run: subjects, and the decision predicate.
pub fn statement(report: &preflight_engine::Report, context: &Context) -> Value {
    let subjects = if context.subjects.is_empty() {
        vec![json!({
            "name": "facts",
            "digest": {"sha256": report.facts_sha256.clone().unwrap_or_default()},
        })]
    } else {
        context.subjects.clone()
    };
    let issues = |issues: &[preflight_engine::ReportIssue]| {
        issues
            .iter()
            .map(|issue| json!({"policy": issue.policy, "id": issue.id}))
            .collect::<Vec<_>>()
    };
    let policies: Vec<Value> = report
        .policies
        .iter()
        .enumerate()
        .map(|(index, policy)| {
            json!({
                "name": policy.name,
                "version": policy.version,
                "sha256": policy.sha256,
                "source": policy.source,
                "enforced": policy.enforced,
                "decision": policy.decision,
                "settings": context.settings.get(index).cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "decision": report.decision,
            "exit_code": context.exit_code,
            "dry_run": report.dry_run,
            "risk_score": report.risk_score,
            "blocking_issues": issues(&report.blocking_issues),
            "warnings": issues(&report.warnings),
            "facts_sha256": report.facts_sha256,
            "lock_sha256": context.lock_sha256,
            "waivers_sha256": context.waivers_sha256,
            "waived_issues": report
                .waivers
                .as_ref()
                .map(|summary| {
                    summary
                        .applied
                        .iter()
                        .flat_map(|waiver| {
                            waiver.matched.iter().filter_map(move |matched| {
                                let (policy, id) = matched.split_once('/')?;
                                Some(json!({"policy": policy, "id": id, "waiver": waiver.id}))
                            })
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
            "policies": policies,
            "host": {"name": "preflight", "version": report.preflight_version},
            "limits": context.limits,
            "time": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        },
    })
}
