//! The sandbox: one wasmtime [`Engine`] per process, one [`InstancePre`] per policy module, a fresh
//! [`Store`] with fuel, a wall-clock deadline and a memory cap for every evaluation.

pub mod abi;
#[cfg(feature = "cache")]
pub mod cache;
mod error;
mod limits;
pub mod metadata;
mod os;
pub mod output;
mod precheck;

// The engine settings, shared with `build.rs`, which compiles the built-in policies with them.
mod config;
pub use config::POOL_SLOTS;
use config::{YIELD_FUEL, base_config, pooled_config};
mod deadline;
use deadline::Deadline;

use std::sync::Arc;

use preflight_sdk::PolicyMetadata;
use preflight_sdk::abi::{self as contract, Level};
use sha2::{Digest, Sha256};
use wasmtime::{Engine, ExternType, InstancePre, Linker, Module, Store, Trap, ValType};

pub use abi::LogLine;
pub use error::PolicyError;
pub use limits::{LOG_LINE_OVERHEAD, Limits, MemoryLimitExceeded};
/// The module parser the engine reads modules with, for callers that list a module's imports
/// and exports.
pub use wasmparser;

use limits::Limiter;

/// The built-in a load is for, whose build-time machine code it may use; a load of bytes that
/// are a built-in's finds it by itself. Never one without the `builtins` feature.
#[cfg(feature = "builtins")]
type Shipped<'a> = Option<&'a crate::builtin::Builtin>;
#[cfg(not(feature = "builtins"))]
type Shipped<'a> = Option<&'a std::convert::Infallible>;

/// The most bytes a built-in's deflated machine code may inflate to (the largest is under 3 MB).
#[cfg(feature = "builtins")]
const MAX_BUILTIN_MACHINE_CODE: usize = 64 << 20;

/// Per-evaluation state the host functions see.
#[derive(Debug)]
pub struct GuestState {
    limiter: Limiter,
    logs: Vec<LogLine>,
    log_bytes: usize,
    log_cap: usize,
    logs_dropped: usize,
}

impl GuestState {
    fn new(limits: &Limits) -> Self {
        GuestState {
            limiter: Limiter::new(limits.memory_bytes),
            logs: Vec::new(),
            log_bytes: 0,
            log_cap: limits.log_bytes,
            logs_dropped: 0,
        }
    }

    fn push_log(&mut self, level: Level, message: String) {
        let cost = message.len().saturating_add(LOG_LINE_OVERHEAD);
        if self.log_bytes.saturating_add(cost) > self.log_cap {
            self.logs_dropped += 1;
            return;
        }
        self.log_bytes += cost;
        self.logs.push(LogLine {
            level: level.as_str(),
            message,
        });
    }
}

/// The engine and linker shared by every policy of a process.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<GuestState>>,
    limits: Limits,
    /// Whether `engine` is the pooled one (its machine code differs).
    pooled: bool,
    /// Whether built-ins use the machine code compiled into the binary at build time.
    use_precompiled: bool,
    #[cfg(feature = "cache")]
    cache: Option<cache::Cache>,
    /// Modules compiled or loaded in this process, by sha256: the same bytes under several
    /// names are compiled once.
    modules: Arc<std::sync::Mutex<std::collections::HashMap<String, Module>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A loaded policy: checked metadata, imports and exports, ready to instantiate.
#[derive(Clone)]
pub struct Policy {
    /// The metadata from the module's `preflight.policy` section.
    pub metadata: PolicyMetadata,
    /// Lowercase hex sha256 of the module bytes.
    pub sha256: String,
    /// Where the module came from (`builtin:NAME` or a path).
    pub source: String,
    /// Module size in bytes.
    pub size: usize,
    /// Where its machine code came from.
    pub origin: CodeOrigin,
    pre: InstancePre<GuestState>,
    settings: Option<Arc<jsonschema::Validator>>,
    custom: Arc<Vec<CustomCheck>>,
}

/// Where a loaded policy's machine code came from: a first run on a fresh machine should compile
/// nothing it ships with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeOrigin {
    /// Compiled into the binary at build time (a built-in policy).
    Precompiled,
    /// The compiled-module cache.
    Cache,
    /// Compiled by this load.
    Compiled,
    /// Already loaded by this runtime for another policy with the same bytes.
    Shared,
}

/// A custom fact section a policy declares, with its schema compiled.
struct CustomCheck {
    namespace: String,
    required: bool,
    schema: jsonschema::Validator,
}

/// Why a fact set does not give a policy the custom sections it declares.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomFactsError {
    /// A required section is absent.
    Missing(String),
    /// A section breaks the schema the policy declares.
    Invalid(String),
}

