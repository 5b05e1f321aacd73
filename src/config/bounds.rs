//! Every duration key has a range: a value outside it is a slip (a unit typed wrong,
//! `99999999999999d`) that would otherwise hang a loop or overflow a clock, so it is refused
//! naming the key. The ranges are documented next to each key in `config/vigie.toml`.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::{HumanDuration, KeyError};

pub const SECOND: Duration = Duration::from_secs(1);
pub const MINUTE: Duration = Duration::from_secs(60);
pub const HOUR: Duration = Duration::from_secs(3600);
pub const DAY: Duration = Duration::from_secs(86_400);

/// `value` (or `default` when the key is absent), if `range` holds it.
pub fn duration(
    key: &str,
    value: Option<HumanDuration>,
    default: Duration,
    range: RangeInclusive<Duration>,
) -> Result<Duration, KeyError> {
    Ok(optional(key, value, range)?.unwrap_or(default))
}

/// `value`, if `range` holds it, for a key without a default.
pub fn optional(
    key: &str,
    value: Option<HumanDuration>,
    range: RangeInclusive<Duration>,
) -> Result<Option<Duration>, KeyError> {
    value
        .map(|d| d.within(range).map_err(|m| KeyError::new(key, m)))
        .transpose()
}
