//! The stretch of changes an OR11 poll reads: dates as Mirakl takes them in a query string,
//! and a window's end stamped when the read is sent.
//!
//! OR11 is allowed once a minute, so a poll often waits for its budget. A window that ended
//! when the poll was asked for would leave every order placed during that wait (up to a
//! minute) to the next poll: the end is the moment the request leaves, after the wait.

use std::sync::Mutex;

use jiff::Timestamp;

/// A timestamp in the form Mirakl documents for query strings, to the second.
pub(crate) fn query_date(ts: Timestamp, round_up: bool) -> String {
    let mut second = ts.as_second();
    if round_up && ts.subsec_nanosecond() > 0 {
        second += 1;
    }
    Timestamp::from_second(second)
        .unwrap_or(ts)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A query parameter (`end_update_date`) set to the moment its request is sent: every attempt
/// of a list's first page stamps it anew, after its wait for the budget; the later pages
/// repeat the stamp the first page was read with, so the list does not drift.
#[derive(Debug)]
pub(crate) struct SentAt {
    name: &'static str,
    at: Mutex<Option<Timestamp>>,
}

impl SentAt {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            at: Mutex::new(None),
        }
    }

    /// Stamps an attempt about to be sent; its query pair (the second rounded up: the
    /// window may only grow).
    pub fn stamp(&self) -> (&'static str, String) {
        let now = Timestamp::now();
        *self.at.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        (self.name, query_date(now, true))
    }

    /// When the last attempt was sent, if one was.
    pub fn at(&self) -> Option<Timestamp> {
        *self.at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The query pair of the last attempt, for the pages after the first.
    pub fn pair(&self) -> Option<(&'static str, String)> {
        self.at().map(|at| (self.name, query_date(at, true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_dates_widen_the_window_to_whole_seconds() {
        let ts: Timestamp = "2024-05-02T08:00:00.250Z".parse().unwrap();
        assert_eq!(query_date(ts, false), "2024-05-02T08:00:00Z");
        assert_eq!(query_date(ts, true), "2024-05-02T08:00:01Z");
        let whole: Timestamp = "2024-05-02T08:00:00Z".parse().unwrap();
        assert_eq!(query_date(whole, true), "2024-05-02T08:00:00Z");
    }

    #[test]
    fn later_pages_repeat_the_first_pages_stamp() {
        let end = SentAt::new("end_update_date");
        assert_eq!((end.at(), end.pair()), (None, None));
        let before = Timestamp::now();
        let (name, value) = end.stamp();
        let at = end.at().unwrap();
        assert!(at >= before);
        assert_eq!(end.pair(), Some((name, value.clone())));
        assert_eq!(value, query_date(at, true));
    }
}