impl Policy {
    /// Checks the fact set's custom sections against what the policy declares: every required
    /// namespace present, every present one matching its schema.
    ///
    /// # Errors
    /// The first problem, naming the policy, the namespace and the JSON pointer.
    pub fn check_custom(&self, facts: &serde_json::Value) -> Result<(), CustomFactsError> {
        for check in self.custom.iter() {
            let Some(section) = facts.pointer(&format!("/custom/{}", check.namespace)) else {
                if check.required {
                    return Err(CustomFactsError::Missing(format!(
                        "policy `{}` needs the custom fact section `{}`, which the fact set does not have: give it with [custom.{}] in preflight.toml, --fact custom.{}.KEY=VALUE or --facts",
                        self.metadata.name, check.namespace, check.namespace, check.namespace
                    )));
                }
                continue;
            };
            if !check.schema.is_valid(section) {
                let violations: Vec<String> = check
                    .schema
                    .iter_errors(section)
                    .map(|error| {
                        format!(
                            "at `/custom/{}{}`: {error}",
                            check.namespace,
                            error.instance_path()
                        )
                    })
                    .collect();
                return Err(CustomFactsError::Invalid(format!(
                    "the custom fact section `{}` does not match the schema policy `{}` declares: {}",
                    check.namespace,
                    self.metadata.name,
                    violations.join("; ")
                )));
            }
        }
        Ok(())
    }

    /// Checks settings against the policy's settings schema, when it ships one.
    ///
    /// # Errors
    /// A message naming the policy and every violation with its JSON pointer.
    pub fn check_settings(&self, settings: &serde_json::Value) -> Result<(), String> {
        let Some(validator) = &self.settings else {
            return Ok(());
        };
        if validator.is_valid(settings) {
            return Ok(());
        }
        let violations: Vec<String> = validator
            .iter_errors(settings)
            .map(|error| {
                let pointer = error.instance_path().to_string();
                format!(
                    "at `{}`: {error}",
                    if pointer.is_empty() { "/" } else { &pointer }
                )
            })
            .collect();
        Err(format!(
            "the settings of policy `{}` do not match its settings schema: {}",
            self.metadata.name,
            violations.join("; ")
        ))
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("metadata", &self.metadata)
            .field("sha256", &self.sha256)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// One successful evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// What the policy returned, schema-checked.
    pub output: preflight_sdk::PolicyOutput,
    /// The guest's log lines.
    pub logs: Vec<LogLine>,
    /// Log lines dropped because the log cap was reached.
    pub logs_dropped: usize,
    /// Fuel used.
    pub fuel_used: u64,
}

/// An evaluation that failed, with the logs the policy wrote before it failed.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: Box<PolicyError>,
    /// The guest's log lines up to the failure.
    pub logs: Vec<LogLine>,
    /// Log lines dropped at the log cap before the failure.
    pub logs_dropped: usize,
    /// Fuel the evaluation used before it failed.
    pub fuel_used: u64,
}

