//! Typed calls to other services.

pub mod seating;
