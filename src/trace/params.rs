//! `requestParameters` in one streaming pass: the ids the table needs and a canonical hash,
//! without building a JSON tree.
//!
//! The hash is independent of object key order and whitespace (an object's hash combines its
//! entries' hashes with a commutative sum), so the same parameters hash alike in S3 files,
//! `lookup-events` output and CSV exports. Arrays keep their order.

use std::borrow::Cow;
use std::fmt;
use std::hash::BuildHasher;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::RecordError;

type Text<'de> = Cow<'de, str>;

/// What the parameters say, for the table (text borrowed from the input where it can be).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ParamsOut<'de> {
    pub hash: u64,
    /// `networkInterfaceId`, then `networkInterfaceIdSet` items, then
    /// `network-interface-id` filter values.
    pub enis: Vec<Text<'de>>,
    /// `instanceId`, `instancesSet` items, `attachment.instance-id` filter values.
    pub instances: Vec<Text<'de>>,
    pub device_index: Option<u32>,
    /// `attachmentId`, else `attachment.attachmentId`, else an `attachment.attachment-id`
    /// filter value.
    pub attachment: Option<Text<'de>>,
    /// `subnetId`, else a `subnetSet` item, else a `subnet-id` filter value.
    pub subnet: Option<Text<'de>>,
    pub client_token: Option<Text<'de>>,
    /// The multi-ENI controller's marks on a Create (its description
    /// `ENI created by nodeeni-controller for node …`, or its tag
    /// `kubernetes.io/cluster/managed-by=nodeeni-controller`; controller-v1.3.8.md §15).
    pub controller_mark: bool,
    /// Its `NodeENI`, `Node` and `SubnetID` tags (in `tagSpecificationSet.items[].tags[]`).
    pub tag_nodeeni: Option<Text<'de>>,
    pub tag_node: Option<Text<'de>>,
    pub tag_subnet: Option<Text<'de>>,
    /// The first type/value problem met (the walk continues so the stream stays usable).
    pub error: Option<RecordError>,
    nested_attachment: Option<Text<'de>>,
    filter_attachment: Option<Text<'de>>,
    subnet_set: Option<Text<'de>>,
    filter_subnet: Option<Text<'de>>,
    filter_enis: Vec<Text<'de>>,
    filter_instances: Vec<Text<'de>>,
    cur_filter_name: Option<Text<'de>>,
    cur_filter_values: Vec<Text<'de>>,
    cur_tag_key: Option<Text<'de>>,
    cur_tag_value: Option<Text<'de>>,
}

/// The description v1.3.8 gives the ENIs it creates (unless a NodeENI sets its own).
pub(crate) const CONTROLLER_DESCRIPTION_PREFIX: &str = "ENI created by nodeeni-controller";
/// The tag v1.3.8 puts on every ENI it creates.
pub(crate) const MANAGED_BY_TAG: (&str, &str) =
    ("kubernetes.io/cluster/managed-by", "nodeeni-controller");

impl ParamsOut<'_> {
    /// Resolves the precedence between direct fields, sets and filters.
    pub(crate) fn finish(mut self) -> Self {
        self.enis.append(&mut self.filter_enis);
        self.instances.append(&mut self.filter_instances);
        if self.attachment.is_none() {
            self.attachment = self
                .nested_attachment
                .take()
                .or_else(|| self.filter_attachment.take());
        }
        if self.subnet.is_none() {
            self.subnet = self.subnet_set.take().or_else(|| self.filter_subnet.take());
        }
        self
    }

    fn set_error(&mut self, e: RecordError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

/// Where in the parameters a value sits (only the places the table reads are told apart).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    Root,
    Other,
    // Direct fields of the root object.
    NetworkInterfaceId,
    InstanceId,
    DeviceIndex,
    AttachmentId,
    SubnetId,
    ClientToken,
    // `xxxSet: {items: [{key: v}]}` of the root object.
    Set(SetKind),
    SetItems(SetKind),
    SetItem(SetKind),
    SetValue(SetKind),
    // `attachment: {attachmentId}` (ModifyNetworkInterfaceAttribute).
    AttachmentObj,
    NestedAttachmentId,
    // `filterSet: {items: [{name, valueSet: {items: [{value}]}}]}`.
    FilterSet,
    FilterItems,
    FilterItem,
    FilterName,
    FilterValueSet,
    FilterValueItems,
    FilterValueItem,
    FilterValue,
    // `description` of the root object.
    Description,
    // `tagSpecificationSet: {items: [{resourceType, tags: [{key, value}]}]}` (also
    // `tags: {items: […]}`).
    TagSpecSet,
    TagSpecItems,
    TagSpecItem,
    TagList,
    TagListItems,
    TagItem,
    TagKey,
    TagValue,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SetKind {
    Enis,
    Instances,
    Subnets,
}

impl SetKind {
    fn key(self) -> &'static str {
        match self {
            SetKind::Enis => "networkInterfaceId",
            SetKind::Instances => "instanceId",
            SetKind::Subnets => "subnetId",
        }
    }
}

