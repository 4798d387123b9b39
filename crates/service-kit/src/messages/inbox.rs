//! The consumer side: `POST /v1/messages`, with each message id recorded so repeats are ignored.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use sqlx::{PgConnection, PgPool};

use super::Envelope;
use crate::Problem;
use crate::auth::{Caller, Role};
use crate::extract::Json;
use crate::fleet;

/// Records `envelope` in the inbox; `false` when it was seen before. Call it in the transaction
/// that handles the message, so that handling and recording commit together.
pub async fn record(conn: &mut PgConnection, envelope: &Envelope) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO inbox (message_id, type, source) VALUES ($1, $2, $3)
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(envelope.id)
    .bind(&envelope.message_type)
    .bind(&envelope.source)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// What a service does with the messages it receives.
pub trait Consumer: Clone + Send + Sync + 'static {
    /// Handles one new message inside `conn`'s transaction. Message types the service does not
    /// act on should be accepted (return `Ok`). An error rolls back and the producer retries.
    fn handle(
        &self,
        conn: &mut PgConnection,
        envelope: &Envelope,
    ) -> impl Future<Output = Result<(), Problem>> + Send;
}

#[derive(Clone)]
struct Inbox<C> {
    pool: PgPool,
    consumer: C,
}

/// `POST /v1/messages` for services only: 202 for a new message once handled, 202 again for a
/// repeat.
pub fn router<C: Consumer>(pool: PgPool, consumer: C) -> Router {
    Router::new()
        .route("/v1/messages", post(receive::<C>))
        .with_state(Inbox { pool, consumer })
}

async fn receive<C: Consumer>(
    State(inbox): State<Inbox<C>>,
    caller: Caller,
    Json(envelope): Json<Envelope>,
) -> Result<StatusCode, Problem> {
    caller.require(&[Role::Service])?;
    // Only from the service it says it comes from, and only of a type that service produces:
    // one service's token cannot speak for another, nor invent a message.
    let produces = fleet::Service::from_name(&caller.subject)
        .is_some_and(|s| s.links().produces.contains(&envelope.message_type.as_str()));
    if envelope.source != caller.subject || !produces {
        return Err(Problem::forbidden().with_detail(format!(
            "`{}` may not send `{}` messages as `{}`.",
            caller.subject, envelope.message_type, envelope.source
        )));
    }
    let internal = |e: sqlx::Error| Problem::internal_from(&e);
    let mut tx = inbox.pool.begin().await.map_err(internal)?;
    if record(&mut tx, &envelope).await.map_err(internal)? {
        inbox.consumer.handle(&mut tx, &envelope).await?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(message_id = %envelope.id, message_type = %envelope.message_type, source = %envelope.source, "message handled");
    } else {
        tracing::info!(message_id = %envelope.id, "repeated message ignored");
    }
    Ok(StatusCode::ACCEPTED)
}
