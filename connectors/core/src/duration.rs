//! Durations as sellers write them in the configuration: `90s`, `5m`, `5d`, and acceptance
//! deadlines in `2 working days`.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written like `90s`, `5m`, `1h30m` or `5d`. A number too large for a duration
/// is an error, never a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The duration, if `range` holds it; the error says the range as the seller writes it.
    pub fn within(self, range: RangeInclusive<Duration>) -> Result<Duration, String> {
        if range.contains(&self.0) {
            return Ok(self.0);
        }
        let show = |d: &Duration| humantime::format_duration(*d).to_string();
        Err(format!(
            "must be between {} and {}, got {}",
            show(range.start()),
            show(range.end()),
            show(&self.0)
        ))
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|e| format!("{text:?} is not a duration like 90s, 5m or 5d ({e})"))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How long the seller has to accept an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Wall-clock time after the order was placed (`5d`).
    Calendar(Duration),
    /// Working days in the seller's time zone, skipping weekends and French public holidays
    /// (`2 working days`).
    WorkingDays(u32),
}

impl std::str::FromStr for Deadline {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if let [count, "working", "day" | "days"] = words.as_slice() {
            return match count.parse::<u32>() {
                Ok(n) if n > 0 => Ok(Self::WorkingDays(n)),
                _ => Err(format!(
                    "{text:?}: the number of working days must be a positive integer"
                )),
            };
        }
        let HumanDuration(duration) = text.parse().map_err(|_| {
            format!("{text:?} is not a deadline like 5d, 72h or \"2 working days\"")
        })?;
        if duration.is_zero() {
            return Err("a deadline must be longer than zero".to_owned());
        }
        Ok(Self::Calendar(duration))
    }
}

impl std::fmt::Display for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Calendar(d) => write!(f, "{}", humantime::format_duration(*d)),
            Self::WorkingDays(1) => write!(f, "1 working day"),
            Self::WorkingDays(n) => write!(f, "{n} working days"),
        }
    }
}

impl<'de> Deserialize<'de> for Deadline {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_spellings() {
        let secs = |s: &str| s.parse::<HumanDuration>().unwrap().0.as_secs();
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("5m"), 300);
        assert_eq!(secs("5d"), 5 * 86_400);
        assert_eq!(secs("1h30m"), 5_400);
        assert_eq!("2 working days".parse(), Ok(Deadline::WorkingDays(2)));
        assert_eq!("1  working day".parse(), Ok(Deadline::WorkingDays(1)));
        assert_eq!(
            "5d".parse(),
            Ok(Deadline::Calendar(Duration::from_secs(5 * 86_400)))
        );
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!("5 minutes later".parse::<HumanDuration>().is_err());
        assert!("0 working days".parse::<Deadline>().is_err());
        assert!("two working days".parse::<Deadline>().is_err());
        assert!("0s".parse::<Deadline>().is_err());
        assert!("soon".parse::<Deadline>().is_err());
    }

    #[test]
    fn a_number_too_large_is_an_error_not_a_wrap() {
        for huge in [
            "99999999999999999999999d",
            "18446744073709551615s 1s",
            "4294967296 working days",
        ] {
            assert!(huge.parse::<Deadline>().is_err(), "{huge}");
        }
        assert!("99999999999999999999999d".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn within_names_the_range() {
        let range = Duration::from_secs(1)..=Duration::from_secs(600);
        let read = |s: &str| s.parse::<HumanDuration>().unwrap().within(range.clone());
        assert_eq!(read("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(read("1s"), Ok(Duration::from_secs(1)));
        let huge = read("99999999999999d").unwrap_err();
        assert!(
            huge.starts_with("must be between 1s and 10m, got 27"),
            "{huge}"
        );
        assert!(
            read("0s")
                .unwrap_err()
                .starts_with("must be between 1s and 10m")
        );
    }
}
