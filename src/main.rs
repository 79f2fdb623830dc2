//! The `corral` command: runs the ZooKeeper-compatible server.
//!
//! `corral` alone serves with the built-in defaults (127.0.0.1:2181, `./data`);
//! `corral serve --config FILE --set KEY=VALUE ...` loads a zoo.cfg or
//! corral TOML file and applies overrides. Subcommands are an enum so tools
//! (`bench`, `log dump`, `snapshot info`, `verify`) can be added beside
//! `serve`.

use clap::{Args, Parser, Subcommand};

/// See Cargo.toml: allocation is a large share of the server's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use corral::config::Config;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// A ZooKeeper-compatible coordination service.
#[derive(Debug, Parser)]
#[command(
    name = "corral",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options for serving when no subcommand is given (`corral --config F`).
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Inspect the txn log of a data dir.
    #[command(subcommand)]
    Log(LogCommand),
    /// Inspect the snapshot store of a data dir.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Generate load against a ZooKeeper-protocol server (corral or Apache
    /// ZooKeeper) and report throughput and latency.
    Bench(Box<corral::bench::BenchArgs>),
    /// Check a data dir offline: the snapshot store and txn log read and
    /// replay cleanly.
    Verify {
        /// The data dir (or dataLogDir) to check.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Print the store's zxid, counts and size.
    Info {
        /// The data dir whose snapshot store to summarise.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Print every txn, one per line.
    Dump {
        /// The data dir (or dataLogDir) whose log to print.
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Config file: `*.toml` is corral's format, anything else a ZooKeeper
    /// zoo.cfg. Without one, corral serves on 127.0.0.1:2181 with ./data.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one setting after the file, e.g. `--set clientPort=2182`
    /// (zoo.cfg key names; repeatable, later wins).
    #[arg(short, long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Log(LogCommand::Dump { dir })) => {
            corral::tools::log_dump(&dir, &mut std::io::stdout().lock())
        }
        Some(Command::Snapshot(SnapshotCommand::Info { dir })) => {
            corral::tools::snapshot_info(&dir).map(|r| println!("{r}"))
        }
        Some(Command::Bench(args)) => corral::bench::run(*args),
        Some(Command::Verify { dir }) => corral::tools::verify(&dir).map(|r| println!("{r}")),
        None => serve(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("corral: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr (colored only on a terminal), filtered by `RUST_LOG`
/// (default `info`).
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // 4 KiB pages for the tree: see nix in Cargo.toml. Best effort: the
    // server works the same either way, only its RSS differs.
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("corral: could not disable transparent huge pages: {e}");
    }
    let config = Config::load(args.config.as_deref(), &args.set)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(corral::shell::serve(config))
}
