//! Tests of the dump format: round trips, every flipped byte and truncation, versions.

mod format {
    use super::super::*;

    fn sample() -> Vec<DumpEntry> {
        vec![
            DumpEntry { key: b"a".to_vec(), value: b"1".to_vec(), flags: 7, expires_at_ms: Some(99) },
            DumpEntry { key: vec![0, 255, 10], value: vec![], flags: 0, expires_at_ms: None },
        ]
    }

    fn encode(entries: &[DumpEntry]) -> Vec<u8> {
        let mut w = DumpWriter::new(Vec::new()).unwrap();
        for e in entries {
            w.write(e).unwrap();
        }
        w.finish().unwrap().0
    }

    fn decode(bytes: &[u8]) -> Result<Vec<DumpEntry>, DumpError> {
        let mut r = DumpReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encode(&sample())).unwrap(), sample());
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_detected() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x41;
            assert!(decode(&bad).is_err(), "flip at {i} went unnoticed");
            assert!(decode(&bytes[..i]).is_err(), "cut at {i} went unnoticed");
        }
    }

    #[test]
    fn large_values_go_in_pieces() {
        let big =
            DumpEntry { key: b"big".to_vec(), value: (0..PIECE_LEN * 2 + 5).map(|i| i as u8).collect(), flags: 3, expires_at_ms: None };
        let entries = vec![sample()[0].clone(), big, sample()[1].clone()];
        let bytes = encode(&entries);
        assert_eq!(decode(&bytes).unwrap(), entries);
        // A piece lost in the middle is found.
        let piece_at = FILE_HEADER_LEN + (ENTRY_HEADER_LEN + 2) + (ENTRY_HEADER_LEN + 3 + 8);
        assert_eq!(bytes[piece_at + 4], TAG_PIECE);
        let mut cut = bytes[..piece_at].to_vec();
        cut.extend_from_slice(&bytes[piece_at + ENTRY_HEADER_LEN + PIECE_LEN..]);
        assert!(decode(&cut).is_err());
    }

    #[test]
    fn a_dropped_entry_is_detected() {
        let bytes = encode(&sample());
        let first_len = ENTRY_HEADER_LEN + 2;
        let mut bad = bytes[..FILE_HEADER_LEN].to_vec();
        bad.extend_from_slice(&bytes[FILE_HEADER_LEN + first_len..]);
        assert!(decode(&bad).is_err());
    }
}

mod collections {
    use super::super::*;

    /// A dump of a string, a hash of `fields` fields (values of `value_len` bytes) with a
    /// deadline, and a small set.
    fn encode(fields: usize, value_len: usize) -> (Vec<u8>, Vec<DumpItem>) {
        let mut w = DumpWriter::new(Vec::new()).unwrap();
        let string = DumpEntry { key: b"s".to_vec(), value: b"v".to_vec(), flags: 1, expires_at_ms: None };
        w.write(&string).unwrap();
        w.begin_collection(b"h", CollectionType::Hash, Some(77)).unwrap();
        let mut hash = Vec::new();
        for i in 0..fields {
            let (m, v) = (format!("field{i}").into_bytes(), vec![i as u8; value_len]);
            w.write_member(&m, &v).unwrap();
            hash.push((m, v));
        }
        assert_eq!(w.end_collection().unwrap(), fields as u64);
        w.begin_collection(b"set", CollectionType::Set, None).unwrap();
        w.write_member(b"a", b"ignored").unwrap();
        w.write_member(b"", b"").unwrap();
        w.end_collection().unwrap();
        let bytes = w.finish().unwrap().0;
        let mut items =
            vec![DumpItem::Entry(string), DumpItem::Collection { key: b"h".to_vec(), kind: CollectionType::Hash, expires_at_ms: Some(77) }];
        // What a reader sees: the hash's members in runs of at most PIECE_LEN bytes.
        let mut run: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut run_len = 4;
        for (m, v) in hash {
            let size = member_len(CollectionType::Hash, &m, &v);
            if !run.is_empty() && run_len - 4 + size > PIECE_LEN {
                items.push(DumpItem::Members(std::mem::take(&mut run)));
                run_len = 4;
            }
            run_len += size;
            run.push((m, v));
        }
        if !run.is_empty() {
            items.push(DumpItem::Members(run));
        }
        items.push(DumpItem::CollectionEnd { members: fields as u64 });
        items.push(DumpItem::Collection { key: b"set".to_vec(), kind: CollectionType::Set, expires_at_ms: None });
        items.push(DumpItem::Members(vec![(b"a".to_vec(), vec![]), (vec![], vec![])]));
        items.push(DumpItem::CollectionEnd { members: 2 });
        (bytes, items)
    }