/// What the SDK's panic hook logs before the policy aborts: the host turns a trap after it into
/// [`PolicyError::Panic`] with this message.
pub const PANIC_PREFIX: &str = "panicked at ";

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Runtime {
    /// A runtime with the given limits that maps fresh memory for every evaluation: the
    /// cheapest start, for a process that evaluates a few policies once.
    ///
    /// # Errors
    /// When wasmtime cannot be configured on this machine.
    pub fn new(limits: Limits) -> Result<Runtime, PolicyError> {
        Runtime::with_engine(limits, Engine::new(&base_config()))
    }

    /// A runtime that reuses sandbox memory through a pool of wiped slots: it costs
    /// about 0.2 ms more to set up and tear down, and saves about 10 µs on every evaluation,
    /// so it is the one for many evaluations (`--facts-stream`, `preflight test`, servers).
    /// Falls back to [`Runtime::new`]'s allocator where the pool's address space cannot be
    /// reserved (a low `ulimit -v`).
    ///
    /// # Errors
    /// When wasmtime cannot be configured on this machine.
    pub fn pooled(limits: Limits) -> Result<Runtime, PolicyError> {
        match Engine::new(&pooled_config()) {
            Ok(engine) => Runtime::with_engine(limits, Ok(engine)).map(|mut runtime| {
                runtime.pooled = true;
                runtime
            }),
            Err(_) => Runtime::new(limits),
        }
    }

    fn with_engine(
        limits: Limits,
        engine: wasmtime::Result<Engine>,
    ) -> Result<Runtime, PolicyError> {
        let host_error = |err: wasmtime::Error| PolicyError::Host {
            policy: "(engine)".to_owned(),
            message: err.to_string(),
        };
        let engine = engine.map_err(host_error)?;
        let mut linker = Linker::new(&engine);
        abi::link(&mut linker).map_err(host_error)?;
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            limits,
            pooled: false,
            use_precompiled: true,
            #[cfg(feature = "cache")]
            cache: None,
            modules: Arc::default(),
        })
    }

    /// Uses a compiled-module cache (`None` compiles every time).
    #[cfg(feature = "cache")]
    #[must_use]
    pub fn with_cache(mut self, cache: Option<cache::Cache>) -> Runtime {
        self.cache = cache;
        self
    }

    /// Whether built-in policies use the machine code compiled into the binary at build time
    /// (the default). `false` compiles them from their wasm like any other module (or loads
    /// them from the cache): for measuring that cost, or to rule the build's code out.
    #[must_use]
    pub fn with_precompiled(mut self, use_precompiled: bool) -> Runtime {
        self.use_precompiled = use_precompiled;
        self
    }

    /// The limits every evaluation runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Loads a module: reads its metadata, compiles it, checks its imports and exports.
    ///
    /// # Errors
    /// The [`PolicyError`] load variants, naming `source`.
    pub fn load(&self, source: &str, bytes: &[u8]) -> Result<Policy, PolicyError> {
        self.load_hashed(source, bytes, sha256_hex(bytes))
    }

    /// Loads a built-in policy (its sha256 is known at build time).
    ///
    /// # Errors
    /// The [`PolicyError`] load variants.
    #[cfg(feature = "builtins")]
    pub fn load_builtin(&self, builtin: &crate::builtin::Builtin) -> Result<Policy, PolicyError> {
        let source = format!("builtin:{}", builtin.name);
        let metadata = metadata::read(&source, builtin.wasm)?;
        self.load_with(
            &source,
            builtin.wasm,
            builtin.sha256.to_owned(),
            metadata,
            Some(builtin),
        )
    }

    /// [`Runtime::load`] for bytes whose sha256 the caller has already computed.
    ///
    /// # Errors
    /// The [`PolicyError`] load variants, naming `source`.
    pub fn load_hashed(
        &self,
        source: &str,
        bytes: &[u8],
        sha256: String,
    ) -> Result<Policy, PolicyError> {
        let metadata = metadata::read(source, bytes)?;
        self.load_with(source, bytes, sha256, metadata, None)
    }

    /// Loads a module whose pins [`crate::pin::verify`] has checked: its sha256 and metadata
    /// are taken from the check rather than computed again.
    ///
    /// # Errors
    /// The [`PolicyError`] load variants, naming `source`.
    pub fn load_verified(
        &self,
        source: &str,
        bytes: &[u8],
        verified: crate::pin::Verified,
    ) -> Result<Policy, PolicyError> {
        self.load_with(source, bytes, verified.sha256, verified.metadata, None)
    }

    fn load_with(
        &self,
        source: &str,
        bytes: &[u8],
        sha256: String,
        metadata: PolicyMetadata,
        builtin: Shipped<'_>,
    ) -> Result<Policy, PolicyError> {
        let known = self
            .modules
            .lock()
            .ok()
            .and_then(|modules| modules.get(&sha256).cloned());
        let (module, origin) = match known {
            Some(module) => (module, CodeOrigin::Shared),
            None => {
                // Everything that can be checked on the bytes is, before anything is compiled
                // or loaded from the cache.
                precheck::check(source, bytes, &self.limits)?;
                // A built-in's bytes, however they were named (`builtin:NAME`, or pinned in a
                // lock), come with their machine code.
                #[cfg(feature = "builtins")]
                let precompiled = builtin
                    .or_else(|| {
                        crate::builtin::BUILTINS
                            .iter()
                            .find(|builtin| builtin.sha256 == sha256 && builtin.wasm == bytes)
                    })
                    .filter(|_| self.use_precompiled)
                    .map(|builtin| self.machine_code(builtin));
                #[cfg(not(feature = "builtins"))]
                let precompiled: Option<std::borrow::Cow<'static, [u8]>> =
                    builtin.map(|never| match *never {});
                let (module, origin) = if let Some(module) = precompiled
                    .as_deref()
                    .and_then(|compiled| self.precompiled(compiled))
                {
                    (module, CodeOrigin::Precompiled)
                } else if let Some(module) = self.cached(&sha256) {
                    (module, CodeOrigin::Cache)
                } else {
                    (
                        compile_within(&self.engine, source, bytes, &self.limits)?,
                        CodeOrigin::Compiled,
                    )
                };
                check_imports(source, &module)?;
                check_exports(source, &module)?;
                // Only a module that passed every check is cached.
                if origin == CodeOrigin::Compiled {
                    self.store(&sha256, &module);
                }
                if let Ok(mut modules) = self.modules.lock() {
                    modules.insert(sha256.clone(), module.clone());
                }
                (module, origin)
            }
        };
        let pre =
            self.linker
                .instantiate_pre(&module)
                .map_err(|err| PolicyError::InvalidModule {
                    source_name: source.to_owned(),
                    message: format!("{err:#}"),
                })?;
        let settings = match &metadata.settings_schema {
            Some(schema) => Some(Arc::new(jsonschema::validator_for(schema).map_err(
                |err| PolicyError::BadMetadata {
                    source_name: source.to_owned(),
                    message: format!("`settings_schema` is not a valid JSON Schema: {err}"),
                },
            )?)),
            None => None,
        };
        let mut custom = Vec::with_capacity(metadata.custom.len());
        for (namespace, declared) in &metadata.custom {
            let bad = |message: String| PolicyError::BadMetadata {
                source_name: source.to_owned(),
                message,
            };
            if !preflight_sdk::facts::is_custom_namespace(namespace) {
                return Err(bad(format!(
                    "custom namespace `{namespace}` must be lowercase letters, digits and `-`, starting with a letter"
                )));
            }
            let schema = jsonschema::validator_for(&declared.schema).map_err(|err| {
                bad(format!(
                    "the schema of custom section `{namespace}` is not a valid JSON Schema: {err}"
                ))
            })?;
            custom.push(CustomCheck {
                namespace: namespace.clone(),
                required: declared.required,
                schema,
            });
        }
        Ok(Policy {
            metadata,
            sha256,
            source: source.to_owned(),
            size: bytes.len(),
            origin,
            pre,
            settings,
            custom: Arc::new(custom),
        })
    }

    /// A built-in's build-time machine code for this runtime's engine; empty (compile instead)
    /// when the pooled engine's deflated code does not inflate.
    #[cfg(feature = "builtins")]
    fn machine_code(&self, builtin: &crate::builtin::Builtin) -> std::borrow::Cow<'static, [u8]> {
        if !self.pooled {
            return builtin.compiled.into();
        }
        miniz_oxide::inflate::decompress_to_vec_with_limit(
            builtin.compiled_pooled,
            MAX_BUILTIN_MACHINE_CODE,
        )
        .unwrap_or_default()
        .into()
    }

    /// The module from machine code compiled into the binary at build time, when wasmtime finds
    /// it compatible with this engine and CPU; `None` (compile instead) otherwise.
    fn precompiled(&self, compiled: &[u8]) -> Option<Module> {
        if compiled.is_empty() || !self.use_precompiled {
            return None;
        }
        // Mapped from a sealed in-memory file where the system allows it (`os`), copied
        // otherwise.
        if let Some(file) = os::sealed_file(compiled) {
            // SAFETY: as below; and the file holds exactly `compiled`, sealed so that neither
            // its bytes nor its size can change while the module maps it.
            if let Ok(module) = unsafe { Module::deserialize_open_file(&self.engine, file) } {
                return Some(module);
            }
        }
        // SAFETY: `compiled` is only ever what `build.rs` wrote with wasmtime's
        // `precompile_module`, embedded in this binary (as trusted as the binary's own code).
        // wasmtime checks its version, settings and CPU features against this engine and refuses
        // it when they differ.
        unsafe { Module::deserialize(&self.engine, compiled) }.ok()
    }

    #[cfg(feature = "cache")]
    fn cached(&self, sha256: &str) -> Option<Module> {
        self.cache
            .as_ref()
            .and_then(|cache| cache.load(&self.engine, sha256))
    }

    #[cfg(not(feature = "cache"))]
    fn cached(&self, _sha256: &str) -> Option<Module> {
        None
    }

    #[cfg(feature = "cache")]
    fn store(&self, sha256: &str, module: &Module) {
        if let Some(cache) = &self.cache {
            cache.store(&self.engine, sha256, module);
        }
    }

    #[cfg(not(feature = "cache"))]
    fn store(&self, _sha256: &str, _module: &Module) {}

    /// Evaluates a policy on input bytes (`{"facts": ..., "settings": ...}`) in a fresh store.
    ///
    /// # Errors
    /// The [`PolicyError`] run-time variants, with the logs written before the failure.
    pub fn evaluate(&self, policy: &Policy, input: &[u8]) -> Result<Evaluation, Failure> {
        let mut store = Store::new(&self.engine, GuestState::new(&self.limits));
        store.limiter(|state| &mut state.limiter);
        let result = self.call(policy, &mut store, input);
        let fuel_used = self
            .limits
            .fuel
            .saturating_sub(store.get_fuel().unwrap_or(self.limits.fuel));
        let state = store.data_mut();
        let logs = std::mem::take(&mut state.logs);
        let logs_dropped = state.logs_dropped;
        let result = result.map_err(|error| match error {
            // A Rust panic: the SDK's hook logged its message just before the abort.
            PolicyError::Trap {
                policy,
                message,
                backtrace,
            } => match logs
                .iter()
                .rev()
                .find(|line| line.level == "error" && line.message.starts_with(PANIC_PREFIX))
            {
                Some(line) => PolicyError::Panic {
                    policy,
                    message: line.message.replace('\n', " "),
                    backtrace,
                },
                None => PolicyError::Trap {
                    policy,
                    message,
                    backtrace,
                },
            },
            other => other,
        });
        match result {
            Ok((output, fuel_used)) => Ok(Evaluation {
                output,
                logs,
                logs_dropped,
                fuel_used,
            }),
            Err(error) => Err(Failure {
                error: Box::new(error),
                logs,
                logs_dropped,
                fuel_used,
            }),
        }
    }

    fn call(
        &self,
        policy: &Policy,
        store: &mut Store<GuestState>,
        input: &[u8],
    ) -> Result<(preflight_sdk::PolicyOutput, u64), PolicyError> {
        let name = policy.metadata.name.as_str();
        let host = |message: String| PolicyError::Host {
            policy: name.to_owned(),
            message,
        };
        store
            .set_fuel(self.limits.fuel)
            .map_err(|err| host(err.to_string()))?;
        store
            .fuel_async_yield_interval(Some(YIELD_FUEL))
            .map_err(|err| host(err.to_string()))?;
        let deadline = Deadline::after(self.limits.timeout);
        let overrun = |_| PolicyError::Deadline {
            policy: name.to_owned(),
            deadline: self.limits.timeout,
        };

        let trap = |err: wasmtime::Error| self.classify(name, err);
        let instance = deadline
            .run(policy.pre.instantiate_async(&mut *store))
            .map_err(overrun)?
            .map_err(|err| self.classify_instantiation(name, err))?;
        let memory = instance
            .get_memory(&mut *store, contract::EXPORT_MEMORY)
            .ok_or_else(|| host("the module has no memory after instantiation".to_owned()))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut *store, contract::EXPORT_ALLOC)
            .map_err(|err| host(err.to_string()))?;
        let evaluate = instance
            .get_typed_func::<(i32, i32), i64>(&mut *store, contract::EXPORT_EVALUATE)
            .map_err(|err| host(err.to_string()))?;

        let len = i32::try_from(input.len())
            .map_err(|_| host(format!("the input is {} bytes, over 2 GiB", input.len())))?;
        let ptr = deadline
            .run(alloc.call_async(&mut *store, len))
            .map_err(overrun)?
            .map_err(trap)?;
        let start = u32::try_from(ptr).map_err(|_| PolicyError::AbiViolation {
            policy: name.to_owned(),
            message: format!("`preflight_alloc({len})` returned the negative pointer {ptr}"),
        })? as usize;
        memory
            .write(&mut *store, start, input)
            .map_err(|_| PolicyError::AbiViolation {
                policy: name.to_owned(),
                message: format!(
                    "`preflight_alloc({len})` returned {start}, and {start}..{} is outside the {}-byte memory",
                    start + input.len(),
                    memory.data_size(&*store)
                ),
            })?;
        let packed = deadline
            .run(evaluate.call_async(&mut *store, (ptr, len)))
            .map_err(overrun)?
            .map_err(trap)?;
        let fuel_used = self
            .limits
            .fuel
            .saturating_sub(store.get_fuel().unwrap_or(0));

        let (out_ptr, out_len) = contract::unpack(packed);
        if out_len as usize > self.limits.output_bytes {
            return Err(PolicyError::OutputTooLarge {
                policy: name.to_owned(),
                len: out_len,
                cap: self.limits.output_bytes,
            });
        }
        let data = memory.data(&*store);
        let start = out_ptr as usize;
        let Some(bytes) = data.get(start..start + out_len as usize) else {
            return Err(PolicyError::OutputOutOfBounds {
                policy: name.to_owned(),
                ptr: out_ptr,
                len: out_len,
                memory_size: data.len(),
            });
        };
        let text = std::str::from_utf8(bytes).map_err(|err| PolicyError::OutputNotUtf8 {
            policy: name.to_owned(),
            offset: err.valid_up_to(),
        })?;
        let output = output::read(text).map_err(|err| match err {
            output::OutputError::Json(err) => PolicyError::OutputNotJson {
                policy: name.to_owned(),
                message: crate::json::error_message(&err),
                line: err.line(),
                column: err.column(),
            },
            output::OutputError::Schema(violations) => PolicyError::OutputSchema {
                policy: name.to_owned(),
                violations,
            },
        })?;
        Ok((output, fuel_used))
    }

    /// Turns a wasmtime error into the variant that names the cause.
    fn classify(&self, policy: &str, err: wasmtime::Error) -> PolicyError {
        let policy = policy.to_owned();
        if let Some(limit) = err.downcast_ref::<MemoryLimitExceeded>() {
            return PolicyError::MemoryLimit {
                policy,
                requested: limit.requested,
                cap: limit.cap,
            };
        }
        if let Some(violation) = err.downcast_ref::<abi::AbiViolation>() {
            return PolicyError::AbiViolation {
                policy,
                message: violation.0.clone(),
            };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => PolicyError::OutOfFuel {
                policy,
                fuel: self.limits.fuel,
            },
            Some(Trap::StackOverflow) => PolicyError::StackOverflow { policy },
            Some(trap) => PolicyError::Trap {
                policy,
                message: trap.to_string(),
                backtrace: backtrace(&err),
            },
            None => PolicyError::Trap {
                policy,
                message: format!("{err:#}"),
                backtrace: backtrace(&err),
            },
        }
    }

    /// An instantiation that failed: a trap in the module's start function, or its memory over
    /// the cap, is the policy's doing, as in [`Runtime::classify`]; anything else is the host's
    /// own resources failing (reserving the memory, writing its image, a pool with no free
    /// slot), named with the limit to raise where one is set.
    fn classify_instantiation(&self, policy: &str, err: wasmtime::Error) -> PolicyError {
        if err.downcast_ref::<Trap>().is_some()
            || err.downcast_ref::<MemoryLimitExceeded>().is_some()
            || err.downcast_ref::<abi::AbiViolation>().is_some()
        {
            return self.classify(policy, err);
        }
        let too_large = err
            .chain()
            .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
            .any(|io| io.kind() == std::io::ErrorKind::FileTooLarge);
        let fix = if too_large {
            " (the file size limit, `ulimit -f`, is below the module's memory image: raise it)"
                .to_owned()
        } else if let Some(limit) = os::address_space_limit() {
            format!(
                " (the address space limit, `ulimit -v`, is {} KiB; a sandbox reserves about \
                 4 GiB of address space for its memory: raise or remove the limit)",
                limit / 1024
            )
        } else {
            String::new()
        };
        PolicyError::Host {
            policy: policy.to_owned(),
            message: format!("the sandbox could not be set up: {err:#}{fix}"),
        }
    }
}

