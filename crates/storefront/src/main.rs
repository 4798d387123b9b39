#[tokio::main]
async fn main() -> anyhow::Result<()> {
    storefront::main().await
}
