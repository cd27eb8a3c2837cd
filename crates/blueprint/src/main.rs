//! `blueprint`: every system of *System Design Interview*, built for real, in one binary.
//!
//! `blueprint up` runs every registered system in one process; `blueprint <system> serve`
//! runs one alone; `blueprint config show` prints the effective configuration.

fn main() -> std::process::ExitCode {
    blueprint::cli::main(blueprint::registry::systems())
}
