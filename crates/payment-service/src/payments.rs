//! Charges, refunds and reads: what the API does. With the reconciler (`reconciler`), the only
//! code that calls the gateway.
//!
//! Nothing is held across a gateway call: the intent is written down first, the gateway is
//! called, and its answer is recorded in a new short transaction.
//!
//! A charge is written down PENDING before the gateway is called, under the caller's
//! Idempotency-Key, and the gateway gets the payment's id as its own idempotency key. The
//! gateway's answer settles it SUCCESS or FAILED. When the gateway fails, the payment stays
//! PENDING: a retry with the same key finds it and asks again with the same gateway key, so the
//! card is charged once however the retries go; left alone, the reconciler settles it.
//!
//! A refund is written down PENDING, its amount reserved on the payment by one conditional
//! statement, before the gateway is called with the refund's id as its key; the answer makes it
//! SUCCESS (the payment PARTIALLY_REFUNDED or REFUNDED) or FAILED (the reservation released).
//! Without an answer it stays PENDING, holding its amount: a retry with the same key resumes the
//! same refund, and the reconciler settles it otherwise.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::json;
use service_kit::Problem;
use service_kit::auth::{Caller, Role, Scope};
use service_kit::idempotency::{IdempotencyError, IdempotencyKey};
use service_kit::money::{Currency, Money};
use uuid::Uuid;

use crate::api::{Charge, PaymentList, PaymentQuery, PaymentView, Refund};
use crate::db::attempts::{self, NewAttempt, Operation, Outcome};
use crate::db::payments::{self, NewPayment, PaymentRow};
use crate::db::refunds::{self, NewRefund, RefundRow};
use crate::domain::{METHOD_CARD, PaymentStatus, RefundRefusal, RefundStatus};
use crate::error::{ApiError, ApiResult, PaymentError};
use crate::gateway::{ChargeCommand, GatewayOutcome, RefundCommand, RefundOutcome};
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
            // A new attempt, stamped before the call: the reconciler keeps off it for its window.
            let Some(stamped) = payments::stamp_attempt(&state.pool, existing.id).await? else {
                // Settled meanwhile (by the reconciler): its record stands.
                return answer(current(state, existing.id).await?);
            };
            tracing::info!(payment_id = %stamped.id, "retrying a pending payment at the gateway");
            stamped
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
        None,
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
    let outcome = match result {
        Err(error) => {
            // Nothing is settled: the payment stays PENDING for a retry with the same key.
            let failed = NewAttempt {
                error: Some(&error.message),
                ..attempt
            };
            attempts::insert(&state.pool, &failed).await?;
            state.metrics.failed("gateway_error");
            tracing::warn!(payment_id = %payment.id, %error, "the payment gateway failed; the payment stays PENDING");
            return Err(PaymentError::Gateway(error).into());
        }
        Ok(outcome) => outcome,
    };
    let decided = NewAttempt {
        outcome: match outcome {
            GatewayOutcome::Succeeded { .. } => Outcome::Succeeded,
            GatewayOutcome::Declined { .. } => Outcome::Declined,
        },
        ..attempt
    };
    match settle_charge(
        state,
        payment.id,
        &ChargeDecision::from(&outcome),
        decided,
        None,
    )
    .await?
    {
        Some(settled) => answer(settled),
        // Another request settled it meanwhile (it took over an abandoned key): its word stands.
        None => answer(current(state, payment.id).await?),
    }
}

/// How a PENDING charge is settled.
pub(crate) struct ChargeDecision<'a> {
    pub status: PaymentStatus,
    pub reference: Option<&'a str>,
    pub failure_reason: Option<&'a str>,
}

impl<'a> From<&'a GatewayOutcome> for ChargeDecision<'a> {
    fn from(outcome: &'a GatewayOutcome) -> Self {
        match outcome {
            GatewayOutcome::Succeeded { reference } => Self {
                status: PaymentStatus::Success,
                reference: Some(reference),
                failure_reason: None,
            },
            GatewayOutcome::Declined { reason, reference } => Self {
                status: PaymentStatus::Failed,
                reference: reference.as_deref(),
                failure_reason: Some(reason),
            },
        }
    }
}

