//! The fleet's map, in one place: the six services, where each is reached, who consumes which
//! message type; and a service's link to the rest of it (the verifier of incoming tokens, its own
//! service token, clients for the services it calls, the URLs its relay delivers to).
//!
//! Each service's place is written here once ([`Service::links`]: whom it calls, what it
//! produces); the kit reads exactly the URL variables that follow from it, so that adding a
//! consumer to [`consumers_of`] makes every producer of the type read (and, in production,
//! require) the consumer's URL, instead of parking its messages as dead a day later.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::auth::service_token::ServiceTokenSource;
use crate::auth::{Scope, TokenVerifier};
use crate::client::{ServiceClient, http_client};
use crate::config::{ConfigError, Env, ports, service_credentials, service_url};
use crate::messages::types;

/// The services of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    User,
    Catalog,
    Seating,
    Order,
    Payment,
    Notification,
}

impl Service {
    pub const ALL: [Self; 6] = [
        Self::User,
        Self::Catalog,
        Self::Seating,
        Self::Order,
        Self::Payment,
        Self::Notification,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user-service",
            Self::Catalog => "catalog-service",
            Self::Seating => "seating-service",
            Self::Order => "order-service",
            Self::Payment => "payment-service",
            Self::Notification => "notification-service",
        }
    }

    /// The service whose client id (the `sub` of its service token) is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its port in the contract (`PORT` overrides it).
    pub fn port(self) -> u16 {
        self.url_variable().1
    }

    /// Its database: `ticketing_<database>` by default.
    pub fn database(self) -> &'static str {
        match self {
            Self::User => "users",
            Self::Catalog => "catalog",
            Self::Seating => "seating",
            Self::Order => "orders",
            Self::Payment => "payments",
            Self::Notification => "notifications",
        }
    }

    /// One line for its OpenAPI document.
    pub fn description(self) -> &'static str {
        match self {
            Self::User => "Accounts, sessions and tokens of the ticketing fleet.",
            Self::Catalog => "Venues, events and seats of the ticketing fleet.",
            Self::Seating => "Seat availability and holds of the ticketing fleet.",
            Self::Order => "Orders, their payment and tickets of the ticketing fleet.",
            Self::Payment => "Charges, refunds and payments of the ticketing fleet.",
            Self::Notification => "E-mails to buyers, with their e-tickets.",
        }
    }

    /// Whom it calls and what it produces: the contract's call graph and message table, from
    /// this service's side.
    pub fn links(self) -> Links {
        match self {
            Self::User => Links {
                auth: Auth::Issuer,
                calls: &[],
                produces: &[],
            },
            Self::Catalog => Links {
                auth: Auth::Jwks,
                calls: &[Self::Seating],
                produces: &[types::EVENT_CANCELLED],
            },
            Self::Seating => Links {
                auth: Auth::Jwks,
                calls: &[],
                produces: &[types::SEATING_SOLD_OUT, types::SEATING_AVAILABLE],
            },
            Self::Order => Links {
                auth: Auth::Jwks,
                calls: &[Self::Catalog, Self::User, Self::Seating, Self::Payment],
                produces: &[
                    types::ORDER_CONFIRMED,
                    types::ORDER_CANCELLED,
                    types::ORDER_EXPIRED,
                    types::ORDER_REFUNDED,
                ],
            },
            Self::Payment | Self::Notification => Links {
                auth: Auth::Jwks,
                calls: &[],
                produces: &[],
            },
        }
    }

    /// What its service token may do besides being a service: the operations the contract has
    /// it call on others (user-service writes these scopes into the token).
    pub fn grants(self) -> &'static [Scope] {
        match self {
            Self::Catalog => &[Scope::SeatingInventory],
            Self::Order => &[
                Scope::UsersRead,
                Scope::CatalogRead,
                Scope::SeatingHolds,
                Scope::SeatingSell,
                Scope::PaymentsCharge,
                Scope::PaymentsRefund,
                Scope::PaymentsRead,
            ],
            Self::User | Self::Seating | Self::Payment | Self::Notification => &[],
        }
    }

    /// The variable that holds its base URL, and its default port.
    pub fn url_variable(self) -> (&'static str, u16) {
        match self {
            Self::User => ("USER_SERVICE_URL", ports::USER),
            Self::Catalog => ("CATALOG_SERVICE_URL", ports::CATALOG),
            Self::Seating => ("SEATING_SERVICE_URL", ports::SEATING),
            Self::Order => ("ORDER_SERVICE_URL", ports::ORDER),
            Self::Payment => ("PAYMENT_SERVICE_URL", ports::PAYMENT),
            Self::Notification => ("NOTIFICATION_SERVICE_URL", ports::NOTIFICATION),
        }
    }
}

