//! The holiday's clock at `--speed N`: the server runs on the real clock, so the drill
//! compresses the holiday's. A phone takes a point every 30 s of holiday time, 30/N s of real
//! time; the hour of patrol a member needs is published as `patrol_minutes` = 60/N (at least 1,
//! the smallest the API takes); the tasks' 12-hour window as 12 h/N (at least 10 minutes);
//! the departments' handling times are divided by N.

use super::district::{SIM_PATROL_MINUTES, SIM_POINT_EVERY_SECS, SIM_WINDOW_MINUTES};
use std::time::{Duration, Instant};

/// The drill's real time since it started, at the head of each line it prints.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch {
    t0: Instant,
}

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Stopwatch {
        Stopwatch { t0: Instant::now() }
    }

    /// Prints `[  12.3 s] what`.
    pub fn phase(&self, what: &str) {
        println!("[{:>6.1} s] {what}", self.t0.elapsed().as_secs_f64());
    }
}

/// The holiday's clock, `speed` times faster than the real one.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    speed: u32,
}

impl Clock {
    /// The clock of `--speed speed`.
    pub fn new(speed: u32) -> Clock {
        Clock { speed }
    }

    /// The `patrol_minutes` published: the holiday's hour / speed, at least 1.
    pub fn patrol_minutes(self) -> u32 {
        (f64::from(SIM_PATROL_MINUTES) / f64::from(self.speed))
            .round()
            .max(1.0) as u32
    }

    /// The patrol a member needs, ms.
    pub fn required_ms(self) -> i64 {
        i64::from(self.patrol_minutes()) * 60_000
    }

    /// The tasks' window: the holiday's 12 hours / speed, at least 10 minutes.
    pub fn window(self) -> chrono::Duration {
        chrono::Duration::minutes((SIM_WINDOW_MINUTES / i64::from(self.speed)).max(10))
    }

    /// Real time between two points of a phone.
    pub fn point_every(self) -> Duration {
        Duration::from_secs_f64(SIM_POINT_EVERY_SECS / f64::from(self.speed))
    }

    /// Real time for `minutes` of the holiday's clock.
    pub fn minutes(self, minutes: f64) -> Duration {
        Duration::from_secs_f64(minutes * 60.0 / f64::from(self.speed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requirement_is_an_hour_of_the_holiday_at_least_a_minute() {
        assert_eq!(Clock::new(1).patrol_minutes(), 60);
        assert_eq!(Clock::new(30).patrol_minutes(), 2);
        assert_eq!(Clock::new(60).patrol_minutes(), 1);
        assert_eq!(Clock::new(600).patrol_minutes(), 1);
        assert_eq!(Clock::new(60).window().num_minutes(), 12);
        assert_eq!(Clock::new(600).window().num_minutes(), 10);
        assert_eq!(Clock::new(60).point_every(), Duration::from_millis(500));
    }
}
