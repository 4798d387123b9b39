#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::app::main::<payment_service::Payments>().await
}
