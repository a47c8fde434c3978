use std::io::IsTerminal as _;

use clap::Parser as _;
use preflight::ExitCode;
use preflight::cli::{Cli, Command};
use preflight::commands;

/// musl's allocator serializes every allocation behind one lock, so the static release binaries
/// (musl) ran a two-core `--facts-stream` slower than one core, and one core at a third of the
/// glibc build's rate (docs/performance.md); mimalloc there, as ripgrep does with jemalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stack a command needs: a sandbox's 512 KiB of guest stack and the host's own frames.
/// The main thread's stack is what `ulimit -s` allows (8 MiB by default); below this the
/// command runs on a thread whose stack is reserved here and touched only as it is used. Under
/// `ulimit -s 64` the main thread once overflowed before the run began: an abort, no report.
const STACK: usize = 8 << 20;

fn main() -> ExitCode {
    ignore_file_size_signal();
    if !main_stack_below(STACK / 2) {
        return command();
    }
    match std::thread::Builder::new()
        .name("preflight".to_owned())
        .stack_size(STACK)
        .spawn(command)
    {
        // A panic has printed its message; it fails the run, closed.
        Ok(thread) => thread.join().unwrap_or(ExitCode::Error),
        // No thread to be had (`ulimit -u`, `ulimit -v`): the main thread's stack will do.
        Err(_) => command(),
    }
}

/// Whether the main thread's stack may not grow to `bytes` (`ulimit -s`).
#[cfg(unix)]
fn main_stack_below(bytes: usize) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes the limit into the struct it is given, nothing else.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &raw mut limit) } == 0;
    read && limit.rlim_cur != libc::RLIM_INFINITY
        && usize::try_from(limit.rlim_cur).is_ok_and(|cur| cur < bytes)
}

#[cfg(not(unix))]
fn main_stack_below(_bytes: usize) -> bool {
    false
}

fn command() -> ExitCode {
    let cli = Cli::parse();
    // Wrap messages to the terminal; in CI logs (stderr not a terminal) keep each line whole, so
    // digests and paths can be searched for. `COLUMNS` overrides both.
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse::<usize>().ok())
        .or_else(|| (!std::io::stderr().is_terminal()).then_some(1000));
    let _ = miette::set_hook(Box::new(move |_| {
        let options = miette::MietteHandlerOpts::new().terminal_links(false);
        Box::new(match width {
            Some(width) => options.width(width).build(),
            None => options.build(),
        })
    }));
    // The one async runtime, owned here: fetching modules, Prometheus, signals.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            let message = format!(
                "cannot start the async runtime: {err}; raise the limit it names (open files: `ulimit -n`)"
            );
            return match &cli.command {
                Command::Run(args) => commands::run::cannot_start(args, message),
                Command::Canary(args) => commands::canary::cannot_start(args, message),
                _ => {
                    preflight::diagnostic::error(&message);
                    ExitCode::Error
                }
            };
        }
    };
    match &cli.command {
        Command::Run(args) => commands::run::run(&rt, args),
        Command::Facts(args) => commands::facts::facts(args),
        Command::Init(args) => commands::init::init(args),
        Command::Canary(args) => commands::canary::canary(&rt, args),
        Command::Test(args) => commands::test::test(&rt, args),
        Command::Eval(args) => commands::eval::eval(&rt, args),
        Command::Serve(args) => commands::serve::serve(args),
        Command::Keygen(args) => commands::decision::keygen(args),
        Command::VerifyDecision(args) => commands::decision::verify(&rt, args),
        Command::Policy(args) => commands::policy::policy(&rt, args),
        Command::Cache(args) => commands::cache::cache(args),
        Command::Schema(args) => commands::schema::schema(args),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man => commands::completions::man(),
    }
}

/// A write past the file size limit (`ulimit -f`) raises SIGXFSZ, which ends the process by
/// default: no report, no message, the exit status of a signal. Ignored, the write fails with
/// `EFBIG` instead, and is reported like any write that fails (`report.unwritable`, a module
/// that cannot be instantiated), with a `NO_GO` report and exit 2.
#[cfg(unix)]
fn ignore_file_size_signal() {
    // SAFETY: `signal` with `SIG_IGN` installs no handler code; it runs before any thread is
    // started, and SIGXFSZ is not one of the signals wasmtime or tokio handle.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

#[cfg(not(unix))]
fn ignore_file_size_signal() {}
