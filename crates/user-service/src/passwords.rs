//! Password hashing with argon2id at the OWASP parameters (19 MiB, 2 passes, 1 lane), on a
//! few dedicated threads: a hash takes tens of milliseconds of CPU that must not stall the async
//! workers.
//!
//! The queue in front of those threads is bounded, per purpose: registrations may have at most
//! [`REGISTRATION_SLOTS_PER_THREAD`] hashes waiting or running per thread, logins
//! [`LOGIN_SLOTS_PER_THREAD`]. A request that finds its purpose's slots taken is refused at once
//! (503 with `Retry-After`) instead of waiting behind a flood, so a flood of registrations can
//! delay a login by at most the registrations' share of the queue; and a queued hash whose
//! request has gone (timed out, client disconnected) is skipped rather than computed for nobody.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::Semaphore;

use anyhow::Context;
use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::domain::Password;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes a registration may have waiting or running, per hashing thread (about 16 ms each).
pub const REGISTRATION_SLOTS_PER_THREAD: usize = 8;
/// The same for logins: with both full, a login waits at most (8 + 32) × 16 ms ≈ 0.64 s.
pub const LOGIN_SLOTS_PER_THREAD: usize = 32;

/// Why a hash is wanted: each purpose has its own share of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Login,
    Registration,
    /// The admin account at start-up: not limited.
    Setup,
}

/// A hash that was not computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every slot of this purpose is taken: answer 503 at once.
    #[error("the password hashers are busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Queued hashes skipped because their request had gone: the proof that abandoned work is not
/// done (tests read it; so could a metric).
static SKIPPED: AtomicU64 = AtomicU64::new(0);

pub fn skipped_jobs() -> u64 {
    SKIPPED.load(Ordering::Relaxed)
}

static REGISTRATION_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(REGISTRATION_SLOTS_PER_THREAD * threads()));
static LOGIN_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(LOGIN_SLOTS_PER_THREAD * threads()));

/// One hashing thread per core, for the life of the process. Hashing is CPU-bound, so more in
/// parallel would only add memory; and tokio's blocking pool, which hands each job to whichever
/// of its (up to 512) threads is free, made glibc keep a 19 MiB argon2 block per thread that
/// ever hashed: a burst of registrations grew the process past 2 GiB. Fixed threads bound it.
static HASHERS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..threads() {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    // The guard is dropped before the job runs, so the others can take the next.
                    let job = queue
                        .lock()
                        .map_err(|_| ())
                        .and_then(|q| q.recv().map_err(|_| ()));
                    match job {
                        Ok(job) => job(),
                        Err(()) => return,
                    }
                }
            })
            .expect("a hashing thread can be started");
    }
    jobs
});

/// Runs argon2 work on the hashing threads, inside the caller's span, if `purpose` has a free
/// slot. The slot is held until the work is done or the caller gives up (the future is
/// dropped); work whose caller has given up is skipped when its turn comes.
async fn hashing<R: Send + 'static>(
    purpose: Purpose,
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, HashError> {
    let _slot = match purpose {
        Purpose::Login => Some(LOGIN_SLOTS.try_acquire().map_err(|_| HashError::Busy)?),
        Purpose::Registration => Some(
            REGISTRATION_SLOTS
                .try_acquire()
                .map_err(|_| HashError::Busy)?,
        ),
        Purpose::Setup => None,
    };
    let span = tracing::Span::current();
    let (done, result) = tokio::sync::oneshot::channel();
    HASHERS
        .send(Box::new(move || {
            if done.is_closed() {
                SKIPPED.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let _ = done.send(span.in_scope(work));
        }))
        .map_err(|_| anyhow::anyhow!("the hashing threads are gone"))?;
    Ok(result.await.context("a hashing job was dropped")?)
}

/// OWASP Password Storage Cheat Sheet, argon2id option 2: m=19456 KiB, t=2, p=1.
fn params() -> Params {
    Params::new(19_456, 2, 1, None).expect("static argon2 parameters are valid")
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

thread_local! {
    /// Each hashing thread's argon2 memory (19 MiB), allocated once and reused: allocating it per
    /// hash made glibc keep every copy (its mmap threshold rises past 19 MiB after the first
    /// free), about 19 MiB more per registration.
    static BLOCKS: RefCell<Vec<Block>> = RefCell::new(vec![Block::default(); params().block_count()]);
}

/// `hash_password` without an allocation: the same PHC output.
fn hash_in_place(password: &[u8]) -> password_hash::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf)?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        BLOCKS.with_borrow_mut(|blocks| {
            hasher().hash_password_into_with_memory(
                password,
                salt_bytes,
                out,
                blocks.as_mut_slice(),
            )
        })?;
        Ok(())
    })?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// `verify_password` without an allocation when the stored hash has today's parameters (older
