//! One CloudTrail record: the typed, lenient wire form and its normalisation.
//!
//! A record is read in one pass into [`WireRecord`]: top-level scalars as [`Loose`] values
//! (any JSON type is accepted, so a wrong type is a per-record error, not a broken stream),
//! nested objects (`userIdentity`, `requestParameters`, `responseElements`) captured as raw JSON
//! text and parsed afterwards into small typed structs. Nothing else of the record is kept.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::RecordError;
use super::params::{params_from_text, ParamsOut, ParamsSeed};
use super::time::parse_time_ns;

/// The `eventSource` of EC2 records; others are skipped and counted.
pub const EC2_EVENT_SOURCE: &str = "ec2.amazonaws.com";

/// A top-level scalar read without committing to its JSON type.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Loose<'de> {
    /// Absent or JSON `null`.
    #[default]
    Null,
    Str(Cow<'de, str>),
    /// Any other JSON type; the payload names it for error messages.
    Other(&'static str),
}

impl<'de> Loose<'de> {
    /// The string value; `Ok(None)` if absent/null; an error for another JSON type.
    fn opt_str(self, field: &'static str) -> Result<Option<Cow<'de, str>>, RecordError> {
        match self {
            Loose::Null => Ok(None),
            Loose::Str(s) => Ok(Some(s)),
            Loose::Other(found) => Err(RecordError::WrongType {
                field,
                expected: "string",
                found,
            }),
        }
    }

    fn req_str(self, field: &'static str) -> Result<Cow<'de, str>, RecordError> {
        self.opt_str(field)?.ok_or(RecordError::MissingField(field))
    }

    /// Like [`Loose::opt_str`], but an empty string counts as absent (CSV exports).
    fn opt_nonempty(self, field: &'static str) -> Result<Option<Cow<'de, str>>, RecordError> {
        Ok(self.opt_str(field)?.filter(|s| !s.is_empty()))
    }
}

struct LooseVisitor;

pub(crate) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

pub(crate) fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<'de>, E> {
        Ok(Loose::Other("boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Loose<'de>, E> {
        Ok(Loose::Other("number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Loose<'de>, E> {
        Ok(Loose::Other("number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose<'de>, E> {
        Ok(Loose::Other("number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Loose<'de>, A::Error> {
        drain_seq(seq)?;
        Ok(Loose::Other("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose<'de>, A::Error> {
        drain_map(map)?;
        Ok(Loose::Other("object"))
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

/// A CloudTrail record as read, before validation. Nested objects are raw JSON text.
#[derive(Debug, Default, Clone)]
pub(crate) struct WireRecord<'de> {
    pub event_time: Loose<'de>,
    pub event_source: Loose<'de>,
    pub event_name: Loose<'de>,
    pub aws_region: Loose<'de>,
    pub recipient_account_id: Loose<'de>,
    pub user_agent: Loose<'de>,
    pub error_code: Loose<'de>,
    pub request_id: Loose<'de>,
    pub event_id: Loose<'de>,
    /// `userIdentity` as raw text (a trail repeats a few callers, so [`IdentityCache`] parses
    /// each distinct text once), or a CSV export's identity cell(s).
    pub identity: IdentitySource<'de>,
    /// Parsed straight from the stream (any JSON value is accepted, so a wrong type is a
    /// per-record error), or a CSV cell's JSON text.
    pub request_parameters: Option<Params<'de>>,
    /// Captured as raw text and parsed afterwards, so a wrong type inside it stays a
    /// per-record error.
    pub response_elements: Option<Raw<'de>>,
    /// Set when the JSON value was not an object at all.
    pub not_object: Option<&'static str>,
    /// `eventCategory: Insight`, `eventType: AwsCloudTrailInsight` or an `insightDetails`
    /// key: a CloudTrail Insights event.
    pub insight: bool,
}

/// Raw JSON text of a nested value (from a JSON record) or a JSON string cell (CSV export).
#[derive(Debug, Clone)]
pub(crate) enum Raw<'de> {
    /// Borrowed from an input held in memory: no copy.
    Borrowed(&'de RawValue),
    /// Copied out of a streamed input.
    Boxed(Box<RawValue>),
    Text(&'de str),
}

impl Raw<'_> {
    fn text(&self) -> &str {
        match self {
            Raw::Borrowed(r) => r.get(),
            Raw::Boxed(r) => r.get(),
            Raw::Text(t) => t,
        }
    }
}

/// `requestParameters` as read.
#[derive(Debug, Clone)]
pub(crate) enum Params<'de> {
    /// Walked while reading the record (see `params.rs`).
    Parsed(Box<ParamsOut<'de>>),
    /// A CSV cell's JSON text.
    Text(&'de str),
}

/// Top-level keys of a record that the table needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RecordKey {
    EventTime,
    EventSource,
    EventName,
    AwsRegion,
    RecipientAccountId,
    UserAgent,
    ErrorCode,
    RequestId,
    EventId,
    UserIdentity,
    RequestParameters,
    ResponseElements,
    EventCategory,
    EventType,
    InsightDetails,
    Other,
}

impl RecordKey {
    pub(crate) fn from_name(s: &str) -> RecordKey {
        match s {
            "eventTime" => RecordKey::EventTime,
            "eventSource" => RecordKey::EventSource,
            "eventName" => RecordKey::EventName,
            "awsRegion" => RecordKey::AwsRegion,
            "recipientAccountId" => RecordKey::RecipientAccountId,
            "userAgent" => RecordKey::UserAgent,
            "errorCode" => RecordKey::ErrorCode,
            "requestID" => RecordKey::RequestId,
            "eventID" => RecordKey::EventId,
            "userIdentity" => RecordKey::UserIdentity,
            "requestParameters" => RecordKey::RequestParameters,
            "responseElements" => RecordKey::ResponseElements,
            "eventCategory" => RecordKey::EventCategory,
            "eventType" => RecordKey::EventType,
            "insightDetails" => RecordKey::InsightDetails,
            _ => RecordKey::Other,
        }
    }
}

/// Captures a value's raw text, borrowed when the input is held in memory; `None` for `null`.
fn read_raw<'de, A: MapAccess<'de>>(
    map: &mut A,
    borrow: bool,
) -> Result<Option<Raw<'de>>, A::Error> {
    let raw = if borrow {
        Raw::Borrowed(map.next_value()?)
    } else {
        Raw::Boxed(map.next_value()?)
    };
    Ok((raw.text() != "null").then_some(raw))
}

/// Reads one value of a record key into the wire record. `borrow` says whether the input is
/// held in memory for `'de` (raw values can then be borrowed instead of copied).
pub(crate) fn read_record_value<'de, A: MapAccess<'de>>(
    key: RecordKey,
    map: &mut A,
    w: &mut WireRecord<'de>,
    borrow: bool,
) -> Result<(), A::Error> {
    match key {
        RecordKey::EventTime => w.event_time = map.next_value()?,
        RecordKey::EventSource => w.event_source = map.next_value()?,
        RecordKey::EventName => w.event_name = map.next_value()?,
        RecordKey::AwsRegion => w.aws_region = map.next_value()?,
        RecordKey::RecipientAccountId => w.recipient_account_id = map.next_value()?,
        RecordKey::UserAgent => w.user_agent = map.next_value()?,
        RecordKey::ErrorCode => w.error_code = map.next_value()?,
        RecordKey::RequestId => w.request_id = map.next_value()?,
        RecordKey::EventId => w.event_id = map.next_value()?,
        RecordKey::UserIdentity => {
            w.identity = match read_raw(map, borrow)? {
                Some(r) => IdentitySource::Raw(r),
                None => IdentitySource::None,
            };
        }
        RecordKey::RequestParameters => {
            w.request_parameters = map
                .next_value_seed(ParamsSeed)?
                .map(|p| Params::Parsed(Box::new(p)));
        }
        RecordKey::ResponseElements => w.response_elements = read_raw(map, borrow)?,
        RecordKey::EventCategory | RecordKey::EventType => {
            if let Loose::Str(v) = map.next_value::<Loose>()? {
                if v == "Insight" || v == "AwsCloudTrailInsight" {
                    w.insight = true;
                }
            }
        }
        RecordKey::InsightDetails => {
            map.next_value::<IgnoredAny>()?;
            w.insight = true;
        }
        RecordKey::Other => {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok(())
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = RecordKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RecordKey, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RecordKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RecordKey, E> {
                Ok(RecordKey::from_name(v))
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Deserialises one record object into a [`WireRecord`]; a non-object yields a wire record
/// with `not_object` set (consumed, so the surrounding stream stays usable). `borrow`: the
/// input is held in memory (see [`read_record_value`]).
#[derive(Clone, Copy)]
pub(crate) struct WireSeed {
    pub borrow: bool,
}

impl<'de> Visitor<'de> for WireSeed {
    type Value = WireRecord<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireRecord<'de>, A::Error> {
        let mut w = WireRecord::default();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            read_record_value(k, &mut map, &mut w, self.borrow)?;
        }
        Ok(w)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<WireRecord<'de>, A::Error> {
        drain_seq(seq)?;
        Ok(not_object("array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<WireRecord<'de>, E> {
        Ok(not_object("string"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<WireRecord<'de>, E> {
        Ok(not_object("boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<WireRecord<'de>, E> {
        Ok(not_object("number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<WireRecord<'de>, E> {
        Ok(not_object("number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<WireRecord<'de>, E> {
        Ok(not_object("number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<WireRecord<'de>, E> {
        Ok(not_object("null"))
    }
}

fn not_object<'de>(kind: &'static str) -> WireRecord<'de> {
    WireRecord {
        not_object: Some(kind),
        ..WireRecord::default()
    }
}

impl<'de> DeserializeSeed<'de> for WireSeed {
    type Value = WireRecord<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<WireRecord<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> WireRecord<'de> {
    /// Starts a wire record from a map whose first key was already read (JSON lines).
    pub(crate) fn finish_map<A: MapAccess<'de>>(
        first: RecordKey,
        mut map: A,
        borrow: bool,
    ) -> Result<WireRecord<'de>, A::Error> {
        let mut w = WireRecord::default();
        read_record_value(first, &mut map, &mut w, borrow)?;
        while let Some(k) = map.next_key_seed(KeySeed)? {
            read_record_value(k, &mut map, &mut w, borrow)?;
        }
        Ok(w)
    }
}

/// One CloudTrail record reduced to what the normalised table needs. Its text borrows from
/// the input where it can (`'a`); [`TraceRecord::into_owned`] detaches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceRecord<'a> {
    /// `eventTime` in ns since the epoch (UTC); the *completion* time of the call.
    pub time_ns: i64,
    pub event_source: Cow<'a, str>,
    /// `eventName`, e.g. `CreateNetworkInterface`.
    pub action: Cow<'a, str>,
    pub region: Cow<'a, str>,
    /// `recipientAccountId`, else `userIdentity.accountId`.
    pub account: Option<Cow<'a, str>>,
    /// The role behind an assumed-role session (`sessionContext.sessionIssuer.arn`), else
    /// `userIdentity.arn`, else `invokedBy` (AWS services), else `principalId`.
    pub principal: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    /// As recorded, with its `Client.` / `Server.` prefix.
    pub error_code: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub event_id: Cow<'a, str>,
    /// The one ENI the call is about (from the request, or the Create response).
    pub eni_id: Option<Cow<'a, str>>,
    /// Further ENIs named by a Describe (`networkInterfaceIdSet` or a
    /// `network-interface-id` filter) when it names more than one; `eni_id` holds the first.
    pub other_eni_ids: Vec<Cow<'a, str>>,
    pub attachment_id: Option<Cow<'a, str>>,
    pub instance_id: Option<Cow<'a, str>>,
    pub device_index: Option<u32>,
    pub subnet_id: Option<Cow<'a, str>>,
    pub client_token: Option<Cow<'a, str>>,
    /// Hash of the canonical request parameters (object keys sorted); 0 if none.
    pub params_hash: u64,
    /// `(attachment id, ENI id)` pairs this record reveals (Attach response, RunInstances
    /// `networkInterfaceSet`, ModifyNetworkInterfaceAttribute request).
    pub attachments: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The request carries the multi-ENI controller's description or its
    /// `kubernetes.io/cluster/managed-by=nodeeni-controller` tag (controller-v1.3.8.md §15).
    pub controller_mark: bool,
    /// The request's `NodeENI`, `Node` and `SubnetID` tags (the controller's Creates).
    pub tag_nodeeni: Option<Cow<'a, str>>,
    pub tag_node: Option<Cow<'a, str>>,
    pub tag_subnet: Option<Cow<'a, str>>,
    /// A CloudTrail Insights event (`eventCategory: Insight`, `insightDetails`), not an API
    /// call: only this flag is set, and `ingest` skips and counts it.
    pub insight: bool,
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

impl TraceRecord<'_> {
    pub fn is_ec2(&self) -> bool {
        self.event_source == EC2_EVENT_SOURCE
    }

    /// The same record with its text copied out of the input.
    pub fn into_owned(self) -> TraceRecord<'static> {
        let opt = |o: Option<Cow<'_, str>>| o.map(own);
        TraceRecord {
            time_ns: self.time_ns,
            event_source: own(self.event_source),
            action: own(self.action),
            region: own(self.region),
            account: opt(self.account),
            principal: opt(self.principal),
            user_agent: opt(self.user_agent),
            error_code: opt(self.error_code),
            request_id: opt(self.request_id),
            event_id: own(self.event_id),
            eni_id: opt(self.eni_id),
            other_eni_ids: self.other_eni_ids.into_iter().map(own).collect(),
            attachment_id: opt(self.attachment_id),
            instance_id: opt(self.instance_id),
            device_index: self.device_index,
            subnet_id: opt(self.subnet_id),
            client_token: opt(self.client_token),
            params_hash: self.params_hash,
            attachments: self
                .attachments
                .into_iter()
                .map(|(a, e)| (own(a), own(e)))
                .collect(),
            controller_mark: self.controller_mark,
            tag_nodeeni: opt(self.tag_nodeeni),
            tag_node: opt(self.tag_node),
            tag_subnet: opt(self.tag_subnet),
            insight: self.insight,
        }
    }
}

/// `userIdentity` as read, in one lenient pass (no copy of its text).
#[derive(Debug, Default, Clone)]
pub(crate) struct WireIdentity<'de> {
    kind: Loose<'de>,
    principal_id: Loose<'de>,
    arn: Loose<'de>,
    account_id: Loose<'de>,
    invoked_by: Loose<'de>,
    issuer_arn: Loose<'de>,
    not_object: Option<&'static str>,
}

/// Reads `userIdentity`; `None` for JSON `null`.
struct IdentitySeed;

impl<'de> DeserializeSeed<'de> for IdentitySeed {
    type Value = Option<WireIdentity<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// The next key of a JSON object (borrowed from the input when possible).
fn key_str<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<KeyName<'de>>, A::Error> {
    map.next_key::<KeyName<'de>>()
}

/// A map key, borrowed when possible.
pub(crate) struct KeyName<'de>(Cow<'de, str>);

impl KeyName<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for KeyName<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<KeyName<'de>, E> {
                Ok(KeyName(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyName<'de>, E> {
                Ok(KeyName(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads `{"arn": …}` inside `sessionContext.sessionIssuer`, leniently.
struct IssuerArnSeed {
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for IssuerArnSeed {
    type Value = Loose<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IssuerArnSeed {
    type Value = Loose<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'de>, A::Error> {
        let mut out = Loose::Null;
        while let Some(k) = key_str(&mut map)? {
            match (self.depth, &*k.0) {
                (0, "sessionIssuer") => out = map.next_value_seed(IssuerArnSeed { depth: 1 })?,
                (1, "arn") => out = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Loose<'de>, A::Error> {
        drain_seq(seq)?;
        Ok(Loose::Null)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
}

fn wire_identity_not_object<'de>(kind: &'static str) -> Option<WireIdentity<'de>> {
    Some(WireIdentity {
        not_object: Some(kind),
        ..WireIdentity::default()
    })
}

impl<'de> Visitor<'de> for IdentitySeed {
    type Value = Option<WireIdentity<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a userIdentity object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut w = WireIdentity::default();
        while let Some(k) = key_str(&mut map)? {
            match &*k.0 {
                "type" => w.kind = map.next_value()?,
                "principalId" => w.principal_id = map.next_value()?,
                "arn" => w.arn = map.next_value()?,
                "accountId" => w.account_id = map.next_value()?,
                "invokedBy" => w.invoked_by = map.next_value()?,
                "sessionContext" => {
                    w.issuer_arn = map.next_value_seed(IssuerArnSeed { depth: 0 })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(w))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(wire_identity_not_object("array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(wire_identity_not_object("string"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(wire_identity_not_object("boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(wire_identity_not_object("number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(wire_identity_not_object("number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(wire_identity_not_object("number"))
    }
}

impl<'de> WireIdentity<'de> {
    fn into_identity(self) -> Result<Identity<'de>, RecordError> {
        if let Some(found) = self.not_object {
            return Err(RecordError::WrongType {
                field: "userIdentity",
                expected: "object",
                found,
            });
        }
        let ne = |l: Loose<'de>, f: &'static str| l.opt_nonempty(f);
        let issuer = ne(
            self.issuer_arn,
            "userIdentity.sessionContext.sessionIssuer.arn",
        )?;
        let arn = ne(self.arn, "userIdentity.arn")?;
        let invoked = ne(self.invoked_by, "userIdentity.invokedBy")?;
        let pid = ne(self.principal_id, "userIdentity.principalId")?;
        let kind = ne(self.kind, "userIdentity.type")?;
        Ok(Identity {
            principal: issuer.or(arn).or(invoked).or(pid).or(kind),
            account: ne(self.account_id, "userIdentity.accountId")?,
        })
    }
}

/// Identity fields as the table wants them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Identity<'a> {
    pub principal: Option<Cow<'a, str>>,
    pub account: Option<Cow<'a, str>>,
}

fn nonempty<'a>(c: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    c.filter(|s| !s.is_empty())
}

pub(crate) fn identity_from_json(text: &str) -> Result<Identity<'_>, RecordError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let w = IdentitySeed
        .deserialize(&mut de)
        .and_then(|w| de.end().map(|()| w))
        .map_err(|e| RecordError::BadValue {
            field: "userIdentity",
            value: abbreviate(text),
            reason: e.to_string(),
        })?;
    match w {
        Some(w) => w.into_identity(),
        None => Ok(Identity::default()),
    }
}

/// Athena renders struct columns in Hive text form: `{type=AssumedRole, arn=..., ...}`.
/// Extracts `key=value` at the top level or inside `sessionissuer={...}`.
fn hive_field(text: &str, key: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let needle = format!("{key}=");
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&needle) {
        let start = from + pos;
        let boundary = start == 0 || matches!(lower.as_bytes()[start - 1], b'{' | b' ' | b',');
        if boundary {
            let vstart = start + needle.len();
            let rest = &text[vstart..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            let v = rest[..end].trim();
            if v.is_empty() || v == "null" {
                return None;
            }
            return Some(v.to_string());
        }
        from = start + needle.len();
    }
    None
}

pub(crate) fn identity_from_hive(text: &str) -> Identity<'static> {
    let lower = text.to_ascii_lowercase();
    let issuer = lower
        .find("sessionissuer={")
        .and_then(|p| hive_field(&text[p + "sessionissuer=".len()..], "arn"));
    // The top-level arn: the first `arn=` that is not inside sessionissuer.
    let top = match lower.find("sessioncontext=") {
        Some(p) => hive_field(&text[..p], "arn"),
        None => hive_field(text, "arn"),
    };
    let principal = issuer
        .or(top)
        .or_else(|| hive_field(text, "invokedby"))
        .or_else(|| hive_field(text, "principalid"))
        .or_else(|| hive_field(text, "type"));
    Identity {
        principal: principal.map(Cow::Owned),
        account: hive_field(text, "accountid").map(Cow::Owned),
    }
}

fn abbreviate(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Typed view of the `responseElements` fields the table uses.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ResponseWire<'a> {
    #[serde(borrow)]
    network_interface: Option<NetworkInterfaceWire<'a>>,
    #[serde(borrow)]
    attachment_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    instances_set: Option<ItemsWire<InstanceWire<'a>>>,
}

#[derive(Deserialize)]
#[serde(default)]
struct ItemsWire<T> {
    items: Vec<T>,
}

impl<T> Default for ItemsWire<T> {
    fn default() -> Self {
        ItemsWire { items: Vec::new() }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct NetworkInterfaceWire<'a> {
    #[serde(borrow)]
    network_interface_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subnet_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    attachment: Option<AttachmentWire<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AttachmentWire<'a> {
    #[serde(borrow)]
    attachment_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct InstanceWire<'a> {
    #[serde(borrow)]
    instance_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    network_interface_set: Option<ItemsWire<NetworkInterfaceWire<'a>>>,
}

/// FNV-1a, 64 bits: a hash that is the same in every build and on every machine, so the
/// `params_hash` column (and retry-chain keys) are reproducible.
fn parse_nested<'a, T: Deserialize<'a>>(
    field: &'static str,
    text: &'a str,
) -> Result<T, RecordError> {
    serde_json::from_str(text).map_err(|e| RecordError::BadValue {
        field,
        value: abbreviate(text),
        reason: e.to_string(),
    })
}

/// How the identity of a wire record is given.
/// Where a record's identity comes from.
#[derive(Debug, Clone, Default)]
pub(crate) enum IdentitySource<'a> {
    #[default]
    None,
    /// `userIdentity` of a JSON record, or a CSV export's `useridentity` cell (JSON, or
    /// Athena's Hive text).
    Raw(Raw<'a>),
    /// A CSV export's flattened `useridentity.*` columns.
    Flat(Identity<'a>),
}

fn identity_from_text(t: &str) -> Result<Identity<'_>, RecordError> {
    let t = t.trim();
    if t.is_empty() || t == "null" {
        Ok(Identity::default())
    } else if t.starts_with('{') && t[1..].trim_start().starts_with('"') || t == "{}" {
        identity_from_json(t)
    } else if t.starts_with('{') {
        Ok(identity_from_hive(t))
    } else {
        Err(RecordError::WrongType {
            field: "userIdentity",
            expected: "object",
            found: if t.starts_with('[') {
                "array"
            } else if t.starts_with('"') {
                "string"
            } else {
                "scalar"
            },
        })
    }
}

/// Where a cached identity's field sits in its text.
#[derive(Debug, Clone)]
enum Part {
    None,
    /// Byte range of the text (the value had no escapes).
    Span(usize, usize),
    /// Unescaped, or not a plain substring (Hive text trimmed).
    Owned(String),
}

impl Part {
    fn of(field: Option<Cow<'_, str>>, text: &str) -> Part {
        match field {
            None => Part::None,
            Some(Cow::Borrowed(s)) => {
                // `s` is a slice of `text` (the parse borrows from it); checked all the same.
                let start = (s.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
                let within = |end: usize| {
                    text.get(start..end)
                        .is_some_and(|t| std::ptr::eq(t.as_ptr(), s.as_ptr()))
                };
                match start.checked_add(s.len()) {
                    Some(end) if within(end) => Part::Span(start, end),
                    _ => Part::Owned(s.to_string()),
                }
            }
            Some(Cow::Owned(s)) => Part::Owned(s),
        }
    }

    fn get<'t>(&self, text: &'t str) -> Option<Cow<'t, str>> {
        match self {
            Part::None => None,
            Part::Span(a, b) => text.get(*a..*b).map(Cow::Borrowed),
            Part::Owned(s) => Some(Cow::Owned(s.clone())),
        }
    }
}

/// The last few distinct `userIdentity` texts of a file and where their fields sit: a record
/// whose identity text equals a cached one borrows its fields from its own text, unparsed.
#[derive(Default)]
pub(crate) struct IdentityCache {
    entries: Vec<(Box<str>, Part, Part)>,
}

impl IdentityCache {
    const SIZE: usize = 8;

    fn identity<'t>(&mut self, text: &'t str) -> Result<Identity<'t>, RecordError> {
        if let Some(pos) = self.entries.iter().position(|(t, ..)| &**t == text) {
            if pos > 0 {
                let e = self.entries.remove(pos);
                self.entries.insert(0, e);
            }
            let (_, principal, account) = &self.entries[0];
            return Ok(Identity {
                principal: principal.get(text),
                account: account.get(text),
            });
        }
        let id = identity_from_text(text)?;
        let principal = Part::of(id.principal.clone(), text);
        let account = Part::of(id.account.clone(), text);
        if self.entries.len() == Self::SIZE {
            self.entries.pop();
        }
        self.entries.insert(0, (text.into(), principal, account));
        Ok(id)
    }
}

/// Validates a wire record and reduces it to a [`TraceRecord`], borrowing its text.
pub(crate) fn normalise<'a>(
    w: WireRecord<'a>,
    cache: &mut IdentityCache,
) -> Result<TraceRecord<'a>, RecordError> {
    if let Some(kind) = w.not_object {
        return Err(RecordError::WrongType {
            field: "record",
            expected: "object",
            found: kind,
        });
    }
    if w.insight {
        return Ok(TraceRecord {
            insight: true,
            ..TraceRecord::default()
        });
    }
    let time_text = w.event_time.req_str("eventTime")?;
    let time_ns = parse_time_ns(&time_text).map_err(|reason| RecordError::BadValue {
        field: "eventTime",
        value: abbreviate(&time_text),
        reason,
    })?;
    let event_source = w.event_source.req_str("eventSource")?;
    let action = w.event_name.req_str("eventName")?;
    if action.is_empty() {
        return Err(RecordError::MissingField("eventName"));
    }
    let region = w.aws_region.req_str("awsRegion")?;
    let event_id = w.event_id.req_str("eventID")?;
    if event_id.is_empty() {
        return Err(RecordError::MissingField("eventID"));
    }
    let recipient = w.recipient_account_id.opt_nonempty("recipientAccountId")?;
    let user_agent = w.user_agent.opt_nonempty("userAgent")?;
    let error_code = w.error_code.opt_nonempty("errorCode")?;
    let request_id = w.request_id.opt_nonempty("requestID")?;

    let ident = match w.identity {
        IdentitySource::None => Identity::default(),
        IdentitySource::Raw(Raw::Borrowed(r)) => cache.identity(r.get())?,
        IdentitySource::Raw(Raw::Text(t)) => cache.identity(t)?,
        IdentitySource::Raw(Raw::Boxed(r)) => {
            let i = cache.identity(r.get())?;
            Identity {
                principal: i.principal.map(|c| Cow::Owned(c.into_owned())),
                account: i.account.map(|c| Cow::Owned(c.into_owned())),
            }
        }
        IdentitySource::Flat(i) => i,
    };

    let mut rec = TraceRecord {
        time_ns,
        event_source,
        action,
        region,
        account: recipient.or(ident.account),
        principal: ident.principal,
        user_agent,
        error_code,
        request_id,
        event_id,
        ..TraceRecord::default()
    };

    let params = match w.request_parameters {
        None => None,
        Some(Params::Parsed(p)) => Some(*p),
        Some(Params::Text(t)) => params_from_text(t.trim())?,
    };
    if let Some(p) = params {
        apply_params(p, &mut rec)?;
    }
    match w.response_elements {
        None => {}
        Some(Raw::Borrowed(raw)) => response_into(raw.get(), &mut rec, |c| c)?,
        Some(Raw::Text(text)) => response_into(text, &mut rec, |c| c)?,
        Some(Raw::Boxed(raw)) => {
            response_into(raw.get(), &mut rec, |c| Cow::Owned(c.into_owned()))?;
        }
    }
    Ok(rec)
}

/// Parses `responseElements` text into `rec`; `keep` turns text borrowed from `text` into
/// text the record may hold.
fn response_into<'s, 'a>(
    text: &'s str,
    rec: &mut TraceRecord<'a>,
    keep: impl Fn(Cow<'s, str>) -> Cow<'a, str>,
) -> Result<(), RecordError> {
    let text = text.trim();
    if text.is_empty() || text == "null" {
        return Ok(());
    }
    let r: ResponseWire<'s> = parse_nested("responseElements", text)?;
    apply_response(r, rec, keep);
    Ok(())
}

fn apply_params<'a>(p: ParamsOut<'a>, rec: &mut TraceRecord<'a>) -> Result<(), RecordError> {
    if let Some(e) = p.error {
        return Err(e);
    }
    rec.params_hash = p.hash;
    rec.client_token = p.client_token;
    rec.controller_mark = p.controller_mark;
    rec.tag_nodeeni = p.tag_nodeeni;
    rec.tag_node = p.tag_node;
    rec.tag_subnet = p.tag_subnet;
    rec.subnet_id = p.subnet;
    rec.device_index = p.device_index;
    rec.attachment_id = p.attachment;
    rec.instance_id = p.instances.into_iter().next();
    let mut it = p.enis.into_iter();
    rec.eni_id = it.next();
    rec.other_eni_ids = it.collect();
    if rec.action == "ModifyNetworkInterfaceAttribute" {
        if let (Some(att), Some(eni)) = (&rec.attachment_id, &rec.eni_id) {
            rec.attachments.push((att.clone(), eni.clone()));
        }
    }
    Ok(())
}

fn apply_response<'s, 'a>(
    r: ResponseWire<'s>,
    rec: &mut TraceRecord<'a>,
    keep: impl Fn(Cow<'s, str>) -> Cow<'a, str>,
) {
    let id = |c: Option<Cow<'s, str>>| nonempty(c).map(&keep);
    if let Some(ni) = r.network_interface {
        if rec.eni_id.is_none() {
            rec.eni_id = id(ni.network_interface_id);
        }
        if rec.subnet_id.is_none() {
            rec.subnet_id = id(ni.subnet_id);
        }
    }
    if let Some(att) = id(r.attachment_id) {
        if let Some(eni) = &rec.eni_id {
            rec.attachments.push((att.clone(), eni.clone()));
        }
        if rec.attachment_id.is_none() {
            rec.attachment_id = Some(att);
        }
    }
    if let Some(set) = r.instances_set {
        let single = set.items.len() == 1;
        for inst in set.items {
            let iid = id(inst.instance_id);
            if single && rec.instance_id.is_none() {
                rec.instance_id = iid.clone();
            }
            for ni in inst
                .network_interface_set
                .map(|s| s.items)
                .unwrap_or_default()
            {
                let eni = id(ni.network_interface_id);
                let att = ni.attachment.and_then(|a| id(a.attachment_id));
                if let (Some(att), Some(eni)) = (att, eni) {
                    rec.attachments.push((att, eni));
                }
            }
        }
    }
}

/// Parses one CloudTrail record from JSON text (the unit the fuzz target exercises).
/// Never panics; any input that is not a usable record gives a [`RecordError`].
pub fn parse_record(bytes: &[u8]) -> Result<TraceRecord<'_>, RecordError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let wire = WireSeed { borrow: true }
        .deserialize(&mut de)
        .map_err(|e| RecordError::Json(e.to_string()))?;
    de.end().map_err(|e| RecordError::Json(e.to_string()))?;
    normalise(wire, &mut IdentityCache::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACH: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole",
        "principalId":"AROAEXAMPLE:node","arn":"arn:aws:sts::111122223333:assumed-role/eni-ctl/sess",
        "accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role",
        "arn":"arn:aws:iam::111122223333:role/eni-ctl"}}},"eventTime":"2024-05-01T10:00:03Z",
        "eventSource":"ec2.amazonaws.com","eventName":"AttachNetworkInterface","awsRegion":"us-east-1",
        "userAgent":"aws-sdk-go-v2/1.21.0 aws-multi-eni-controller",
        "requestParameters":{"networkInterfaceId":"eni-0a1","instanceId":"i-0b2","deviceIndex":2},
        "responseElements":{"requestId":"r","attachmentId":"eni-attach-0c3","networkCardIndex":0},
        "requestID":"5b0f0a43-0000-4000-8000-000000000001","eventID":"e1","recipientAccountId":"111122223333"}"#;

    #[test]
    fn attach_record_is_normalised() {
        let r = parse_record(ATTACH.as_bytes()).unwrap();
        assert_eq!(r.action, "AttachNetworkInterface");
        assert_eq!(r.eni_id.as_deref(), Some("eni-0a1"));
        assert_eq!(r.instance_id.as_deref(), Some("i-0b2"));
        assert_eq!(r.device_index, Some(2));
        assert_eq!(r.attachment_id.as_deref(), Some("eni-attach-0c3"));
        assert_eq!(
            r.attachments,
            vec![(Cow::from("eni-attach-0c3"), Cow::from("eni-0a1"))]
        );
        assert_eq!(
            r.principal.as_deref(),
            Some("arn:aws:iam::111122223333:role/eni-ctl")
        );
        assert_eq!(r.account.as_deref(), Some("111122223333"));
    }

    #[test]
    fn wrong_types_are_record_errors() {
        let bad = ATTACH.replace(
            "\"eventName\":\"AttachNetworkInterface\"",
            "\"eventName\":7",
        );
        assert_eq!(
            parse_record(bad.as_bytes()),
            Err(RecordError::WrongType {
                field: "eventName",
                expected: "string",
                found: "number"
            })
        );
        let bad = ATTACH.replace("\"eventID\":\"e1\",", "");
        assert_eq!(
            parse_record(bad.as_bytes()),
            Err(RecordError::MissingField("eventID"))
        );
        assert!(matches!(
            parse_record(b"[1,2]"),
            Err(RecordError::WrongType {
                field: "record",
                ..
            })
        ));
        assert!(matches!(parse_record(b"{"), Err(RecordError::Json(_))));
    }

    #[test]
    fn identity_cache_reuses_spans_and_unescapes() {
        let plain = r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"1",
            "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r"}}}"#;
        let escaped = plain.replace("role/r\"}", "role\\/r\"}");
        let mut cache = IdentityCache::default();
        for _ in 0..3 {
            // The same text again (a copy elsewhere, as the next record's would be).
            let copy = plain.to_string();
            let i = cache.identity(&copy).unwrap();
            assert_eq!(i.principal.as_deref(), Some("arn:aws:iam::1:role/r"));
            assert!(
                matches!(i.principal, Some(Cow::Borrowed(_))),
                "borrowed from the text"
            );
            assert_eq!(i.account.as_deref(), Some("1"));
            let e = cache.identity(&escaped).unwrap();
            assert_eq!(e.principal.as_deref(), Some("arn:aws:iam::1:role/r"));
        }
        assert_eq!(cache.entries.len(), 2);
        // A different caller is not confused with a cached one.
        let other = plain.replace("role/r\"}", "role/q\"}");
        let o = cache.identity(&other).unwrap();
        assert_eq!(o.principal.as_deref(), Some("arn:aws:iam::1:role/q"));
    }

    #[test]
    fn hive_identity() {
        let t = "{type=AssumedRole, principalid=AROA:x, arn=arn:aws:sts::1:assumed-role/r/s, \
                 accountid=1, invokedby=null, sessioncontext={attributes={mfaauthenticated=false}, \
                 sessionissuer={type=Role, principalid=AROA, arn=arn:aws:iam::1:role/r, accountid=1}}}";
        let i = identity_from_hive(t);
        assert_eq!(i.principal.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(i.account.as_deref(), Some("1"));
    }
}