/// Writes the attempt (its outcome set by the caller) and settles a PENDING charge in one
/// transaction, counting it once. `None` when it was settled meanwhile, or (`lease`, the
/// reconciler's) taken over since it was claimed; the attempt is kept either way.
pub(crate) async fn settle_charge(
    state: &AppState,
    payment_id: Uuid,
    decision: &ChargeDecision<'_>,
    attempt: NewAttempt<'_>,
    lease: Option<Uuid>,
) -> sqlx::Result<Option<PaymentRow>> {
    let decided = NewAttempt {
        gateway_reference: decision.reference,
        ..attempt
    };
    let mut tx = state.pool.begin().await?;
    attempts::insert(&mut *tx, &decided).await?;
    let settled = payments::settle(
        &mut tx,
        payment_id,
        decision.status,
        decision.reference,
        decision.failure_reason,
        lease,
    )
    .await?;
    tx.commit().await?;
    if settled.is_some() {
        match decision.failure_reason {
            None => {
                state.metrics.settled("success");
                tracing::info!(%payment_id, "payment succeeded");
            }
            Some(reason) => {
                state.metrics.settled("failed");
                state.metrics.failed(reason);
                tracing::info!(%payment_id, reason, "payment failed");
            }
        }
    }
    Ok(settled)
}

async fn current(state: &AppState, id: Uuid) -> ApiResult<PaymentRow> {
    Ok(payments::find(&state.pool, id)
        .await?
        .ok_or(PaymentError::PaymentNotFound)?)
}

/// Refunds `refund.amount` (by default all that remains) of a payment, once per caller and key:
/// the refund is written down PENDING with its amount reserved, then asked of the gateway, then
/// settled. A retry with the key resumes that same refund, whatever became of it meanwhile.
#[tracing::instrument(skip_all, fields(%payment_id))]
pub async fn refund(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    payment_id: Uuid,
    refund: Refund,
    fingerprint: &[u8],
) -> ApiResult<PaymentView> {
    caller.require(REFUNDERS)?;
    let request = RefundRequest {
        caller,
        key,
        payment_id,
        refund: &refund,
        fingerprint,
    };
    match prepare_refund(state, &request).await? {
        Prepared::Answered(payment) => Ok(payment.into()),
        Prepared::Call(call) => refund_at_gateway(state, &call).await,
    }
}

struct RefundRequest<'a> {
    caller: &'a Caller,
    key: &'a IdempotencyKey,
    payment_id: Uuid,
    refund: &'a Refund,
    fingerprint: &'a [u8],
}

/// A PENDING refund, stamped and ready for the gateway.
struct RefundCall {
    refund: RefundRow,
    currency: Currency,
    /// The charge refunded, at the gateway.
    charge_reference: String,
}

enum Prepared {
    /// Made already under this key (its stored answer gone): the payment as it is.
    Answered(PaymentRow),
    Call(RefundCall),
}

/// The refund to ask the gateway for: the one this caller's key already wrote down (resumed, or
/// reopened when it failed), or a new one with its amount reserved.
async fn prepare_refund(state: &AppState, request: &RefundRequest<'_>) -> ApiResult<Prepared> {
    // Each turn reads afresh: a refund can be settled by the reconciler between the read and the
    // conditional write that follows it; the write then matches nothing and the next turn sees it.
    for _ in 0..3 {
        let existing =
            refunds::find_by_key(&state.pool, &request.caller.subject, request.key.as_str())
                .await?;
        let Some(existing) = existing else {
            return Ok(Prepared::Call(reserve_new(state, request).await?));
        };
        let same_request = existing.payment_id == request.payment_id
            && existing
                .request_fingerprint
                .as_deref()
                .is_none_or(|print| print == request.fingerprint);
        if !same_request {
            return Err(IdempotencyError::Mismatch.into());
        }
        let resumed = match existing.status {
            RefundStatus::Success => {
                return Ok(Prepared::Answered(
                    current(state, existing.payment_id).await?,
                ));
            }
            RefundStatus::Pending => refunds::stamp_attempt(&state.pool, existing.id).await?,
            // Released (the gateway refused it, or never saw it): ask again under the same gateway
            // key, which can never make it twice.
            RefundStatus::Failed => reopen(state, &existing).await?,
        };
        if let Some(refund) = resumed {
            tracing::info!(refund_id = %refund.id, "resuming a refund at the gateway");
            let payment = current(state, refund.payment_id).await?;
            return Ok(Prepared::Call(call_for(refund, &payment)?));
        }
    }
    Err(PaymentError::KeyInFlight.into())
}

/// Writes a new refund down PENDING and reserves its amount, in one short transaction.
async fn reserve_new(state: &AppState, request: &RefundRequest<'_>) -> ApiResult<RefundCall> {
    let mut payment = current(state, request.payment_id).await?;
    // A reservation fails only when another refund changed the payment since it was read: plan
    // again on what it left.
    for _ in 0..3 {
        let amount = plan_refund(&payment, request.refund.amount)?;
        let mut tx = state.pool.begin().await?;
        let Some(reserved) = payments::reserve_refund(&mut tx, payment.id, amount).await? else {
            drop(tx);
            payment = current(state, request.payment_id).await?;
            continue;
        };
        let refund = refunds::insert_pending(
            &mut tx,
            &NewRefund {
                id: Uuid::now_v7(),
                payment_id: payment.id,
                amount,
                reason: &request.refund.reason,
                caller: &request.caller.subject,
                key: request.key.as_str(),
                fingerprint: request.fingerprint,
            },
        )
        .await?;
        tx.commit().await?;
        return call_for(refund, &reserved);
    }
    Err(PaymentError::NotRefundable(
        "Other refunds of this payment are changing what remains; try again.".into(),
    )
    .into())
}

