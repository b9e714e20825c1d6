//! Session ids and passwords, generated as Apache does.

/// The first session id of a server: `((now_ms << 24) >>> 8) | (server_id << 56)`, never
/// `i64::MIN` (Apache's `SessionTrackerImpl.initializeNextSession`).
pub fn initial_session_id(now_ms: i64, server_id: u64) -> i64 {
    let base = ((now_ms << 24) as u64 >> 8) as i64;
    let id = base | ((server_id as i64) << 56);
    if id == i64::MIN {
        id + 1
    } else {
        id
    }
}

/// The 16-byte password of a session: `new java.util.Random(sessionId ^ 0xB3415C00L).nextBytes`.
pub fn session_password(session_id: i64) -> [u8; 16] {
    let mut rnd = JavaRandom::new(session_id ^ 0xB341_5C00);
    let mut out = [0u8; 16];
    rnd.next_bytes(&mut out);
    out
}

/// `java.util.Random`'s linear congruential generator.
struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    const MULT: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        Self {
            seed: (seed ^ Self::MULT) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULT).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> (48 - bits)) as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut r = self.next(32);
            for b in chunk {
                *b = r as u8;
                r >>= 8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_the_jdk() {
        // new java.util.Random(42).nextInt() == -1170105035
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next(32), -1_170_105_035);
    }

    #[test]
    fn session_ids_carry_the_server_id() {
        let id = initial_session_id(1_700_000_000_000, 3);
        assert_eq!((id as u64) >> 56, 3);
        assert_ne!(session_password(id), session_password(id + 1));
    }
}
