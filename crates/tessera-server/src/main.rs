//! `tessera`: serve, keys, operator commands, config check.

use std::process::ExitCode;

use clap::Parser;
use tessera_server::cli::{self, Cli, Command, ConfigAction};
use tessera_server::config::RawConfig;

/// mimalloc instead of the system allocator: a request allocates dozens of small, short-lived
/// buffers on several threads, where glibc malloc showed up as ~15 % of the samples.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let settings = match cli::settings(&cli, listen) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            return ExitCode::from(2);
        }
    };
    tessera_server::telemetry::init(settings.log_format);
    let unknown = RawConfig::unknown_env_keys();
    if !unknown.is_empty() {
        tracing::warn!(
            ?unknown,
            "ignoring TESSERA_* variables that are not settings"
        );
    }
    if rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("rustls crypto provider already installed");
    }
    let result = match &cli.command {
        Command::Serve { .. } => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(tessera_server::serve::serve(settings)),
            Err(e) => Err(e.into()),
        },
        Command::Keys { action } => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(cli::keys(&settings, action)),
            Err(e) => Err(e.into()),
        },
        Command::Config {
            action: ConfigAction::Check,
        } => cli::config_check(&cli, &settings),
        other => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(tessera_server::admin_cli::run(settings, other)),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("tessera: {e:#}");
            ExitCode::FAILURE
        }
    }
}
