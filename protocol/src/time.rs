//! Timestamp (de)serialisation.
//!
//! We always write RFC 3339 in UTC with a `Z`. We also read the naive ISO-8601 strings the
//! Python original writes (`2026-03-09T10:00:00`, no zone) and take them as UTC, so its
//! clients interoperate.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(d)?;
    parse(&raw).map_err(serde::de::Error::custom)
}

/// Parses RFC 3339, or a naive `YYYY-MM-DDTHH:MM:SS[.f]` / `YYYY-MM-DD HH:MM:SS` as UTC.
pub(crate) fn parse(raw: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, fmt) {
            return Ok(t.and_utc());
        }
    }
    Err(format!("invalid timestamp {raw:?}: expected RFC 3339"))
}

pub(crate) mod option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|raw| super::parse(&raw).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_rfc3339_and_naive_forms() {
        let z = parse("2026-03-09T10:00:00.123456Z").unwrap();
        let naive = parse("2026-03-09T10:00:00.123456").unwrap();
        let sqlite = parse("2026-03-09 10:00:00.123456").unwrap();
        let offset = parse("2026-03-09T11:00:00.123456+01:00").unwrap();
        assert_eq!(z, naive);
        assert_eq!(z, sqlite);
        assert_eq!(z, offset);
        assert!(parse("yesterday").unwrap_err().contains("yesterday"));
    }
}
