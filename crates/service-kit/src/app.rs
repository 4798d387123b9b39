//! One way to run a service: the assembly every service used to write by hand.
//!
//! A service implements [`Service`]: who it is in the fleet's map ([`fleet::Service`]: its name,
//! port, database, whom it calls, what it produces) and its migrations, its configuration, and
//! [`Service::assemble`], which builds its state, its routes, the consumer of its messages and
//! its background tasks from a [`Kit`]. Its `main.rs` is one line,
//! `service_kit::app::main::<MyService>()`, and the kit does the rest, the same way for all six:
//!
//! 1. reads the configuration (the common part, the fleet's URLs that follow from the links,
//!    the service's own part), starts logging and warns about development defaults;
//! 2. creates the database when missing and applies the kit's and the service's migrations;
//! 3. builds the router with the probes, `/metrics`, `/openapi.json` and the standard layers;
//! 4. runs the background tasks supervised (the outbox relay when the service produces
//!    messages, the idempotency-key purge, and the service's own), and serves until SIGTERM.
//!
//! Commands: `serve` (the default), `outbox requeue [ID]`, and the service's own
//! ([`Service::command`]). Tests take the same path through [`build`], on port 0.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::TokenVerifier;
use crate::config::{CommonConfig, ConfigError, Env};
use crate::fleet::{self, Fleet, FleetConfig};
use crate::idempotency::IdempotencyStore;
use crate::messages::inbox::{self, Consumer};
use crate::messages::outbox::{self, OutboxMetrics, Relay, RelayPolicy};
use crate::metrics::Metrics;
use crate::server::{self, Standard};
use crate::tasks::{RestartPolicy, Running, Supervisor, Task, TaskHealth};
use crate::telemetry;

/// Idempotency keys are kept at least this long (the contract says 24 h).
const KEY_RETENTION: Duration = Duration::from_secs(24 * 3600);
const KEY_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Who a service is: its place in the fleet's map, and its embedded migrations.
#[derive(Clone, Copy)]
pub struct Identity {
    pub service: fleet::Service,
    pub migrations: &'static Migrator,
}

impl Identity {
    pub const fn new(service: fleet::Service, migrations: &'static Migrator) -> Self {
        Self {
            service,
            migrations,
        }
    }
}

/// A service's own settings, read from the environment (the kit reads the common ones and the
/// fleet's URLs).
pub trait FromEnv: Sized + Send + Sync + 'static {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError>;
}

/// No settings of its own.
impl FromEnv for () {
    fn from_env(_env: &mut Env) -> Result<Self, ConfigError> {
        Ok(())
    }
}

/// What a service says about itself; the kit does the rest.
pub trait Service: Send + Sync + 'static {
    /// Which service of the fleet's map this is (name, port, database, links), and its
    /// migrations.
    const WHO: Identity;
    /// Usage lines of its own commands, if it has any.
    const COMMANDS: &'static str = "";

    /// Its own settings.
    type Config: FromEnv;
    /// What its handlers reach.
    type State: Clone + Send + Sync + 'static;

    /// Builds the state, routes, consumer and tasks over a migrated database.
    fn assemble(
        kit: &Kit<Self::Config>,
    ) -> impl Future<Output = anyhow::Result<Assembly<Self::State>>> + Send;

    /// Runs one of its own commands (`args` are the command line's words).
    fn command(
        kit: &Kit<Self::Config>,
        args: &[String],
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = kit;
        let words = args.join(" ");
        async move { anyhow::bail!("unknown command `{words}`") }
    }
}

/// The version of every service: the workspace's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The service's name (`seating-service`).
pub fn name<S: Service>() -> &'static str {
    S::WHO.service.name()
}

/// Everything a service reads from the environment.
pub struct Settings<C> {
    pub config: Arc<C>,
    pub common: CommonConfig,
    pub fleet: FleetConfig,
    pub relay: RelayPolicy,
}

impl<C: FromEnv> Settings<C> {
    pub fn read<S: Service<Config = C>>(env: &mut Env) -> Result<Self, ConfigError> {
        let who = S::WHO.service;
        Ok(Self {
            common: CommonConfig::from_env(env, who.name(), who.port(), who.database())?,
            fleet: FleetConfig::from_env(env, who.name(), who.links())?,
            relay: RelayPolicy::from_env(env)?,
            config: Arc::new(C::from_env(env)?),
        })
    }
}

