#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::app::main::<notification_service::Notifications>().await
}
