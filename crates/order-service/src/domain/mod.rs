//! Orders and tickets as values: statuses, the saga's steps, totals, ticket codes. No I/O here.

mod order;
mod ticket;

pub use order::{Compensation, OrderStatus, Step, Totals};
pub use ticket::{TicketCode, TicketStatus};

/// A text column that holds a value outside its type: corrupt data, reported with the value
/// rather than read as some plausible default.
#[derive(Debug, thiserror::Error)]
#[error("unexpected {what} `{value}` in the database")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}
