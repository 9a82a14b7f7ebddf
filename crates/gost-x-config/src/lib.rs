//! # gost-x-config
//!
//! The configuration side of gost: the [`model`] of a configuration (the shape of gost's YAML/JSON
//! file), the command-line rules that turn `-L`/`-F` URLs into that model ([`cli`]), and
//! [`build`], which creates the chains and services from a model and the registries.

pub mod build;
pub mod cli;
pub mod load;
pub mod model;
mod names;
pub mod policy;
mod routing;
pub mod runtime;
mod url;

pub use build::{Env, build, build_all};
pub use cli::{Parsed, parse_cli};
pub use model::Config;
