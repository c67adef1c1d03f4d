//! Synthetic CloudTrail: a simulated run's EC2 attempts written as S3 delivery files.
//!
//! Layout and record shapes follow AWS (see `reference/aws-ec2.md` §5): files
//! `AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE16.json.gz`
//! holding `{"Records":[…]}`, one file per five-minute window of eventTime (split when a
//! window holds more than `max_records_per_file`), named by a delivery minute a few minutes
//! after the window. eventTime is the call's completion time at one-second resolution. Ids
//! (eventID, requestID, file suffixes, MAC/IP of created ENIs) derive from the seed, so the
//! same calls and options give byte-identical files.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::error::TraceError;
use super::time::{format_time_s, format_time_with, parse_time_ns};

/// The user agent of the controller at v1.3.8: the plain aws-sdk-go-v2 agent (v1.21.0,
/// service/ec2 v1.115.0), as it sets no application id of its own (controller-v1.3.8.md §15).
pub const DEFAULT_USER_AGENT: &str =
    "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.24.4 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.115.0";

/// The user agent older enisim versions wrote for the controller (still recognised by the
/// default caller rules).
pub const LEGACY_USER_AGENT: &str = "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.115.0 aws-multi-eni-controller";

const NS: i64 = 1_000_000_000;

/// One EC2 attempt made during a simulated run (one record in CloudTrail).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthCall {
    /// Virtual time since the run start when the request was sent (ns).
    pub start_ns: u64,
    /// Virtual time since the run start when the response came back (ns); eventTime.
    pub end_ns: u64,
    /// EC2 action, e.g. `CreateNetworkInterface`.
    pub action: String,
    /// Bare EC2 error code (`RequestLimitExceeded`, `InvalidParameterValue`, …); `None` = success.
    pub error_code: Option<String>,
    /// A 5xx answer: the code is logged with a `Server.` prefix, else `Client.`
    /// (`RequestLimitExceeded` is always `Client.`, as CloudTrail logs it).
    pub server_error: bool,
    pub eni_id: Option<String>,
    pub attachment_id: Option<String>,
    pub instance_id: Option<String>,
    pub subnet_id: Option<String>,
    pub device_index: Option<u32>,
    /// A DryRun probe: without an error code it is logged as `Client.DryRunOperation`.
    pub dry_run: bool,
    /// DetachNetworkInterface `force`.
    pub force: Option<bool>,
    /// DescribeNetworkInterfaces filtered by `attachment.instance-id` (this instance).
    pub filtered_by_instance: Option<String>,
    pub client_token: Option<String>,
    /// The caller's user agent; empty = [`DEFAULT_USER_AGENT`]. Calls with the controller's
    /// agent (empty or [`DEFAULT_USER_AGENT`]) are written as v1.3.8 writes them: a
    /// CreateNetworkInterface carries its description and tags.
    pub caller: String,
    /// The caller's principal: an ARN, or a bare role name (a role of the account); empty =
    /// [`SynthOptions::principal_arn`].
    pub principal: String,
    /// The NodeENI a controller's Create is for (its `NodeENI` and `Name` tags).
    pub nodeeni: Option<String>,
    /// The node a controller's Create is for (its description, `Node` and `Name` tags).
    pub node: Option<String>,
}

impl SynthCall {
    /// Made by the controller (its user agent).
    fn by_controller(&self) -> bool {
        self.caller.is_empty() || self.caller == DEFAULT_USER_AGENT
    }
}

/// Where and as whom the synthetic trail is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthOptions {
    /// Wall-clock time of virtual time 0 (RFC 3339).
    pub start_time: String,
    pub account_id: String,
    pub region: String,
    /// The caller: an IAM role ARN (logged as an assumed-role session of it obtained with a
    /// web identity, as IRSA does), an STS assumed-role ARN, or an IAM user ARN.
    pub principal_arn: String,
    pub seed: u64,
    /// Split a five-minute window into several files beyond this many records.
    pub max_records_per_file: usize,
    /// Replace a trail already in the output directory (`AWSLogs/`); without it, `synth`
    /// refuses to mix two trails.
    pub overwrite: bool,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            start_time: "2025-01-01T00:00:00Z".into(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            principal_arn: "arn:aws:iam::111122223333:role/aws-multi-eni-controller".into(),
            seed: 0,
            max_records_per_file: 5_000,
            overwrite: false,
        }
    }
}

