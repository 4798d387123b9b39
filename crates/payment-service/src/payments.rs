//! Charges, refunds and reads: what the API does, and the only code that calls the gateway.
//!
//! A charge is written down PENDING before the gateway is called, under the caller's
//! Idempotency-Key, and the gateway gets the payment's id as its own idempotency key. The
//! gateway's answer settles it SUCCESS or FAILED. When the gateway fails, the payment stays
//! PENDING: a retry with the same key finds it and asks again with the same gateway key, so the
//! card is charged once however the retries go.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::json;
use service_kit::Problem;
use service_kit::auth::{Caller, Role, Scope};
use service_kit::idempotency::{IdempotencyError, IdempotencyKey, fingerprint};
use service_kit::money::Money;
use uuid::Uuid;

use crate::api::{Charge, PaymentList, PaymentQuery, PaymentView, Refund};
use crate::db::attempts::{self, NewAttempt, Operation, Outcome};
use crate::db::payments::{self, NewPayment, PaymentRow};
use crate::db::refunds::{self, NewRefund};
use crate::domain::{METHOD_CARD, PaymentStatus, RefundRefusal};
use crate::error::{ApiError, ApiResult, PaymentError};
use crate::gateway::{ChargeCommand, GatewayOutcome, RefundCommand};
use crate::state::AppState;

/// Who may refund: money goes back on the platform's decision (an order cancelled, an admin's
/// call), never on the buyer's alone.
pub const REFUNDERS: &[Role] = &[Role::Service, Role::Admin];

/// Charges the card once for this caller and key. A decline is [`PaymentError::Declined`] (402), a
/// gateway failure [`PaymentError::Gateway`] (502, the payment stays PENDING and retryable).
#[tracing::instrument(skip_all, fields(order_id = %charge.order_id))]
pub async fn charge(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    charge: Charge,
    payer: Uuid,
    fingerprint: &[u8],
) -> ApiResult<PaymentView> {
    let payment = match payments::find_by_key(&state.pool, &caller.subject, key.as_str()).await? {
        Some(existing) => {
            // The key is ours again after a gateway error (a 5xx is not stored) or after its stored
            // answer was purged: only the very same request may continue this payment.
            if existing.request_fingerprint != fingerprint {
                return Err(IdempotencyError::Mismatch.into());
            }
            if existing.status != PaymentStatus::Pending {
                // Settled by an earlier request whose answer is no longer stored.
                return answer(existing);
            }
            tracing::info!(payment_id = %existing.id, "retrying a pending payment at the gateway");
            existing
        }
        None => {
            payments::insert_pending(
                &state.pool,
                &NewPayment {
                    id: Uuid::now_v7(),
                    order_id: charge.order_id,
                    user_id: payer,
                    caller: &caller.subject,
                    key: key.as_str(),
                    fingerprint,
                    amount: charge.amount,
                    currency: charge.currency,
                    method: METHOD_CARD,
                    gateway: state.gateway.name(),
                },
            )
            .await?
        }
    };
    charge_at_gateway(state, &payment, &charge).await
}

/// The payer: the user themself, or the user a service names (services must name one).
/// Checked before the Idempotency-Key is claimed, so that such an error is not stored under the
/// key: fixing `userId` and retrying with the same key works.
pub fn payer(caller: &Caller, named: Option<Uuid>) -> ApiResult<Uuid> {
    if caller.is_service() {
        return named.ok_or_else(|| {
            ApiError::field(
                "userId",
                "required when a service charges on a user's behalf",
            )
        });
    }
    let Some(me) = caller.user_id() else {
        return Err(Problem::forbidden().into());
    };
    match named {
        Some(other) if other != me => Err(Problem::forbidden()
            .with_detail("You can only pay for yourself.")
            .into()),
        _ => Ok(me),
    }
}

/// What a settled payment answers: the payment, or the decline it was.
fn answer(payment: PaymentRow) -> ApiResult<PaymentView> {
    match payment.status {
        PaymentStatus::Success | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {
            Ok(payment.into())
        }
        PaymentStatus::Failed => Err(PaymentError::Declined(Box::new(payment.into())).into()),
        PaymentStatus::Pending => {
            Err(anyhow!("payment {} is unexpectedly PENDING", payment.id).into())
        }
    }
}