/// What [`Service::assemble`] and [`Service::command`] get.
pub struct Kit<C> {
    pub config: Arc<C>,
    pub common: CommonConfig,
    pub pool: PgPool,
    pub metrics: Metrics,
    pub fleet: Fleet,
    /// The service's `Idempotency-Key` store (its table comes with the kit's migrations).
    pub idempotency: IdempotencyStore,
}

/// What a service is made of, as [`Service::assemble`] returns it.
pub struct Assembly<St> {
    state: St,
    routes: OpenApiRouter,
    extra: Router,
    tasks: Vec<Task>,
    verifier: Option<Arc<TokenVerifier>>,
    /// Serves `POST /v1/messages` (its operation goes into the OpenAPI document).
    consumes: bool,
}

impl<St> Assembly<St> {
    /// `routes` already carry the state (`OpenApiRouter::with_state`); each handler's
    /// `#[utoipa::path]` lands in the OpenAPI document through `utoipa_axum::routes!`.
    pub fn new(state: St, routes: OpenApiRouter) -> Self {
        Self {
            state,
            routes,
            extra: Router::new(),
            tasks: Vec::new(),
            verifier: None,
            consumes: false,
        }
    }

    /// Accepts messages at `POST /v1/messages` and hands each new one to `consumer`, inside the
    /// transaction that records it in the inbox.
    #[must_use]
    pub fn consumer<C: Consumer>(mut self, pool: PgPool, consumer: C) -> Self {
        self.extra = self.extra.merge(inbox::router(pool, consumer));
        self.consumes = true;
        self
    }

    /// Runs `task` supervised beside the server.
    #[must_use]
    pub fn task(mut self, task: Task) -> Self {
        self.tasks.push(task);
        self
    }

    /// Verifies tokens with these keys instead of user-service's JWKS (user-service itself).
    #[must_use]
    pub fn verifier(mut self, verifier: Arc<TokenVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }
}

/// An assembled service, not yet serving: what `main` runs and tests serve on port 0.
pub struct Built<St> {
    /// The whole app: routes, probes, `/metrics`, `/openapi.json`, standard layers.
    pub router: Router,
    pub state: St,
    /// The outbox relay, when the service produces messages (tests drive it by hand).
    pub relay: Option<Relay>,
    /// The background tasks, the relay's among them.
    pub tasks: Vec<Task>,
    pub metrics: Metrics,
    supervisor: Supervisor,
}

impl<St> Built<St> {
    /// Starts the background tasks, supervised.
    pub fn start_tasks(&self) -> Running {
        self.supervisor.start(self.tasks.clone())
    }
}

/// Reads the configuration from `env` and assembles the service over `pool` (migrated).
pub async fn build<S: Service>(mut env: Env, pool: PgPool) -> anyhow::Result<Built<S::State>> {
    let settings = Settings::read::<S>(&mut env).context("configuration")?;
    assemble::<S>(&settings, pool).await
}

