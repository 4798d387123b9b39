//! Money: exact decimals with two places, written as strings on the wire (`"262.50"`).
//!
//! Amounts are `rust_decimal::Decimal` values always kept at scale 2, so arithmetic is exact and
//! printing never shows float artefacts. Rounding, where a computation needs it (tax), is half-up
//! to the cent. Amounts sit beside a [`Currency`], an upper-case ISO 4217 code.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of money in a currency's major unit, exactly two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

/// What [`Money::parse`] accepts and every field checks (no amount of the API is negative): a
/// plain decimal up to 10⁹ with at most two significant decimals, blanks around it allowed.
pub const AMOUNT_PATTERN: &str =
    r"^[ \t\n\r]*0*(1000000000(\.0+)?|[0-9]{1,9}(\.[0-9]{1,2}0*)?)[ \t\n\r]*$";

/// As [`AMOUNT_PATTERN`], above zero (a charge, a refund).
pub const POSITIVE_AMOUNT_PATTERN: &str = r"^[ \t\n\r]*0*(1000000000(\.0+)?|[1-9][0-9]{0,8}(\.[0-9]{1,2}0*)?|0?\.(0[1-9]|[1-9][0-9]?)0*)[ \t\n\r]*$";

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        amount_schema(AMOUNT_PATTERN)
    }
}

impl utoipa::ToSchema for Money {}

/// The schema of an amount matching `pattern` (a field above zero takes
/// `#[schema(schema_with = service_kit::money::positive_amount_schema)]`).
fn amount_schema(pattern: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(pattern))
        .description(Some(
            "A decimal string with at most two decimals (`\"262.50\"`), never a JSON number",
        ))
        .examples(["262.50"])
        .into()
}

/// The schema of an amount above zero.
pub fn positive_amount_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    amount_schema(POSITIVE_AMOUNT_PATTERN)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal amount")]
    NotADecimal,
    #[error("at most two decimal places are allowed")]
    TooManyDecimals,
    #[error("the amount is too large")]
    TooLarge,
}

/// The largest amount accepted anywhere (a sanity bound, far above any ticket order).
const MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

impl Money {
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// Parses a client's amount strictly: a plain decimal with at most two places
    /// (`"10"`, `"10.5"`, `"10.50"`; not `"10.505"`, `"1e3"` or `"NaN"`).
    pub fn parse(raw: &str) -> Result<Self, MoneyError> {
        let raw = raw.trim();
        let plain = !raw.is_empty()
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        if !plain {
            return Err(MoneyError::NotADecimal);
        }
        let value = Decimal::from_str_exact(raw).map_err(|_| MoneyError::NotADecimal)?;
        if value.normalize().scale() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }
        Self::from_decimal_exact(value)
    }

    /// Rounds any decimal half-up to the cent (legacy data with float artefacts, say).
    pub fn from_decimal_rounded(value: Decimal) -> Result<Self, MoneyError> {
        Self::from_decimal_exact(
            value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        )
    }

    fn from_decimal_exact(value: Decimal) -> Result<Self, MoneyError> {
        if value.abs() > MAX {
            return Err(MoneyError::TooLarge);
        }
        let mut value = value;
        value.rescale(2);
        Ok(Self(value))
    }

    /// From integer minor units (cents).
    pub fn from_minor(minor: i64) -> Self {
        Self(Decimal::new(minor, 2))
    }

    /// In integer minor units (cents); exact, since the scale is always 2.
    pub fn minor(self) -> i64 {
        (self.0 * Decimal::ONE_HUNDRED).to_i64().unwrap_or(i64::MAX)
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }

    pub fn is_negative(self) -> bool {
        self.0 < Decimal::ZERO
    }

    /// `percent` % of this amount, rounded half-up to the cent (5 % tax of 10.10 is 0.51).
    #[must_use]
    pub fn percent_half_up(self, percent: u32) -> Self {
        let exact = self.0 * Decimal::from(percent) / Decimal::ONE_HUNDRED;
        let mut rounded = exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(2);
        Self(rounded)
    }

    /// In the currency's smallest unit, as card gateways count (cents for EUR, yen for JPY);
    /// `None` when the amount has cents a zero-decimal currency cannot carry.
    pub fn in_smallest_unit(self, currency: Currency) -> Option<i64> {
        let cents = self.minor();
        match currency.decimals() {
            0 if cents % 100 == 0 => Some(cents / 100),
            0 => None,
            _ => Some(cents),
        }
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        let mut total = Decimal::ZERO;
        for m in iter {
            total += m.0;
        }
        total.rescale(2);
        Self(total)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Only strings are accepted: a JSON number may already have lost precision in the client.
impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl sqlx::Type<sqlx::Postgres> for Money {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Decimal as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl sqlx::postgres::PgHasArrayType for Money {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        <Decimal as sqlx::postgres::PgHasArrayType>::array_type_info()
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Money {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <Decimal as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for Money {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let decimal = <Decimal as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Self::from_decimal_rounded(decimal)?)
    }
}

/// An ISO 4217 currency code in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

/// The codes offered, as an enum: a field read with [`Currency::parse`] takes
/// `#[schema(value_type = Currency)]`.
impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(ISO_4217.iter().copied()))
            .description(Some(
                "An ISO 4217 code in upper case (currencies with three minor digits are not offered)",
            ))
            .examples(["EUR"])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

/// The active ISO 4217 codes with two minor digits or none; the fleet writes every amount with
/// two decimals, so currencies with three (BHD, KWD, ...) are not offered.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "ISK", "JMD", "JPY", "KES", "KGS", "KHR",
    "KMF", "KPW", "KRW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF",
    "YER", "ZAR", "ZMW", "ZWG",
];

