//! user-service: who the buyer is, for their e-mails.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use service_kit::client::ServiceClient;
use uuid::Uuid;

use super::Remote;
use super::cache::TtlCache;

/// How long a buyer's name and e-mail are trusted: a change reaches the next orders' e-mails
/// within this.
const USER_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug)]
pub struct UsersClient {
    client: ServiceClient,
    users: Arc<TtlCache<User>>,
}

impl UsersClient {
    pub fn new(client: ServiceClient) -> Self {
        Self {
            client,
            users: Arc::new(TtlCache::new(100_000, USER_TTL)),
        }
    }

    pub async fn user(&self, id: Uuid) -> Result<User, Remote> {
        if let Some(user) = self.users.get(&id) {
            return Ok(user);
        }
        let user: User = self
            .client
            .get(&format!("/v1/users/{id}"))
            .send_json()
            .await?;
        self.users.insert(id, user.clone());
        Ok(user)
    }
}