/// Assembles the service from settings already read.
pub async fn assemble<S: Service>(
    settings: &Settings<S::Config>,
    pool: PgPool,
) -> anyhow::Result<Built<S::State>> {
    let kit = kit::<S>(settings, pool);
    let assembly = S::assemble(&kit).await?;
    let Kit {
        pool,
        metrics,
        fleet,
        idempotency,
        common,
        ..
    } = kit;
    let mut tasks = assembly.tasks;
    tasks.push(Task::periodic(
        "idempotency-purge",
        KEY_PURGE_INTERVAL,
        move || {
            let store = idempotency.clone();
            async move {
                let purged = store.purge_older_than(KEY_RETENTION).await?;
                if purged > 0 {
                    tracing::info!(purged, "old idempotency keys purged");
                }
                Ok(())
            }
        },
    ));
    let who = S::WHO.service;
    let relay = if who.links().produces.is_empty() {
        None
    } else {
        let relay = Relay::new(
            pool.clone(),
            fleet.tokens.clone(),
            settings.fleet.relay_endpoints()?,
            OutboxMetrics::register(&metrics),
            settings.relay,
        );
        let runner = relay.clone();
        tasks.push(Task::new("outbox-relay", move |stop| {
            runner.clone().run(stop)
        }));
        Some(relay)
    };
    let verifier = assembly
        .verifier
        .or(fleet.verifier)
        .context("no token verifier: a service that issues tokens must bring its own")?;
    let health = TaskHealth::default();
    let supervisor = Supervisor::new(&metrics, health.clone(), RestartPolicy::default());
    let (routes, mut openapi) = assembly.routes.split_for_parts();
    who.name().clone_into(&mut openapi.info.title);
    VERSION.clone_into(&mut openapi.info.version);
    openapi.info.description = Some(who.description().to_owned());
    let openapi = Arc::new(crate::openapi::finish(openapi, who, assembly.consumes));
    let routes = routes.merge(assembly.extra).route(
        "/openapi.json",
        get(move || {
            let openapi = openapi.clone();
            async move { axum::Json(openapi.as_ref().clone()) }
        }),
    );
    let router = server::build(
        routes,
        Standard {
            service: who.name(),
            version: VERSION,
            pool: Some(pool),
            metrics: metrics.clone(),
            verifier,
            request_timeout: common.request_timeout,
            tasks: health,
            trusted_proxies: common.trusted_proxies.clone(),
        },
    );
    Ok(Built {
        router,
        state: assembly.state,
        relay,
        tasks,
        metrics,
        supervisor,
    })
}

fn kit<S: Service>(settings: &Settings<S::Config>, pool: PgPool) -> Kit<S::Config> {
    Kit {
        config: settings.config.clone(),
        common: settings.common.clone(),
        metrics: Metrics::new(name::<S>()),
        fleet: Fleet::new(&settings.fleet),
        // Longer than any request may run, so a live request's key is never taken over.
        idempotency: IdempotencyStore::new(pool.clone(), settings.common.request_timeout * 2),
        pool,
    }
}

/// The whole of a service's `main`.
pub async fn main<S: Service>() -> anyhow::Result<()> {
    let mut env = Env::from_process().context("configuration")?;
    let settings = Settings::read::<S>(&mut env).context("configuration")?;
    telemetry::init(settings.common.log_format);
    env.warn_about_defaults(name::<S>());
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["serve"] => serve::<S>(&settings).await,
        ["help" | "--help" | "-h"] => {
            #[allow(clippy::print_stdout)] // the answer to a question asked on the command line
            {
                println!("{}", usage::<S>());
            }
            Ok(())
        }
        ["outbox", "requeue", rest @ ..] => {
            let id = match rest {
                [] => None,
                [id] => Some(id.parse().context("a message id is a UUID")?),
                _ => anyhow::bail!("{}", usage::<S>()),
            };
            let pool = connect::<S>(&settings).await?;
            let requeued = outbox::requeue_dead(&pool, id).await?;
            tracing::info!(requeued, "dead deliveries re-queued");
            Ok(())
        }
        _ => {
            let pool = connect::<S>(&settings).await?;
            let kit = kit::<S>(&settings, pool);
            S::command(&kit, &args).await.with_context(|| usage::<S>())
        }
    }
}

fn usage<S: Service>() -> String {
    let name = name::<S>();
    format!(
        "usage:\n  {name}                        serve (the default)\n  {name} outbox requeue [ID]    put dead messages (or one) back in the queue\n{}",
        S::COMMANDS
    )
}

/// Creates the database when missing and applies the kit's and the service's migrations.
pub async fn connect<S: Service>(settings: &Settings<S::Config>) -> anyhow::Result<PgPool> {
    Ok(crate::db::connect_and_migrate(
        &settings.common.database_url,
        settings.common.db_max_connections,
        S::WHO.migrations,
    )
    .await?)
}

async fn serve<S: Service>(settings: &Settings<S::Config>) -> anyhow::Result<()> {
    let pool = connect::<S>(settings).await?;
    let built = assemble::<S>(settings, pool).await?;
    let port = settings.common.port;
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .with_context(|| format!("binding port {port}"))?;
    let tasks = built.start_tasks();
    tracing::info!(address = %listener.local_addr()?, "{} listening", name::<S>());
    server::serve(listener, built.router, server::shutdown_signal())
        .await
        .context("serving HTTP")?;
    tasks.stop().await;
    tracing::info!("{} stopped", name::<S>());
    Ok(())
}