/// Who receives each message type: the contract's table of messages.
pub fn consumers_of(message_type: &str) -> &'static [Service] {
    match message_type {
        types::EVENT_CANCELLED => &[Service::Seating, Service::Order],
        types::SEATING_SOLD_OUT | types::SEATING_AVAILABLE => &[Service::Catalog],
        types::ORDER_CONFIRMED
        | types::ORDER_CANCELLED
        | types::ORDER_EXPIRED
        | types::ORDER_REFUNDED => &[Service::Notification],
        _ => &[],
    }
}

/// How a service checks the tokens it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Against user-service's JWKS (every service but user-service).
    Jwks,
    /// With keys it holds itself: user-service, which signs the tokens.
    Issuer,
}

/// What a service declares about its place in the fleet.
#[derive(Debug, Clone, Copy)]
pub struct Links {
    pub auth: Auth,
    /// Services it calls over HTTP.
    pub calls: &'static [Service],
    /// Message types it writes to its outbox.
    pub produces: &'static [&'static str],
}

impl Links {
    /// The services its relay delivers to.
    pub fn consumers(&self) -> BTreeSet<Service> {
        self.produces
            .iter()
            .flat_map(|t| consumers_of(t).iter().copied())
            .collect()
    }

    /// Whether it needs a service token of its own (it calls or delivers to others).
    pub fn needs_token(&self) -> bool {
        !self.calls.is_empty() || !self.consumers().is_empty()
    }
}

/// The variables that follow from a service's [`Links`].
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub links: Links,
    /// Base URLs of user-service and of every service called or delivered to.
    pub urls: BTreeMap<Service, String>,
    /// `SERVICE_CLIENT_ID` and `SERVICE_CLIENT_SECRET`, when it needs a token.
    pub credentials: Option<(String, SecretString)>,
}

impl FleetConfig {
    pub fn from_env(env: &mut Env, service: &str, links: Links) -> Result<Self, ConfigError> {
        let mut needed: BTreeSet<Service> = links.calls.iter().copied().collect();
        needed.extend(links.consumers());
        if links.auth == Auth::Jwks || links.needs_token() {
            needed.insert(Service::User);
        }
        let mut urls = BTreeMap::new();
        for peer in needed {
            let (var, port) = peer.url_variable();
            urls.insert(peer, service_url(env, var, port)?);
        }
        let credentials = if links.needs_token() {
            Some(service_credentials(env, service)?)
        } else {
            None
        };
        Ok(Self {
            links,
            urls,
            credentials,
        })
    }

    /// Where the relay delivers each consumer's messages; an error naming the variable of a
    /// consumer without a URL.
    pub fn relay_endpoints(&self) -> Result<HashMap<Service, String>, ConfigError> {
        self.links
            .consumers()
            .into_iter()
            .map(|consumer| match self.urls.get(&consumer) {
                Some(url) => Ok((consumer, url.clone())),
                None => Err(ConfigError::Invalid {
                    var: consumer.url_variable().0.to_owned(),
                    reason: format!(
                        "{} consumes messages this service produces, but has no URL",
                        consumer.name()
                    ),
                }),
            })
            .collect()
    }
}

