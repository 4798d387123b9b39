//! The kit's runner end to end: a small service assembled by `app::build`, served over HTTP on a
//! real database, whose background task is made to panic.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::auth::TokenVerifier;
use service_kit::config::Env;
use service_kit::fleet;
use service_kit::tasks::Task;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use utoipa_axum::router::OpenApiRouter;

static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

/// What the test pulls on: the task panics on its next round while `SABOTAGE` is set.
#[derive(Clone, Default)]
struct Probe {
    sabotage: Arc<AtomicBool>,
    rounds: Arc<AtomicU32>,
}

struct ProbeService;

impl Service for ProbeService {
    // Any service of the map that calls nobody will do: the probe stands in for it.
    const WHO: Identity = Identity::new(fleet::Service::Payment, &NO_MIGRATIONS);

    type Config = ();
    type State = Probe;

    async fn assemble(_kit: &Kit<()>) -> anyhow::Result<Assembly<Probe>> {
        let probe = Probe::default();
        let task = {
            let probe = probe.clone();
            Task::periodic("probe-worker", Duration::from_millis(20), move || {
                let probe = probe.clone();
                async move {
                    probe.rounds.fetch_add(1, Ordering::SeqCst);
                    // An injected fault: the kind of bug that kills a sweeper in production.
                    assert!(
                        !probe.sabotage.swap(false, Ordering::SeqCst),
                        "injected failure"
                    );
                    Ok(())
                }
            })
        };
        Ok(Assembly::new(probe, OpenApiRouter::new())
            .verifier(Arc::new(TokenVerifier::with_keys(HashMap::new())))
            .task(task))
    }
}

#[sqlx::test(migrations = false)]
async fn a_panicking_task_turns_ready_503_is_counted_and_runs_again(pool: PgPool) {
    service_kit::db::migrate(&pool, &NO_MIGRATIONS)
        .await
        .unwrap();
    let env = Env::from_fn(|_| None).unwrap();
    let built = service_kit::app::build::<ProbeService>(env, pool)
        .await
        .unwrap();
    let probe = built.state.clone();
    let tasks = built.start_tasks();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(service_kit::server::serve(
        listener,
        built.router,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let ready = || async { http.get(format!("{base}/ready")).send().await.unwrap() };
    assert_eq!(ready().await.status(), 200);

    probe.sabotage.store(true, Ordering::SeqCst);
    let down = wait_for(|| async {
        let response = ready().await;
        (response.status() == 503).then_some(response)
    })
    .await;
    let body: serde_json::Value = down.json().await.unwrap();
    assert_eq!(body["tasksDown"], serde_json::json!(["probe-worker"]));
    assert!(body["detail"].as_str().unwrap().contains("probe-worker"));

    // Restarted after its back-off: ready again, and rounds go on.
    wait_for(|| async { (ready().await.status() == 200).then_some(()) }).await;
    let rounds = probe.rounds.load(Ordering::SeqCst);
    wait_for(|| async { (probe.rounds.load(Ordering::SeqCst) > rounds + 2).then_some(()) }).await;
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("background_task_failures_total{task=\"probe-worker\"} 1"),
        "{metrics}"
    );
    tasks.stop().await;
}

async fn wait_for<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the condition did not come true within 5 s");
}
