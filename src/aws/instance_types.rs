//! Per-instance-type network limits: how many interfaces the default network card takes
//! (the primary ENI included), IPv4 addresses per interface, and the cards.
//!
//! Built in: `models/instance-types.csv` (facts from EC2 DescribeInstanceTypes as listed by
//! aws/amazon-vpc-cni-k8s, see the file's header). A user can bring the full, current table
//! of their account as the JSON that `aws ec2 describe-instance-types` prints.

use crate::input::{read_text, InputError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const EMBEDDED_PATH: &str = "models/instance-types.csv";
const EMBEDDED: &str = include_str!("../../models/instance-types.csv");

#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    pub name: String,
    /// Interfaces on the default network card, primary included. For multi-card types
    /// this, not the total, is what an attach without NetworkCardIndex can use
    /// (aws-ec2.md §3; controller-v1.3.8.md §14).
    pub max_enis_default_card: u32,
    pub ipv4_per_eni: u32,
    pub network_cards: u32,
    pub max_enis_all_cards: u32,
    pub default_network_card_index: u32,
    pub hypervisor: String,
    pub bare_metal: bool,
}

impl InstanceType {
    /// Secondary interfaces the default card can take beside the primary.
    pub fn max_secondary_enis(&self) -> u32 {
        self.max_enis_default_card.saturating_sub(1)
    }
}

#[derive(Debug, Clone, Default)]
pub struct InstanceTypes {
    by_name: BTreeMap<String, InstanceType>,
}

const COLUMNS: [&str; 8] = [
    "instance_type",
    "max_enis_default_card",
    "ipv4_per_eni",
    "network_cards",
    "max_enis_all_cards",
    "default_network_card_index",
    "hypervisor",
    "bare_metal",
];

impl InstanceTypes {
    pub fn embedded() -> InstanceTypes {
        Self::from_csv(Path::new(EMBEDDED_PATH), EMBEDDED)
            .unwrap_or_else(|e| panic!("the embedded instance-type table is invalid: {e}"))
    }

    /// Loads a CSV table, or `aws ec2 describe-instance-types` JSON if the file is JSON.
    pub fn load(path: &Path) -> Result<InstanceTypes, InputError> {
        let text = read_text(path)?;
        let first = text.trim_start_matches('\u{feff}').trim_start();
        if first.starts_with('{') {
            Self::from_describe_json(path, &text)
        } else if first.starts_with('[') {
            Err(InputError::new(
                path,
                "JSON, but not the shape of `aws ec2 describe-instance-types` output (an object {\"InstanceTypes\": [...]}; a bare list is what a --query prints): run it without --query, or give a CSV like models/instance-types.csv",
            )
            .at_line(1))
        } else {
            Self::from_csv(path, &text)
        }
    }