/// Frames of a trap's wasm backtrace shown in its message.
const BACKTRACE_FRAMES: usize = 12;

/// A trap's wasm backtrace on one line, innermost first, with function names from the module's
/// name section (Rust names demangled, hashes dropped): `policy::evaluate ← core::panicking::panic`.
fn backtrace(err: &wasmtime::Error) -> String {
    let Some(trace) = err.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return String::new();
    };
    let frames: Vec<String> = trace
        .frames()
        .iter()
        .take(BACKTRACE_FRAMES)
        .map(|frame| match frame.func_name() {
            Some(name) => format!("{:#}", rustc_demangle::demangle(name)),
            None => format!("function #{}", frame.func_index()),
        })
        .collect();
    let more = trace.frames().len().saturating_sub(BACKTRACE_FRAMES);
    let mut text = frames.join(" ← ");
    if more > 0 {
        text.push_str(&format!(" ← ... {more} more"));
    }
    text
}

/// Compiles a module on a thread of its own and waits at most the compile budget. A compile
/// that runs over is abandoned (its thread finishes in the background and is dropped) and the
/// policy fails closed with [`PolicyError::CompileLimit`].
fn compile_within(
    engine: &Engine,
    source: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Module, PolicyError> {
    let invalid = |err: wasmtime::Error| PolicyError::InvalidModule {
        source_name: source.to_owned(),
        message: format!("{err:#}"),
    };
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let (thread_engine, thread_bytes) = (engine.clone(), bytes.to_vec());
    let spawned = std::thread::Builder::new()
        .name("preflight-compile".to_owned())
        .spawn(move || {
            let _ = sender.send(Module::new(&thread_engine, &thread_bytes));
        });
    if spawned.is_err() {
        // No thread to spare: compile here; the size and function caps still bound it.
        return Module::new(engine, bytes).map_err(invalid);
    }
    match receiver.recv_timeout(limits.compile_timeout) {
        Ok(compiled) => compiled.map_err(invalid),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(PolicyError::CompileLimit {
            source_name: source.to_owned(),
            message: format!(
                "compiling it took longer than the {} ms budget",
                limits.compile_timeout.as_millis()
            ),
        }),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(PolicyError::Host {
            policy: source.to_owned(),
            message: "the compiler thread stopped without a result".to_owned(),
        }),
    }
}

fn check_imports(source: &str, module: &Module) -> Result<(), PolicyError> {
    for import in module.imports() {
        if import.module() != contract::IMPORT_MODULE || import.name() != contract::IMPORT_LOG {
            return Err(PolicyError::ForbiddenImport {
                source_name: source.to_owned(),
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            });
        }
        let typed = matches!(import.ty(), ExternType::Func(ty)
            if ty.params().map(|p| matches!(p, ValType::I32)).eq([true, true, true])
                && ty.results().len() == 0);
        if !typed {
            return Err(PolicyError::BadImport {
                source_name: source.to_owned(),
                module: import.module().to_owned(),
                name: import.name().to_owned(),
                expected: "func (i32, i32, i32)",
                found: describe(&import.ty()),
            });
        }
    }
    Ok(())
}

fn check_exports(source: &str, module: &Module) -> Result<(), PolicyError> {
    let find = |name: &'static str| {
        module
            .get_export(name)
            .ok_or_else(|| PolicyError::MissingExport {
                source_name: source.to_owned(),
                name,
            })
    };
    let bad = |name: &'static str, expected: &'static str, found: String| PolicyError::BadExport {
        source_name: source.to_owned(),
        name,
        expected,
        found,
    };
    match find(contract::EXPORT_MEMORY)? {
        ExternType::Memory(ty) if !ty.is_64() && !ty.is_shared() => {}
        other => {
            return Err(bad(
                contract::EXPORT_MEMORY,
                "a 32-bit, unshared memory",
                describe(&other),
            ));
        }
    }
    let functions: [(&'static str, &[ValType], &[ValType], &'static str); 2] = [
        (
            contract::EXPORT_ALLOC,
            &[ValType::I32],
            &[ValType::I32],
            "func (i32) -> i32",
        ),
        (
            contract::EXPORT_EVALUATE,
            &[ValType::I32, ValType::I32],
            &[ValType::I64],
            "func (i32, i32) -> i64",
        ),
    ];
    for (name, params, results, expected) in functions {
        let export = find(name)?;
        let ok = match &export {
            ExternType::Func(ty) => {
                ty.params()
                    .map(|p| p.to_string())
                    .eq(params.iter().map(ToString::to_string))
                    && ty
                        .results()
                        .map(|r| r.to_string())
                        .eq(results.iter().map(ToString::to_string))
            }
            _ => false,
        };
        if !ok {
            return Err(bad(name, expected, describe(&export)));
        }
    }
    Ok(())
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(ty) => {
            let params: Vec<String> = ty.params().map(|p| p.to_string()).collect();
            let results: Vec<String> = ty.results().map(|r| r.to_string()).collect();
            format!("func ({}) -> ({})", params.join(", "), results.join(", "))
        }
        ExternType::Memory(ty) => format!(
            "a {}{} memory",
            if ty.is_64() { "64-bit" } else { "32-bit" },
            if ty.is_shared() { ", shared" } else { "" }
        ),
        ExternType::Global(_) => "a global".to_owned(),
        ExternType::Table(_) => "a table".to_owned(),
        ExternType::Tag(_) => "a tag".to_owned(),
    }
}

