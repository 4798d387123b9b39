//! The JSON shapes of user-service's API, and their validation into domain values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use service_kit::auth::Role;
use service_kit::problem::Fields;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::users::UserRow;
use crate::domain::{Email, Password, Phone, UserName};
use crate::error::ApiError;

/// A user as every client sees it; the password hash never leaves the service.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            role: row.role,
            created_at: row.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    /// Trimmed: 1 to 100 characters, no control characters (the pattern: something besides
    /// blanks, no control character).
    #[schema(
        example = "Ada Lovelace",
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Trimmed; a domain with a dot. Unique in any letter case.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// 10 to 1024 characters.
    #[schema(example = "correct horse battery", min_length = 10, max_length = 1024)]
    pub password: String,
    /// 6 to 15 digits, with spaces, dashes, dots, brackets and a leading `+` allowed.
    #[schema(
        example = "+44 20 7946 0958",
        pattern = r"^[ \t\n\r]*\+?[ .()\-]*([0-9][ .()\-]*){6,15}[ \t\n\r]*$"
    )]
    pub phone: Option<String>,
}

/// Never shows the password (a request logged at debug level must not carry it).
impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("phone", &self.phone)
            .finish()
    }
}

/// A registration that passed validation.
#[derive(Debug)]
pub struct NewAccount {
    pub name: UserName,
    pub email: Email,
    pub password: Password,
    pub phone: Option<Phone>,
}

impl RegisterRequest {
    pub fn validate(self) -> Result<NewAccount, ApiError> {
        let mut fields = Fields::default();
        let name = fields.check("name", UserName::parse(&self.name));
        let email = fields.check("email", Email::parse(&self.email));
        let password = fields.check("password", Password::parse(self.password));
        let phone = fields.check("phone", self.phone.as_deref().map(Phone::parse).transpose());
        let account = match (name, email, password, phone) {
            (Some(name), Some(email), Some(password), Some(phone)) => Some(NewAccount {
                name,
                email,
                password,
                phone,
            }),
            _ => None,
        };
        fields.finish(account).map_err(ApiError::Validation)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProfileRequest {
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// `null` removes the phone number; leaving the field out keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^[ \t\n\r]*\+?[ .()\-]*([0-9][ .()\-]*){6,15}[ \t\n\r]*$")]
    pub phone: Option<Option<String>>,
}

/// Tells "field absent" (`None`) from "field null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub struct ProfileChanges {
    pub name: Option<UserName>,
    pub phone: Option<Option<Phone>>,
}

impl UpdateProfileRequest {
    pub fn validate(self) -> Result<ProfileChanges, ApiError> {
        let mut fields = Fields::default();
        let name = fields.check(
            "name",
            self.name.as_deref().map(UserName::parse).transpose(),
        );
        let phone = fields.check(
            "phone",
            self.phone
                .map(|p| p.as_deref().map(Phone::parse).transpose())
                .transpose(),
        );
        let changes = match (name, phone) {
            (Some(name), Some(phone)) => Some(ProfileChanges { name, phone }),
            _ => None,
        };
        fields.finish(changes).map_err(ApiError::Validation)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleRequest {
    #[schema(example = "organizer", value_type = GrantableRole)]
    pub role: String,
}

/// The roles an admin may give (`service` is no user's role).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: the request keeps the text, to say what is wrong
pub enum GrantableRole {
    Customer,
    Organizer,
    Admin,
}

impl RoleRequest {
    pub fn validate(&self) -> Result<Role, ApiError> {
        match self.role.parse::<Role>() {
            Ok(Role::Service) | Err(_) => Err(ApiError::field(
                "role",
                "must be customer, organizer or admin",
            )),
            Ok(role) => Ok(role),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery")]
    pub password: String,
}

/// Never shows the password.
impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// An access token with its refresh token and the user it belongs to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: UserView,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTokenRequest {
    #[schema(example = "seating-service")]
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_with_a_password_never_show_it_in_debug_output() {
        let login = LoginRequest {
            email: "ada@example.com".into(),
            password: "correct horse battery".into(),
        };
        let register = RegisterRequest {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            password: "correct horse battery".into(),
            phone: None,
        };
        for shown in [format!("{login:?}"), format!("{register:?}")] {
            assert!(!shown.contains("horse"), "{shown}");
            assert!(shown.contains("ada@example.com"), "{shown}");
        }
    }

    #[test]
    fn registration_reports_every_invalid_field() {
        let request = RegisterRequest {
            name: " ".into(),
            email: "not-an-email".into(),
            password: "short".into(),
            phone: Some("call me".into()),
        };
        let Err(ApiError::Validation(errors)) = request.validate() else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "password", "phone"]);
    }

    #[test]
    fn profile_update_tells_absent_from_null() {
        let absent: UpdateProfileRequest = serde_json::from_str(r#"{"name":"Ada"}"#).unwrap();
        assert!(absent.phone.is_none());
        let null: UpdateProfileRequest = serde_json::from_str(r#"{"phone":null}"#).unwrap();
        assert_eq!(null.phone, Some(None));
    }

    #[test]
    fn service_is_not_a_role_to_hand_out() {
        assert!(
            RoleRequest {
                role: "service".into()
            }
            .validate()
            .is_err()
        );
        assert!(
            RoleRequest {
                role: "wizard".into()
            }
            .validate()
            .is_err()
        );
        assert_eq!(
            RoleRequest {
                role: "organizer".into()
            }
            .validate()
            .unwrap(),
            Role::Organizer
        );
    }
}
