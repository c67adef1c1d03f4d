//! A level that changes at instants (workers busy, calls in flight): its maximum and its
//! time-weighted mean.

use super::time::Nanos;

#[derive(Debug, Clone, Default)]
pub struct TimeWeighted {
    value: i64,
    max: i64,
    area: i128,
    last: Nanos,
    start: Nanos,
}

impl TimeWeighted {
    pub fn new(start: Nanos) -> Self {
        TimeWeighted {
            start,
            last: start,
            ..Default::default()
        }
    }

    pub fn add(&mut self, now: Nanos, delta: i64) {
        self.area += (now.saturating_sub(self.last)) as i128 * self.value as i128;
        self.last = now.max(self.last);
        self.value += delta;
        self.max = self.max.max(self.value);
    }

    pub fn value(&self) -> i64 {
        self.value
    }

    pub fn max(&self) -> i64 {
        self.max
    }

    /// Mean level over [start, now].
    pub fn mean(&self, now: Nanos) -> f64 {
        let area = self.area + (now.saturating_sub(self.last)) as i128 * self.value as i128;
        let span = now.saturating_sub(self.start);
        if span == 0 {
            0.0
        } else {
            area as f64 / span as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_max() {
        let mut g = TimeWeighted::new(0);
        g.add(0, 2);
        g.add(10, -1);
        g.add(20, -1);
        assert_eq!(g.max(), 2);
        assert!((g.mean(40) - (20.0 + 10.0) / 40.0).abs() < 1e-12);
    }
}
