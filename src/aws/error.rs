//! EC2 API errors: the code, the HTTP status and the message EC2 returns.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// Throttled by the account's token bucket (HTTP 503; aws-ec2.md §1).
    RequestLimitExceeded,
    /// A DryRun request that would have succeeded (HTTP 412).
    DryRunOperation,
    /// Past the instance type's ENI limit (HTTP 400; aws-ec2.md §3).
    AttachmentLimitExceeded,
    /// Device index taken, or deleting an in-use ENI (HTTP 400).
    InvalidParameterValue,
    InvalidNetworkInterfaceIdNotFound,
    InvalidAttachmentIdNotFound,
    InvalidInstanceIdNotFound,
    InvalidSubnetIdNotFound,
    InvalidGroupNotFound,
    /// Detaching the primary interface (device index 0).
    OperationNotPermitted,
    /// Attaching to an instance that is not running (assumption: EBS/EIP analogue).
    IncorrectInstanceState,
    /// Injected server fault (HTTP 500).
    InternalError,
    /// Injected outage (HTTP 503).
    ServiceUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::RequestLimitExceeded => "RequestLimitExceeded",
            ErrorCode::DryRunOperation => "DryRunOperation",
            ErrorCode::AttachmentLimitExceeded => "AttachmentLimitExceeded",
            ErrorCode::InvalidParameterValue => "InvalidParameterValue",
            ErrorCode::InvalidNetworkInterfaceIdNotFound => "InvalidNetworkInterfaceID.NotFound",
            ErrorCode::InvalidAttachmentIdNotFound => "InvalidAttachmentID.NotFound",
            ErrorCode::InvalidInstanceIdNotFound => "InvalidInstanceID.NotFound",
            ErrorCode::InvalidSubnetIdNotFound => "InvalidSubnetID.NotFound",
            ErrorCode::InvalidGroupNotFound => "InvalidGroup.NotFound",
            ErrorCode::OperationNotPermitted => "OperationNotPermitted",
            ErrorCode::IncorrectInstanceState => "IncorrectInstanceState",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::ServiceUnavailable => "Unavailable",
        }
    }

    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::RequestLimitExceeded | ErrorCode::ServiceUnavailable => 503,
            ErrorCode::DryRunOperation => 412,
            ErrorCode::InternalError => 500,
            _ => 400,
        }
    }

    /// Whether CloudTrail would prefix it `Server.` rather than `Client.`.
    pub fn is_server_error(self) -> bool {
        self.http_status() >= 500 && self != ErrorCode::RequestLimitExceeded
    }

    pub fn is_throttle(self) -> bool {
        self == ErrorCode::RequestLimitExceeded
    }

    pub fn is_not_found(self) -> bool {
        self.as_str().ends_with("NotFound")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn throttled() -> Self {
        ApiError::new(ErrorCode::RequestLimitExceeded, "Request limit exceeded.")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "https response error StatusCode: {}, api error {}: {}",
            self.code.http_status(),
            self.code.as_str(),
            self.message
        )
    }
}
