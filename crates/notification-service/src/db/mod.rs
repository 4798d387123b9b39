//! Queries, one module per table. Rows are read into their types strictly (a type or status
//! outside its enum is an error naming the value).

pub mod notifications;