    pub fn get(&self, name: &str) -> Option<&InstanceType> {
        self.by_name.get(name)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &InstanceType> {
        self.by_name.values()
    }

    /// The names of `name`'s family (`m5.5xlarge` → the m5 sizes), for "did you mean"
    /// messages.
    pub fn suggest(&self, name: &str) -> Vec<&str> {
        let family = name.split('.').next().unwrap_or(name);
        self.by_name
            .keys()
            .filter(|k| k.split('.').next() == Some(family))
            .map(|k| k.as_str())
            .take(12)
            .collect()
    }

    /// What to say about an unknown type: its family's sizes, or, when the family itself is
    /// unknown, the nearest names and how to add types.
    pub fn unknown_type_hint(&self, name: &str) -> String {
        let family = self.suggest(name);
        if !family.is_empty() {
            return format!("known in this family: {}", family.join(", "));
        }
        let mut near: Vec<(&str, f64)> = self
            .by_name
            .keys()
            .map(|k| (k.as_str(), strsim::jaro_winkler(k, name)))
            .collect();
        near.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let near: Vec<&str> = near.iter().take(5).map(|(k, _)| *k).collect();
        format!(
            "no type of family {:?} is in the table ({} types); nearest names: {}; to model another type, pass --instance-types with a CSV like models/instance-types.csv or the JSON of `aws ec2 describe-instance-types`",
            name.split('.').next().unwrap_or(name),
            self.len(),
            near.join(", ")
        )
    }

    fn insert(
        &mut self,
        file: &Path,
        line: Option<usize>,
        t: InstanceType,
    ) -> Result<(), InputError> {
        if t.max_enis_default_card == 0 {
            let mut e = InputError::new(file, "must be ≥ 1").with_key("max_enis_default_card");
            e.line = line;
            return Err(e);
        }
        if self.by_name.contains_key(&t.name) {
            let mut e =
                InputError::new(file, format!("instance type {:?} is listed twice", t.name))
                    .with_key("instance_type");
            e.line = line;
            return Err(e);
        }
        self.by_name.insert(t.name.clone(), t);
        Ok(())
    }

    pub fn from_csv(file: &Path, text: &str) -> Result<InstanceTypes, InputError> {
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| InputError::new(file, format!("not a CSV table: {e}")))?
            .clone();
        let mut index = [0usize; COLUMNS.len()];
        for (i, col) in COLUMNS.iter().enumerate() {
            index[i] = headers.iter().position(|h| h == *col).ok_or_else(|| {
                InputError::new(
                    file,
                    format!(
                        "missing column {col:?} (expected columns: {})",
                        COLUMNS.join(",")
                    ),
                )
                .at_line(1)
            })?;
        }
        let mut out = InstanceTypes::default();
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map(|p| p.line() as usize);
                let mut err = InputError::new(file, format!("malformed CSV record: {e}"));
                err.line = line;
                err
            })?;
            let line = rec.position().map(|p| p.line() as usize);
            let field = |i: usize| rec.get(index[i]).unwrap_or("");
            let num = |i: usize| -> Result<u32, InputError> {
                field(i).parse::<u32>().map_err(|_| {
                    let mut e = InputError::new(
                        file,
                        format!("expected a whole number, got {:?}", field(i)),
                    )
                    .with_key(COLUMNS[i]);
                    e.line = line;
                    e
                })
            };
            let bare_metal = match field(7) {
                "true" | "True" | "TRUE" => true,
                "false" | "False" | "FALSE" | "" => false,
                other => {
                    let mut e =
                        InputError::new(file, format!("expected true or false, got {other:?}"))
                            .with_key("bare_metal");
                    e.line = line;
                    return Err(e);
                }
            };
            let name = field(0).to_string();
            if name.is_empty() {
                let mut e = InputError::new(file, "empty instance type").with_key("instance_type");
                e.line = line;
                return Err(e);
            }
            let t = InstanceType {
                name,
                max_enis_default_card: num(1)?,
                ipv4_per_eni: num(2)?,
                network_cards: num(3)?,
                max_enis_all_cards: num(4)?,
                default_network_card_index: num(5)?,
                hypervisor: field(6).to_string(),
                bare_metal,
            };
            out.insert(file, line, t)?;
        }
        if out.is_empty() {
            return Err(InputError::new(file, "no instance types in the table"));
        }
        Ok(out)
    }

    /// Reads the JSON `aws ec2 describe-instance-types` prints (`{"InstanceTypes": [...]}`).
    pub fn from_describe_json(file: &Path, text: &str) -> Result<InstanceTypes, InputError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Page {
            instance_types: Vec<Described>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Described {
            instance_type: String,
            network_info: NetworkInfo,
            #[serde(default)]
            hypervisor: Option<String>,
            #[serde(default)]
            bare_metal: Option<bool>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct NetworkInfo {
            maximum_network_interfaces: u32,
            ipv_4_addresses_per_interface: u32,
            #[serde(default)]
            default_network_card_index: Option<u32>,
            #[serde(default)]
            network_cards: Vec<Card>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Card {
            network_card_index: u32,
            maximum_network_interfaces: u32,
        }
        let page: Page = serde_json::from_str(text).map_err(|e| {
            InputError::new(
                file,
                format!(
                    "not the shape of `aws ec2 describe-instance-types` output ({{\"InstanceTypes\": [{{\"InstanceType\": …, \"NetworkInfo\": {{…}}}}]}}): {e}"
                ),
            )
            .at_line(e.line())
        })?;
        let mut out = InstanceTypes::default();
        for (i, d) in page.instance_types.into_iter().enumerate() {
            let ni = d.network_info;
            let default_card = ni.default_network_card_index.unwrap_or(0);
            let on_default = ni
                .network_cards
                .iter()
                .find(|c| c.network_card_index == default_card)
                .map(|c| c.maximum_network_interfaces)
                .unwrap_or(ni.maximum_network_interfaces);
            let all: u32 = if ni.network_cards.is_empty() {
                ni.maximum_network_interfaces
            } else {
                ni.network_cards
                    .iter()
                    .map(|c| c.maximum_network_interfaces)
                    .sum()
            };
            let t = InstanceType {
                name: d.instance_type,
                max_enis_default_card: on_default,
                ipv4_per_eni: ni.ipv_4_addresses_per_interface,
                network_cards: ni.network_cards.len().max(1) as u32,
                max_enis_all_cards: all,
                default_network_card_index: default_card,
                hypervisor: d.hypervisor.unwrap_or_default(),
                bare_metal: d.bare_metal.unwrap_or(false),
            };
            out.insert(file, None, t).map_err(|e| InputError {
                key: Some(format!("InstanceTypes[{i}]")),
                ..e
            })?;
        }
        if out.is_empty() {
            return Err(InputError::new(file, "no instance types in InstanceTypes"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_has_the_reference_examples() {
        let t = InstanceTypes::embedded();
        let get = |n: &str| t.get(n).unwrap().clone();
        assert_eq!(get("m5.4xlarge").max_enis_default_card, 8);
        assert_eq!(get("m5.4xlarge").ipv4_per_eni, 30);
        assert_eq!(get("m5.large").max_enis_default_card, 3);
        assert_eq!(get("t3.medium").ipv4_per_eni, 6);
        assert_eq!(get("m5.16xlarge").max_enis_default_card, 15);
        assert_eq!(get("c5n.18xlarge").max_enis_default_card, 15);
        let c6in = get("c6in.32xlarge");
        assert_eq!(
            (c6in.max_enis_default_card, c6in.max_enis_all_cards),
            (8, 16)
        );
        for fam in [
            "t3", "m5", "m6i", "m7i", "c5", "c5n", "c6i", "c6in", "c7i", "r5", "r6i",
        ] {
            assert!(
                t.iter().any(|x| x.name.starts_with(&format!("{fam}."))),
                "{fam}"
            );
        }
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let f = Path::new("types.csv");
        let head = COLUMNS.join(",");
        let dup =
            format!("{head}\nm5.large,3,10,1,3,0,nitro,false\nm5.large,3,10,1,3,0,nitro,false\n");
        let e = InstanceTypes::from_csv(f, &dup).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("listed twice"));
        let bad = format!("{head}\nm5.large,three,10,1,3,0,nitro,false\n");
        let e = InstanceTypes::from_csv(f, &bad).unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("max_enis_default_card"))
        );
        let missing = "instance_type,ipv4_per_eni\nm5.large,10\n";
        let e = InstanceTypes::from_csv(f, missing).unwrap_err();
        assert!(e
            .message
            .contains("missing column \"max_enis_default_card\""));
    }

    #[test]
    fn reads_describe_instance_types_json() {
        let json = r#"{"InstanceTypes":[{"InstanceType":"c6in.32xlarge","Hypervisor":"nitro","BareMetal":false,
          "NetworkInfo":{"MaximumNetworkInterfaces":16,"Ipv4AddressesPerInterface":50,"DefaultNetworkCardIndex":0,
          "NetworkCards":[{"NetworkCardIndex":0,"MaximumNetworkInterfaces":8},{"NetworkCardIndex":1,"MaximumNetworkInterfaces":8}]}}]}"#;
        let t = InstanceTypes::from_describe_json(Path::new("d.json"), json).unwrap();
        let c = t.get("c6in.32xlarge").unwrap();
        assert_eq!(
            (
                c.max_enis_default_card,
                c.max_enis_all_cards,
                c.network_cards
            ),
            (8, 16, 2)
        );
        assert!(
            InstanceTypes::from_describe_json(Path::new("d.json"), "{\"InstanceTypes\": 3}")
                .is_err()
        );
    }
}
