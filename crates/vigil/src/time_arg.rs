//! Time arguments: absolute (`2026-11-22T10:00:00Z`, `2026-11-22 10:00:00`, epoch seconds),
//! `now`, or an age such as `15m`, `2h`, `7d` meaning that long before now.

use vigil_event::Timestamp;

/// Parses a time argument relative to `now`.
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    match humantime::parse_duration(text) {
        Ok(age) => {
            Ok(now.saturating_sub_micros(i64::try_from(age.as_micros()).unwrap_or(i64::MAX)))
        }
        Err(_) => Err(format!(
            "invalid time {text:?}: use RFC 3339 (2026-11-22T10:00:00Z), 'YYYY-MM-DD HH:MM:SS' (UTC), epoch seconds, 'now', or an age like 15m, 2h, 7d"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_relative_and_errors() {
        let now = Timestamp::from_secs(1_000_000);
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(
            parse_time("15m", now),
            Ok(Timestamp::from_secs(1_000_000 - 900))
        );
        assert_eq!(
            parse_time("2d", now),
            Ok(Timestamp::from_secs(1_000_000 - 172_800))
        );
        assert_eq!(
            parse_time("1970-01-01T00:00:10Z", now),
            Ok(Timestamp::from_secs(10))
        );
        assert_eq!(parse_time("10", now), Ok(Timestamp::from_secs(10)));
        assert!(
            parse_time("last tuesday", now)
                .unwrap_err()
                .contains("invalid time")
        );
    }
}