/// Asks the gateway, writes the attempt down, and settles the payment on a decision.
async fn charge_at_gateway(
    state: &AppState,
    payment: &PaymentRow,
    charge: &Charge,
) -> ApiResult<PaymentView> {
    let command = ChargeCommand {
        payment_id: payment.id,
        order_id: payment.order_id,
        amount: payment.amount,
        currency: charge.currency,
        token: charge.token.as_str().to_owned(),
        // The payment's own id: the same on every retry, so the gateway charges it once.
        idempotency_key: payment.id.to_string(),
    };
    let gateway = state.gateway.name();
    let started = Instant::now();
    let result = state.gateway.charge(&command).await;
    let latency = started.elapsed();
    state.metrics.gateway_call(gateway, "charge", latency);
    let attempt = new_attempt(
        payment.id,
        Operation::Charge,
        gateway,
        // What was asked, without the token.
        json!({
            "method": METHOD_CARD,
            "amount": command.amount,
            "currency": command.currency,
            "orderId": command.order_id,
            "idempotencyKey": command.idempotency_key,
        }),
        latency,
    );
    let (status, reference, failure_reason) = match &result {
        Err(error) => {
            // Nothing is settled: the payment stays PENDING for a retry with the same key.
            let failed = NewAttempt {
                error: Some(&error.message),
                ..attempt
            };
            attempts::insert(&state.pool, &failed).await?;
            state.metrics.failed("gateway_error");
            tracing::warn!(payment_id = %payment.id, %error, "the payment gateway failed; the payment stays PENDING");
            return Err(PaymentError::Gateway(error.clone()).into());
        }
        Ok(GatewayOutcome::Succeeded { reference }) => {
            (PaymentStatus::Success, Some(reference.as_str()), None)
        }
        Ok(GatewayOutcome::Declined { reason, reference }) => (
            PaymentStatus::Failed,
            reference.as_deref(),
            Some(reason.as_str()),
        ),
    };
    let decided = NewAttempt {
        outcome: if status == PaymentStatus::Success {
            Outcome::Succeeded
        } else {
            Outcome::Declined
        },
        gateway_reference: reference,
        ..attempt
    };
    let mut tx = state.pool.begin().await?;
    attempts::insert(&mut *tx, &decided).await?;
    let settled = payments::settle(&mut tx, payment.id, status, reference, failure_reason).await?;
    tx.commit().await?;
    let Some(settled) = settled else {
        // Another request settled it meanwhile (it took over an abandoned key): its word stands.
        let current = payments::find(&state.pool, payment.id)
            .await?
            .ok_or(PaymentError::PaymentNotFound)?;
        return answer(current);
    };
    match failure_reason {
        None => {
            state.metrics.settled("success");
            tracing::info!(payment_id = %settled.id, "payment succeeded");
        }
        Some(reason) => {
            state.metrics.settled("failed");
            state.metrics.failed(reason);
            tracing::info!(payment_id = %settled.id, reason, "payment declined");
        }
    }
    answer(settled)
}

/// Refunds `refund.amount` (by default all that remains) of a payment, once per caller and key.
/// The payment row stays locked from the check to the update, so concurrent refunds of one
/// payment queue and each sees what the previous ones left.
#[tracing::instrument(skip_all, fields(%payment_id))]
pub async fn refund(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    payment_id: Uuid,
    refund: Refund,
) -> ApiResult<PaymentView> {
    caller.require(REFUNDERS)?;
    let mut tx = state.pool.begin().await?;
    let payment = payments::lock(&mut tx, payment_id)
        .await?
        .ok_or(PaymentError::PaymentNotFound)?;
    if let Some(done) = refunds::find_by_key(&mut *tx, &caller.subject, key.as_str()).await? {
        // Made already under this key (its stored answer expired): nothing more to do.
        return if done.payment_id == payment_id {
            Ok(payment.into())
        } else {
            Err(IdempotencyError::Mismatch.into())
        };
    }
    let (amount, refunded_total, next) = plan_refund(&payment, refund.amount)?;
    let Some(charge_reference) = payment.gateway_reference.clone() else {
        return Err(anyhow!("settled payment {payment_id} has no gateway reference").into());
    };
    let currency = payment.currency;
    let command = RefundCommand {
        payment_id,
        gateway_reference: charge_reference,
        amount,
        currency,
        idempotency_key: refund_gateway_key(payment_id, &caller.subject, key),
    };
    let gateway = state.gateway.name();
    let started = Instant::now();
    let result = state.gateway.refund(&command).await;
    let latency = started.elapsed();
    state.metrics.gateway_call(gateway, "refund", latency);
    let attempt = new_attempt(
        payment_id,
        Operation::Refund,
        gateway,
        json!({
            "amount": amount,
            "currency": payment.currency,
            "idempotencyKey": command.idempotency_key,
        }),
        latency,
    );
    let reference = match result {
        Ok(made) => made.reference,
        Err(error) => {
            // Nothing was refunded: unlock the payment, then write the attempt down on its own
            // (the transaction's work is void).
            tx.rollback().await?;
            let failed = NewAttempt {
                error: Some(&error.message),
                ..attempt
            };
            attempts::insert(&state.pool, &failed).await?;
            tracing::warn!(%error, "the payment gateway failed a refund; nothing was refunded");
            return Err(PaymentError::Gateway(error).into());
        }
    };
    // Written in the transaction that holds the lock: no second connection is needed while the
    // payment row blocks other refunds.
    let succeeded = NewAttempt {
        outcome: Outcome::Succeeded,
        gateway_reference: Some(&reference),
        ..attempt
    };
    attempts::insert(&mut *tx, &succeeded).await?;
    refunds::insert(
        &mut tx,
        &NewRefund {
            id: Uuid::now_v7(),
            payment_id,
            amount,
            reason: &refund.reason,
            gateway_reference: &reference,
            caller: &caller.subject,
            key: key.as_str(),
        },
    )
    .await?;
    let updated = payments::record_refund(&mut tx, payment_id, refunded_total, next).await?;
    tx.commit().await?;
    state.metrics.refunds.inc();
    tracing::info!(%amount, status = %next, "refund made");
    Ok(updated.into())
}

