//! EC2 as a server (token buckets per account and region, service times, asynchronous
//! attach/detach state, per-instance ENI limits, device-index rules, faults, other
//! tenants' load) and the AWS SDK client that calls it (retry modes and retry quota).

pub mod action;
pub mod bucket;
pub mod error;
pub mod ids;
pub mod instance_types;
pub mod named;
pub mod profile;
pub mod sdk;
pub mod server;
pub mod tenants;

pub use action::Action;
pub use error::{ApiError, ErrorCode};
pub use ids::{AttachmentId, EniId, InstanceId, SecurityGroupId, SubnetId};
pub use instance_types::{InstanceType, InstanceTypes};
pub use profile::Ec2Profile;
pub use sdk::{CallContext, CallRecord, Caller, Ec2Client, RetryMode, SdkError, SdkJitter};
pub use server::{Ec2Server, Request, Response};
