//! Contract tests: the exact requests the connector sends to the SP-API, each checked against
//! Amazon's own OpenAPI models (read from `shared/reference/amazon/`), and how it reads the
//! answers, against wiremock on 127.0.0.1; then (feature `sandbox`) the whole seller cycle
//! against the stateful sandbox.
//!
//! One test binary for the crate: each binary is linked on its own, and linking is slow.

mod model;
mod requests;
#[cfg(feature = "sandbox")]
mod sandbox_round_trip;
mod support;
