//! `blueprint`: every system of *System Design Interview*, built for real, in one binary.
//!
//! `blueprint up` runs every registered system in one process; `blueprint <system> serve`
//! runs one alone; `blueprint config show` prints the effective configuration.

/// mimalloc rather than glibc's malloc: allocation and free were 13% of the server's CPU
/// on a plain GET through the platform's layers (perf, `bench/shortener.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    blueprint::cli::main(blueprint::registry::systems())
}
