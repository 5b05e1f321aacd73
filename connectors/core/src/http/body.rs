//! How much of an answer is read: each kind of call has a cap, checked against
//! `Content-Length` first and counted chunk by chunk, so an endless or huge body costs at
//! most the cap in memory.

use std::fmt;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The most one answer of a kind of call may carry, and what that answer is called in the
/// error (`order page from lm larger than 64 MiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    pub what: &'static str,
    pub bytes: u64,
}

impl BodyLimit {
    pub const fn new(what: &'static str, bytes: u64) -> Self {
        Self { what, bytes }
    }

    /// A page of a list (orders, offers): 64 MiB. A page holds at most a few hundred
    /// orders of a few KiB each; the cap is generous so no real page ever meets it.
    pub const fn page(what: &'static str) -> Self {
        Self::new(what, 64 * MIB)
    }

    /// One answer about one thing (an order, an acknowledgement, a token, a batch's
    /// status): 4 MiB.
    pub const fn single(what: &'static str) -> Self {
        Self::new(what, 4 * MIB)
    }
}

impl fmt::Display for BodyLimit {
    /// The cap as people say it: `64 MiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bytes {
            b if b >= GIB && b % GIB == 0 => write!(f, "{} GiB", b / GIB),
            b if b >= MIB && b % MIB == 0 => write!(f, "{} MiB", b / MIB),
            b if b >= KIB && b % KIB == 0 => write!(f, "{} KiB", b / KIB),
            b => write!(f, "{b} bytes"),
        }
    }
}

/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than the cap: reading stopped there.
    #[error("larger than {0}")]
    TooLarge(BodyLimit),
    #[error("reading the body: {0}")]
    Broken(reqwest::Error),
}

/// Reads `response`'s body, at most `limit` bytes of it.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: BodyLimit,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit.bytes) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Broken(e.without_url()))?
    {
        if (body.len() + chunk.len()) as u64 > limit.bytes {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_read_as_people_say_them() {
        assert_eq!(BodyLimit::page("order page").to_string(), "64 MiB");
        assert_eq!(BodyLimit::single("order").to_string(), "4 MiB");
        assert_eq!(BodyLimit::new("x", 64 * KIB).to_string(), "64 KiB");
        assert_eq!(BodyLimit::new("x", GIB).to_string(), "1 GiB");
        assert_eq!(BodyLimit::new("x", 1000).to_string(), "1000 bytes");
    }
}