    fn decode(bytes: &[u8]) -> Result<Vec<DumpItem>, DumpError> {
        let mut r = DumpReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(item) = r.next_item()? {
            out.push(item);
        }
        Ok(out)
    }

    #[test]
    fn collections_round_trip_in_bounded_runs() {
        let (bytes, items) = encode(3, 5);
        assert_eq!(decode(&bytes).unwrap(), items);
        // 3000 fields of 1 KiB: about 3 MiB of members, in runs of at most 1 MiB.
        let (bytes, items) = encode(3000, 1024);
        let read = decode(&bytes).unwrap();
        assert_eq!(read, items);
        let runs = read.iter().filter(|i| matches!(i, DumpItem::Members(_))).count();
        assert!(runs >= 4, "{runs} runs");
        let mut r = DumpReader::new(&bytes[..]).unwrap();
        while r.next_item().unwrap().is_some() {}
        assert_eq!(r.version(), VERSION);
    }

    #[test]
    fn every_flipped_byte_and_every_cut_of_a_collection_is_detected() {
        let (bytes, _) = encode(4, 3);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x41;
            assert!(decode(&bad).is_err(), "flip at {i} went unnoticed");
            assert!(decode(&bytes[..i]).is_err(), "cut at {i} went unnoticed");
        }
    }

    #[test]
    fn a_dropped_members_entry_is_detected() {
        let (bytes, _) = encode(3000, 1024);
        // Find the second members entry (tag 6) by walking the entries, and cut it out.
        let mut at = FILE_HEADER_LEN;
        let mut members_seen = 0;
        loop {
            let len = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
            let entry_len = ENTRY_HEADER_LEN + len(at + 8) + len(at + 12);
            if bytes[at + 4] == TAG_MEMBERS {
                members_seen += 1;
                if members_seen == 2 {
                    let mut cut = bytes[..at].to_vec();
                    cut.extend_from_slice(&bytes[at + entry_len..]);
                    let err = decode(&cut).unwrap_err().to_string();
                    assert!(err.contains("members"), "{err}");
                    return;
                }
            }
            at += entry_len;
        }
    }

    #[test]
    fn version_1_dumps_still_load_and_cannot_hold_collections() {
        let mut w = DumpWriter::with_version(Vec::new(), 1).unwrap();
        let e = DumpEntry { key: b"k".to_vec(), value: b"v".to_vec(), flags: 0, expires_at_ms: Some(5) };
        w.write(&e).unwrap();
        let old = w.finish().unwrap().0;
        assert_eq!(old[8], 1);
        assert_eq!(decode(&old).unwrap(), vec![DumpItem::Entry(e.clone())]);

        let mut w = DumpWriter::with_version(Vec::new(), 1).unwrap();
        w.begin_collection(b"h", CollectionType::Set, None).unwrap();
        w.write_member(b"m", b"").unwrap();
        w.end_collection().unwrap();
        let err = decode(&w.finish().unwrap().0).unwrap_err().to_string();
        assert!(err.contains("unknown entry tag 5"), "{err}");

        let mut future = old.clone();
        future[8] = 3;
        assert!(decode(&future).unwrap_err().to_string().contains("version 3"));
    }

    #[test]
    fn the_writer_refuses_a_misnested_collection() {
        let mut w = DumpWriter::new(Vec::new()).unwrap();
        assert!(w.write_member(b"m", b"").is_err());
        assert!(w.end_collection().is_err());
        w.begin_collection(b"h", CollectionType::Hash, None).unwrap();
        assert!(w.write(&DumpEntry { key: b"k".to_vec(), value: vec![], flags: 0, expires_at_ms: None }).is_err());
        assert!(w.finish().is_err());
    }
}
