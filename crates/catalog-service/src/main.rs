#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::app::main::<catalog_service::Catalog>().await
}
