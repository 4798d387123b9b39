//! The cost of verifying one access token in-process, as every service does per request: an
//! access token signed by user-service's key, checked by the kit's verifier (EdDSA signature,
//! expiry, issuer, audience) in a loop on one core.
//!
//! ```text
//! cargo run --release -p user-service --example verify_token -- --iterations 20000
//! ```

#![allow(clippy::print_stdout)] // a benchmark's output is its report

use std::collections::HashMap;
use std::time::Instant;

use clap::Parser;
use service_kit::auth::{Role, TokenVerifier};
use user_service::keys::SigningKey;

#[derive(Parser)]
#[command(about = "In-process cost of verifying one access token (EdDSA signature and claims)")]
struct Args {
    #[arg(long, default_value_t = 20_000)]
    iterations: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let iterations = Args::parse().iterations.max(1);
    let (key, _) = SigningKey::generate()?;
    let token = user_service::tokens::access_token(
        &key,
        "0190c6a0-0000-7000-8000-000000000000",
        Some("bench@example.com"),
        Role::Customer,
    )?
    .token;
    let verifier =
        TokenVerifier::with_keys(HashMap::from([(key.kid().to_owned(), key.decoding_key())]));
    // Warm up, and check the token really verifies.
    verifier.verify(&token).await?;
    let started = Instant::now();
    for _ in 0..iterations {
        verifier.verify(&token).await?;
    }
    let elapsed = started.elapsed();
    let per = elapsed / iterations;
    println!(
        "verify access token (EdDSA, exp/iss/aud checked): {iterations} in {:.3} s = {:.1} µs each, {:.0} per second on one core",
        elapsed.as_secs_f64(),
        per.as_secs_f64() * 1e6,
        f64::from(iterations) / elapsed.as_secs_f64()
    );
    Ok(())
}
