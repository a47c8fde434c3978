//! Checks on a module's bytes before it is compiled: its size, how many functions it defines and
//! how large the largest is, and that it imports nothing but `preflight.log`. Compiling is the
//! most expensive thing a module can make the host do, so it is bounded like an evaluation.

use preflight_sdk::abi;

use super::{Limits, PolicyError};

/// Checks the bytes against the compile limits and the import rule.
///
/// # Errors
/// [`PolicyError::CompileLimit`] over a limit, [`PolicyError::ForbiddenImport`] for an import
/// other than `preflight.log`, [`PolicyError::InvalidModule`] when the bytes do not parse.
pub fn check(source: &str, bytes: &[u8], limits: &Limits) -> Result<(), PolicyError> {
    let over = |message: String| PolicyError::CompileLimit {
        source_name: source.to_owned(),
        message,
    };
    let invalid = |err: wasmparser::BinaryReaderError| PolicyError::InvalidModule {
        source_name: source.to_owned(),
        message: err.to_string(),
    };
    if bytes.len() > limits.module_bytes {
        return Err(over(format!(
            "it is {} bytes; the limit is {} bytes",
            bytes.len(),
            limits.module_bytes
        )));
    }
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(invalid)? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    if import.module != abi::IMPORT_MODULE || import.name != abi::IMPORT_LOG {
                        return Err(PolicyError::ForbiddenImport {
                            source_name: source.to_owned(),
                            module: import.module.to_owned(),
                            name: import.name.to_owned(),
                        });
                    }
                }
            }
            wasmparser::Payload::FunctionSection(reader) if reader.count() > limits.functions => {
                return Err(over(format!(
                    "it defines {} functions; the limit is {}",
                    reader.count(),
                    limits.functions
                )));
            }
            wasmparser::Payload::CodeSectionEntry(body) => {
                let size = body.range().len();
                if size > limits.function_bytes {
                    return Err(over(format!(
                        "a function body is {size} bytes; the limit is {} bytes",
                        limits.function_bytes
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
