//! Argument parsing and dispatch. Exit codes: 0 success, 1 runtime failure, 2 bad usage or
//! bad configuration.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use blueprint_platform::config::{ConfigError, LoadedConfig, ServerConfig, redact};
use blueprint_platform::{Platform, System, app, http, telemetry};
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};

/// Options shared by `up` and `<system> serve`; each overrides the config file.
#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to bind (default 127.0.0.1).
    #[arg(long)]
    host: Option<IpAddr>,
    /// Port to bind (default 8080).
    #[arg(long)]
    port: Option<u16>,
    /// Directory for local state (default ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn command(systems: &[Arc<dyn System>]) -> Command {
    let mut command = Command::new("blueprint")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Every system of System Design Interview, built for real")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("config")
                .long("config")
                .global(true)
                .env(blueprint_platform::config::CONFIG_PATH_ENV)
                .value_parser(clap::value_parser!(PathBuf))
                .help("Path to blueprint.toml"),
        )
        .subcommand(
            ServeArgs::augment_args(Command::new("up"))
                .about("Run every system in one process, with the console"),
        )
        .subcommand(
            Command::new("config")
                .about("Inspect the configuration")
                .subcommand_required(true)
                .subcommand(
                    Command::new("show").about("Print the effective config, secrets redacted"),
                ),
        )
        .subcommand(Command::new("version").about("Print the version"));
    for system in systems {
        let info = system.info();
        // `about` after `augment_args`, which would otherwise put ServeArgs' doc there.
        let serve = system
            .serve_args(ServeArgs::augment_args(Command::new("serve")))
            .about(format!("Run {} alone", info.title));
        command = command.subcommand(
            system.command().about(info.title).subcommand_required(true).subcommand(serve),
        );
    }
    command
}

/// The async runtime, with `server.worker_threads` threads (0: one per core).
fn runtime(server: &ServerConfig) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if server.worker_threads > 0 {
        builder.worker_threads(server.worker_threads);
    }
    builder.build()
}

/// Parse arguments, run, and map the outcome to an exit code.
pub fn main(systems: Vec<Arc<dyn System>>) -> ExitCode {
    let matches = command(&systems).get_matches();
    let config_path = matches.get_one::<PathBuf>("config").cloned();
    let sections: Vec<&str> = systems.iter().map(|system| system.info().name).collect();
    let (name, sub) = match matches.subcommand() {
        Some(pair) => pair,
        None => return ExitCode::from(2),
    };
    if name == "version" {
        println!("blueprint {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let mut loaded = match LoadedConfig::load(config_path.as_deref(), &sections) {
        Ok(loaded) => loaded,
        Err(error) => return config_failure(&error),
    };
    for system in &systems {
        if let Err(error) = system.effective_config(&loaded) {
            return config_failure(&error);
        }
    }
    telemetry::init(&loaded.config.telemetry);
    let runtime = match runtime(&loaded.config.server) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match name {
        "config" => show_config(&loaded, &systems),
        "up" => {
            apply_serve_args(&mut loaded, sub);
            runtime.block_on(serve(loaded, systems.clone()))
        }
        system_name => runtime.block_on(run_system(system_name, sub, loaded, &systems)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_failure(error: &ConfigError) -> ExitCode {
    eprintln!("error: invalid configuration: {error}");
    ExitCode::from(2)
}

fn apply_serve_args(loaded: &mut LoadedConfig, matches: &ArgMatches) {
    let Ok(args) = ServeArgs::from_arg_matches(matches) else { return };
    let server = &mut loaded.config.server;
    if let Some(host) = args.host {
        server.host = host;
    }
    if let Some(port) = args.port {
        server.port = port;
    }
    if let Some(data_dir) = args.data_dir {
        server.data_dir = data_dir;
    }
}

async fn run_system(
    name: &str,
    matches: &ArgMatches,
    mut loaded: LoadedConfig,
    systems: &[Arc<dyn System>],
) -> anyhow::Result<()> {
    let system = systems
        .iter()
        .find(|system| system.info().name == name)
        .with_context(|| format!("unknown system {name}"))?
        .clone();
    match matches.subcommand() {
        Some(("serve", serve_matches)) => {
            apply_serve_args(&mut loaded, serve_matches);
            let loaded = system.apply_serve_args(serve_matches, loaded)?;
            system.effective_config(&loaded)?;
            serve(loaded, vec![system]).await
        }
        Some(_) => {
            system.run_command(matches, &loaded).await.map_err(|error| anyhow::anyhow!(error))
        }
        None => anyhow::bail!("missing subcommand for {name}"),
    }
}

async fn serve(loaded: LoadedConfig, systems: Vec<Arc<dyn System>>) -> anyhow::Result<()> {
    let server = loaded.config.server.clone();
    let platform = Platform::start(loaded).await.context("starting the platform")?;
    let router = app::build_router(&platform, &systems).await.context("mounting the systems")?;
    let address = std::net::SocketAddr::new(server.host, server.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let names: Vec<&str> = systems.iter().map(|system| system.info().name).collect();
    tracing::info!(address = %bound, systems = ?names, "blueprint listening; console at http://{bound}/");
    eprintln!("blueprint listening on http://{bound}/ (systems: {})", names.join(", "));
    http::serve(
        listener,
        router,
        http::shutdown_signal(),
        Duration::from_millis(server.shutdown_grace_ms),
    )
    .await
    .context("serving")?;
    // Requests are done: let the systems finish their own work (queued writes).
    platform.shutdown.run(Duration::from_millis(server.shutdown_grace_ms)).await;
    platform.sql.close().await;
    Ok(())
}

fn show_config(loaded: &LoadedConfig, systems: &[Arc<dyn System>]) -> anyhow::Result<()> {
    let mut table = loaded.platform_toml()?;
    for system in systems {
        let section = system.effective_config(loaded)?;
        table.insert(system.info().name.to_owned(), section);
    }
    redact(&mut table);
    print!("{}", toml::to_string_pretty(&table).context("rendering the config")?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_worker_threads_sets_the_runtime_threads_and_zero_is_one_per_core() {
        for threads in [1, 3] {
            let server = ServerConfig { worker_threads: threads, ..ServerConfig::default() };
            let runtime = runtime(&server).expect("runtime");
            assert_eq!(runtime.metrics().num_workers(), threads);
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let runtime = runtime(&ServerConfig::default()).expect("runtime");
        assert_eq!(runtime.metrics().num_workers(), cores);
    }
}
