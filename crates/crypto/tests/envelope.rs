//! Sealing, opening, tampering and rotation, through the public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hospital_crypto::{AssociatedData, CryptoError, Keyring, KeyringError, SealedEnvelope};

const NOTE: &str = "Metformin 500 mg twice daily with meals; recheck HbA1c in 3 months.";

fn key() -> String {
    Keyring::generate_key().unwrap().to_string()
}

fn keyring(kids: &[&str]) -> (Keyring, String) {
    let spec = kids
        .iter()
        .map(|kid| format!("{kid}:{}", key()))
        .collect::<Vec<_>>()
        .join(",");
    (Keyring::from_spec(&spec).unwrap(), spec)
}

fn binding() -> AssociatedData {
    AssociatedData::record("note-1", "patient-7", "doctor-3")
}

fn sealed() -> (Keyring, SealedEnvelope) {
    let (keyring, _) = keyring(&["k1"]);
    let envelope = keyring.seal_str(NOTE, &binding()).unwrap();
    (keyring, envelope)
}

fn flip(bytes: &mut [u8], index: usize) {
    let i = index % bytes.len();
    bytes[i] ^= 0x01;
}

#[test]
fn a_sealed_note_opens_to_its_text() {
    let (keyring, envelope) = sealed();
    assert_eq!(
        keyring.open_str(&envelope, &binding()).unwrap().as_str(),
        NOTE
    );
    assert_eq!(envelope.v, 1);
    assert_eq!(envelope.kid, "k1");
    assert_eq!(envelope.nonce.len(), 12);
    assert_eq!(envelope.key_nonce.len(), 12);
    assert_eq!(envelope.wrapped_key.len(), 48);
    assert_eq!(envelope.ciphertext.len(), NOTE.len() + 16);
}

#[test]
fn empty_content_round_trips() {
    let (keyring, _) = keyring(&["k1"]);
    let envelope = keyring.seal(b"", &AssociatedData::new()).unwrap();
    assert!(keyring
        .open(&envelope, &AssociatedData::new())
        .unwrap()
        .is_empty());
}

#[test]
fn an_envelope_survives_json() {
    let (keyring, envelope) = sealed();
    let json = serde_json::to_string(&envelope).unwrap();
    let back: SealedEnvelope = serde_json::from_str(&json).unwrap();
    assert_eq!(back, envelope);
    assert_eq!(keyring.open_str(&back, &binding()).unwrap().as_str(), NOTE);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut fields: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "ciphertext",
            "key_nonce",
            "kid",
            "nonce",
            "v",
            "wrapped_key"
        ]
    );
}

#[test]
fn the_json_reveals_nothing_of_the_content() {
    let (_, envelope) = sealed();
    let json = serde_json::to_string(&envelope).unwrap();
    assert!(!json.contains(NOTE));
    assert!(!json.contains("Metformin"));
    assert!(!json.contains(&STANDARD.encode(NOTE)));
    // Nor a base64 of any part that would line up with a 3-byte boundary.
    assert!(!json.contains(&STANDARD.encode(&NOTE.as_bytes()[..30])));
    assert!(!json.contains(&STANDARD.encode(&NOTE.as_bytes()[3..33])));
}

#[test]
fn the_same_text_sealed_twice_differs() {
    let (keyring, a) = sealed();
    let b = keyring.seal_str(NOTE, &binding()).unwrap();
    assert_ne!(a.ciphertext, b.ciphertext);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.wrapped_key, b.wrapped_key);
    assert_ne!(a.key_nonce, b.key_nonce);
}

fn fails_authentication(keyring: &Keyring, envelope: &SealedEnvelope, aad: &AssociatedData) {
    assert_eq!(
        keyring.open(envelope, aad).unwrap_err(),
        CryptoError::Authentication
    );
}

#[test]
fn every_flipped_bit_of_the_ciphertext_is_refused() {
    let (keyring, envelope) = sealed();
    for byte in 0..envelope.ciphertext.len() {
        for bit in [0, 3, 7] {
            let mut tampered = envelope.clone();
            tampered.ciphertext[byte] ^= 1 << bit;
            fails_authentication(&keyring, &tampered, &binding());
        }
    }
}