/// Makes a FAILED refund PENDING again with its amount reserved once more; `None` when it is no
/// longer FAILED.
async fn reopen(state: &AppState, refund: &RefundRow) -> ApiResult<Option<RefundRow>> {
    let mut tx = state.pool.begin().await?;
    if payments::reserve_refund(&mut tx, refund.payment_id, refund.amount)
        .await?
        .is_none()
    {
        drop(tx);
        let payment = current(state, refund.payment_id).await?;
        // What it would give back was refunded or reserved by others since it failed.
        return Err(plan_refund(&payment, Some(refund.amount))
            .err()
            .unwrap_or_else(|| {
                PaymentError::NotRefundable("This refund can no longer be made.".into()).into()
            }));
    }
    let reopened = refunds::reopen(&mut tx, refund.id).await?;
    if reopened.is_some() {
        tx.commit().await?;
    }
    Ok(reopened)
}

fn call_for(refund: RefundRow, payment: &PaymentRow) -> ApiResult<RefundCall> {
    let Some(charge_reference) = payment.gateway_reference.clone() else {
        return Err(anyhow!("refunded payment {} has no gateway reference", payment.id).into());
    };
    Ok(RefundCall {
        refund,
        currency: payment.currency,
        charge_reference,
    })
}

/// Asks the gateway for a PENDING refund and records what it answered. Without an answer the
/// refund stays PENDING and holding its amount (502).
async fn refund_at_gateway(state: &AppState, call: &RefundCall) -> ApiResult<PaymentView> {
    let refund = &call.refund;
    let command = RefundCommand {
        payment_id: refund.payment_id,
        refund_id: refund.id,
        gateway_reference: call.charge_reference.clone(),
        amount: refund.amount,
        currency: call.currency,
        // The refund's own id: the same on every retry of it, so the gateway makes it once.
        idempotency_key: refund.id.to_string(),
    };
    let gateway = state.gateway.name();
    let started = Instant::now();
    let result = state.gateway.refund(&command).await;
    let latency = started.elapsed();
    state.metrics.gateway_call(gateway, "refund", latency);
    let attempt = new_attempt(
        refund.payment_id,
        Some(refund.id),
        Operation::Refund,
        gateway,
        json!({
            "amount": command.amount,
            "currency": command.currency,
            "idempotencyKey": command.idempotency_key,
        }),
        latency,
    );
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            let failed = NewAttempt {
                error: Some(&error.message),
                ..attempt
            };
            attempts::insert(&state.pool, &failed).await?;
            tracing::warn!(refund_id = %refund.id, %error, "the payment gateway did not answer a refund; it stays PENDING");
            return Err(PaymentError::RefundPending(error).into());
        }
    };
    let settlement = RefundSettlement::from(&outcome);
    let decided = NewAttempt {
        outcome: match outcome {
            RefundOutcome::Made { .. } => Outcome::Succeeded,
            RefundOutcome::Refused { .. } => Outcome::Declined,
        },
        ..attempt
    };
    match settle_refund(state, refund.id, &settlement, decided, None).await? {
        Some(payment) => match settlement {
            RefundSettlement::Made { .. } => Ok(payment.into()),
            RefundSettlement::Released { reason } => Err(PaymentError::NotRefundable(format!(
                "The gateway refused the refund ({reason}); nothing was refunded."
            ))
            .into()),
        },
        // Settled meanwhile (by the reconciler, after a very long call): the record stands.
        None => answer_settled_refund(state, refund.id).await,
    }
}

/// The answer for a refund someone else settled.
async fn answer_settled_refund(state: &AppState, refund_id: Uuid) -> ApiResult<PaymentView> {
    let refund = refunds::find(&state.pool, refund_id)
        .await?
        .ok_or_else(|| anyhow!("refund {refund_id} vanished"))?;
    match refund.status {
        RefundStatus::Success => Ok(current(state, refund.payment_id).await?.into()),
        RefundStatus::Failed => Err(PaymentError::NotRefundable(format!(
            "The refund failed ({}); nothing was refunded.",
            refund.failure_reason.as_deref().unwrap_or("unknown")
        ))
        .into()),
        RefundStatus::Pending => Err(PaymentError::KeyInFlight.into()),
    }
}