/// What [`synth`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SynthReport {
    /// Files written, in delivery order.
    pub files: Vec<PathBuf>,
    pub records: u64,
    pub errors: u64,
    pub first_event_time: Option<String>,
    pub last_event_time: Option<String>,
}

/// SplitMix64 finaliser: a stable, well-mixed hash of (seed, stream, index).
fn mix(seed: u64, stream: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(index.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn uuid_v4(seed: u64, stream: u64, index: u64) -> String {
    let hi = mix(seed, stream, index);
    let lo = mix(seed, stream ^ 0xFFFF_0000, index);
    let bytes = ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn token(seed: u64, stream: u64, index: u64, len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|i| {
            let x = mix(seed, stream, index.wrapping_mul(64).wrapping_add(i as u64));
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

fn stable_hash(s: &str) -> u64 {
    // FNV-1a: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The `userIdentity` of principal number `k` (`arn`). A role is logged as an assumed-role
/// session obtained with a web identity (IRSA: the session name is the SDK's default, a Unix
/// time in ns, and `webIdFederationData` names the cluster's OIDC provider).
fn user_identity(o: &SynthOptions, arn: &str, k: u64) -> Value {
    let key_id = token(o.seed, 11, k, 16, UPPER_DIGITS);
    let role_pid = format!("AROA{}", token(o.seed, 12, k, 17, UPPER_DIGITS));
    let session = format!("17356896{:011}", mix(o.seed, 13, k) % 100_000_000_000);
    let partition = arn.split(':').nth(1).unwrap_or("aws");
    let region = o.region.as_str();
    let oidc = format!(
        "arn:{partition}:iam::{}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{}",
        o.account_id,
        token(o.seed, 19, 0, 32, b"0123456789ABCDEF")
    );
    let web_id = json!({"federatedProvider": oidc, "attributes": {}});
    let issuer = |role_arn: &str, name: &str| {
        json!({
            "type": "Role",
            "principalId": role_pid,
            "arn": role_arn,
            "accountId": o.account_id,
            "userName": name,
        })
    };
    let attributes = json!({"creationDate": o.start_time, "mfaAuthenticated": "false"});
    if let Some(rest) = arn
        .split(":role/")
        .nth(1)
        .filter(|_| arn.contains(":iam::"))
    {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        json!({
            "type": "AssumedRole",
            "principalId": format!("{role_pid}:{session}"),
            "arn": format!("arn:{partition}:sts::{}:assumed-role/{name}/{session}", o.account_id),
            "accountId": o.account_id,
            "accessKeyId": format!("ASIA{key_id}"),
            "sessionContext": {
                "sessionIssuer": issuer(arn, name),
                "webIdFederationData": web_id,
                "attributes": attributes,
            },
        })
    } else if let Some(rest) = arn.split(":assumed-role/").nth(1) {
        let mut parts = rest.split('/');
        let name = parts.next().unwrap_or("");
        let sess = parts.next().unwrap_or(&session);
        let role_arn = format!("arn:{partition}:iam::{}:role/{name}", o.account_id);
        json!({
            "type": "AssumedRole",
            "principalId": format!("{role_pid}:{sess}"),
            "arn": arn,
            "accountId": o.account_id,
            "accessKeyId": format!("ASIA{key_id}"),
            "sessionContext": {
                "sessionIssuer": issuer(&role_arn, name),
                "webIdFederationData": {},
                "attributes": attributes,
            },
        })
    } else if let Some(name) = arn.split(":user/").nth(1) {
        json!({
            "type": "IAMUser",
            "principalId": format!("AIDA{}", token(o.seed, 14, k, 17, UPPER_DIGITS)),
            "arn": arn,
            "accountId": o.account_id,
            "accessKeyId": format!("AKIA{key_id}"),
            "userName": name.rsplit('/').next().unwrap_or(name),
        })
    } else {
        json!({"type": "Unknown", "arn": arn, "accountId": o.account_id})
    }
}

fn is_read_only(action: &str) -> bool {
    ["Describe", "Get", "List", "Search"]
        .iter()
        .any(|p| action.starts_with(p))
}

fn items<T: Serialize>(key: &str, vals: &[T]) -> Value {
    let list: Vec<Value> = vals.iter().map(|v| json!({ key: v })).collect();
    json!({ "items": list })
}

/// The description v1.3.8 gives an ENI it creates (C:2027-2030), when the node is known.
fn controller_description(c: &SynthCall) -> Option<String> {
    let node = c.node.as_deref().filter(|_| c.by_controller())?;
    Some(format!("ENI created by nodeeni-controller for node {node}"))
}

/// The tags v1.3.8 puts on an ENI it creates (C:2061-2068), those it knows: in an order that
/// varies from call to call, as Go's map iteration does.
fn controller_tags(c: &SynthCall, index: usize, seed: u64) -> Vec<(String, String)> {
    let mut tags = vec![(
        "kubernetes.io/cluster/managed-by".to_string(),
        "nodeeni-controller".to_string(),
    )];
    if let Some(n) = &c.nodeeni {
        tags.push(("NodeENI".into(), n.clone()));
    }
    if let Some(n) = &c.node {
        tags.push(("Node".into(), n.clone()));
    }
    if let Some(s) = &c.subnet_id {
        tags.push(("SubnetID".into(), s.clone()));
    }
    if let (Some(e), Some(n), Some(s)) = (&c.nodeeni, &c.node, &c.subnet_id) {
        let tail = s.get(s.len().saturating_sub(8)..).unwrap_or(s);
        tags.push(("Name".into(), format!("nodeeni-{e}-{n}-{tail}")));
    }
    tags.push((
        "node.k8s.amazonaws.com/no_manage".to_string(),
        "true".to_string(),
    ));
    let k = tags.len();
    tags.rotate_left((mix(seed, 18, index as u64) % k as u64) as usize);
    tags
}

fn request_parameters(c: &SynthCall, index: usize, seed: u64) -> Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    match c.action.as_str() {
        "CreateNetworkInterface" => {
            if let Some(s) = &c.subnet_id {
                put("subnetId", json!(s));
            }
            if let Some(d) = controller_description(c) {
                put("description", json!(d));
            }
            put("groupSet", json!({}));
            put("privateIpAddressesSet", json!({}));
            put("ipv6AddressesSet", json!({}));
            if c.by_controller() {
                let tags: Vec<Value> = controller_tags(c, index, seed)
                    .into_iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect();
                put(
                    "tagSpecificationSet",
                    json!({"items": [{"resourceType": "network-interface", "tags": tags}]}),
                );
            }
            if let Some(t) = &c.client_token {
                put("clientToken", json!(t));
            }
        }
        "AttachNetworkInterface" => {
            if let Some(e) = &c.eni_id {
                put("networkInterfaceId", json!(e));
            }
            if let Some(i) = &c.instance_id {
                put("instanceId", json!(i));
            }
            if let Some(d) = c.device_index {
                put("deviceIndex", json!(d));
            }
        }
        "DetachNetworkInterface" => {
            if let Some(a) = &c.attachment_id {
                put("attachmentId", json!(a));
            }
            if let Some(f) = c.force {
                put("force", json!(f));
            }
        }
        "DescribeNetworkInterfaces" => {
            if let Some(i) = &c.filtered_by_instance {
                put(
                    "filterSet",
                    json!({"items": [
                        {"name": "attachment.instance-id", "valueSet": items("value", &[i])},
                        {"name": "attachment.status", "valueSet": items("value", &["attached"])},
                    ]}),
                );
            } else if let Some(e) = &c.eni_id {
                put("networkInterfaceIdSet", items("networkInterfaceId", &[e]));
            }
        }
        "DescribeInstances" => {
            if let Some(i) = &c.instance_id {
                put("instancesSet", items("instanceId", &[i]));
            }
            put("filterSet", json!({}));
        }
        "DescribeSubnets" => {
            if let Some(s) = &c.subnet_id {
                put("subnetSet", items("subnetId", &[s]));
            }
            put("filterSet", json!({}));
        }
        "ModifyNetworkInterfaceAttribute" => {
            if let Some(e) = &c.eni_id {
                put("networkInterfaceId", json!(e));
            }
            if let Some(a) = &c.attachment_id {
                put(
                    "attachment",
                    json!({"attachmentId": a, "deleteOnTermination": true}),
                );
            }
        }
        _ => {
            // Generic: whatever ids the call carries, by their EC2 parameter names.
            if let Some(e) = &c.eni_id {
                put("networkInterfaceId", json!(e));
            }
            if let Some(a) = &c.attachment_id {
                put("attachmentId", json!(a));
            }
            if let Some(i) = &c.instance_id {
                put("instanceId", json!(i));
            }
            if let Some(s) = &c.subnet_id {
                put("subnetId", json!(s));
            }
        }
    }
    Value::Object(m)
}

fn response_elements(
    c: &SynthCall,
    index: usize,
    request_id: &str,
    o: &SynthOptions,
) -> Result<Value, TraceError> {
    let bad = |detail: &str| TraceError::BadCall {
        index,
        detail: detail.to_string(),
    };
    Ok(match c.action.as_str() {
        "CreateNetworkInterface" => {
            let eni = c
                .eni_id
                .as_deref()
                .ok_or_else(|| bad("a successful CreateNetworkInterface needs eni_id"))?;
            let h = stable_hash(eni) ^ o.seed;
            let subnet = c.subnet_id.clone().unwrap_or_default();
            let vpc = format!("vpc-{:017x}", stable_hash(&subnet));
            let ip = format!(
                "10.{}.{}.{}",
                (h >> 8) & 0xFF,
                (h >> 16) & 0xFF,
                4 + (h >> 24) % 250
            );
            let mac = format!(
                "0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                (h >> 32) & 0xFF,
                (h >> 40) & 0xFF,
                (h >> 48) & 0xFF,
                (h >> 56) & 0xFF,
                h & 0xFF
            );
            json!({
                "requestId": request_id,
                "networkInterface": {
                    "networkInterfaceId": eni,
                    "subnetId": subnet,
                    "vpcId": vpc,
                    "availabilityZone": format!("{}a", o.region),
                    "description": controller_description(c).unwrap_or_default(),
                    "ownerId": o.account_id,
                    "requesterManaged": false,
                    "status": "pending",
                    "macAddress": mac,
                    "privateIpAddress": ip,
                    "sourceDestCheck": true,
                    "interfaceType": "interface",
                    "groupSet": {},
                    "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "primary": true}]},
                    "ipv6AddressesSet": {},
                    "tagSet": {},
                },
            })
        }
        "AttachNetworkInterface" => {
            let att = c
                .attachment_id
                .as_deref()
                .ok_or_else(|| bad("a successful AttachNetworkInterface needs attachment_id"))?;
            json!({"requestId": request_id, "attachmentId": att, "networkCardIndex": 0})
        }
        a if is_read_only(a) => Value::Null,
        _ => json!({"requestId": request_id, "_return": true}),
    })
}

fn error_message(code: &str, c: &SynthCall) -> String {
    let eni = c.eni_id.as_deref().unwrap_or("");
    match code {
        "RequestLimitExceeded" => "Request limit exceeded.".into(),
        "DryRunOperation" => "Request would have succeeded, but DryRun flag is set.".into(),
        "InternalError" => "An internal error has occurred".into(),
        "InvalidNetworkInterfaceID.NotFound" => {
            format!("The networkInterface ID '{eni}' does not exist")
        }
        "InvalidAttachmentID.NotFound" => format!(
            "The attachment ID '{}' does not exist",
            c.attachment_id.as_deref().unwrap_or("")
        ),
        "InvalidInstanceID.NotFound" => format!(
            "The instance ID '{}' does not exist",
            c.instance_id.as_deref().unwrap_or("")
        ),
        "AttachmentLimitExceeded" => format!(
            "Interface count {} exceeds the limit for this instance type",
            c.device_index.map_or(0, |d| d + 1)
        ),
        "InvalidParameterValue" if c.action == "DeleteNetworkInterface" => {
            format!("Network interface '{eni}' is currently in use.")
        }
        "InvalidParameterValue" if c.action == "AttachNetworkInterface" => format!(
            "Instance '{}' already has an interface attached at device index '{}'.",
            c.instance_id.as_deref().unwrap_or(""),
            c.device_index.unwrap_or(0)
        ),
        "InsufficientFreeAddressesInSubnet" => format!(
            "There are not enough free addresses in subnet '{}' to satisfy the requested number of instances.",
            c.subnet_id.as_deref().unwrap_or("")
        ),
        "UnauthorizedOperation" => "You are not authorized to perform this operation.".into(),
        other => other.to_string(),
    }
}

/// One output record, fields in CloudTrail's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutRecord<'a> {
    event_version: &'static str,
    user_identity: &'a RawValue,
    event_time: String,
    event_source: &'static str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    request_parameters: Value,
    response_elements: Value,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'a str,
    event_category: &'static str,
    tls_details: &'a RawValue,
}

pub(super) struct Shared {
    /// The options' principal's `userIdentity`.
    identity: Box<RawValue>,
    /// Other principals' (`SynthCall::principal`), by the call's text.
    identities: std::collections::BTreeMap<String, Box<RawValue>>,
    tls: Box<RawValue>,
    source_ip: String,
    pub(super) start_ns: i64,
}

fn event_ns(sh: &Shared, c: &SynthCall, index: usize) -> Result<i64, TraceError> {
    i64::try_from(c.end_ns)
        .ok()
        .and_then(|e| sh.start_ns.checked_add(e))
        .ok_or_else(|| TraceError::BadCall {
            index,
            detail: format!("end_ns {} is out of range", c.end_ns),
        })
}

pub(super) fn record_json(
    c: &SynthCall,
    index: usize,
    o: &SynthOptions,
    sh: &Shared,
    out: &mut Vec<u8>,
) -> Result<bool, TraceError> {
    if c.action.is_empty() {
        return Err(TraceError::BadCall {
            index,
            detail: "empty action".into(),
        });
    }
    if c.end_ns < c.start_ns {
        return Err(TraceError::BadCall {
            index,
            detail: format!("end_ns {} before start_ns {}", c.end_ns, c.start_ns),
        });
    }
    let t = event_ns(sh, c, index)?;
    let request_id = uuid_v4(o.seed, 1, index as u64);
    let event_id = uuid_v4(o.seed, 2, index as u64);
    let bare = match (&c.error_code, c.dry_run) {
        (Some(e), _) => Some(e.clone()),
        (None, true) => Some("DryRunOperation".to_string()),
        (None, false) => None,
    };
    let (error_code, error_message) = match &bare {
        Some(code) if code.starts_with("Client.") || code.starts_with("Server.") => {
            let b = code.split_once('.').map_or(code.as_str(), |x| x.1);
            (Some(code.clone()), Some(error_message(b, c)))
        }
        Some(code) => {
            let prefix = if c.server_error && code != "RequestLimitExceeded" {
                "Server"
            } else {
                "Client"
            };
            (
                Some(format!("{prefix}.{code}")),
                Some(error_message(code, c)),
            )
        }
        None => (None, None),
    };
    let response = if error_code.is_some() {
        Value::Null
    } else {
        response_elements(c, index, &request_id, o)?
    };
    let ua = if c.caller.is_empty() {
        DEFAULT_USER_AGENT
    } else {
        c.caller.as_str()
    };
    let identity = sh.identities.get(&c.principal).unwrap_or(&sh.identity);
    let rec = OutRecord {
        event_version: "1.09",
        user_identity: identity,
        event_time: format_time_s(t),
        event_source: "ec2.amazonaws.com",
        event_name: &c.action,
        aws_region: &o.region,
        source_ip_address: &sh.source_ip,
        user_agent: ua,
        error_code,
        error_message,
        request_parameters: request_parameters(c, index, o.seed),
        response_elements: response,
        request_id,
        event_id,
        read_only: is_read_only(&c.action),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: &o.account_id,
        event_category: "Management",
        tls_details: &sh.tls,
    };
    serde_json::to_writer(&mut *out, &rec).map_err(|e| TraceError::BadCall {
        index,
        detail: e.to_string(),
    })?;
    Ok(rec.error_code.is_some())
}

fn check_option(name: &'static str, v: &str) -> Result<(), TraceError> {
    if v.is_empty() || v.contains(['/', '\\']) || v.contains("..") {
        return Err(TraceError::BadOption {
            name,
            detail: format!("{v:?} cannot be used in an S3 key"),
        });
    }
    Ok(())
}

fn raw(v: &Value) -> Result<Box<RawValue>, TraceError> {
    serde_json::value::to_raw_value(v).map_err(|e| TraceError::BadOption {
        name: "principal_arn",
        detail: e.to_string(),
    })
}

/// What every record of one synthetic trail shares (identities, TLS details, source IP,
/// the wall-clock start); checks the options.
pub(super) fn shared(calls: &[SynthCall], opts: &SynthOptions) -> Result<Shared, TraceError> {
    check_option("account_id", &opts.account_id)?;
    check_option("region", &opts.region)?;
    let start_ns = parse_time_ns(&opts.start_time).map_err(|e| TraceError::BadOption {
        name: "start_time",
        detail: format!("{:?}: {e}", opts.start_time),
    })?;
    let ip = mix(opts.seed, 15, 0);
    let mut identities = std::collections::BTreeMap::new();
    for c in calls {
        if !c.principal.is_empty() && !identities.contains_key(&c.principal) {
            let arn = if c.principal.contains(':') {
                c.principal.clone()
            } else {
                format!("arn:aws:iam::{}:role/{}", opts.account_id, c.principal)
            };
            let k = identities.len() as u64 + 1;
            identities.insert(c.principal.clone(), raw(&user_identity(opts, &arn, k))?);
        }
    }
    let sh = Shared {
        identity: raw(&user_identity(opts, &opts.principal_arn, 0))?,
        identities,
        tls: raw(&json!({
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("ec2.{}.amazonaws.com", opts.region),
        }))?,
        source_ip: format!(
            "10.{}.{}.{}",
            (ip >> 8) & 0xFF,
            (ip >> 16) & 0xFF,
            4 + (ip >> 24) % 250
        ),
        start_ns,
    };
    Ok(sh)
}

/// Writes `calls` as CloudTrail S3 delivery files under `out_dir`.
pub fn synth(
    calls: &[SynthCall],
    opts: &SynthOptions,
    out_dir: &Path,
) -> Result<SynthReport, TraceError> {
    if opts.max_records_per_file == 0 {
        return Err(TraceError::BadOption {
            name: "max_records_per_file",
            detail: "must be at least 1".into(),
        });
    }
    let sh = shared(calls, opts)?;

    // Group by five-minute window of eventTime; within a window, by time then input order.
    let mut order: Vec<(i64, usize)> = Vec::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        let t = event_ns(&sh, c, i)?;
        order.push((t.div_euclid(NS), i));
    }
    order.sort_unstable();

    // The trail is written into a staging directory beside its final place and moved there
    // at the end: an error leaves nothing half-written, and an old trail is replaced whole.
    let dest = out_dir.join("AWSLogs");
    let old = trail_files(&dest)?;
    if old > 0 && !opts.overwrite {
        return Err(TraceError::OutputExists {
            path: dest,
            detail: format!(
                "already holds a CloudTrail trail ({old} file(s)); writing another into it would mix two trails (pass --overwrite to replace it)"
            ),
        });
    }
    std::fs::create_dir_all(out_dir).map_err(|e| TraceError::io(out_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".enisim-synth-")
        .tempdir_in(out_dir)
        .map_err(|e| TraceError::io(out_dir, e))?;
    let staged = staging.path().join("AWSLogs");
    std::fs::create_dir_all(&staged).map_err(|e| TraceError::io(&staged, e))?;
    let dir = staged
        .join(&opts.account_id)
        .join("CloudTrail")
        .join(&opts.region);
    let mut report = SynthReport::default();
    let mut buf: Vec<u8> = Vec::with_capacity(4 << 20);
    let mut start = 0;
    while start < order.len() {
        let window = order[start].0.div_euclid(300);
        let mut end = start;
        while end < order.len() && order[end].0.div_euclid(300) == window {
            end += 1;
        }
        for (chunk_no, chunk) in order[start..end]
            .chunks(opts.max_records_per_file)
            .enumerate()
        {
            buf.clear();
            buf.extend_from_slice(b"{\"Records\":[");
            for (k, &(_, i)) in chunk.iter().enumerate() {
                if k > 0 {
                    buf.push(b',');
                }
                if record_json(&calls[i], i, opts, &sh, &mut buf)? {
                    report.errors += 1;
                }
            }
            buf.extend_from_slice(b"]}");
            // Delivered 1–10 minutes after the window closes.
            let delay_s = 60 + (mix(opts.seed, 16, window as u64) % 540) as i64;
            let delivered = window
                .saturating_add(1)
                .saturating_mul(300)
                .saturating_add(delay_s)
                .saturating_mul(NS);
            let unique = token(
                opts.seed,
                17,
                (window as u64)
                    .wrapping_mul(1 << 20)
                    .wrapping_add(chunk_no as u64),
                16,
                ALNUM,
            );
            let sub = dir.join(format_time_with(delivered, "%Y/%m/%d"));
            let name = format!(
                "{}_CloudTrail_{}_{}_{}.json.gz",
                opts.account_id,
                opts.region,
                format_time_with(delivered, "%Y%m%dT%H%MZ"),
                unique
            );
            let path = sub.join(name);
            write_gz_atomic(&sub, &path, &buf)?;
            report.records += chunk.len() as u64;
            let rel = path.strip_prefix(&staged).unwrap_or(&path);
            report.files.push(dest.join(rel));
        }
        start = end;
    }
    if let (Some(f), Some(l)) = (order.first(), order.last()) {
        report.first_event_time = Some(format_time_s(f.0.saturating_mul(NS)));
        report.last_event_time = Some(format_time_s(l.0.saturating_mul(NS)));
    }
    // Swap in the new trail; the old one (if any) goes into the staging directory, which is
    // removed when it is dropped.
    if dest.exists() {
        let aside = staging.path().join("replaced");
        std::fs::rename(&dest, &aside).map_err(|e| TraceError::io(&dest, e))?;
    }
    std::fs::rename(&staged, &dest).map_err(|e| TraceError::io(&dest, e))?;
    drop(staging);
    Ok(report)
}

/// How many files under `dir` (if it exists) look like CloudTrail log files.
fn trail_files(dir: &Path) -> Result<u64, TraceError> {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                // A file named AWSLogs: something is there.
                n += 1;
                continue;
            }
            Err(e) => return Err(TraceError::io(&d, e)),
        };
        for e in rd {
            let e = e.map_err(|e| TraceError::io(&d, e))?;
            let ft = e.file_type().map_err(|er| TraceError::io(e.path(), er))?;
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    Ok(n)
}

fn write_gz_atomic(dir: &Path, path: &Path, data: &[u8]) -> Result<(), TraceError> {
    std::fs::create_dir_all(dir).map_err(|e| TraceError::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".enisim-synth-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| TraceError::io(dir, e))?;
    // mtime 0 and no file name in the header: byte-identical output.
    let mut gz: GzEncoder<std::io::BufWriter<tempfile::NamedTempFile>> = GzBuilder::new()
        .mtime(0)
        .write(std::io::BufWriter::new(tmp), Compression::new(6));
    gz.write_all(data).map_err(|e| TraceError::io(path, e))?;
    let bw = gz.finish().map_err(|e| TraceError::io(path, e))?;
    let tmp = bw
        .into_inner()
        .map_err(|e| TraceError::io(path, e.into_error()))?;
    super::table::readable_by_all(tmp.as_file());
    tmp.persist(path)
        .map_err(|e| TraceError::io(path, e.error))?;
    Ok(())
}

/// A plausible controller workload of about `target_records` EC2 attempts, for examples,
/// tests and benchmarks: per ENI Create (sometimes throttled, then retried with the same
/// client token) → Attach → Describe polls → Modify → later Detach → Describe → Delete
/// (sometimes "in use", then retried); every seventh ENI is handled by the VPC CNI instead
/// (its own agent and role, `eks-vpc-cni`). The controller's Creates name their NodeENI
/// (`multi-eni-<subnet 0..2>`) and node (`ip-10-0-<n>-<m>`, ten ENIs per node).
/// Deterministic in `seed`.
pub fn example_workload(target_records: usize, seed: u64) -> Vec<SynthCall> {
    const MS: u64 = 1_000_000;
    const CNI_UA: &str = "aws-sdk-go/1.44.0 (go1.20; linux; amd64) amazon-vpc-cni-k8s";
    let mut calls = Vec::with_capacity(target_records + 16);
    let mut k: u64 = 0;
    while calls.len() < target_records {
        let r = |stream: u64| mix(seed, stream, k);
        let eni = format!("eni-{:017x}", mix(seed, 100, k));
        let att = format!("eni-attach-{:017x}", mix(seed, 101, k));
        let node = k / 10;
        let inst = format!("i-{:017x}", mix(seed, 102, node));
        let subnet = format!("subnet-{:017x}", mix(seed, 103, k % 3));
        let cni = k % 7 == 6;
        let caller = if cni { CNI_UA } else { DEFAULT_USER_AGENT }.to_string();
        let base = SynthCall {
            eni_id: Some(eni.clone()),
            instance_id: Some(inst.clone()),
            caller,
            principal: if cni {
                "eks-vpc-cni".into()
            } else {
                String::new()
            },
            ..SynthCall::default()
        };
        let (nodeeni, node_name) = if cni {
            (None, None)
        } else {
            (
                Some(format!("multi-eni-{}", k % 3)),
                Some(format!("ip-10-0-{}-{}", node / 250, node % 250 + 1)),
            )
        };
        let mut t = k * 40 * MS + r(1) % (20 * MS);
        let mut push = |t: &mut u64, gap_ms: u64, lat_ms: u64, c: SynthCall| {
            *t += gap_ms * MS;
            calls.push(SynthCall {
                start_ns: *t,
                end_ns: *t + lat_ms * MS,
                ..c
            });
            *t += lat_ms * MS;
        };
        let token = format!(
            "{:032x}",
            u128::from(mix(seed, 104, k)) << 64 | u128::from(k)
        );
        let create = SynthCall {
            action: "CreateNetworkInterface".into(),
            subnet_id: Some(subnet.clone()),
            client_token: Some(token),
            instance_id: None,
            nodeeni,
            node: node_name,
            ..base.clone()
        };
        if r(2) % 20 == 0 {
            push(
                &mut t,
                0,
                30,
                SynthCall {
                    error_code: Some("RequestLimitExceeded".into()),
                    server_error: true,
                    ..create.clone()
                },
            );
            push(&mut t, 500 + r(3) % 1500, 200, create);
        } else {
            push(&mut t, 0, 150 + r(3) % 300, create);
        }
        let dev = 1 + (k % 10) as u32;
        push(
            &mut t,
            20 + r(4) % 200,
            300 + r(5) % 700,
            SynthCall {
                action: "AttachNetworkInterface".into(),
                attachment_id: Some(att.clone()),
                device_index: Some(dev),
                ..base.clone()
            },
        );
        for _ in 0..1 + r(6) % 3 {
            push(
                &mut t,
                1000 + r(7) % 3000,
                80,
                SynthCall {
                    action: "DescribeNetworkInterfaces".into(),
                    instance_id: None,
                    ..base.clone()
                },
            );
        }
        push(
            &mut t,
            50,
            90,
            SynthCall {
                action: "DescribeNetworkInterfaces".into(),
                eni_id: None,
                instance_id: None,
                filtered_by_instance: Some(inst.clone()),
                ..base.clone()
            },
        );
        push(
            &mut t,
            30,
            150,
            SynthCall {
                action: "ModifyNetworkInterfaceAttribute".into(),
                attachment_id: Some(att.clone()),
                instance_id: None,
                ..base.clone()
            },
        );
        // Scale-down, minutes later.
        t += (60_000 + r(8) % 600_000) * MS;
        push(
            &mut t,
            0,
            250,
            SynthCall {
                action: "DetachNetworkInterface".into(),
                attachment_id: Some(att.clone()),
                eni_id: Some(eni.clone()),
                force: Some(false),
                instance_id: None,
                ..base.clone()
            },
        );
        push(
            &mut t,
            3000,
            80,
            SynthCall {
                action: "DescribeNetworkInterfaces".into(),
                instance_id: None,
                ..base.clone()
            },
        );
        let delete = SynthCall {
            action: "DeleteNetworkInterface".into(),
            instance_id: None,
            ..base.clone()
        };
        if r(9) % 10 == 0 {
            push(
                &mut t,
                20,
                100,
                SynthCall {
                    error_code: Some("InvalidParameterValue".into()),
                    ..delete.clone()
                },
            );
            push(&mut t, 2000, 150, delete);
        } else {
            push(&mut t, 20, 150, delete);
        }
        k += 1;
    }
    calls.truncate(target_records);
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_v4_and_deterministic() {
        let a = uuid_v4(7, 1, 3);
        assert_eq!(a, uuid_v4(7, 1, 3));
        assert_ne!(a, uuid_v4(7, 2, 3));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