#[test]
fn a_flipped_nonce_is_refused() {
    let (keyring, envelope) = sealed();
    for i in 0..12 {
        let mut tampered = envelope.clone();
        flip(&mut tampered.nonce, i);
        fails_authentication(&keyring, &tampered, &binding());
    }
}

#[test]
fn a_flipped_wrapped_key_or_key_nonce_is_refused() {
    let (keyring, envelope) = sealed();
    for i in 0..48 {
        let mut tampered = envelope.clone();
        flip(&mut tampered.wrapped_key, i);
        fails_authentication(&keyring, &tampered, &binding());
    }
    for i in 0..12 {
        let mut tampered = envelope.clone();
        flip(&mut tampered.key_nonce, i);
        fails_authentication(&keyring, &tampered, &binding());
    }
}

#[test]
fn a_changed_kid_is_refused_even_when_it_names_a_held_key() {
    let (keyring, _) = keyring(&["k1", "k2"]);
    let envelope = keyring.seal_str(NOTE, &binding()).unwrap();
    let mut tampered = envelope.clone();
    tampered.kid = "k1".into();
    fails_authentication(&keyring, &tampered, &binding());
}

#[test]
fn the_same_key_under_another_kid_is_refused() {
    // The kid is bound into the wrap, so renaming a key in configuration is detected.
    let k = key();
    let a = Keyring::from_spec(&format!("a:{k}")).unwrap();
    let b = Keyring::from_spec(&format!("b:{k}")).unwrap();
    let mut envelope = a.seal_str(NOTE, &binding()).unwrap();
    envelope.kid = "b".into();
    fails_authentication(&b, &envelope, &binding());
}

#[test]
fn an_envelope_moved_to_another_record_patient_or_author_is_refused() {
    let (keyring, envelope) = sealed();
    for other in [
        AssociatedData::record("note-2", "patient-7", "doctor-3"),
        AssociatedData::record("note-1", "patient-8", "doctor-3"),
        AssociatedData::record("note-1", "patient-7", "doctor-4"),
        AssociatedData::record("note-1", "doctor-3", "patient-7"),
        AssociatedData::record("note-1", "patient-7", "doctor-3").with("kind", "title"),
        AssociatedData::new(),
    ] {
        fails_authentication(&keyring, &envelope, &other);
    }
}

#[test]
fn a_wrapped_key_moved_between_envelopes_is_refused() {
    let (keyring, a) = sealed();
    let b = keyring.seal_str("other", &binding()).unwrap();
    let mut mixed = a.clone();
    mixed.wrapped_key = b.wrapped_key.clone();
    mixed.key_nonce = b.key_nonce.clone();
    fails_authentication(&keyring, &mixed, &binding());
}

#[test]
fn the_wrong_key_with_the_right_kid_is_refused() {
    let (_, envelope) = sealed();
    let (other, _) = keyring(&["k1"]);
    fails_authentication(&other, &envelope, &binding());
}

#[test]
fn an_unknown_kid_is_named() {
    let (_, envelope) = sealed();
    let (other, _) = keyring(&["k9"]);
    assert_eq!(
        other.open(&envelope, &binding()).unwrap_err(),
        CryptoError::UnknownKid { kid: "k1".into() }
    );
}

#[test]
fn a_forged_kid_cannot_forge_log_lines() {
    let (keyring, mut envelope) = sealed();
    envelope.kid = format!("x\nlevel=INFO msg=forged{}", "y".repeat(100));
    let error = keyring.open(&envelope, &binding()).unwrap_err();
    let message = error.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("\\n"), "{message}");
    let CryptoError::UnknownKid { kid } = error else {
        panic!("{error:?}")
    };
    assert_eq!(kid.chars().count(), 65);
}

#[test]
fn a_keyring_parses_from_a_string() {
    let keyring: Keyring = format!("k1:{}", key()).parse().unwrap();
    assert_eq!(keyring.current_kid(), "k1");
    assert!("".parse::<Keyring>().is_err());
}

#[test]
fn an_unknown_version_is_refused() {
    let (keyring, mut envelope) = sealed();
    envelope.v = 2;
    assert_eq!(
        keyring.open(&envelope, &binding()).unwrap_err(),
        CryptoError::UnsupportedVersion { version: 2 }
    );
    assert_eq!(
        keyring.rewrap(&envelope, &binding()).unwrap_err(),
        CryptoError::UnsupportedVersion { version: 2 }
    );
}

