//! Properties: whatever goes in comes out under the same binding, nothing else opens,
//! and no input makes the crate panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use hospital_crypto::{AssociatedData, CryptoError, Keyring, SealedEnvelope};
use proptest::prelude::*;

/// Two keys, `k2` current; the rotation property builds a keyring from the same spec
/// with `k1` current.
static SPEC: LazyLock<String> = LazyLock::new(|| {
    format!(
        "k1:{},k2:{}",
        Keyring::generate_key().unwrap().as_str(),
        Keyring::generate_key().unwrap().as_str()
    )
});

static KEYRING: LazyLock<Keyring> = LazyLock::new(|| Keyring::from_spec(&SPEC).unwrap());

fn aad() -> impl Strategy<Value = AssociatedData> {
    prop::collection::vec((".{0,12}", prop::collection::vec(any::<u8>(), 0..24)), 0..5).prop_map(
        |fields| {
            fields
                .into_iter()
                .fold(AssociatedData::new(), |aad, (label, value)| {
                    aad.with(label, value)
                })
        },
    )
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// Near-valid sizes most of the time, so the checks past the size checks run too.
fn sized(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), len),
        prop::collection::vec(any::<u8>(), 0..len + 8),
    ]
}

fn envelope() -> impl Strategy<Value = SealedEnvelope> {
    (
        prop_oneof![Just(1u32), any::<u32>()],
        prop_oneof![Just("k1".to_owned()), Just("k2".to_owned()), ".{0,80}"],
        sized(12),
        sized(48),
        sized(12),
        prop_oneof![bytes(64), Just(Vec::new())],
    )
        .prop_map(
            |(v, kid, key_nonce, wrapped_key, nonce, ciphertext)| SealedEnvelope {
                v,
                kid,
                key_nonce,
                wrapped_key,
                nonce,
                ciphertext,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn whatever_is_sealed_opens_under_the_same_binding(
        plaintext in bytes(4096),
        aad in aad(),
    ) {
        let envelope = KEYRING.seal(&plaintext, &aad).unwrap();
        prop_assert_eq!(envelope.kid.as_str(), "k2");
        prop_assert_eq!(KEYRING.open(&envelope, &aad).unwrap().to_vec(), plaintext.clone());
        let json = serde_json::to_string(&envelope).unwrap();
        let back: SealedEnvelope = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(KEYRING.open(&back, &aad).unwrap().to_vec(), plaintext.clone());
    }

    #[test]
    fn text_round_trips(text in ".{0,500}", aad in aad()) {
        let envelope = KEYRING.seal_str(&text, &aad).unwrap();
        prop_assert_eq!(KEYRING.open_str(&envelope, &aad).unwrap().to_string(), text.clone());
    }

    #[test]
    fn another_binding_never_opens(plaintext in bytes(256), a in aad(), b in aad()) {
        prop_assume!(a != b);
        let envelope = KEYRING.seal(&plaintext, &a).unwrap();
        prop_assert_eq!(KEYRING.open(&envelope, &b).unwrap_err(), CryptoError::Authentication);
    }

    #[test]
    fn arbitrary_envelopes_never_open_and_never_panic(envelope in envelope(), aad in aad()) {
        prop_assert!(KEYRING.open(&envelope, &aad).is_err());
        prop_assert!(KEYRING.open_str(&envelope, &aad).is_err());
        if envelope.kid != KEYRING.current_kid() || envelope.v != 1 {
            prop_assert!(KEYRING.rewrap(&envelope, &aad).is_err());
        }
    }

    #[test]
    fn arbitrary_json_never_panics(json in ".{0,300}") {
        if let Ok(envelope) = serde_json::from_str::<SealedEnvelope>(&json) {
            prop_assert!(KEYRING.open(&envelope, &AssociatedData::new()).is_err());
        }
    }

    #[test]
    fn a_damaged_json_envelope_never_opens_to_something_else(
        plaintext in bytes(64),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let aad = AssociatedData::record("r", "p", "a");
        let envelope = KEYRING.seal(&plaintext, &aad).unwrap();
        let mut json = serde_json::to_vec(&envelope).unwrap();
        let i = position.index(json.len());
        json[i] = replacement;
        if let Ok(damaged) = serde_json::from_slice::<SealedEnvelope>(&json) {
            let opened = KEYRING.open(&damaged, &aad);
            prop_assert_eq!(opened.is_ok(), damaged == envelope);
            if let Ok(opened) = opened {
                prop_assert_eq!(opened.to_vec(), plaintext.clone());
            }
        }
    }

    #[test]
    fn arbitrary_specs_never_panic(spec in ".{0,200}", current in ".{0,10}") {
        let _ = Keyring::from_spec(&spec);
        let _ = Keyring::from_spec_with_current(&spec, &current);
    }

    #[test]
    fn rewrap_keeps_content_and_opens(plaintext in bytes(512), aad in aad()) {
        let old = Keyring::from_spec_with_current(&SPEC, "k1").unwrap();
        let envelope = old.seal(&plaintext, &aad).unwrap();
        prop_assert_eq!(envelope.kid.as_str(), "k1");
        let moved = KEYRING.rewrap(&envelope, &aad).unwrap();
        prop_assert_eq!(moved.kid.as_str(), "k2");
        prop_assert_eq!(&moved.ciphertext, &envelope.ciphertext);
        prop_assert_eq!(KEYRING.open(&moved, &aad).unwrap().to_vec(), plaintext.clone());
    }
}
