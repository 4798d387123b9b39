//! user-service: who the buyer is, for their e-mails.

use serde::Deserialize;
use service_kit::client::ServiceClient;
use uuid::Uuid;

use super::Remote;

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug)]
pub struct UsersClient(pub ServiceClient);

impl UsersClient {
    pub async fn user(&self, id: Uuid) -> Result<User, Remote> {
        Ok(self.0.get(&format!("/v1/users/{id}")).send_json().await?)
    }
}
