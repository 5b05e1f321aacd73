//! Round trip of the Fnac client against the sandbox (in progress).
