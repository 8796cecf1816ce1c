//! The device key: an Ed25519 key pair made at enrolment (the officer's first sign-in on this
//! phone), its public half registered with the server; each piece of evidence is signed with
//! it, and the server verifies the signature when the upload completes.
//!
//! The secret is kept in the SDK's database in the app's private storage. Wrapping it with the
//! Android Keystore or the iOS Keychain is not built yet.

use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signer, SigningKey};
use loanwatch_api_types::field::{DeclareEvidence, Device, DeviceSignature, RegisterDevice};
use loanwatch_domain::field::device::evidence_message;

use crate::{
    Client, SdkError,
    store::{self},
};

fn secret_key(officer_id: &str) -> String {
    format!("device_secret:{officer_id}")
}

fn id_key(officer_id: &str) -> String {
    format!("device_id:{officer_id}")
}

impl Client {
    /// Makes this phone's key for the officer if it has none, and registers it if it is not
    /// registered yet (both idempotent: a retry after a lost answer registers the same key).
    pub(crate) fn enrol(&self, officer_id: &str, name: &str) -> Result<(), SdkError> {
        if self.store.get(&id_key(officer_id))?.is_some() {
            return Ok(());
        }
        let secret = match self.store.get(&secret_key(officer_id))? {
            Some(s) => s,
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed)
                    .map_err(|e| SdkError::storage(format!("no randomness for a key: {e}")))?;
                let s = STANDARD.encode(seed);
                self.store
                    .write(|tx| store::put(tx, &secret_key(officer_id), Some(&s)))?;
                s
            }
        };
        let key = signing_key(&secret)?;
        let device: Device = self.http.call(
            &self.store,
            "POST",
            "/me/devices",
            Some(&RegisterDevice {
                name: name.to_owned(),
                public_key: STANDARD.encode(key.verifying_key().to_bytes()),
            }),
        )?;
        self.store
            .write(|tx| store::put(tx, &id_key(officer_id), Some(&device.id)))
    }

    /// Signs a declaration with the officer's device key.
    pub(crate) fn sign(
        &self,
        officer_id: &str,
        task_id: &str,
        d: &DeclareEvidence,
    ) -> Result<DeviceSignature, SdkError> {
        let not_enrolled = || SdkError::Auth {
            detail: "this phone is not enrolled for the officer; sign in once online".into(),
        };
        let secret = self
            .store
            .get(&secret_key(officer_id))?
            .ok_or_else(not_enrolled)?;
        let device_id = self
            .store
            .get(&id_key(officer_id))?
            .ok_or_else(not_enrolled)?;
        let message = evidence_message(
            &d.id,
            task_id,
            &d.sha256,
            d.size_bytes,
            d.captured_at,
            &d.capture,
        );
        Ok(DeviceSignature {
            device_id,
            signature: STANDARD.encode(signing_key(&secret)?.sign(&message).to_bytes()),
        })
    }
}

fn signing_key(secret: &str) -> Result<SigningKey, SdkError> {
    let seed: [u8; 32] = STANDARD
        .decode(secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SdkError::storage("the stored device key is unreadable"))?;
    Ok(SigningKey::from_bytes(&seed))
}
