#!/usr/bin/env python3
"""An independent DSSE implementation for the tests: securesystemslib's Envelope (its own PAE
and signature checks) with keys loaded by `cryptography`.

  dsse.py verify ENVELOPE PUBLIC.pem     exit 0 when a signature by the key verifies, else 1;
                                          prints the statement
  dsse.py sign STATEMENT.json PRIVATE.pem KEYID OUT
                                          writes an envelope over the statement
"""
import json
import sys

from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def verify(envelope_path, key_path):
    with open(envelope_path, "rb") as f:
        document = json.load(f)
    envelope = Envelope.from_dict(document)
    if envelope.payload_type != PAYLOAD_TYPE:
        print(f"payload type {envelope.payload_type!r}", file=sys.stderr)
        return 1
    with open(key_path, "rb") as f:
        public = load_pem_public_key(f.read())
    # The key under the id the envelope names: securesystemslib checks the signature whose
    # keyid matches, with its own PAE.
    keyids = [signature.keyid for signature in envelope.signatures.values()]
    for keyid in keyids:
        key = SSlibKey.from_crypto(public, keyid=keyid)
        try:
            envelope.verify([key], 1)
        except Exception as err:  # noqa: BLE001 - any failure is "not verified"
            print(f"not verified: {err}", file=sys.stderr)
            continue
        print(json.dumps(json.loads(envelope.payload)))
        return 0
    return 1


def sign(statement_path, key_path, keyid, out_path):
    with open(statement_path, "rb") as f:
        payload = f.read()
    with open(key_path, "rb") as f:
        private = load_pem_private_key(f.read(), password=None)
    public = SSlibKey.from_crypto(private.public_key(), keyid=keyid)
    signer = CryptoSigner(private, public)
    envelope = Envelope(payload=payload, payload_type=PAYLOAD_TYPE, signatures={})
    envelope.sign(signer)
    with open(out_path, "w") as f:
        json.dump(envelope.to_dict(), f, indent=2)
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "verify" and len(sys.argv) == 4:
        sys.exit(verify(sys.argv[2], sys.argv[3]))
    if command == "sign" and len(sys.argv) == 6:
        sys.exit(sign(*sys.argv[2:6]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
