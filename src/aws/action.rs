//! The EC2 actions the controller (and the tenants beside it) call, with the throttling
//! category each belongs to (aws-ec2.md §1, "Modelled actions").

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    CreateNetworkInterface,
    DeleteNetworkInterface,
    AttachNetworkInterface,
    DetachNetworkInterface,
    ModifyNetworkInterfaceAttribute,
    DescribeNetworkInterfaces,
    DescribeInstances,
    DescribeSubnets,
    DescribeSecurityGroups,
    AssignPrivateIpAddresses,
    UnassignPrivateIpAddresses,
    CreateTags,
    RunInstances,
    TerminateInstances,
    ModifyInstanceMetadataOptions,
}

pub const ALL_ACTIONS: [Action; 15] = [
    Action::CreateNetworkInterface,
    Action::DeleteNetworkInterface,
    Action::AttachNetworkInterface,
    Action::DetachNetworkInterface,
    Action::ModifyNetworkInterfaceAttribute,
    Action::DescribeNetworkInterfaces,
    Action::DescribeInstances,
    Action::DescribeSubnets,
    Action::DescribeSecurityGroups,
    Action::AssignPrivateIpAddresses,
    Action::UnassignPrivateIpAddresses,
    Action::CreateTags,
    Action::RunInstances,
    Action::TerminateInstances,
    Action::ModifyInstanceMetadataOptions,
];

/// Throttling categories of the older, per-category bucket layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    NonMutating,
    UnfilteredNonMutating,
    Mutating,
    Uncategorized,
}

impl Action {
    pub const COUNT: usize = ALL_ACTIONS.len();

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::CreateNetworkInterface => "CreateNetworkInterface",
            Action::DeleteNetworkInterface => "DeleteNetworkInterface",
            Action::AttachNetworkInterface => "AttachNetworkInterface",
            Action::DetachNetworkInterface => "DetachNetworkInterface",
            Action::ModifyNetworkInterfaceAttribute => "ModifyNetworkInterfaceAttribute",
            Action::DescribeNetworkInterfaces => "DescribeNetworkInterfaces",
            Action::DescribeInstances => "DescribeInstances",
            Action::DescribeSubnets => "DescribeSubnets",
            Action::DescribeSecurityGroups => "DescribeSecurityGroups",
            Action::AssignPrivateIpAddresses => "AssignPrivateIpAddresses",
            Action::UnassignPrivateIpAddresses => "UnassignPrivateIpAddresses",
            Action::CreateTags => "CreateTags",
            Action::RunInstances => "RunInstances",
            Action::TerminateInstances => "TerminateInstances",
            Action::ModifyInstanceMetadataOptions => "ModifyInstanceMetadataOptions",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        ALL_ACTIONS.iter().copied().find(|a| a.name() == name)
    }

    /// Category in the per-category layout. Describe calls with neither filter nor
    /// pagination fall in the unfiltered category instead (see `Request::filtered`).
    pub fn category(self) -> Category {
        match self {
            Action::DescribeNetworkInterfaces
            | Action::DescribeInstances
            | Action::DescribeSubnets
            | Action::DescribeSecurityGroups => Category::NonMutating,
            Action::AttachNetworkInterface
            | Action::DetachNetworkInterface
            | Action::ModifyInstanceMetadataOptions => Category::Mutating,
            _ => Category::Uncategorized,
        }
    }

    /// The actions that have an "unfiltered and unpaginated" bucket (aws-ec2.md §1).
    pub fn has_unfiltered_bucket(self) -> bool {
        matches!(
            self,
            Action::DescribeNetworkInterfaces
                | Action::DescribeInstances
                | Action::DescribeSecurityGroups
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
