//! # gost-core
//!
//! The traits and std-only types of gost, the proxy and tunnel toolkit: what a listener, handler,
//! dialer, connector, hop, chain, router and service are, and the cross-cutting components
//! (authers, admission, bypass, resolvers, host mappers, limiters, recorders, observers, stats).
//!
//! This crate has no dependencies and no runtime. Implementations live in the `gost-x-*` crates,
//! which use tokio and register factories into a [`Registries`] value.
//!
//! ## Contracts in brief
//!
//! * Connections ([`Conn`]) are owned: whoever holds the `BoxConn` closes it by dropping it.
//!   [`Write::poll_shutdown`] is a half-close; wrappers forward it.
//! * The data path is poll-based ([`Read`], [`Write`], [`PacketConn`]); the control path
//!   (accept, dial, handshake, connect, handle) is `async` through `impl Future` trait methods.
//!   Each trait has a `Box*` type that erases it for registries, boxing one future per call.
//! * Errors are one [`Error`] type with an [`ErrorKind`]; [`ErrorKind::is_retryable`] tells the
//!   router which failures are worth another node.
//!
//! ## A custom handler against gost-core alone
//!
//! ```
//! use gost_core::{BoxConn, BoxHandler, Handler, Result, Session, io};
//!
//! /// Greets the client and closes.
//! struct Hello;
//!
//! impl Handler for Hello {
//!     async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
//!         let msg = format!("hello from {}\n", session.service);
//!         io::write_all(&mut conn, msg.as_bytes()).await?;
//!         io::shutdown(&mut conn).await?;
//!         Ok(())
//!     }
//! }
//!
//! // A connection that records what is written to it (a real one comes from a listener).
//! #[derive(Default)]
//! struct Recorded(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
//! impl io::Read for Recorded {
//!     fn poll_read(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>, _: &mut [u8])
//!         -> std::task::Poll<std::io::Result<usize>> { std::task::Poll::Ready(Ok(0)) }
//! }
//! impl io::Write for Recorded {
//!     fn poll_write(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>, buf: &[u8])
//!         -> std::task::Poll<std::io::Result<usize>> {
//!         self.0.lock().unwrap().extend_from_slice(buf);
//!         std::task::Poll::Ready(Ok(buf.len()))
//!     }
//!     fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>)
//!         -> std::task::Poll<std::io::Result<()>> { std::task::Poll::Ready(Ok(())) }
//!     fn poll_shutdown(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>)
//!         -> std::task::Poll<std::io::Result<()>> { std::task::Poll::Ready(Ok(())) }
//! }
//! impl io::Conn for Recorded {}
//!
//! let handler = BoxHandler::new(Hello); // what a registry factory returns
//! let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
//! let conn: BoxConn = Box::new(Recorded(out.clone()));
//! let mut fut = std::pin::pin!(handler.handle(conn, Session::new(1, "service-0".into())));
//! let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! assert!(fut.as_mut().poll(&mut cx).is_ready()); // nothing in it ever waits
//! assert_eq!(&*out.lock().unwrap(), b"hello from service-0\n");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod admission;
pub mod auth;
pub mod bypass;
pub mod cache;
pub mod chain;
pub mod connector;
pub mod dialer;
pub mod error;
pub mod handler;
pub mod hop;
pub mod hosts;
pub mod ingress;
pub mod io;
pub mod limiter;
pub mod listener;
pub mod matcher;
pub mod metadata;
pub mod observer;
pub mod probe;
pub mod recorder;
pub mod registry;
pub mod resolver;
pub mod routes;
pub mod sd;
pub mod selector;
pub mod service;
pub mod stats;

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what the `Box*` erasures return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub use addr::{Address, Network};
pub use admission::{Admission, BoxAdmission};
pub use auth::{Auther, BoxAuther};
pub use bypass::{BoxBypass, Bypass};
pub use cache::{BoxCache, Cache, CacheEntry};
pub use chain::{
    BoxChainer, BoxRouter, Chainer, HttpNodeSettings, Node, PathRewrite, Route, Router, Transport,
};
pub use connector::{
    BindOptions, BoxConnector, ConnectOptions, Connector, ConnectorOptions, NewConnector,
};
pub use dialer::{
    BoxDialer, DialOptions, Dialer, DialerOptions, HandshakeOptions, NewDialer, OnNodeConnected,
};
pub use error::{Error, ErrorKind, Result, ResultExt};
pub use handler::{BoxHandler, Handler, HandlerOptions, NewHandler, Session};
pub use hop::{BoxHop, Hop};
pub use hosts::{BoxHostMapper, HostMapper};
pub use ingress::{BoxIngress, Ingress, IngressRule};
pub use io::{BoxConn, BoxPacketConn, Conn, PacketConn, Read, Write};
pub use limiter::{ConnLimit, ConnLimiter, RateLimit, RateLimiter, TrafficLimit, TrafficLimiter};
pub use listener::{BoxListener, Listener, ListenerOptions, NewListener};
pub use matcher::{BoxMatcher, Matcher};
pub use metadata::{Metadata, Value};
pub use observer::{BoxObserver, Observer, ObserverEvent};
pub use probe::{ProbeRecord, ProbeResult, Probed};
pub use recorder::{BoxRecorder, Recorder};
pub use registry::{Named, Registries, Registry};
pub use resolver::{BoxResolver, Resolver};
pub use routes::{BoxRouteTable, RouteEntry, RouteTable};
pub use sd::{BoxSd, Sd, SdService};
pub use selector::{FailMarker, Filter, Markable, Marker, SelectRequest, Selector, Strategy};
pub use service::{BoxService, Event, Service, State, StatsSnapshot, Status};
pub use stats::{Stats, StatsKind};
