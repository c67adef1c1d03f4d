//! Named random streams. Each source of randomness draws from its own generator whose
//! seed is derived from (run seed, stream name), so adding a stream never shifts another
//! and two configurations run with one seed see the same AWS (common random numbers,
//! design.md "Decisions").

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

pub type SimRng = Xoshiro256PlusPlus;

/// FNV-1a over the name: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of stream `name` under run seed `seed`.
pub fn stream_seed(seed: u64, name: &str) -> u64 {
    splitmix64(splitmix64(seed) ^ fnv1a(name))
}

/// A generator for stream `name` under run seed `seed`.
pub fn stream(seed: u64, name: &str) -> SimRng {
    SimRng::seed_from_u64(stream_seed(seed, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn streams_are_independent_of_each_other_and_reproducible() {
        let a1: u64 = stream(7, "ec2.latency.CreateNetworkInterface").random();
        let a2: u64 = stream(7, "ec2.latency.CreateNetworkInterface").random();
        let b: u64 = stream(7, "ec2.latency.AttachNetworkInterface").random();
        let c: u64 = stream(8, "ec2.latency.CreateNetworkInterface").random();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }
}
