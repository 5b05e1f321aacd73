//! Contract tests: the exact requests the connector sends to a Mirakl instance, and how it
//! reads the answers, against a wiremock server on 127.0.0.1; then (feature `sandbox`) the
//! whole seller workflow against the stateful sandbox.
//!
//! Request bodies are also checked against the shapes the MMP seller OpenAPI declares
//! (OR21_Request, STO01's `file` part, OR43's `thread_input`), encoded here as assertions.
//!
//! One test binary for the crate: each binary is linked on its own, and linking is slow.

mod decide;
mod destination;
mod errors;
mod messages;
mod orders;
#[cfg(feature = "sandbox")]
mod sandbox_round_trip;
mod ship;
mod stock;
mod support;
