//! The `blueprint` binary's library half: argument parsing and the system registry, so
//! integration tests can start exactly what the binary starts.

pub mod cli;
pub mod registry;
pub mod systems;
