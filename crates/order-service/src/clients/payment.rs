//! payment-service: the order's charge and its refund.

use serde::Deserialize;
use serde_json::json;
use service_kit::client::ServiceClient;
use service_kit::money::Money;
use uuid::Uuid;

use super::Remote;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub id: Uuid,
    pub status: String,
    pub failure_reason: Option<String>,
}

/// What a charge request is made of; the key makes every repeat the same charge.
pub struct Charge<'a> {
    pub key: &'a str,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    pub currency: &'a str,
    pub token: &'a str,
}

#[derive(Clone, Debug)]
pub struct PaymentClient(pub ServiceClient);

impl PaymentClient {
    pub async fn charge(&self, charge: &Charge<'_>) -> Result<Payment, Remote> {
        Ok(self
            .0
            .post("/v1/payments/charge")
            .idempotency_key(charge.key)
            .json(&json!({
                "orderId": charge.order_id,
                "userId": charge.user_id,
                "amount": charge.amount,
                "currency": charge.currency,
                "method": "card",
                "token": charge.token,
            }))
            .send_json()
            .await?)
    }

    /// Refunds the whole payment.
    pub async fn refund(
        &self,
        key: &str,
        payment_id: Uuid,
        reason: &str,
    ) -> Result<Payment, Remote> {
        Ok(self
            .0
            .post(&format!("/v1/payments/{payment_id}/refund"))
            .idempotency_key(key)
            .json(&json!({ "reason": reason }))
            .send_json()
            .await?)
    }

    /// The order's payment that counts: a successful (or refunded) one if any, else a pending
    /// one, else the last failed one; `None` when the order was never charged.
    pub async fn for_order(&self, order_id: Uuid) -> Result<Option<Payment>, Remote> {
        #[derive(Deserialize)]
        struct List {
            items: Vec<Payment>,
        }
        let list: List = self
            .0
            .get(&format!("/v1/payments?orderId={order_id}&limit=100"))
            .send_json()
            .await?;
        let rank = |p: &Payment| match p.status.as_str() {
            "SUCCESS" | "REFUNDED" | "PARTIALLY_REFUNDED" => 0,
            "PENDING" => 1,
            _ => 2,
        };
        Ok(list.items.into_iter().min_by_key(rank))
    }

    pub async fn get(&self, payment_id: Uuid) -> Result<Payment, Remote> {
        Ok(self
            .0
            .get(&format!("/v1/payments/{payment_id}"))
            .send_json()
            .await?)
    }
}
