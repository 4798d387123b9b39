//! catalog-service's settings: none of its own beyond what the kit reads (the common ones, and
//! the URLs of seating and user-service that follow from its place in the fleet's map).

pub const SERVICE: &str = "catalog-service";
