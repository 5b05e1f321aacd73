//! A stateful Fnac server for tests, the demo and benchmarks (in progress).
