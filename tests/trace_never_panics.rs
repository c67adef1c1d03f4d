//! Arbitrary bytes into the record parser and into whole-file ingest: errors, never panics.

mod common;

use std::io::Write;

use enisim::trace::{ingest, parse_record, IngestOptions};
use proptest::prelude::*;

const GOOD: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"1","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r"}}},"eventTime":"2024-05-01T10:00:04Z","eventSource":"ec2.amazonaws.com","eventName":"AttachNetworkInterface","awsRegion":"us-east-1","userAgent":"x aws-multi-eni-controller","requestParameters":{"networkInterfaceId":"eni-1","instanceId":"i-1","deviceIndex":1},"responseElements":{"requestId":"r","attachmentId":"eni-attach-1"},"requestID":"r","eventID":"e","recipientAccountId":"1"}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn parse_record_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_record(&bytes);
    }

    #[test]
    fn mutated_records_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut b = GOOD.as_bytes().to_vec();
        for (i, v) in flips {
            let n = b.len();
            b[i % n] = v;
        }
        let _ = parse_record(&b);
    }

    #[test]
    fn truncated_records_never_panic(cut in 0usize..GOOD.len()) {
        prop_assert!(parse_record(&GOOD.as_bytes()[..cut]).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ingest_of_arbitrary_files_never_panics(
        body in proptest::collection::vec(any::<u8>(), 0..400),
        prefix in prop_oneof![Just(&b""[..]), Just(&b"{\"Records\":["[..]), Just(&b"{\"Events\":[{\"CloudTrailEvent\":"[..]), Just(&b"eventtime,eventsource,eventname,awsregion,eventid\n"[..])],
        gz in any::<bool>(),
        strict in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(if gz { "f.json.gz" } else { "f.json" });
        let mut data = prefix.to_vec();
        data.extend_from_slice(&body);
        let data = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            let mut v = e.finish().unwrap();
            let keep = v.len() * (body.len() % 7 + 1) / 7;
            v.truncate(keep.max(2));
            v
        } else {
            data
        };
        std::fs::write(&p, data).unwrap();
        let opts = IngestOptions { strict, ..IngestOptions::default() };
        let _ = ingest(&[p], &opts);
    }
}

#[test]
fn good_record_parses() {
    let r = parse_record(GOOD.as_bytes()).unwrap();
    assert_eq!(r.attachments, vec![("eni-attach-1".into(), "eni-1".into())]);
}
