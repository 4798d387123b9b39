//! Integer fields of request bodies, read as JSON has them: JSON has one number type, and
//! `887.0` is the integer 887 (JSON Schema says so too, so a client generated from our
//! documents may send it). serde refuses it for an `i64`; these readers take it, and still
//! refuse a fraction (`887.5`) and what does not fit the field.
//!
//! `#[serde(deserialize_with = "service_kit::integer::whole")]`, or for an `Option`,
//! `#[serde(default, deserialize_with = "service_kit::integer::optional_whole")]`.

use serde::de::Error;
use serde::{Deserialize, Deserializer};

/// An integer field.
pub fn whole<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    let number = serde_json::Number::deserialize(d)?;
    from_number(&number).ok_or_else(|| out_of_range::<D::Error>(&number))
}

/// An optional integer field (absent or `null`: `None`).
pub fn optional_whole<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    Option::<serde_json::Number>::deserialize(d)?
        .map(|number| from_number(&number).ok_or_else(|| out_of_range::<D::Error>(&number)))
        .transpose()
}

fn out_of_range<E: Error>(number: &serde_json::Number) -> E {
    E::custom(format!(
        "invalid value: {number}, expected a whole number the field can hold"
    ))
}

fn from_number<T: TryFrom<i64> + TryFrom<u64>>(number: &serde_json::Number) -> Option<T> {
    if let Some(i) = number.as_i64() {
        return T::try_from(i).ok();
    }
    if let Some(u) = number.as_u64() {
        return T::try_from(u).ok();
    }
    let f = number.as_f64()?;
    // Below 2^53 every whole f64 is exact, so the cast neither rounds nor truncates.
    #[allow(clippy::float_cmp, clippy::cast_possible_truncation)]
    let whole = (f == f.trunc() && f.abs() < 9_007_199_254_740_992.0).then_some(f as i64)?;
    T::try_from(whole).ok()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Venue {
        #[serde(deserialize_with = "super::whole")]
        capacity: u32,
        #[serde(default, deserialize_with = "super::optional_whole")]
        ttl: Option<i64>,
    }

    fn read(json: &str) -> Result<Venue, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn a_whole_number_with_a_zero_fraction_is_an_integer() {
        let venue = read(r#"{"capacity": 887.0, "ttl": 60.0}"#).unwrap();
        assert_eq!((venue.capacity, venue.ttl), (887, Some(60)));
        let venue = read(r#"{"capacity": 887}"#).unwrap();
        assert_eq!((venue.capacity, venue.ttl), (887, None));
        assert_eq!(read(r#"{"capacity": 1, "ttl": null}"#).unwrap().ttl, None);
    }

    #[test]
    fn fractions_and_what_does_not_fit_are_refused() {
        assert!(read(r#"{"capacity": 887.5}"#).is_err());
        assert!(read(r#"{"capacity": -1}"#).is_err());
        assert!(read(r#"{"capacity": 1e300}"#).is_err());
        assert!(read(r#"{"capacity": 4294967296}"#).is_err());
        assert!(read(r#"{"capacity": "887"}"#).is_err());
    }
}
