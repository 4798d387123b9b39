#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::app::main::<user_service::Users>().await
}