#[test]
fn impossible_sizes_are_malformed() {
    let (keyring, envelope) = sealed();
    let cases: [fn(&mut SealedEnvelope); 5] = [
        |e| e.nonce.truncate(11),
        |e| e.key_nonce.push(0),
        |e| e.wrapped_key.truncate(32),
        |e| e.ciphertext.truncate(15),
        |e| e.nonce.clear(),
    ];
    for case in cases {
        let mut bad = envelope.clone();
        case(&mut bad);
        assert!(matches!(
            keyring.open(&bad, &binding()).unwrap_err(),
            CryptoError::Malformed { .. }
        ));
    }
}

#[test]
fn bad_json_is_a_deserialisation_error() {
    let (_, envelope) = sealed();
    let mut value = serde_json::to_value(&envelope).unwrap();
    value["nonce"] = "not base64!".into();
    assert!(serde_json::from_value::<SealedEnvelope>(value).is_err());
    let mut value = serde_json::to_value(&envelope).unwrap();
    value["extra"] = 1.into();
    assert!(serde_json::from_value::<SealedEnvelope>(value).is_err());
}

#[test]
fn binary_content_is_refused_as_text() {
    let (keyring, _) = keyring(&["k1"]);
    let envelope = keyring.seal(&[0xff, 0xfe, 0x00], &binding()).unwrap();
    assert_eq!(
        keyring.open_str(&envelope, &binding()).unwrap_err(),
        CryptoError::NotUtf8
    );
    assert_eq!(
        keyring.open(&envelope, &binding()).unwrap().as_slice(),
        [0xff, 0xfe, 0x00]
    );
}

#[test]
fn rotation_keeps_old_envelopes_readable_and_rewrap_moves_them() {
    let k1 = format!("k1:{}", key());
    let k2 = format!("k2:{}", key());
    let before = Keyring::from_spec(&k1).unwrap();
    let old = before.seal_str(NOTE, &binding()).unwrap();

    // Add k2 as the newest key: old envelopes open, new ones use k2.
    let after = Keyring::from_spec(&format!("{k1},{k2}")).unwrap();
    assert_eq!(after.current_kid(), "k2");
    assert_eq!(after.open_str(&old, &binding()).unwrap().as_str(), NOTE);
    let new = after.seal_str(NOTE, &binding()).unwrap();
    assert_eq!(new.kid, "k2");
    assert_eq!(after.open_str(&new, &binding()).unwrap().as_str(), NOTE);

    // Re-wrap moves the old envelope to k2 without touching its content.
    let moved = after.rewrap(&old, &binding()).unwrap();
    assert_eq!(moved.kid, "k2");
    assert_eq!(moved.nonce, old.nonce);
    assert_eq!(moved.ciphertext, old.ciphertext);
    assert_ne!(moved.wrapped_key, old.wrapped_key);
    assert_eq!(after.open_str(&moved, &binding()).unwrap().as_str(), NOTE);

    // Already current: unchanged.
    assert_eq!(after.rewrap(&moved, &binding()).unwrap(), moved);

    // Once everything is re-wrapped, k1 can go.
    let only_k2 = Keyring::from_spec(&k2).unwrap();
    assert_eq!(only_k2.open_str(&moved, &binding()).unwrap().as_str(), NOTE);
    assert_eq!(
        only_k2.open(&old, &binding()).unwrap_err(),
        CryptoError::UnknownKid { kid: "k1".into() }
    );
}

#[test]
fn rewrap_refuses_what_it_cannot_authenticate() {
    let k1 = format!("k1:{}", key());
    let both = Keyring::from_spec(&format!("{k1},k2:{}", key())).unwrap();
    let old = Keyring::from_spec(&k1)
        .unwrap()
        .seal_str(NOTE, &binding())
        .unwrap();
    let mut damaged = old.clone();
    flip(&mut damaged.ciphertext, 0);
    assert_eq!(
        both.rewrap(&damaged, &binding()).unwrap_err(),
        CryptoError::Authentication
    );
    let other = AssociatedData::record("note-2", "patient-7", "doctor-3");
    assert_eq!(
        both.rewrap(&old, &other).unwrap_err(),
        CryptoError::Authentication
    );
}

