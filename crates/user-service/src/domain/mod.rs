//! Validated account values. Each is parsed once at the boundary and cannot be invalid after;
//! no axum and no sqlx here.

mod email;
mod name;
mod password;
mod phone;

pub use email::{Email, email_key};
pub use name::UserName;
pub use password::Password;
pub use phone::Phone;
