//! Event-time timestamps: microseconds since the Unix epoch, UTC.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with microsecond precision, UTC. JSON form: RFC 3339 (`2026-11-22T21:47:52.123456Z`).
///
/// Values saturate to the years -9999..=9999, so every timestamp has an RFC 3339 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// A timestamp text that could not be understood.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid timestamp {text:?}: expected RFC 3339 (2026-01-31T12:00:00Z), 'YYYY-MM-DD HH:MM:SS' (UTC) or epoch seconds"
)]
pub struct TimestampParseError {
    text: String,
}

impl Timestamp {
    /// The earliest representable instant (-9999-01-01), used as an open lower bound.
    pub const MIN: Timestamp = Timestamp(-377_705_023_201_000_000);
    /// The latest representable instant (9999-12-30), used as an open upper bound.
    pub const MAX: Timestamp = Timestamp(253_402_207_200_000_000);

    /// From microseconds since the epoch (saturating to [`Timestamp::MIN`]..=[`Timestamp::MAX`]).
    pub const fn from_micros(micros: i64) -> Self {
        if micros < Self::MIN.0 {
            Self::MIN
        } else if micros > Self::MAX.0 {
            Self::MAX
        } else {
            Timestamp(micros)
        }
    }

    /// From whole seconds since the epoch (saturating).
    pub const fn from_secs(secs: i64) -> Self {
        Self::from_micros(secs.saturating_mul(1_000_000))
    }

    /// From fractional seconds since the epoch, as OSSIM agents send `date="1375799426.5"`.
    /// Returns `None` for NaN, infinities and values outside the representable range.
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        let micros = (secs * 1_000_000.0).round();
        if micros.is_finite() && micros >= Self::MIN.0 as f64 && micros <= Self::MAX.0 as f64 {
            Some(Timestamp(micros as i64))
        } else {
            None
        }
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// The current wall-clock time. Only intake and operators' tools call this; correlation never does.
    pub fn now() -> Self {
        Timestamp(jiff::Timestamp::now().as_microsecond())
    }

    /// This timestamp minus a number of microseconds (saturating).
    pub const fn saturating_sub_micros(self, micros: i64) -> Self {
        Self::from_micros(self.0.saturating_sub(micros))
    }

    fn to_jiff(self) -> jiff::Timestamp {
        jiff::Timestamp::from_microsecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_jiff())
    }
}

impl FromStr for Timestamp {
    type Err = TimestampParseError;

    /// Accepts RFC 3339, `YYYY-MM-DD HH:MM:SS[.frac]` taken as UTC (OSSIM `fdate`), and
    /// (fractional) epoch seconds.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || TimestampParseError {
            text: text.to_string(),
        };
        let trimmed = text.trim();
        if let Ok(ts) = trimmed.parse::<jiff::Timestamp>() {
            return Ok(Timestamp(ts.as_microsecond()));
        }
        if let Ok(dt) = trimmed.parse::<jiff::civil::DateTime>() {
            let ts = dt
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map_err(|_| err())?
                .timestamp();
            return Ok(Timestamp(ts.as_microsecond()));
        }
        let numeric = !trimmed.is_empty()
            && trimmed
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        match trimmed.parse::<f64>() {
            Ok(secs) if numeric => Timestamp::from_secs_f64(secs).ok_or_else(err),
            _ => Err(err()),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            i64::deserialize(deserializer).map(Timestamp::from_micros)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms() {
        let expected = Timestamp::from_secs(1_375_799_426);
        assert_eq!(
            "2013-08-06T14:30:26Z".parse::<Timestamp>().unwrap(),
            expected
        );
        assert_eq!(
            "2013-08-06 14:30:26".parse::<Timestamp>().unwrap(),
            expected
        );
        assert_eq!("1375799426".parse::<Timestamp>().unwrap(), expected);
        assert_eq!(
            "1375799426.25".parse::<Timestamp>().unwrap().as_micros(),
            1_375_799_426_250_000
        );
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!("".parse::<Timestamp>().is_err());
    }

    #[test]
    fn saturates_to_the_printable_range() {
        assert_eq!(Timestamp::from_micros(i64::MIN), Timestamp::MIN);
        assert_eq!(Timestamp::from_micros(i64::MAX), Timestamp::MAX);
        assert_eq!(
            Timestamp::MAX.to_string().parse::<Timestamp>().unwrap(),
            Timestamp::MAX
        );
        assert_eq!(
            Timestamp::MIN.to_string().parse::<Timestamp>().unwrap(),
            Timestamp::MIN
        );
    }

    #[test]
    fn displays_rfc3339_with_microseconds() {
        let ts = Timestamp::from_micros(1_375_799_426_000_001);
        assert_eq!(ts.to_string(), "2013-08-06T14:30:26.000001Z");
        assert_eq!(ts.to_string().parse::<Timestamp>().unwrap(), ts);
    }
}
