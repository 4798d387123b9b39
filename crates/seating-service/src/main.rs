#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::app::main::<seating_service::Seating>().await
}