#[test]
fn an_explicit_current_key_is_used_for_sealing() {
    let spec = format!("k1:{},k2:{}", key(), key());
    let keyring = Keyring::from_spec_with_current(&spec, "k1").unwrap();
    assert_eq!(keyring.current_kid(), "k1");
    assert_eq!(keyring.seal_str(NOTE, &binding()).unwrap().kid, "k1");
    assert_eq!(
        Keyring::from_spec_with_current(&spec, "k3").unwrap_err(),
        KeyringError::UnknownCurrent { kid: "k3".into() }
    );
}

#[test]
fn specs_are_parsed_with_clear_errors() {
    let k = key();
    let short = STANDARD.encode([7u8; 16]);
    assert_eq!(Keyring::from_spec("").unwrap_err(), KeyringError::Empty);
    assert_eq!(Keyring::from_spec("  \n").unwrap_err(), KeyringError::Empty);
    assert_eq!(
        Keyring::from_spec(&format!("k1:{k},k2")).unwrap_err(),
        KeyringError::MissingSeparator { position: 2 }
    );
    assert_eq!(
        Keyring::from_spec(&format!("k1:{k},")).unwrap_err(),
        KeyringError::MissingSeparator { position: 2 }
    );
    assert_eq!(
        Keyring::from_spec(&format!(":{k}")).unwrap_err(),
        KeyringError::InvalidKid { position: 1 }
    );
    assert_eq!(
        Keyring::from_spec(&format!("k 1:{k}")).unwrap_err(),
        KeyringError::InvalidKid { position: 1 }
    );
    assert_eq!(
        Keyring::from_spec("k1:not*base64").unwrap_err(),
        KeyringError::BadBase64 { kid: "k1".into() }
    );
    assert_eq!(
        Keyring::from_spec(&format!("k1:{short}")).unwrap_err(),
        KeyringError::WrongLength {
            kid: "k1".into(),
            len: 16
        }
    );
    assert_eq!(
        Keyring::from_spec(&format!("k1:{k},k1:{k}")).unwrap_err(),
        KeyringError::DuplicateKid { kid: "k1".into() }
    );
    let spaced = Keyring::from_spec(&format!(" 2026-01:{k} ,\n 2026-11.a_b : {k} ")).unwrap();
    assert_eq!(
        spaced.kids().collect::<Vec<_>>(),
        ["2026-01", "2026-11.a_b"]
    );
    assert!(spaced.contains("2026-01"));
    assert!(!spaced.contains("2026-02"));
}

#[test]
fn errors_never_show_key_material() {
    let bad = "k1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
    let message = Keyring::from_spec(bad).unwrap_err().to_string();
    assert!(!message.contains("QUJD"), "{message}");
    let message = Keyring::from_spec("k1:QUJD*").unwrap_err().to_string();
    assert!(!message.contains("QUJD"), "{message}");
}

#[test]
fn debug_shows_kids_and_no_key_material() {
    let k1 = key();
    let k2 = key();
    let keyring = Keyring::from_spec(&format!("k1:{k1},k2:{k2}")).unwrap();
    for shown in [format!("{keyring:?}"), format!("{keyring:#?}")] {
        assert!(shown.contains("k1") && shown.contains("k2"), "{shown}");
        for k in [&k1, &k2] {
            assert!(!shown.contains(k.as_str()));
            let raw = STANDARD.decode(k).unwrap();
            let bytes = format!("{:?}", &raw[..4]);
            assert!(!shown.contains(bytes.trim_end_matches(']')), "{shown}");
            assert!(!shown.contains("key: ["), "{shown}");
        }
    }
}

#[test]
fn generated_keys_are_32_random_bytes() {
    let a = Keyring::generate_key().unwrap();
    let b = Keyring::generate_key().unwrap();
    assert_ne!(a.as_str(), b.as_str());
    assert_eq!(STANDARD.decode(a.as_str()).unwrap().len(), 32);
}

#[test]
fn ids_of_any_kind_can_be_bound() {
    let (keyring, _) = keyring(&["k1"]);
    let (note, patient, doctor) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let aad = AssociatedData::record(note, patient, doctor);
    let envelope = keyring.seal_str(NOTE, &aad).unwrap();
    let again = AssociatedData::record(note.to_string(), patient, doctor.to_string());
    assert_eq!(keyring.open_str(&envelope, &again).unwrap().as_str(), NOTE);
}
