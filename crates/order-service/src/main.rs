#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Crash points for the recovery tests (`FAILPOINTS`); inert in release builds.
    let _crash_points = fail::FailScenario::setup();
    service_kit::app::main::<order_service::Orders>().await
}