/// parameters fall back to the allocating path).
fn verify_in_place(candidate: &[u8], stored: &PasswordHash<'_>) -> password_hash::Result<bool> {
    let current = stored.algorithm == Algorithm::Argon2id.ident()
        && stored.version == Some(Version::V0x13.into())
        && Params::try_from(stored).is_ok_and(|p| p == params());
    let (Some(salt), Some(expected), true) = (stored.salt, stored.hash, current) else {
        return Ok(Argon2::default().verify_password(candidate, stored).is_ok());
    };
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let computed = Output::init_with(expected.len(), |out| {
        BLOCKS.with_borrow_mut(|blocks| {
            hasher().hash_password_into_with_memory(
                candidate,
                salt_bytes,
                out,
                blocks.as_mut_slice(),
            )
        })?;
        Ok(())
    })?;
    // `Output` compares in constant time.
    Ok(computed == expected)
}

/// A hash of a password nobody has, verified when the e-mail is unknown so that an unknown
/// e-mail takes as long to refuse as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hasher()
        .hash_password(
            b"no account has this password",
            &SaltString::generate(&mut OsRng),
        )
        .expect("hashing a constant succeeds")
        .to_string()
});

/// The PHC string of a new password.
pub async fn hash(purpose: Purpose, password: Password) -> Result<String, HashError> {
    let hashed = hashing(purpose, move || {
        hash_in_place(password.expose().as_bytes())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await?;
    Ok(hashed?)
}

/// Whether `candidate` matches the stored hash; with `None` (unknown user), spends the same
/// time and answers false.
pub async fn verify(candidate: String, stored: Option<String>) -> Result<bool, HashError> {
    let verified = hashing(Purpose::Login, move || {
        let phc = stored.as_deref().unwrap_or(DUMMY_HASH.as_str());
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("bad stored hash: {e}"))?;
        let matches = verify_in_place(candidate.as_bytes(), &parsed)
            .map_err(|e| anyhow::anyhow!("argon2 verification failed: {e}"))?;
        anyhow::Ok(matches && stored.is_some())
    })
    .await?;
    Ok(verified?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        let phc = hash(Purpose::Setup, password).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify("correct horse battery".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".into(), Some(phc))
                .await
                .unwrap()
        );
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_abandoned_hashes_are_skipped() {
        let slots = REGISTRATION_SLOTS_PER_THREAD * threads();
        let password = || Password::parse("correct horse battery".into()).unwrap();
        // Twice the registrations' slots at once: the extra ones are refused without waiting.
        let started = std::time::Instant::now();
        let attempts: Vec<_> = (0..slots * 2)
            .map(|_| tokio::spawn(hash(Purpose::Registration, password())))
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        // Nobody waits for any of them any more.
        for attempt in &attempts {
            attempt.abort();
        }
        let mut busy = 0;
        for attempt in attempts {
            if let Ok(Err(HashError::Busy)) = attempt.await {
                busy += 1;
            }
        }
        assert!(busy >= slots, "{busy} of {} refused", slots * 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // The abandoned ones still in the queue are skipped, not computed: the threads are
        // free again almost at once, and a login gets its answer.
        let before = skipped_jobs();
        let phc = hash(Purpose::Setup, password()).await.unwrap();
        assert!(
            verify("correct horse battery".into(), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            skipped_jobs() > before || before > 0,
            "no abandoned hash was skipped"
        );
    }

    #[test]
    fn in_place_hashes_are_standard_argon2id() {
        let phc = hash_in_place(b"correct horse battery").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        // The reference implementation accepts ours...
        assert!(
            hasher()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // ...and ours accepts the reference's.
        let reference = hasher()
            .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        let reference = PasswordHash::new(&reference).unwrap();
        assert!(verify_in_place(b"correct horse battery", &reference).unwrap());
        assert!(!verify_in_place(b"wrong", &reference).unwrap());
    }

    #[test]
    fn hashes_with_other_parameters_still_verify() {
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8_192, 1, 1, None).unwrap(),
        )
        .hash_password(b"legacy password", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        let old = PasswordHash::new(&old).unwrap();
        assert!(verify_in_place(b"legacy password", &old).unwrap());
        assert!(!verify_in_place(b"not it", &old).unwrap());
    }
}
