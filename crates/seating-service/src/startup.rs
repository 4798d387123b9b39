//! seating-service as the kit runs it: what it is, what it links to, what it is made of.

use std::sync::Arc;

use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::fleet;
use service_kit::rate_limit::RateLimit;
use service_kit::tasks::Task;

use crate::Seating;
use crate::config::Config;
use crate::db::MIGRATIONS;
use crate::messages::SeatingConsumer;
use crate::seatmap::SeatMaps;
use crate::state::{AppState, SeatMapMetrics, SeatingMetrics};
use crate::{routes, sweeper};

impl Service for Seating {
    const WHO: Identity = Identity::new(fleet::Service::Seating, &MIGRATIONS);

    type Config = Config;
    type State = AppState;

    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let state = AppState {
            pool: kit.pool.clone(),
            idempotency: kit.idempotency.clone(),
            hold_ttl: kit.config.hold_ttl,
            max_held_seats: kit.config.max_held_seats_per_holder,
            hold_rate: RateLimit::new(
                "holds by this holder",
                kit.config.holds_per_minute,
                kit.config.holds_burst,
            )
            .map(Arc::new),
            metrics: SeatingMetrics::register(&kit.metrics),
            seat_maps: SeatMaps::new(
                kit.pool.clone(),
                kit.config.seat_map.clone(),
                SeatMapMetrics::register(&kit.metrics),
            ),
        };
        let seat_maps = state.seat_maps.task();
        let sweeper = {
            let (pool, metrics) = (state.pool.clone(), state.metrics.clone());
            Task::periodic("hold-sweeper", kit.config.sweep_interval, move || {
                let (pool, metrics) = (pool.clone(), metrics.clone());
                async move {
                    sweeper::sweep_once(&pool, &metrics).await?;
                    sweeper::announce_sold_out(&pool).await?;
                    Ok(())
                }
            })
        };
        Ok(Assembly::new(state.clone(), routes::router(state))
            .consumer(kit.pool.clone(), SeatingConsumer)
            .task(sweeper)
            .task(seat_maps))
    }
}
