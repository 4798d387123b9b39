//! Password hashing with argon2id at the OWASP parameters (19 MiB, 2 passes, 1 lane), on a
//! few dedicated threads: a hash takes tens of milliseconds of CPU that must not stall the async
//! workers.

use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};

use anyhow::Context;
use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::domain::Password;

type Job = Box<dyn FnOnce() + Send>;

/// One hashing thread per core, for the life of the process. Hashing is CPU-bound, so more in
/// parallel would only add memory; and tokio's blocking pool, which hands each job to whichever
/// of its (up to 512) threads is free, made glibc keep a 19 MiB argon2 block per thread that
/// ever hashed: a burst of registrations grew the process past 2 GiB. Fixed threads bound it.
static HASHERS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    for i in 0..threads {
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

/// Runs argon2 work on the hashing threads, inside the caller's span.
async fn hashing<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> anyhow::Result<R> {
    let span = tracing::Span::current();
    let (done, result) = tokio::sync::oneshot::channel();
    HASHERS
        .send(Box::new(move || {
            let _ = done.send(span.in_scope(work));
        }))
        .map_err(|_| anyhow::anyhow!("the hashing threads are gone"))?;
    result.await.context("a hashing job was dropped")
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
pub async fn hash(password: Password) -> anyhow::Result<String> {
    hashing(move || {
        hash_in_place(password.expose().as_bytes())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await?
}

/// Whether `candidate` matches the stored hash; with `None` (unknown user), spends the same
/// time and answers false.
pub async fn verify(candidate: String, stored: Option<String>) -> anyhow::Result<bool> {
    hashing(move || {
        let phc = stored.as_deref().unwrap_or(DUMMY_HASH.as_str());
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("bad stored hash: {e}"))?;
        let matches = verify_in_place(candidate.as_bytes(), &parsed)
            .map_err(|e| anyhow::anyhow!("argon2 verification failed: {e}"))?;
        Ok(matches && stored.is_some())
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        let phc = hash(password).await.unwrap();
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