/// What a refund of `requested` (by default all that remains) would do: the amount, the new
/// refunded total, and the status that goes with it; 409 when the payment does not allow it.
fn plan_refund(
    payment: &PaymentRow,
    requested: Option<Money>,
) -> ApiResult<(Money, Money, PaymentStatus)> {
    let remaining = payment
        .amount
        .checked_sub(payment.refunded_amount)
        .unwrap_or(Money::ZERO);
    let amount = requested.unwrap_or(remaining);
    if amount.in_smallest_unit(payment.currency).is_none() {
        return Err(ApiError::field(
            "amount",
            format!("{} has no cents", payment.currency),
        ));
    }
    payment
        .refunded_amount
        .checked_add(amount)
        .ok_or(RefundRefusal::ExceedsCharge)
        .and_then(|total| {
            payment
                .status
                .after_refund(payment.amount, total)
                .map(|next| (amount, total, next))
        })
        .map_err(|refusal| match refusal {
            RefundRefusal::ExceedsCharge => PaymentError::NotRefundable(format!(
                "Only {remaining} {} of this payment can still be refunded.",
                payment.currency
            )),
            other => PaymentError::NotRefundable(format!("{other}.")),
        })
        .map_err(ApiError::from)
}

/// An attempt at the gateway, as a failure until its outcome says otherwise.
fn new_attempt(
    payment_id: Uuid,
    operation: Operation,
    gateway: &str,
    request: serde_json::Value,
    latency: Duration,
) -> NewAttempt<'_> {
    NewAttempt {
        payment_id,
        operation,
        gateway,
        request,
        outcome: Outcome::Error,
        gateway_reference: None,
        error: None,
        latency,
    }
}

/// The gateway's key for one refund request: the same on every retry of it (payment, caller and
/// key), different for any other, and short enough for any gateway (SHA-256 in hex).
fn refund_gateway_key(payment_id: Uuid, caller: &str, key: &IdempotencyKey) -> String {
    let digest = fingerprint("refund", &(payment_id, caller, key.as_str()));
    let mut hex = String::with_capacity(3 + 2 * digest.len());
    hex.push_str("re_");
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A payment, for its payer, admins and services granted `payments:read`; anyone else gets 404.
pub async fn get(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<PaymentView> {
    payments::find(&state.pool, id)
        .await?
        .filter(|p| caller.may_act_for(p.user_id, Scope::PaymentsRead))
        .map(PaymentView::from)
        .ok_or_else(|| PaymentError::PaymentNotFound.into())
}

/// Payments, newest first: a payer's own, or anyone's for admins and services granted
/// `payments:read`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &PaymentQuery,
) -> ApiResult<PaymentList> {
    let page = query.page()?;
    let payer = if caller.has(Scope::PaymentsRead) || caller.is_admin() {
        None
    } else {
        Some(caller.user_id().ok_or_else(Problem::forbidden)?)
    };
    let rows = payments::list(
        &state.pool,
        payer,
        query.order_id,
        i64::from(page.limit),
        page.offset(),
    )
    .await?;
    let total = payments::count(&state.pool, payer, query.order_id).await?;
    Ok(PaymentList {
        items: rows.into_iter().map(PaymentView::from).collect(),
        page: page.number,
        limit: page.limit,
        total,
    })
}
