//! Contract tests: the exact requests the connector sends, and how it reads Fnac's answers,
//! against wiremock on 127.0.0.1; then (feature `sandbox`) the whole seller cycle against the
//! stateful sandbox. Fixtures are written from the documented shapes (XSDs and
//! recorded-response quirks: CDATA, empty elements, shuffled order, unknown elements).
//!
//! The exact-body assertions encode the XSD constraints the requests were checked against
//! with `xmllint --schema` during development: root = service name in Fnac's namespace,
//! `partner_id`/`shop_id`/`token` root attributes, element order where the XSD has a sequence.
//!
//! One test binary for the crate: each binary is linked on its own, and linking is slow.

mod auth;
mod decide;
mod incidents;
mod messages;
mod orders;
#[cfg(feature = "sandbox")]
mod sandbox_round_trip;
mod ship;
mod stock;
mod support;
mod turns;