#[cfg(all(test, feature = "builtins"))]
mod tests {
    use super::*;
    use crate::builtin::BUILTINS;

    /// The build-time machine code of every built-in is what both engines the runtime makes
    /// load: a fresh process compiles nothing it ships with.
    #[test]
    fn builtins_load_precompiled_in_both_engines() {
        for runtime in [
            Runtime::new(Limits::default()).unwrap(),
            Runtime::pooled(Limits::default()).unwrap(),
        ] {
            for builtin in BUILTINS {
                assert!(
                    !builtin.compiled.is_empty(),
                    "{} not precompiled",
                    builtin.name
                );
                let policy = runtime.load_builtin(builtin).unwrap();
                assert_eq!(policy.origin, CodeOrigin::Precompiled, "{}", builtin.name);
                // Loaded again in the same runtime: the module is shared, not loaded twice.
                let again = runtime.load_builtin(builtin).unwrap();
                assert_eq!(again.origin, CodeOrigin::Shared);
            }
        }
    }

    /// On Linux the build-time machine code is mapped from a sealed in-memory file, not copied
    /// (`os`): the loaded module holds that file open.
    #[cfg(target_os = "linux")]
    #[test]
    fn builtin_machine_code_is_mapped_from_a_sealed_file() {
        let runtime = Runtime::new(Limits::default()).unwrap();
        let gate = crate::builtin::find(crate::builtin::GATE).unwrap();
        let policy = runtime.load_builtin(gate).unwrap();
        assert_eq!(policy.origin, CodeOrigin::Precompiled);
        let mapped = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter_map(|entry| std::fs::read_link(entry.path()).ok())
            .any(|target| {
                target
                    .to_string_lossy()
                    .starts_with("/memfd:preflight-machine-code")
            });
        assert!(mapped, "no sealed file holds the gate's machine code");
        let output = runtime
            .evaluate(&policy, br#"{"facts":{},"settings":{}}"#)
            .unwrap()
            .output;
        assert_eq!(output.decision, preflight_sdk::Decision::NoGo);
    }

    /// The pooled engine's deflated machine code inflates to an artifact the engine accepts;
    /// bytes that do not inflate (garbage, a truncated stream) give no machine code, which the
    /// load treats as none: the built-in is compiled from its wasm, as in the next test.
    #[test]
    fn pooled_machine_code_that_does_not_inflate_is_compiled_instead() {
        let runtime = Runtime::pooled(Limits::default()).unwrap();
        let gate = crate::builtin::find(crate::builtin::GATE).unwrap();
        let code = runtime.machine_code(gate);
        assert!(code.len() > gate.compiled_pooled.len());
        assert!(runtime.precompiled(&code).is_some());
        let half = &gate.compiled_pooled[..gate.compiled_pooled.len() / 2];
        for broken in [&b"not deflate"[..], half, &[]] {
            let builtin = crate::builtin::Builtin {
                compiled_pooled: broken,
                ..*gate
            };
            assert!(runtime.machine_code(&builtin).is_empty());
        }
        // The on-demand engine's code is used as stored.
        let on_demand = Runtime::new(Limits::default()).unwrap();
        assert_eq!(&*on_demand.machine_code(gate), gate.compiled);
    }

    /// Regression (#18): the release binaries are musl builds on glibc runners, and `build.rs`
    /// embedded no machine code in any build whose target was not the host, so every first run
    /// of a release compiled the gate (762 ms). The same architecture and system get machine
    /// code for the target's baseline CPU; another architecture or system gets none.
    #[test]
    fn musl_builds_on_glibc_get_baseline_machine_code() {
        use config::{Precompile, precompile_plan};
        let (gnu, musl) = ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl");
        assert_eq!(
            precompile_plan(musl, gnu, false),
            Precompile::Baseline(musl.to_owned())
        );
        assert_eq!(
            precompile_plan(
                "aarch64-unknown-linux-musl",
                "aarch64-unknown-linux-gnu",
                false
            ),
            Precompile::Baseline("aarch64-unknown-linux-musl".to_owned())
        );
        assert_eq!(precompile_plan(gnu, gnu, false), Precompile::Host);
        assert_eq!(
            precompile_plan(gnu, gnu, true),
            Precompile::Baseline(gnu.to_owned())
        );
        assert_eq!(
            precompile_plan("aarch64-apple-darwin", "aarch64-apple-darwin", true),
            Precompile::Baseline("aarch64-apple-darwin".to_owned())
        );
        for (target, host) in [
            ("aarch64-unknown-linux-musl", gnu),
            ("x86_64-apple-darwin", gnu),
            ("wasm32-unknown-unknown", gnu),
        ] {
            assert!(
                matches!(precompile_plan(target, host, false), Precompile::Skip(_)),
                "{target} on {host}"
            );
        }
    }

    /// Machine code compiled as `build.rs` compiles it for a release, for the baseline CPU of
    /// this architecture and system under another C library's triple, is what both engines of a
    /// binary load as it is, without compiling.
    #[cfg(target_os = "linux")]
    #[test]
    fn baseline_machine_code_for_another_c_library_loads_without_compiling() {
        let gate = crate::builtin::find(crate::builtin::GATE).unwrap();
        let other_env = if cfg!(target_env = "musl") {
            "gnu"
        } else {
            "musl"
        };
        let other = format!("{}-unknown-linux-{other_env}", std::env::consts::ARCH);
        let compile = |mut config: wasmtime::Config| -> &'static [u8] {
            config.target(&other).unwrap();
            let code = Engine::new(&config)
                .unwrap()
                .precompile_module(gate.wasm)
                .unwrap();
            Box::leak(code.into_boxed_slice())
        };
        let on_demand = compile(base_config());
        let pooled = compile(pooled_config());
        let deflated: &'static [u8] =
            Box::leak(miniz_oxide::deflate::compress_to_vec(pooled, 6).into_boxed_slice());
        let builtin = crate::builtin::Builtin {
            compiled: on_demand,
            compiled_pooled: deflated,
            ..*gate
        };
        let input = br#"{"facts":{"scores":{"readiness":7,"mvp":7},"security":{"gate":"PASS"},"complexity":"medium"},"settings":{}}"#;
        for runtime in [
            Runtime::new(Limits::default()).unwrap(),
            Runtime::pooled(Limits::default()).unwrap(),
        ] {
            let policy = runtime.load_builtin(&builtin).unwrap();
            assert_eq!(policy.origin, CodeOrigin::Precompiled, "{other}");
            let output = runtime.evaluate(&policy, input).unwrap().output;
            assert_eq!(output.decision, preflight_sdk::Decision::Go);
        }
    }

