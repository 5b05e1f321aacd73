//! Values Mirakl writes in more than one way: amounts as JSON numbers (or strings), dates
//! with `Z`, milliseconds or offsets, ids as strings or numbers.

use std::str::FromStr;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An amount read exactly: from the number's shortest text form, never through a float sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(pub Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(d)? {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected an amount, found {other}"
                )));
            }
        };
        parse_decimal(&text)
            .map(Amount)
            .ok_or_else(|| serde::de::Error::custom(format!("not an amount: {text:?}")))
    }
}

pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
        .map(|d| d.normalize())
}

/// A date-time as Mirakl writes it; an offset-less value is taken as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub Timestamp);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_date(&text)
            .map(Date)
            .ok_or_else(|| serde::de::Error::custom(format!("not a date: {text:?}")))
    }
}

pub fn parse_date(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = Timestamp::from_str(text) {
        return Some(ts);
    }
    let civil = jiff::civil::DateTime::from_str(text).ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// An identifier the spec types as a string that some instances send as a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Id(s)),
            Value::Number(n) => Ok(Id(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected an identifier, found {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_their_decimals() {
        let a: Amount = serde_json::from_str("12.34").unwrap();
        assert_eq!(a.0.to_string(), "12.34");
        let a: Amount = serde_json::from_str("165").unwrap();
        assert_eq!(a.0.to_string(), "165");
        let a: Amount = serde_json::from_str("\"19.90\"").unwrap();
        assert_eq!(a.0.to_string(), "19.9");
        let a: Amount = serde_json::from_str("0.1").unwrap();
        assert_eq!(a.0 + Amount(Decimal::new(2, 1)).0, Decimal::new(3, 1));
        assert!(serde_json::from_str::<Amount>("true").is_err());
    }

    #[test]
    fn dates_in_every_documented_shape() {
        let z = parse_date("2019-04-02T14:58:22Z").unwrap();
        assert_eq!(z.to_string(), "2019-04-02T14:58:22Z");
        let millis = parse_date("2019-04-02T14:58:22.460Z").unwrap();
        assert_eq!(millis.subsec_millisecond(), 460);
        let offset = parse_date("2019-04-02T16:58:22+02:00").unwrap();
        assert_eq!(offset, z);
        let bare = parse_date("2019-04-02T14:58:22").unwrap();
        assert_eq!(bare, z);
        assert!(parse_date("yesterday").is_none());
    }
}