fn child_of_key(place: Place, key: &str) -> Place {
    match (place, key) {
        (Place::Root, "networkInterfaceId") => Place::NetworkInterfaceId,
        (Place::Root, "instanceId") => Place::InstanceId,
        (Place::Root, "deviceIndex") => Place::DeviceIndex,
        (Place::Root, "attachmentId") => Place::AttachmentId,
        (Place::Root, "subnetId") => Place::SubnetId,
        (Place::Root, "clientToken") => Place::ClientToken,
        (Place::Root, "networkInterfaceIdSet") => Place::Set(SetKind::Enis),
        (Place::Root, "instancesSet") => Place::Set(SetKind::Instances),
        (Place::Root, "subnetSet") => Place::Set(SetKind::Subnets),
        (Place::Root, "attachment") => Place::AttachmentObj,
        (Place::Root, "filterSet") => Place::FilterSet,
        (Place::Root, "description") => Place::Description,
        (Place::Root, "tagSpecificationSet") => Place::TagSpecSet,
        (Place::TagSpecSet, "items") => Place::TagSpecItems,
        (Place::TagSpecItem, "tags" | "tagSet") => Place::TagList,
        (Place::TagList, "items") => Place::TagListItems,
        (Place::TagItem, "key" | "Key") => Place::TagKey,
        (Place::TagItem, "value" | "Value") => Place::TagValue,
        (Place::Set(k), "items") => Place::SetItems(k),
        (Place::SetItem(k), x) if x == k.key() => Place::SetValue(k),
        (Place::AttachmentObj, "attachmentId") => Place::NestedAttachmentId,
        (Place::FilterSet, "items") => Place::FilterItems,
        (Place::FilterItem, "name") => Place::FilterName,
        (Place::FilterItem, "valueSet") => Place::FilterValueSet,
        (Place::FilterValueSet, "items") => Place::FilterValueItems,
        (Place::FilterValueItem, "value") => Place::FilterValue,
        _ => Place::Other,
    }
}

fn child_of_seq(place: Place) -> Place {
    match place {
        Place::SetItems(k) => Place::SetItem(k),
        Place::FilterItems => Place::FilterItem,
        Place::FilterValueItems => Place::FilterValueItem,
        Place::TagSpecItems => Place::TagSpecItem,
        Place::TagList | Place::TagListItems => Place::TagItem,
        _ => Place::Other,
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of `b` fixed for the process (retry chains compare hashes within one ingest);
/// `tag` keeps keys, strings and client tokens apart.
pub(crate) fn hash_bytes(tag: u8, b: &[u8]) -> u64 {
    foldhash::quality::FixedState::with_seed(0x656e_6973_696d_0000 | u64::from(tag)).hash_one(b)
}

/// Reads the parameters; `None` for JSON `null`.
pub(crate) struct ParamsSeed;

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = Option<ParamsOut<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut out = ParamsOut::default();
        let r = Walk {
            place: Place::Root,
            out: &mut out,
        }
        .deserialize(d)?;
        match r {
            WalkResult::Null => Ok(None),
            WalkResult::Hash(h) => {
                out.hash = h;
                Ok(Some(out.finish()))
            }
            WalkResult::NotObject(found) => {
                out.set_error(RecordError::WrongType {
                    field: "requestParameters",
                    expected: "object",
                    found,
                });
                Ok(Some(out))
            }
        }
    }
}

/// Parses parameters given as JSON text (a CSV cell).
pub(crate) fn params_from_text(text: &str) -> Result<Option<ParamsOut<'_>>, RecordError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let out = ParamsSeed
        .deserialize(&mut de)
        .and_then(|o| de.end().map(|()| o))
        .map_err(|e| RecordError::BadValue {
            field: "requestParameters",
            value: text.chars().take(80).collect(),
            reason: e.to_string(),
        })?;
    Ok(out)
}