/// How a PENDING refund is settled.
pub(crate) enum RefundSettlement<'a> {
    /// The gateway made it: SUCCESS, and the payment's refunded amount grows.
    Made { reference: &'a str },
    /// It was not made: FAILED, and its reservation is released.
    Released { reason: &'a str },
}

impl<'a> From<&'a RefundOutcome> for RefundSettlement<'a> {
    fn from(outcome: &'a RefundOutcome) -> Self {
        match outcome {
            RefundOutcome::Made { reference } => Self::Made { reference },
            RefundOutcome::Refused { reason } => Self::Released { reason },
        }
    }
}

/// Writes the attempt (its outcome set by the caller) and settles a PENDING refund and its
/// payment in one transaction, counting a made refund once. `None` when it was settled meanwhile,
/// or (`lease`) taken over since it was claimed; the attempt is kept either way.
pub(crate) async fn settle_refund(
    state: &AppState,
    refund_id: Uuid,
    settlement: &RefundSettlement<'_>,
    attempt: NewAttempt<'_>,
    lease: Option<Uuid>,
) -> sqlx::Result<Option<PaymentRow>> {
    let (status, reference, reason) = match *settlement {
        RefundSettlement::Made { reference } => (RefundStatus::Success, Some(reference), None),
        RefundSettlement::Released { reason } => (RefundStatus::Failed, None, Some(reason)),
    };
    let decided = NewAttempt {
        gateway_reference: reference,
        ..attempt
    };
    let mut tx = state.pool.begin().await?;
    attempts::insert(&mut *tx, &decided).await?;
    let Some(refund) =
        refunds::settle(&mut tx, refund_id, status, reference, reason, lease).await?
    else {
        tx.commit().await?;
        return Ok(None);
    };
    let payment = match settlement {
        RefundSettlement::Made { .. } => {
            payments::refund_made(&mut tx, refund.payment_id, refund.amount).await?
        }
        RefundSettlement::Released { .. } => {
            payments::refund_released(&mut tx, refund.payment_id, refund.amount).await?
        }
    };
    tx.commit().await?;
    match settlement {
        RefundSettlement::Made { .. } => {
            state.metrics.refunds.inc();
            tracing::info!(%refund_id, amount = %refund.amount, status = %payment.status, "refund made");
        }
        RefundSettlement::Released { reason } => {
            tracing::info!(%refund_id, reason, "refund not made; its amount is released");
        }
    }
    Ok(Some(payment))
}

/// The amount a refund of `requested` (by default all that remains) would give back; 409 when the
/// payment does not allow it. What PENDING refunds hold counts as taken.
fn plan_refund(payment: &PaymentRow, requested: Option<Money>) -> ApiResult<Money> {
    let taken = payment
        .refunded_amount
        .checked_add(payment.refund_reserved)
        .unwrap_or(payment.amount);
    let remaining = payment.amount.checked_sub(taken).unwrap_or(Money::ZERO);
    let amount = requested.unwrap_or(remaining);
    if amount.in_smallest_unit(payment.currency).is_none() {
        return Err(ApiError::field(
            "amount",
            format!("{} has no cents", payment.currency),
        ));
    }
    let checked = if amount.is_positive() {
        taken
            .checked_add(amount)
            .ok_or(RefundRefusal::ExceedsCharge)
            .and_then(|total| payment.status.after_refund(payment.amount, total))
    } else {
        // Nothing remains (what is left is being refunded), or the payment is not refundable.
        payment
            .status
            .after_refund(payment.amount, payment.amount)
            .and(Err(RefundRefusal::ExceedsCharge))
    };
    checked.map(|_| amount).map_err(|refusal| {
        let detail = match refusal {
            RefundRefusal::ExceedsCharge if payment.refund_reserved.is_positive() => format!(
                "Only {remaining} {currency} of this payment can still be refunded \
                 ({reserved} {currency} more is being refunded).",
                currency = payment.currency,
                reserved = payment.refund_reserved,
            ),
            RefundRefusal::ExceedsCharge => format!(
                "Only {remaining} {} of this payment can still be refunded.",
                payment.currency
            ),
            other => format!("{other}."),
        };
        PaymentError::NotRefundable(detail).into()
    })
}

/// An attempt at the gateway, as a failure until its outcome says otherwise.
pub(crate) fn new_attempt(
    payment_id: Uuid,
    refund_id: Option<Uuid>,
    operation: Operation,
    gateway: &str,
    request: serde_json::Value,
    latency: Duration,
) -> NewAttempt<'_> {
    NewAttempt {
        payment_id,
        refund_id,
        operation,
        gateway,
        request,
        outcome: Outcome::Error,
        gateway_reference: None,
        error: None,
        latency,
    }
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
