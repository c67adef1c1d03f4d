//! The Kubernetes side as the controller sees it: the client-go rate-limiting work queue
//! with its exact semantics, its rate limiters, and client-side API throttling.

pub mod api_client;
pub mod rate_limit;
pub mod workqueue;

pub use api_client::ApiClientLimiter;
pub use rate_limit::{ControllerRateLimiter, GoRateLimiter, ItemExponentialFailure};
pub use workqueue::{QueueStats, WorkQueue};