enum WalkResult {
    Null,
    Hash(u64),
    NotObject(&'static str),
}

struct Walk<'a, 'de> {
    place: Place,
    out: &'a mut ParamsOut<'de>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, 'de> {
    type Value = WalkResult;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<WalkResult, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Walk<'_, 'de> {
    fn scalar(self, kind: &'static str, h: u64) -> WalkResult {
        if self.place == Place::Root {
            return WalkResult::NotObject(kind);
        }
        if self.place == Place::DeviceIndex {
            self.out.set_error(RecordError::WrongType {
                field: "deviceIndex",
                expected: "number",
                found: kind,
            });
        }
        WalkResult::Hash(h)
    }

    /// `text` renders the number for an error message (only called on one).
    fn number(self, v: Option<u64>, text: impl Fn() -> String, h: u64) -> WalkResult {
        if self.place == Place::Root {
            return WalkResult::NotObject("number");
        }
        if self.place == Place::DeviceIndex {
            match v.and_then(|x| u32::try_from(x).ok()) {
                Some(d) => self.out.device_index = Some(d),
                None => self.out.set_error(RecordError::BadValue {
                    field: "deviceIndex",
                    value: text(),
                    reason: "not a small non-negative integer".into(),
                }),
            }
        }
        WalkResult::Hash(h)
    }

    /// A string value; `borrowed` is the same text when it lives as long as the input.
    fn string(self, s: &str, borrowed: Option<&'de str>) -> WalkResult {
        let h = hash_bytes(3, s.as_bytes());
        let out = self.out;
        let owned = || borrowed.map_or_else(|| Cow::Owned(s.to_owned()), Cow::Borrowed);
        match self.place {
            Place::Root => return WalkResult::NotObject("string"),
            Place::NetworkInterfaceId if !s.is_empty() => out.enis.insert(0, owned()),
            Place::InstanceId if !s.is_empty() => out.instances.insert(0, owned()),
            Place::AttachmentId if !s.is_empty() => out.attachment = Some(owned()),
            Place::SubnetId if !s.is_empty() => out.subnet = Some(owned()),
            Place::ClientToken if !s.is_empty() => out.client_token = Some(owned()),
            Place::DeviceIndex => match s.trim().parse::<u32>() {
                Ok(d) => out.device_index = Some(d),
                Err(e) => out.set_error(RecordError::BadValue {
                    field: "deviceIndex",
                    value: s.chars().take(40).collect(),
                    reason: e.to_string(),
                }),
            },
            Place::SetItem(k) | Place::SetValue(k) if !s.is_empty() => match k {
                SetKind::Enis => out.enis.push(owned()),
                SetKind::Instances => out.instances.push(owned()),
                SetKind::Subnets => {
                    if out.subnet_set.is_none() {
                        out.subnet_set = Some(owned());
                    }
                }
            },
            Place::NestedAttachmentId if !s.is_empty() => out.nested_attachment = Some(owned()),
            Place::FilterName => out.cur_filter_name = Some(owned()),
            Place::FilterValue => out.cur_filter_values.push(owned()),
            Place::Description if s.starts_with(CONTROLLER_DESCRIPTION_PREFIX) => {
                out.controller_mark = true;
            }
            Place::TagKey => out.cur_tag_key = Some(owned()),
            Place::TagValue => out.cur_tag_value = Some(owned()),
            _ => {}
        }
        WalkResult::Hash(h)
    }

    fn end_tag_item(out: &mut ParamsOut<'de>) {
        let (Some(k), Some(v)) = (out.cur_tag_key.take(), out.cur_tag_value.take()) else {
            return;
        };
        match &*k {
            "NodeENI" => out.tag_nodeeni = Some(v),
            "Node" => out.tag_node = Some(v),
            "SubnetID" => out.tag_subnet = Some(v),
            key if key == MANAGED_BY_TAG.0 && v == MANAGED_BY_TAG.1 => out.controller_mark = true,
            _ => {}
        }
    }

    fn end_filter_item(out: &mut ParamsOut<'de>) {
        let values = std::mem::take(&mut out.cur_filter_values);
        match out.cur_filter_name.take().as_deref() {
            Some("network-interface-id") => out.filter_enis.extend(values),
            Some("attachment.instance-id") => out.filter_instances.extend(values),
            Some("attachment.attachment-id") if out.filter_attachment.is_none() => {
                out.filter_attachment = values.into_iter().next();
            }
            Some("subnet-id") if out.filter_subnet.is_none() => {
                out.filter_subnet = values.into_iter().next();
            }
            _ => {}
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_, 'de> {
    type Value = WalkResult;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<WalkResult, E> {
        if self.place == Place::Root {
            return Ok(WalkResult::Null);
        }
        Ok(WalkResult::Hash(mix(0x6E75_6C6C)))
    }
    fn visit_none<E: de::Error>(self) -> Result<WalkResult, E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<WalkResult, E> {
        Ok(self.scalar("boolean", mix(1 + u64::from(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<WalkResult, E> {
        let h = mix(v ^ 0x7531_0000_0000_0001);
        Ok(self.number(Some(v), || v.to_string(), h))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<WalkResult, E> {
        if let Ok(u) = u64::try_from(v) {
            return self.visit_u64(u);
        }
        let h = mix((v as u64) ^ 0x6964_0000_0000_0002);
        Ok(self.number(None, || v.to_string(), h))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<WalkResult, E> {
        let h = mix(v.to_bits() ^ 0x6634_0000_0000_0003);
        Ok(self.number(None, || v.to_string(), h))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<WalkResult, E> {
        Ok(self.string(v, Some(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<WalkResult, E> {
        Ok(self.string(v, None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WalkResult, A::Error> {
        if self.place == Place::DeviceIndex {
            self.out.set_error(RecordError::WrongType {
                field: "deviceIndex",
                expected: "number",
                found: "array",
            });
        }
        if self.place == Place::Root {
            while seq
                .next_element_seed(Walk {
                    place: Place::Other,
                    out: &mut ParamsOut::default(),
                })?
                .is_some()
            {}
            return Ok(WalkResult::NotObject("array"));
        }
        let child = child_of_seq(self.place);
        let mut h: u64 = 0x6172_7261_7900_0004;
        let mut n: u64 = 0;
        while let Some(r) = seq.next_element_seed(Walk {
            place: child,
            out: &mut *self.out,
        })? {
            let sub = match r {
                WalkResult::Hash(x) => x,
                _ => 0,
            };
            h = mix(h.wrapping_mul(31).wrapping_add(sub));
            n += 1;
        }
        Ok(WalkResult::Hash(mix(h ^ n)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WalkResult, A::Error> {
        if self.place == Place::DeviceIndex {
            self.out.set_error(RecordError::WrongType {
                field: "deviceIndex",
                expected: "number",
                found: "object",
            });
        }
        let filter_item = self.place == Place::FilterItem;
        if filter_item {
            self.out.cur_filter_name = None;
            self.out.cur_filter_values.clear();
        }
        let tag_item = self.place == Place::TagItem;
        if tag_item {
            self.out.cur_tag_key = None;
            self.out.cur_tag_value = None;
        }
        let mut sum: u64 = 0;
        let mut n: u64 = 0;
        while let Some(k) = map.next_key::<super::record::KeyName<'de>>()? {
            let key = k.as_str();
            let child = child_of_key(self.place, key);
            let kh = hash_bytes(5, key.as_bytes());
            let r = map.next_value_seed(Walk {
                place: child,
                out: &mut *self.out,
            })?;
            let vh = match r {
                WalkResult::Hash(x) => x,
                _ => 0,
            };
            sum = sum.wrapping_add(mix(kh ^ vh.rotate_left(17)));
            n += 1;
        }
        if filter_item {
            Self::end_filter_item(self.out);
        }
        if tag_item {
            Self::end_tag_item(self.out);
        }
        Ok(WalkResult::Hash(mix(sum ^ mix(n ^ 0x6F62_6A00_0000_0005))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> ParamsOut<'_> {
        params_from_text(t).unwrap().unwrap()
    }

    #[test]
    fn extracts_ids_and_hashes_canonically() {
        let a = p(r#"{"networkInterfaceId":"eni-1","instanceId":"i-1","deviceIndex":2}"#);
        assert_eq!(a.enis, vec!["eni-1"]);
        assert_eq!(a.instances, vec!["i-1"]);
        assert_eq!(a.device_index, Some(2));
        let b = p(r#"{ "deviceIndex": 2, "instanceId": "i-1", "networkInterfaceId": "eni-1" }"#);
        assert_eq!(a.hash, b.hash);
        let c = p(r#"{"deviceIndex":3,"instanceId":"i-1","networkInterfaceId":"eni-1"}"#);
        assert_ne!(a.hash, c.hash);
        // Swapping values between keys changes the hash.
        let d = p(r#"{"a":"x","b":"y"}"#);
        let e = p(r#"{"a":"y","b":"x"}"#);
        assert_ne!(d.hash, e.hash);
        // Array order matters.
        assert_ne!(p(r#"{"a":[1,2]}"#).hash, p(r#"{"a":[2,1]}"#).hash);
    }

    #[test]
    fn controller_description_and_tags() {
        let t = r#"{"subnetId":"subnet-0123456789abcdef0","description":"ENI created by nodeeni-controller for node ip-10-0-1-5",
            "tagSpecificationSet":{"items":[{"resourceType":"network-interface","tags":[
              {"key":"Name","value":"nodeeni-multi-eni-ip-10-0-1-5-abcdef0"},
              {"key":"SubnetID","value":"subnet-0123456789abcdef0"},
              {"key":"NodeENI","value":"multi-eni"},
              {"key":"Node","value":"ip-10-0-1-5"}]}]}}"#;
        let a = p(t);
        assert!(a.controller_mark, "the description marks it");
        assert_eq!(a.tag_nodeeni.as_deref(), Some("multi-eni"));
        assert_eq!(a.tag_node.as_deref(), Some("ip-10-0-1-5"));
        assert_eq!(a.tag_subnet.as_deref(), Some("subnet-0123456789abcdef0"));
        assert_eq!(a.subnet.as_deref(), Some("subnet-0123456789abcdef0"));
        // The managed-by tag alone marks it too (a NodeENI may set its own description);
        // `tags` may also come as `{items: […]}`.
        let b = p(
            r#"{"description":"mine","tagSpecificationSet":{"items":[{"tags":{"items":[
            {"value":"nodeeni-controller","key":"kubernetes.io/cluster/managed-by"},
            {"key":"NodeENI","value":"x"}]}}]}}"#,
        );
        assert!(b.controller_mark);
        assert_eq!(b.tag_nodeeni.as_deref(), Some("x"));
        // Neither: not marked; tags elsewhere are not read.
        let c = p(
            r#"{"description":"ENI for pods","tagSet":{"items":[{"key":"Node","value":"n"}]},
            "tagSpecificationSet":{"items":[{"tags":[{"key":"kubernetes.io/cluster/managed-by","value":"karpenter"}]}]}}"#,
        );
        assert!(!c.controller_mark);
        assert_eq!(c.tag_node, None);
    }

    #[test]
    fn sets_and_filters() {
        let f = p(r#"{"filterSet":{"items":[
            {"valueSet":{"items":[{"value":"i-9"}]},"name":"attachment.instance-id"},
            {"name":"attachment.status","valueSet":{"items":[{"value":"attached"}]}},
            {"name":"network-interface-id","valueSet":{"items":[{"value":"eni-8"},{"value":"eni-9"}]}}]}}"#);
        assert_eq!(f.instances, vec!["i-9"]);
        assert_eq!(f.enis, vec!["eni-8", "eni-9"]);
        let s = p(
            r#"{"networkInterfaceIdSet":{"items":[{"networkInterfaceId":"eni-1"},{"networkInterfaceId":"eni-2"}]},"subnetSet":{"items":[{"subnetId":"subnet-1"}]}}"#,
        );
        assert_eq!(s.enis, vec!["eni-1", "eni-2"]);
        assert_eq!(s.subnet.as_deref(), Some("subnet-1"));
        let m = p(
            r#"{"networkInterfaceId":"eni-1","attachment":{"attachmentId":"eni-attach-1","deleteOnTermination":true}}"#,
        );
        assert_eq!(m.attachment.as_deref(), Some("eni-attach-1"));
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        assert!(p(r#"{"deviceIndex":"x"}"#).error.is_some());
        assert!(p(r#"{"deviceIndex":-1}"#).error.is_some());
        assert!(p(r#"{"deviceIndex":[1]}"#).error.is_some());
        assert!(p(r#"[1]"#).error.is_some());
        assert!(p(r#""x""#).error.is_some());
        assert_eq!(params_from_text("null").unwrap(), None);
        assert!(params_from_text("{").is_err());
    }
}
