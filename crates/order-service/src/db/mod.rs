//! Queries, one module per table. Rows are read into their types strictly (a status outside
//! its type is an error naming the value).

pub mod cancellations;
pub mod orders;
pub mod tickets;
