//! Who made a call: configurable rules on the user agent and the principal.

use serde::{Deserialize, Serialize};

/// Caller class of this controller (the default rules' label).
pub const CLASS_CONTROLLER: &str = "controller";
/// Caller class of the Amazon VPC CNI.
pub const CLASS_VPC_CNI: &str = "vpc-cni";
/// Caller class of everything else.
pub const CLASS_OTHER: &str = "other";

/// Which record field a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerField {
    UserAgent,
    Principal,
    /// The principal made `CreateNetworkInterface` calls carrying the multi-ENI controller's
    /// description (`ENI created by nodeeni-controller for node …`) or its
    /// `kubernetes.io/cluster/managed-by=nodeeni-controller` tag; the pattern is matched
    /// against the principal. v1.3.8 sets no user agent of its own (controller-v1.3.8.md
    /// §15), so this is how a real controller is recognised.
    MarkedCreates,
}

/// A simple pattern: no regular expressions, ASCII case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    Equals(String),
}

impl Pattern {
    pub fn matches(&self, text: &str) -> bool {
        let t = text.as_bytes();
        match self {
            Pattern::Contains(p) => {
                let p = p.as_bytes();
                p.is_empty() || t.windows(p.len()).any(|w| w.eq_ignore_ascii_case(p))
            }
            Pattern::StartsWith(p) => {
                t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            Pattern::EndsWith(p) => {
                t.len() >= p.len() && t[t.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            Pattern::Equals(p) => t.eq_ignore_ascii_case(p.as_bytes()),
        }
    }
}

impl std::str::FromStr for Pattern {
    type Err = String;
    /// `contains:TEXT`, `prefix:TEXT`, `suffix:TEXT`, `equals:TEXT`; bare `TEXT` = contains.
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, text) = match s.split_once(':') {
            Some((k, t)) if matches!(k, "contains" | "prefix" | "suffix" | "equals") => (k, t),
            _ => ("contains", s),
        };
        Ok(match kind {
            "prefix" => Pattern::StartsWith(text.to_string()),
            "suffix" => Pattern::EndsWith(text.to_string()),
            "equals" => Pattern::Equals(text.to_string()),
            _ => Pattern::Contains(text.to_string()),
        })
    }
}

/// One rule: if `field` matches `pattern`, the caller is `class`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerRule {
    pub field: CallerField,
    pub pattern: Pattern,
    pub class: String,
}

/// Ordered rules; the first match wins, else `default_class`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerRules {
    pub rules: Vec<CallerRule>,
    pub default_class: String,
}

impl Default for CallerRules {
    /// User agent containing `aws-multi-eni-controller` → `controller` (synthetic trails of
    /// older enisim versions); `amazon-vpc-cni-k8s` → `vpc-cni`; a principal that made
    /// `CreateNetworkInterface` calls with the controller's description or managed-by tag →
    /// `controller` (a real v1.3.8, whose user agent is the plain SDK's); else `other`.
    fn default() -> Self {
        CallerRules {
            rules: vec![
                CallerRule {
                    field: CallerField::UserAgent,
                    pattern: Pattern::Contains("aws-multi-eni-controller".into()),
                    class: CLASS_CONTROLLER.into(),
                },
                CallerRule {
                    field: CallerField::UserAgent,
                    pattern: Pattern::Contains("amazon-vpc-cni-k8s".into()),
                    class: CLASS_VPC_CNI.into(),
                },
                CallerRule {
                    field: CallerField::MarkedCreates,
                    pattern: Pattern::Contains(String::new()),
                    class: CLASS_CONTROLLER.into(),
                },
            ],
            default_class: CLASS_OTHER.into(),
        }
    }
}

impl CallerRules {
    /// Adds a rule in front of the existing ones (so it takes precedence).
    pub fn prepend(mut self, field: CallerField, pattern: Pattern, class: &str) -> Self {
        self.rules.insert(
            0,
            CallerRule {
                field,
                pattern,
                class: class.to_string(),
            },
        );
        self
    }

    /// The class of a caller that made no marked Creates (see [`CallerRules::classify_with`]).
    pub fn classify(&self, user_agent: Option<&str>, principal: Option<&str>) -> &str {
        self.classify_with(user_agent, principal, false)
    }

    /// The class of a caller; `marked`: its principal made `CreateNetworkInterface` calls
    /// with the controller's description or managed-by tag ([`CallerField::MarkedCreates`]).
    pub fn classify_with(
        &self,
        user_agent: Option<&str>,
        principal: Option<&str>,
        marked: bool,
    ) -> &str {
        for r in &self.rules {
            let text = match r.field {
                CallerField::UserAgent => user_agent,
                CallerField::Principal => principal,
                CallerField::MarkedCreates if marked => Some(principal.unwrap_or_default()),
                CallerField::MarkedCreates => None,
            };
            if text.is_some_and(|t| r.pattern.matches(t)) {
                return &r.class;
            }
        }
        &self.default_class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules() {
        let r = CallerRules::default();
        let ua =
            "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21 api/ec2#1.115.0 aws-multi-eni-controller";
        assert_eq!(r.classify(Some(ua), None), "controller");
        assert_eq!(
            r.classify(Some("aws-sdk-go/1.33.14 amazon-vpc-cni-k8s"), None),
            "vpc-cni"
        );
        assert_eq!(r.classify(Some("Terraform/1.5"), None), "other");
        assert_eq!(r.classify(None, None), "other");
        // A real v1.3.8: the plain SDK agent, recognised by its principal's marked Creates.
        let sdk = "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.24.4 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.115.0";
        let role = Some("arn:aws:iam::1:role/multi-eni");
        assert_eq!(r.classify(Some(sdk), role), "other");
        assert_eq!(r.classify_with(Some(sdk), role, true), "controller");
        assert_eq!(r.classify_with(Some(sdk), None, true), "controller");
        // The VPC CNI's agent stays the VPC CNI's.
        assert_eq!(
            r.classify_with(Some("aws-sdk-go/1.33.14 amazon-vpc-cni-k8s"), role, true),
            "vpc-cni"
        );
        let r = r.prepend(
            CallerField::Principal,
            "suffix:role/karpenter".parse().unwrap(),
            "karpenter",
        );
        assert_eq!(
            r.classify(Some("x"), Some("arn:aws:iam::1:role/Karpenter")),
            "karpenter"
        );
        // An explicit rule wins over the recognition.
        assert_eq!(
            r.classify_with(Some("x"), Some("arn:aws:iam::1:role/Karpenter"), true),
            "karpenter"
        );
    }
}
