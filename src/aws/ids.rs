//! EC2 resource ids: small integers inside the model, printed in EC2's shapes
//! (`eni-0a1b…`, 17 hex digits) only when a person or a trace needs them.

use std::fmt;

fn scramble(kind: u64, n: u32) -> u64 {
    // A fixed bijection so that consecutive ids do not look consecutive.
    let mut z = (n as u64) ^ (kind << 40);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & 0x0fff_ffff_ffff_ffff
}

macro_rules! ec2_id {
    ($name:ident, $prefix:literal, $kind:literal) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "-{:017x}"), scramble($kind, self.0))
            }
        }
    };
}

ec2_id!(EniId, "eni", 1);
ec2_id!(AttachmentId, "eni-attach", 2);
ec2_id!(InstanceId, "i", 3);
ec2_id!(SubnetId, "subnet", 4);
ec2_id!(SecurityGroupId, "sg", 5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_in_ec2_shape_and_stay_distinct() {
        let a = EniId(1).to_string();
        assert!(a.starts_with("eni-") && a.len() == 21, "{a}");
        assert_ne!(EniId(1).to_string(), EniId(2).to_string());
        assert!(AttachmentId(1).to_string().starts_with("eni-attach-"));
        assert!(InstanceId(3).to_string().starts_with("i-"));
    }
}
