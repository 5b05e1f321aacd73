//! A stateful Mirakl server on 127.0.0.1.