/// The verifier of tokens signed by the user-service at `user_service_url`.
pub fn verifier(user_service_url: &str, http: reqwest::Client) -> Arc<TokenVerifier> {
    Arc::new(TokenVerifier::with_jwks(
        format!("{user_service_url}/.well-known/jwks.json"),
        http,
    ))
}

/// A service's link to the fleet, built once per process.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub http: reqwest::Client,
    /// Verifies incoming tokens; `None` for the issuer, which brings its own.
    pub verifier: Option<Arc<TokenVerifier>>,
    /// This service's own token, when it calls or delivers to others.
    pub tokens: Option<Arc<ServiceTokenSource>>,
    config: FleetConfig,
}

impl Fleet {
    pub fn new(config: &FleetConfig) -> Self {
        let http = http_client(Duration::from_secs(30));
        let user_url = config.urls.get(&Service::User);
        let verifier = match (config.links.auth, user_url) {
            (Auth::Jwks, Some(url)) => Some(verifier(url, http.clone())),
            _ => None,
        };
        let tokens = match (&config.credentials, user_url) {
            (Some((id, secret)), Some(url)) => Some(Arc::new(ServiceTokenSource::new(
                http.clone(),
                url,
                id.clone(),
                secret.clone(),
            ))),
            _ => None,
        };
        Self {
            http,
            verifier,
            tokens,
            config: config.clone(),
        }
    }

    /// A client for `service`, sending this service's token. An error when the service did not
    /// declare that it calls `service` (its URL was never read).
    pub fn client(&self, service: Service) -> anyhow::Result<ServiceClient> {
        let url = self.config.urls.get(&service).ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not among the services this one declares it calls",
                service.name()
            )
        })?;
        let mut client = ServiceClient::new(service.name(), url, self.http.clone());
        if let Some(tokens) = &self.tokens {
            client = client.with_service_token(tokens.clone());
        }
        Ok(client)
    }

    pub fn config(&self) -> &FleetConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |k| map.get(k).cloned()).unwrap()
    }

    const ORDER_LIKE: Links = Links {
        auth: Auth::Jwks,
        calls: &[Service::Seating],
        produces: &[types::ORDER_CONFIRMED],
    };

    #[test]
    fn a_producer_reads_the_url_of_each_consumer_of_what_it_produces() {
        let config = FleetConfig::from_env(&mut env(&[]), "order-service", ORDER_LIKE).unwrap();
        let endpoints = config.relay_endpoints().unwrap();
        assert_eq!(endpoints[&Service::Notification], "http://localhost:3005");
        assert!(config.urls.contains_key(&Service::Seating));
        assert!(config.credentials.is_some());
    }

    #[test]
    fn a_producer_whose_consumer_has_no_url_refuses_to_start_in_production() {
        let err = FleetConfig::from_env(
            &mut env(&[
                ("APP_ENV", "production"),
                ("USER_SERVICE_URL", "http://users"),
                ("SEATING_SERVICE_URL", "http://seating"),
                ("SERVICE_CLIENT_ID", "order-service"),
                ("SERVICE_CLIENT_SECRET", "s3cret-s3cret"),
            ]),
            "order-service",
            ORDER_LIKE,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("NOTIFICATION_SERVICE_URL"),
            "{err}"
        );
    }

    #[test]
    fn relay_endpoints_name_the_variable_of_a_missing_consumer() {
        let mut config = FleetConfig::from_env(&mut env(&[]), "order-service", ORDER_LIKE).unwrap();
        config.urls.remove(&Service::Notification);
        let err = config.relay_endpoints().unwrap_err();
        assert!(
            err.to_string().contains("NOTIFICATION_SERVICE_URL"),
            "{err}"
        );
    }

    #[test]
    fn a_service_that_calls_nobody_needs_no_credentials() {
        let links = Links {
            auth: Auth::Jwks,
            calls: &[],
            produces: &[],
        };
        let config = FleetConfig::from_env(&mut env(&[]), "payment-service", links).unwrap();
        assert!(config.credentials.is_none());
        assert_eq!(config.urls.keys().collect::<Vec<_>>(), [&Service::User]);
    }
}
