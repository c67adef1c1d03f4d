//! The classic "hold" benchmark of an event list: with `pending` events in the queue,
//! repeatedly pop the earliest and push one at a random later time (queues-and-oracles.md
//! §4). Used by `cargo bench` and `enisim bench`.

use super::queue::EventQueue;
use super::rng;
use rand::RngExt;

/// Runs `events` hold operations on a queue of `pending` events; returns a checksum so
/// the work cannot be optimised away.
pub fn hold(pending: usize, events: u64, seed: u64) -> u64 {
    let mut r = rng::stream(seed, "hold");
    let mut q: EventQueue<u32> = EventQueue::with_capacity(pending + 1);
    let span = 2 * pending as u64 + 2;
    for i in 0..pending {
        q.push(r.random_range(0..span), i as u32);
    }
    let mut sum = 0u64;
    for _ in 0..events {
        if let Some((t, id)) = q.pop() {
            sum = sum.wrapping_add(t ^ id as u64);
            q.push(t + 1 + r.random_range(0..span), id);
        }
    }
    sum
}