    /// A runtime told not to use the build's machine code compiles the built-ins from their
    /// wasm, and they evaluate the same.
    #[test]
    fn a_runtime_without_precompiled_code_compiles_the_builtins() {
        let gate = crate::builtin::find(crate::builtin::GATE).unwrap();
        let input = br#"{"facts":{"scores":{"readiness":7,"mvp":7},"security":{"gate":"PASS"},"complexity":"medium"},"settings":{}}"#;
        let precompiled = Runtime::new(Limits::default()).unwrap();
        let compiled = Runtime::new(Limits::default())
            .unwrap()
            .with_precompiled(false);
        let (a, b) = (
            precompiled.load_builtin(gate).unwrap(),
            compiled.load_builtin(gate).unwrap(),
        );
        assert_eq!(a.origin, CodeOrigin::Precompiled);
        assert_eq!(b.origin, CodeOrigin::Compiled);
        assert_eq!(
            precompiled.evaluate(&a, input).unwrap().output,
            compiled.evaluate(&b, input).unwrap().output
        );
    }

    /// Machine code that does not match the running engine (compiled with other settings, or
    /// damaged) is refused by wasmtime, and the built-in is compiled from its wasm instead; the
    /// result evaluates like the precompiled one.
    #[test]
    fn mismatched_machine_code_falls_back_to_compiling() {
        let gate = crate::builtin::find(crate::builtin::GATE).unwrap();
        // Another engine's artifact: fuel metering off changes the code and the settings hash.
        let mut other = base_config();
        other.consume_fuel(false);
        let foreign = Engine::new(&other)
            .unwrap()
            .precompile_module(gate.wasm)
            .unwrap();
        let mut damaged = gate.compiled.to_vec();
        damaged.truncate(damaged.len() / 2);
        let garbage = vec![0x7f; 4096];
        let input = br#"{"facts":{"scores":{"readiness":7,"mvp":7},"security":{"gate":"PASS"},"complexity":"medium"},"settings":{}}"#;
        let runtime = Runtime::new(Limits::default()).unwrap();
        let reference = runtime.load_builtin(gate).unwrap();
        let expected = runtime.evaluate(&reference, input).unwrap();
        for compiled in [foreign, damaged, garbage] {
            let leaked: &'static [u8] = Box::leak(compiled.into_boxed_slice());
            let builtin = crate::builtin::Builtin {
                compiled: leaked,
                compiled_pooled: leaked,
                ..*gate
            };
            // A runtime of its own, so the module is not shared from the first load.
            let runtime = Runtime::new(Limits::default()).unwrap();
            let policy = runtime.load_builtin(&builtin).unwrap();
            assert_eq!(policy.origin, CodeOrigin::Compiled);
            let evaluation = runtime.evaluate(&policy, input).unwrap();
            assert_eq!(evaluation.output, expected.output);
        }
        // The on-demand engine's machine code (guard pages) in the pooled engine (bounds checked
        // in code): refused, compiled.
        let crossed = crate::builtin::Builtin {
            compiled_pooled: gate.compiled,
            ..*gate
        };
        let pooled = Runtime::pooled(Limits::default()).unwrap();
        let policy = pooled.load_builtin(&crossed).unwrap();
        assert_eq!(policy.origin, CodeOrigin::Compiled);
        let evaluation = pooled.evaluate(&policy, input).unwrap();
        assert_eq!(evaluation.output, expected.output);
    }
}
