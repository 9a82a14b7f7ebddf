//! # gost-x-chain
//!
//! How handlers reach their targets: [`DefaultRouter`] (retries, per-dial timeout, direct dialing
//! or a route through a chain), [`Chain`] (hops in order), [`NodeHop`] (nodes plus a selector) and
//! the selection strategies and filters in [`selector`].

mod chain;
pub mod group;
mod hop;
mod named_packets;
pub mod parallel;
pub mod probe;
mod router;
pub mod selector;

pub use chain::Chain;
pub use hop::NodeHop;
pub use router::{DEFAULT_DIAL_TIMEOUT, DefaultRouter, RouterOptions};