/// ISO 4217 currencies without minor units (amounts are whole: ¥1 000, not ¥1 000.50).
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

impl Currency {
    /// Digits of its minor unit: 0 for JPY and the like, 2 for the others offered.
    pub fn decimals(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.as_str()) {
            0
        } else {
            2
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        if ISO_4217.binary_search(&raw).is_ok() {
            let b = raw.as_bytes();
            Ok(Self([b[0], b[1], b[2]]))
        } else {
            Err(format!(
                "`{raw}` is not an ISO 4217 currency code in upper case"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from the ASCII table above.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Stored as its code (`TEXT`). Reading a code that is not one of ours fails the row (sqlx's
/// `ColumnDecode`, naming the column and the value) instead of passing an unknown currency on.
impl sqlx::Type<sqlx::Postgres> for Currency {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::postgres::PgHasArrayType for Currency {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Currency {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for Currency {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let raw = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Self::parse(raw)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn amounts_print_with_exactly_two_decimals() {
        assert_eq!(m("262.5").to_string(), "262.50");
        assert_eq!(m("10").to_string(), "10.00");
        assert_eq!(m("0.05").to_string(), "0.05");
        assert_eq!(serde_json::to_string(&m("262.5")).unwrap(), "\"262.50\"");
    }

    #[test]
    fn parsing_is_strict() {
        assert_eq!(Money::parse("10.505"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::parse("1e3"), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse("NaN"), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse(""), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse("12,50"), Err(MoneyError::NotADecimal));
        assert_eq!(Money::parse("99999999999"), Err(MoneyError::TooLarge));
        assert!(m("-5.00").is_negative());
        // Trailing zeros beyond the cent are harmless.
        assert_eq!(m("10.500"), m("10.5"));
    }

    #[test]
    fn json_numbers_are_refused() {
        assert!(serde_json::from_str::<Money>("10.5").is_err());
        assert_eq!(
            serde_json::from_str::<Money>("\"10.5\"").unwrap(),
            m("10.50")
        );
    }

    #[test]
    fn tax_rounds_half_up_to_the_cent() {
        assert_eq!(m("10.10").percent_half_up(5), m("0.51")); // 0.505 -> 0.51
        assert_eq!(m("10.30").percent_half_up(5), m("0.52")); // 0.515 -> 0.52
        assert_eq!(m("10.29").percent_half_up(5), m("0.51")); // 0.5145 -> 0.51
        assert_eq!(m("250.00").percent_half_up(5), m("12.50"));
        assert_eq!(m("250.00").percent_half_up(5).to_string(), "12.50");
    }

    #[test]
    fn legacy_float_artefacts_round_to_the_cent() {
        let legacy = Decimal::from_str("542.5899999999999").unwrap();
        assert_eq!(Money::from_decimal_rounded(legacy).unwrap(), m("542.59"));
        let half = Decimal::from_str("0.125").unwrap();
        assert_eq!(Money::from_decimal_rounded(half).unwrap(), m("0.13"));
    }

    #[test]
    fn minor_units_round_trip() {
        assert_eq!(m("262.50").minor(), 26250);
        assert_eq!(Money::from_minor(26250), m("262.50"));
        let total: Money = [m("1.10"), m("2.20")].into_iter().sum();
        assert_eq!(total.to_string(), "3.30");
    }

    #[test]
    fn smallest_units_follow_the_currency() {
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(m("262.50").in_smallest_unit(eur), Some(26250));
        assert_eq!(m("1000.00").in_smallest_unit(jpy), Some(1000));
        assert_eq!(m("1000.50").in_smallest_unit(jpy), None);
    }

    #[test]
    fn currencies_are_iso_4217_upper_case() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("EURO").is_err());
        let mut sorted = ISO_4217.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted, ISO_4217,
            "the table must stay sorted for binary search"
        );
    }
}
