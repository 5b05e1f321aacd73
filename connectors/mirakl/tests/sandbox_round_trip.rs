//! The `Mirakl` client against the stateful sandbox.
