//! Queries, one module per table.

use crate::domain::{EventStatus, EventType};

// Read strictly: an unknown stored value fails the row, naming it (a 500), never a default.
service_kit::text_column!(EventStatus);
service_kit::text_column!(EventType);

pub mod events;
pub mod seats;
pub mod venues;
